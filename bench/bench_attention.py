"""Milliseconds per forward + backward of the attention core, softmax(q k^T * scale + mask) v,
on the same (N, heads, L, head size) inputs: glassnet's ``ops.Attention`` (NumPy's stacked
BLAS products around the compiled softmax) and PyTorch's ``scaled_dot_product_attention``.

    python bench/bench_attention.py [--threads 2] [--repeats 20] [--rounds 3]

The shapes are the vit's (17 positions of head size 16, no mask) and the gpt's (128
positions of 32, causal), and lengths in between. A compiled core (numba: each head's
scores, softmax and weighted sum in one pass while the head is in cache) was measured
with this script at commit 98cbfc2 and lost at every size (bench/RESULTS.md). PyTorch runs in a
process of its own (the two libraries' idle threads would slow each other), in rounds
alternating with glassnet's. Each figure is the median over all repeats after a warm-up.
"""
import os

# as child.py: OpenBLAS's idle threads stop spinning 0.4 ms after a product, not 0.1 s
os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "20")

import argparse  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

SHAPES = [(128, 4, 17, 16, False), (64, 4, 32, 32, True), (32, 4, 64, 32, True), (32, 4, 96, 32, True),
          (32, 4, 128, 32, True)]  # (N, heads, L, head size, causal)


def inputs(n, heads, length, size):
    rng = np.random.default_rng(0)
    return [rng.standard_normal((n, heads, length, size)).astype(np.float32) for _ in range(3)]


def timed(step, repeats):
    step()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return times


def glassnet_times(shape, repeats, threads):
    import glassnet as gn

    gn.set_num_threads(threads)
    n, heads, length, size, causal = shape
    arrays = inputs(n, heads, length, size)
    mask = np.triu(np.full((length, length), -np.inf, np.float32), 1) if causal else None
    upstream = gn.tensor(np.ones((n, heads, length, size), np.float32))

    def step():
        q, k, v = (gn.tensor(a, requires_grad=True) for a in arrays)
        gn.ops.Attention.apply(q, k, v, mask=mask, scale=1 / size ** 0.5).backward(upstream)
    return {"glassnet": timed(step, repeats)}


def torch_times(shape, repeats, threads):
    import torch

    torch.set_num_threads(threads)
    n, heads, length, size, causal = shape
    arrays = [torch.from_numpy(a) for a in inputs(n, heads, length, size)]
    upstream = torch.ones(n, heads, length, size)

    def step():
        q, k, v = (a.clone().requires_grad_() for a in arrays)
        torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=causal).backward(upstream)
    return {"torch": timed(step, repeats)}


def child(framework, threads, repeats):
    measure = glassnet_times if framework == "glassnet" else torch_times
    print(json.dumps({str(i): measure(shape, repeats, threads) for i, shape in enumerate(SHAPES)}))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--child", choices=["glassnet", "torch"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args.child, args.threads, args.repeats)
    times = {}
    for _ in range(args.rounds):
        for framework in ("glassnet", "torch"):
            time.sleep(1.0)  # the other framework's idle threads stop spinning
            out = subprocess.run([sys.executable, __file__, "--child", framework, "--threads", str(args.threads),
                                  "--repeats", str(args.repeats)], capture_output=True, text=True, check=True).stdout
            for i, paths in json.loads(out).items():
                for path, seconds in paths.items():
                    times.setdefault((int(i), path), []).extend(seconds)
    print(f"attention core, forward + backward, ms (median of {args.rounds} x {args.repeats}), {args.threads} threads")
    print(f"{'N x heads x L x head size':<28}{'glassnet':>10}{'PyTorch':>10}{'ratio':>8}")
    for i, (n, heads, length, size, causal) in enumerate(SHAPES):
        ours, theirs = (1000 * statistics.median(times[i, path]) for path in ("glassnet", "torch"))
        name = f"{n} x {heads} x {length} x {size}" + (" causal" if causal else "")
        print(f"{name:<28}{ours:>10.2f}{theirs:>10.2f}{ours / theirs:>8.2f}")

if __name__ == "__main__":
    main()
