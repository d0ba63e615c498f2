"""How glassnet's time and memory per training step grow with the work, beside PyTorch's.

    python bench/bench_scale.py [--groups batch,width,length] [--threads 2] [--repeats 3]
    python bench/bench_scale.py --quick      # the smallest row of each group, a smoke test

Not part of ``make bench``: the full table takes 15 minutes or more on two cores. Rows:

- batch: mlp and cnn at batch 32, 64, 128, 256, 512;
- width: mlp with two hidden layers of 128, 256, 512, 1024, 2048 units, batch 128;
- length: gpt with a context of 64, 128, 256, 512 tokens, batch 8 windows of that length.

Each row runs glassnet and PyTorch in child processes of their own, exactly as
bench_models.py does (bench/child.py): the glassnet child never imports torch nor the
PyTorch child glassnet, the twin holds glassnet's initial weights, and the two are
interleaved block by block with ``--pause`` seconds before each block. Per row:

- memory: the peak counter reset once the model and batches are built (VmHWM set to the
  current resident set), ``--memory-steps`` steps; the growth (VmHWM minus the resident set at the reset)
  and the absolute peak of the process (VmHWM);
- time: milliseconds per training step (Adam, cross-entropy), the median of ``--repeats``
  blocks per framework; a block has as many steps as take about ``--block-seconds``
  in the slower framework, from the memory steps' time (at least 3);
- the ratio glassnet / PyTorch of each.
"""
import argparse
import statistics
import sys

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from child import interleaved, pair, workload  # noqa: E402

GROUPS = {
    "batch": [(f"{model}, batch {n}", workload(model, batch=n)) for model in ("mlp", "cnn") for n in (32, 64, 128, 256, 512)],
    "width": [(f"mlp 784-{w}-{w}-10, batch 128", workload("mlp", hidden=[w, w])) for w in (128, 256, 512, 1024, 2048)],
    "length": [(f"gpt, 8 x {n} tokens", workload("gpt", batch=8, context=n)) for n in (64, 128, 256, 512)],
}


def smallest_rows():
    """The first row of each group, and of each model within the batch group."""
    rows, seen = [], set()
    for group, entries in GROUPS.items():
        for label, work in entries:
            if (group, work["model"]) not in seen:
                seen.add((group, work["model"]))
                rows.append((group, label, work))
    return rows


def measure_row(work, threads, repeats, pause, memory_steps, block_seconds, steps=None):
    """Memory and milliseconds per training step of one workload in both frameworks.
    Returns {"steps": steps per timed block, "memory": {framework: reply}, "ms": {framework: median}}."""
    with pair(work) as children:
        memory = {fw: replies[0] for fw, replies in
                  interleaved(children, "memory", 1, pause, steps=memory_steps, threads=threads).items()}
        slower = max(reply["seconds"] for reply in memory.values())
        steps = steps or max(3, round(block_seconds / slower))
        replies = interleaved(children, "train", repeats, pause, steps=steps, threads=threads)
    return {"steps": steps, "memory": memory,
            "ms": {fw: statistics.median(r["seconds"] for r in rs) * 1e3 for fw, rs in replies.items()}}


def print_table(rows, threads, repeats):
    print(f"Scale: one training step (Adam, cross-entropy), {threads} threads, each framework in its own process, "
          f"interleaved; time: median of {repeats} blocks of 'steps' steps")
    print("ratio = glassnet / PyTorch; growth = VmHWM - VmRSS, the peak counter reset once the model and batches are built, before the first step; "
          "peak = VmHWM (the whole process)")
    triple = f"{'glassnet':>10}{'PyTorch':>10}{'ratio':>7}"
    print(f"{'':<38}{'-- ms per step --':^27}{'-- growth, MB --':^27}{'-- peak, MB --':^27}")
    print(f"{'row':<32}{'steps':>6}" + triple * 3)
    group = None
    for row_group, label, result in rows:
        if group is not None and row_group != group:
            print()
        group = row_group
        cells = ""
        gn_ms, pt_ms = result["ms"]["glassnet"], result["ms"]["torch"]
        cells += f"{gn_ms:>10.2f}{pt_ms:>10.2f}{gn_ms / pt_ms:>7.2f}"
        for key in ("growth_mb", "peak_mb"):
            gn_mb, pt_mb = result["memory"]["glassnet"][key], result["memory"]["torch"][key]
            cells += f"{gn_mb:>10.1f}{pt_mb:>10.1f}{gn_mb / pt_mb if pt_mb else float('nan'):>7.2f}"
        print(f"{label:<32}{result['steps']:>6}{cells}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--groups", default=",".join(GROUPS), help="of: " + ", ".join(GROUPS))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--pause", type=float, default=1.0, help="seconds of rest before every block")
    parser.add_argument("--memory-steps", type=int, default=3)
    parser.add_argument("--block-seconds", type=float, default=1.0, help="about how long a timed block runs")
    parser.add_argument("--quick", action="store_true", help="smoke test: the smallest rows, 1 block of 3 steps")
    args = parser.parse_args()
    groups = args.groups.split(",")
    if args.quick:
        rows, repeats, steps = [row for row in smallest_rows() if row[0] in groups], 1, 3
    else:
        rows, repeats, steps = [(g, label, work) for g in groups for label, work in GROUPS[g]], args.repeats, None

    results = []
    for group, label, work in rows:
        result = measure_row(work, args.threads, repeats, args.pause, args.memory_steps, args.block_seconds, steps)
        results.append((group, label, result))
        print(f"  measured {label}", file=sys.stderr, flush=True)
    print_table(results, args.threads, repeats)


if __name__ == "__main__":
    main()
