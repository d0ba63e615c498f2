"""One glassnet setting against another, inside one process, step by step: a module-level
value (a threshold, a switch) flipped between two values before every training step or
inference batch, in the order A B B A, and each value's steps timed.

    python bench/ab_switch.py MODEL glassnet.ops.matmul:COMPILED_MIN_WORK '2**62' '2**26' [--infer] [--threads 2] [--steps 40]

Two child processes (bench/ab_children.py) see the machine's drift alike only over whole
rounds, and this machine's speed moves by tens of percent within a minute; two settings
interleaved a step apart in one process share the same moments, the same memory and the
same warm code, so a change of 5% shows where the children's medians scatter over 20%.
It compares settings of one checkout; two checkouts need two processes (ab_children.py).
"""
import argparse
import importlib
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import child  # noqa: E402  (sets OPENBLAS_THREAD_TIMEOUT as glassnet does, before NumPy loads)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model")
    parser.add_argument("name", help="module:attribute, e.g. glassnet.ops.matmul:COMPILED_MIN_WORK")
    parser.add_argument("a", help="the first value, a Python expression")
    parser.add_argument("b", help="the second value, a Python expression")
    parser.add_argument("--infer", action="store_true", help="eval-mode forward passes, not training steps")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--steps", type=int, default=40, help="timed steps (or batches) per value")
    parser.add_argument("--warmup", type=int, default=6)
    args = parser.parse_args()
    module_name, attribute = args.name.split(":")
    module = importlib.import_module(module_name)
    values = {"a": eval(args.a, {}), "b": eval(args.b, {})}  # the user's own command line

    runner = child.GlassnetRunner(child.workload(args.model))
    runner.set_threads(args.threads)
    if args.infer:
        runner.model.eval()

    def one():
        if args.infer:
            with runner.no_grad():
                runner.forward(runner.batch()[0])
        else:
            runner.step(*runner.batch())

    times = {"a": [], "b": []}
    for i in range(args.warmup + 2 * args.steps):
        which = "ab"[(i // 2 + i) % 2]  # a b b a a b b a ...
        setattr(module, attribute, values[which])
        start = time.perf_counter()
        one()
        if i >= args.warmup:
            times[which].append(time.perf_counter() - start)
    what = "inference batch" if args.infer else "training step"
    print(f"{args.model}, ms per {what}, {args.threads} threads, {args.steps} of each interleaved (A B B A):")
    for which in "ab":
        ms = sorted(t * 1e3 for t in times[which])
        quarter = len(ms) // 4
        print(f"  {attribute} = {getattr(args, which):>10s}: median {statistics.median(ms):8.2f}  "
              f"quartiles {ms[quarter]:.2f}-{ms[-1 - quarter]:.2f}  min {ms[0]:.2f}")


if __name__ == "__main__":
    main()
