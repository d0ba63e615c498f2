"""Two glassnet set-ups side by side on one model, in child processes interleaved round by
round (bench/child.py): seconds per training step and per inference batch, medians.

    python bench/ab_children.py MODEL --env OPENBLAS_THREAD_TIMEOUT=20 --env OPENBLAS_THREAD_TIMEOUT=28
    python bench/ab_children.py MODEL --path /tmp/base/src --path src      # two checkouts

Each ``--env NAME=VALUE`` or ``--path DIR`` (put first on PYTHONPATH) makes one child;
give two of either kind. The machine's speed drifts by tens of percent over minutes, so
two set-ups timed one after the other differ by more than most changes do: alternating
short blocks, with a pause before each, lets both see the same drift.
"""
import argparse
import os
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import child  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model")
    parser.add_argument("--env", action="append", default=[], help="NAME=VALUE for one child")
    parser.add_argument("--path", action="append", default=[], help="a checkout's src folder for one child")
    parser.add_argument("--steps", type=int, default=10, help="training steps per block")
    parser.add_argument("--batches", type=int, default=20, help="inference batches per block")
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    setups = [("env", e) for e in args.env] + [("path", p) for p in args.path]
    if len(setups) != 2:
        parser.error("give two set-ups: two --env or two --path")
    work, kids = child.workload(args.model), []
    with tempfile.TemporaryDirectory() as folder:
        try:
            for i, (kind, value) in enumerate(setups):
                saved = dict(os.environ)
                if kind == "env":
                    name, _, setting = value.partition("=")
                    os.environ[name] = setting
                else:
                    os.environ["PYTHONPATH"] = os.path.abspath(value)
                kids.append((value, child.Child("glassnet", work, os.path.join(folder, f"{i}.npz"))))
                os.environ.clear()
                os.environ.update(saved)
            for _, kid in kids:  # warm-up: compiled kernels loaded, caches filled
                kid.ask("train", steps=2, threads=args.threads)
                kid.ask("infer", batches=3, threads=args.threads)
            times = {(name, op): [] for name, _ in kids for op in ("train", "infer")}
            for round_ in range(args.rounds):
                for name, kid in kids if round_ % 2 == 0 else kids[::-1]:
                    time.sleep(0.3)
                    times[name, "train"].append(kid.ask("train", steps=args.steps, threads=args.threads)["seconds"])
                    time.sleep(0.3)
                    times[name, "infer"].append(kid.ask("infer", batches=args.batches, threads=args.threads)["seconds"])
        finally:
            for _, kid in kids:
                kid.close()
    print(f"{args.model}, {args.threads} threads, {args.rounds} interleaved rounds: median (min) ms")
    for op in ("train", "infer"):
        cells = [f"{name}: {1e3 * statistics.median(times[name, op]):.2f} ({1e3 * min(times[name, op]):.2f})"
                 for name, _ in kids]
        print(f"  {op:<6}" + "   ".join(cells))


if __name__ == "__main__":
    main()
