"""Milliseconds per forward + backward of convolutional blocks in glassnet and in PyTorch,
on the same input, the same machine and the same number of threads:

- ``conv pair``: Conv2d(1, 32, 3, padding=1), ReLU, Conv2d(32, 64, 3, padding=1), ReLU
  on a batch of 128 28x28 images (both convolutions at full resolution);
- ``cnn block``: the two blocks of ``glassnet.models.cnn`` (conv, batch norm, ReLU,
  2x2 max-pool), the same batch;
- the single layers of the cnn block, on inputs of the shapes they see there;
- the convolutions of ``glassnet.models.resnet`` (ResNet-14: 3x3, no bias, one with stride 2)
  and LeNet-5's second (5x5), on inputs of the shapes they see there.

A layer after a convolution gets its input in the memory layout that framework's
convolutions hand on: batch-last views in glassnet, contiguous tensors in PyTorch.

    python bench/bench_conv.py [--threads 2] [--repeats 10] [--rounds 3] [--batch 128]

Each framework runs in its own process (the thread pools of NumPy's BLAS and of PyTorch
spin while idle and would slow each other down), in alternating rounds, so a noisy
machine affects both alike. Each figure is the fastest and the median over all repeats,
after a warm-up step.
"""
import os

# what importing glassnet before NumPy does (glassnet/__init__.py), as in child.py: OpenBLAS's
# idle threads stop spinning 0.4 ms after a product, not 0.1 s, on the cores the kernels need
os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "20")

import argparse  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

CASES = {  # name: (input channels, image side)
    "conv pair": (1, 28),
    "cnn block": (1, 28),
    "Conv2d(1, 32) 28x28": (1, 28),
    "BatchNorm2d(32) 28x28": (32, 28),
    "MaxPool2d(2) 32x28x28": (32, 28),
    "Conv2d(32, 64) 14x14": (32, 14),
    "BatchNorm2d(64) 14x14": (64, 14),
    "MaxPool2d(2) 64x14x14": (64, 14),
    "Conv2d(16, 16) 28x28": (16, 28),
    "Conv2d(16, 32) /2 28x28": (16, 28),
    "Conv2d(32, 32) 14x14": (32, 14),
    "Conv2d(64, 64) 7x7": (64, 7),
    "Conv2d(6, 16) 5x5 14x14": (6, 14),
}


def build(nn, case):
    if case == "conv pair":
        return nn.Sequential(nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.Conv2d(32, 64, 3, padding=1), nn.ReLU())
    if case == "cnn block":
        return nn.Sequential(
            nn.Conv2d(1, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(2),
        )
    return {
        "Conv2d(1, 32) 28x28": lambda: nn.Conv2d(1, 32, 3, padding=1),
        "BatchNorm2d(32) 28x28": lambda: nn.BatchNorm2d(32),
        "MaxPool2d(2) 32x28x28": lambda: nn.MaxPool2d(2),
        "Conv2d(32, 64) 14x14": lambda: nn.Conv2d(32, 64, 3, padding=1),
        "BatchNorm2d(64) 14x14": lambda: nn.BatchNorm2d(64),
        "MaxPool2d(2) 64x14x14": lambda: nn.MaxPool2d(2),
        "Conv2d(16, 16) 28x28": lambda: nn.Conv2d(16, 16, 3, padding=1, bias=False),
        "Conv2d(16, 32) /2 28x28": lambda: nn.Conv2d(16, 32, 3, stride=2, padding=1, bias=False),
        "Conv2d(32, 32) 14x14": lambda: nn.Conv2d(32, 32, 3, padding=1, bias=False),
        "Conv2d(64, 64) 7x7": lambda: nn.Conv2d(64, 64, 3, padding=1, bias=False),
        "Conv2d(6, 16) 5x5 14x14": lambda: nn.Conv2d(6, 16, 5),
    }[case]()


def measure(framework, threads, repeats, batch):
    """Times of every case in this process, for one framework: {case: [seconds, ...]}."""
    from threadpoolctl import threadpool_limits

    rng = np.random.default_rng(0)
    times = {}
    with threadpool_limits(threads):
        if framework == "torch":
            import torch

            torch.set_num_threads(threads)
            nn, make = torch.nn, torch.tensor
        else:
            import glassnet as gn

            nn, make = gn.nn, gn.tensor
        for case, (channels, side) in CASES.items():
            data = rng.standard_normal((batch, channels, side, side)).astype(np.float32)
            layer = build(nn, case)
            # inner layers pass gradients on to the layer before them; first layers need none.
            # They see what a convolution before them hands on: in glassnet a batch-last
            # (N, C, H, W) view (see glassnet/ops/conv.py), in PyTorch a contiguous tensor
            if framework == "glassnet" and channels > 1:
                data = np.ascontiguousarray(data.transpose(1, 2, 3, 0)).transpose(3, 0, 1, 2)
            x = make(data, requires_grad=channels > 1)

            def step():
                layer(x).sum().backward()

            step()  # warm-up: allocations, caches
            times[case] = []
            for _ in range(repeats):
                start = time.perf_counter()
                step()
                times[case].append(time.perf_counter() - start)
    return times


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--only", choices=["glassnet", "torch"], help=argparse.SUPPRESS)  # one framework, JSON out
    args = parser.parse_args()
    if args.only:
        print(json.dumps(measure(args.only, args.threads, args.repeats, args.batch)))
        return

    results = {"glassnet": {}, "torch": {}}
    for _ in range(args.rounds):
        for framework in results:
            command = [sys.executable, __file__, "--only", framework, "--threads", str(args.threads),
                       "--repeats", str(args.repeats), "--batch", str(args.batch)]
            times = json.loads(subprocess.run(command, check=True, capture_output=True, text=True).stdout)
            for case, values in times.items():
                results[framework].setdefault(case, []).extend(values)

    print(f"batch {args.batch}, {args.threads} threads, forward + backward, ms "
          f"(fastest / median of {args.rounds * args.repeats})")
    print(f"{'':24}{'glassnet':>18}{'PyTorch':>18}{'ratio':>8}")
    for case in CASES:
        best = {name: min(times[case]) * 1e3 for name, times in results.items()}
        median = {name: statistics.median(times[case]) * 1e3 for name, times in results.items()}
        print(
            f"{case:24}{best['glassnet']:>9.1f} / {median['glassnet']:<6.1f}{best['torch']:>9.1f} / {median['torch']:<6.1f}"
            f"{best['glassnet'] / best['torch']:>7.2f}x"
        )


if __name__ == "__main__":
    main()
