"""Where each framework's time goes, op by op: glassnet's ops beside PyTorch's, on the same
model, batch and number of threads (bench/child.py's workload), each in its own process.

    python bench/op_compare.py MODEL [--infer] [--steps 10] [--threads 2] [--top 12] [--shapes]

glassnet's side times every op's forward and backward (wall time, wrapped around each
Function subclass) and the optimizer's step. PyTorch's side is torch.profiler's self CPU
time per aten op. Both step times are taken without the timers first. The op names differ
(PyTorch's fused kernels, such as the transformer's fast path in eval mode or oneDNN's
whole-sequence LSTM, are one op where glassnet has several), so the two lists are shown
side by side, each ranked by its own time, not matched row by row. With ``--shapes``,
each op is split by the shapes of its inputs (one convolution layer from another).
"""
import argparse
import collections
import json
import os
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "20")  # as glassnet sets it (see child.py)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from child import GlassnetRunner, TorchRunner, workload  # noqa: E402


def timed_run(runner, infer, steps, threads):
    """Milliseconds per training step (or inference batch), after three untimed ones."""
    result = runner.infer(steps, threads, warmup=3) if infer else runner.train(steps, threads, warmup=3)
    return result["seconds"] * 1e3


def run_steps(runner, infer, steps):
    if not infer:
        return runner.train_steps(steps)
    runner.model.eval()
    with runner.no_grad():
        for _ in range(steps):
            runner.forward(runner.batch()[0])
    runner.model.train()


def glassnet_ops(args, weights_path):
    from glassnet.tensor import Function

    runner = GlassnetRunner(workload(args.model), weights_path)
    step_ms = timed_run(runner, args.infer, args.steps, args.threads)
    totals = collections.Counter()

    def timing(name, method):
        def timed(*arguments, **options):
            start = time.perf_counter()
            try:
                return method(*arguments, **options)
            finally:
                shapes = [list(a.shape) for a in arguments[1:] if hasattr(a, "shape")] if args.shapes else ""
                totals[f"{name} {shapes}".rstrip()] += time.perf_counter() - start
        return timed

    def every_subclass(cls):
        for sub in cls.__subclasses__():
            yield sub
            yield from every_subclass(sub)

    for cls in set(every_subclass(Function)):
        for method in ("forward", "backward"):
            if method in vars(cls):
                setattr(cls, method, timing(f"{cls.__name__}.{method}", vars(cls)[method]))
    runner.optimizer.step = timing("optimizer step", runner.optimizer.step)
    run_steps(runner, args.infer, args.steps)
    return step_ms, {name: seconds * 1e3 / args.steps for name, seconds in totals.items()}


def torch_ops(args, weights_path):
    from torch.profiler import ProfilerActivity, profile

    runner = TorchRunner(workload(args.model), weights_path)
    step_ms = timed_run(runner, args.infer, args.steps, args.threads)
    with profile(activities=[ProfilerActivity.CPU], record_shapes=args.shapes) as profiler:
        run_steps(runner, args.infer, args.steps)
    ops = {f"{event.key} {event.input_shapes if args.shapes else ''}".rstrip(): event.self_cpu_time_total / 1e3 / args.steps
           for event in profiler.key_averages(group_by_input_shape=args.shapes)}
    return step_ms, ops


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model")
    parser.add_argument("--infer", action="store_true", help="eval-mode forward passes, not training steps")
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--top", type=int, default=12)
    parser.add_argument("--shapes", action="store_true", help="each op split by its inputs' shapes")
    parser.add_argument("--side", choices=["glassnet", "torch"], help=argparse.SUPPRESS)  # a child's
    parser.add_argument("--weights", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.side:
        measure = glassnet_ops if args.side == "glassnet" else torch_ops
        print(json.dumps(measure(args, args.weights)))
        return
    sides = {}
    with tempfile.TemporaryDirectory() as folder:
        weights = os.path.join(folder, "weights.npz")  # glassnet writes its initial weights, the twin loads them
        for side in ("glassnet", "torch"):
            command = [sys.executable, __file__, *sys.argv[1:], "--side", side, "--weights", weights]
            sides[side] = json.loads(subprocess.run(command, check=True, capture_output=True, text=True).stdout)
    what = "inference batch" if args.infer else "training step"
    (ours, our_ops), (theirs, their_ops) = sides["glassnet"], sides["torch"]
    print(f"{args.model}, one {what}, {args.threads} threads: glassnet {ours:.2f} ms, PyTorch {theirs:.2f} ms "
          f"(ratio {ours / theirs:.2f}); each side's ops by time (ms per {what.split()[-1]}, share of its own ops)")
    ranked = [sorted(ops.items(), key=lambda item: -item[1])[:args.top] for ops in (our_ops, their_ops)]
    totals = [sum(ops.values()) for ops in (our_ops, their_ops)]
    widths = (62, 62) if args.shapes else (34, 40)
    print(f"  {'glassnet op':{widths[0]}s} {'ms':>7s} {'share':>6s}    {'PyTorch op':{widths[1]}s} {'ms':>7s} {'share':>6s}")
    for row in range(max(map(len, ranked))):
        cells = []
        for side, width in enumerate(widths):
            name, ms = ranked[side][row] if row < len(ranked[side]) else ("", None)
            cells.append(f"{name[:width]:{width}s} {ms:7.2f} {ms / totals[side]:6.1%}" if ms is not None else " " * (width + 15))
        print("  " + "    ".join(cells))
    print(f"  {'all ops':{widths[0]}s} {totals[0]:7.2f}           {'all ops':{widths[1]}s} {totals[1]:7.2f}")


if __name__ == "__main__":
    main()
