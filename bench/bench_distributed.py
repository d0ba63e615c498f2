"""Data-parallel training on MPI: throughput of 1 rank x 1 thread against 2 ranks x 1
thread on this machine's two cores, for mlp, cnn and gpt, and what the all-reduce costs.

    python bench/bench_distributed.py [--models mlp,cnn,gpt] [--steps N] [--warmup N] [--repeats 3]

Each measurement is a job of its own: ``mpiexec -n R python bench/bench_distributed.py
--rank-child ...``, every rank pinned to one thread (OMP_NUM_THREADS=1,
OPENBLAS_NUM_THREADS=1, ``glassnet.set_num_threads(1)``). Every rank trains on a batch
of its own of the benchmark's usual size (bench/child.py: 128 images of 1x28x28, 10
classes; gpt 32 windows of 128 tokens), forward, cross-entropy, backward, then a
``DistributedOptimizer(Adam)`` step that averages the gradients; so 2 ranks process
twice the examples per step (weak scaling, as Horovod's benchmarks measure). After
``--warmup`` steps, ``--repeats`` blocks of ``--steps`` steps are timed between two
barriers; the median block counts.

It prints, per model: the examples (images, or tokens for gpt) per second on 1 and 2
ranks, the speed-up (2 ranks / 1 rank; the goal for the cnn is 1.7 or more), the
scaling efficiency (speed-up / 2), the time of one step, and the all-reduce's time per
step with the bytes it moves (the gradients, float32). With one rank the all-reduce is
skipped (a world of one); with two it goes through MPICH's shared memory.

The 1-rank and 2-rank jobs of a model run one after the other, so a busy machine slows
them unequally: run it when the machine is quiet.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
MODELS = ("mlp", "cnn", "gpt")
STEPS = {"mlp": 100, "cnn": 10, "gpt": 4}  # steps per timed block: about a second or more of one rank's work
ONE_THREAD = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


# -- one rank of a job -----------------------------------------------------------------------


def rank_child(model_name, steps, warmup, repeats):
    """Train on this rank's batches and, on rank 0, print one JSON line of timings."""
    import numpy as np

    import glassnet as gn
    from child import builder_args, describe_batch, make_batches, workload
    from glassnet import distributed as dist
    from glassnet.nn import functional as F

    dist.init()
    gn.set_num_threads(1)
    work = workload(model_name)
    gn.seed(0)
    if model_name == "gpt":
        model = gn.models.gpt(*builder_args(work), **work["options"])
    else:
        model = gn.models.build(model_name, *builder_args(work), **work["options"])
    dist.broadcast_parameters(model.state_dict())
    optimizer = dist.DistributedOptimizer(gn.optim.Adam(model.parameters(), lr=1e-3))
    batches = make_batches(work, count=2, seed=dist.rank())  # each rank its own data
    allreduce_seconds = []

    def step(k):
        inputs, targets = batches[k % len(batches)]
        logits = model(gn.from_numpy(inputs))
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), gn.from_numpy(targets.reshape(-1)))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        allreduce_seconds.append(optimizer.synchronize_seconds)

    for k in range(warmup):
        step(k)
    blocks = []
    for _ in range(repeats):
        dist.barrier()
        started = time.perf_counter()
        for k in range(steps):
            step(k)
        dist.barrier()
        blocks.append((time.perf_counter() - started) / steps)
    allreduce = np.array(allreduce_seconds[warmup:])
    gradient_bytes = sum(p.numpy().nbytes for p in model.parameters())
    examples = work["batch"] * (work["options"]["context"] if model_name == "gpt" else 1)
    if dist.rank() == 0:
        print(json.dumps({
            "model": model_name, "ranks": dist.world_size(), "batch": describe_batch(work),
            "examples_per_rank_step": examples, "step_seconds": statistics.median(blocks),
            "allreduce_seconds": float(np.median(allreduce)), "gradient_bytes": gradient_bytes,
            "buckets": optimizer.buckets,
        }), flush=True)


# -- the parent ------------------------------------------------------------------------------


def mpiexec():
    """MPICH's mpiexec beside this Python (the distributed extra installs it), else on PATH."""
    beside = Path(sys.executable).parent / "mpiexec"
    return str(beside) if beside.exists() else "mpiexec"


def run_job(model, ranks, steps, warmup, repeats):
    command = [mpiexec(), "-n", str(ranks), sys.executable, __file__, "--rank-child", model,
               "--steps", str(steps), "--warmup", str(warmup), "--repeats", str(repeats)]
    job = subprocess.run(command, capture_output=True, text=True, env=dict(os.environ, **ONE_THREAD), timeout=900)
    if job.returncode:
        raise RuntimeError(f"{' '.join(command)} failed:\n{job.stderr[-2000:]}")
    return json.loads(job.stdout.strip().splitlines()[-1])


def table(results):
    unit = {"gpt": "tokens/s"}
    lines = ["| model | per-rank batch | 1 rank x 1 thread | 2 ranks x 1 thread | speed-up | efficiency "
             "| step (1 rank / 2 ranks) | all-reduce per step (2 ranks) | gradient bytes (buckets) |",
             "|---|---|---|---|---|---|---|---|---|"]
    for model, (one, two) in results.items():
        rate_one = one["examples_per_rank_step"] / one["step_seconds"]
        rate_two = 2 * two["examples_per_rank_step"] / two["step_seconds"]
        speedup = rate_two / rate_one
        lines.append(
            f"| {model} | {one['batch']} | {rate_one:,.0f} {unit.get(model, 'images/s')} | {rate_two:,.0f} | "
            f"{speedup:.2f}x | {speedup / 2:.0%} | {one['step_seconds'] * 1e3:.1f} / {two['step_seconds'] * 1e3:.1f} ms"
            f" | {two['allreduce_seconds'] * 1e3:.2f} ms ({two['allreduce_seconds'] / two['step_seconds']:.1%}) | "
            f"{two['gradient_bytes'] / 1e6:.2f} MB ({two['buckets']}) |")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--steps", type=int, default=None, help="steps per timed block (default: per model)")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--rank-child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.rank_child:
        return rank_child(args.rank_child, args.steps, args.warmup, args.repeats)
    started = time.perf_counter()
    results = {}
    for model in args.models.split(","):
        if model not in MODELS:
            parser.error(f"--models: {model!r} is not one of {', '.join(MODELS)}")
        steps = args.steps or STEPS[model]
        results[model] = [run_job(model, ranks, steps, args.warmup, args.repeats) for ranks in (1, 2)]
        print(f"{model}: done", file=sys.stderr, flush=True)
    print(table(results))
    print(f"\n{time.perf_counter() - started:.0f} s in all; {os.cpu_count()} cores; mpiexec: {mpiexec()}")


if __name__ == "__main__":
    main()
