"""Milliseconds per forward + backward of convolutional blocks in glassnet and in PyTorch,
on the same input, the same machine and the same number of threads:

- ``conv pair``: Conv2d(1, 32, 3, padding=1), ReLU, Conv2d(32, 64, 3, padding=1), ReLU
  on a batch of 128 28x28 images (the conv layers at full resolution);
- ``cnn block``: the two blocks of ``glassnet.models.cnn`` (conv, batch norm, ReLU,
  2x2 max-pool), the same batch;
- the single layers of the cnn block, on the activations they see there.

    python bench/bench_conv.py [--threads 2] [--repeats 20] [--batch 128]

Both frameworks run in the same process, interleaved, so a noisy machine affects both
alike; each figure is the fastest and the median of the repeats after a warm-up.
"""
import argparse
import statistics
import time

import numpy as np
from threadpoolctl import threadpool_limits


def timings(step, repeats):
    step()  # warm-up: allocations, caches
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return times


def build(nn, kind):
    if kind == "conv pair":
        return nn.Sequential(nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.Conv2d(32, 64, 3, padding=1), nn.ReLU())
    if kind == "cnn block":
        return nn.Sequential(
            nn.Conv2d(1, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(2),
        )
    return {
        "Conv2d(1, 32) 28x28": nn.Conv2d(1, 32, 3, padding=1),
        "BatchNorm2d(32) 28x28": nn.BatchNorm2d(32),
        "MaxPool2d(2) 32x28x28": nn.MaxPool2d(2),
        "Conv2d(32, 64) 14x14": nn.Conv2d(32, 64, 3, padding=1),
        "BatchNorm2d(64) 14x14": nn.BatchNorm2d(64),
        "MaxPool2d(2) 64x14x14": nn.MaxPool2d(2),
    }[kind]


INPUTS = {"conv pair": (1, 28), "cnn block": (1, 28), "Conv2d(1, 32) 28x28": (1, 28), "BatchNorm2d(32) 28x28": (32, 28),
          "MaxPool2d(2) 32x28x28": (32, 28), "Conv2d(32, 64) 14x14": (32, 14), "BatchNorm2d(64) 14x14": (64, 14),
          "MaxPool2d(2) 64x14x14": (64, 14)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--batch", type=int, default=128)
    args = parser.parse_args()

    import torch

    import glassnet as gn
    from glassnet.nn import Sequential, ReLU
    from glassnet.nn.batchnorm import BatchNorm2d
    from glassnet.nn.conv import Conv2d
    from glassnet.nn.pooling import MaxPool2d

    class GlassnetLayers:  # the layers under the names of torch.nn, until glassnet.nn exports them
        pass

    for layer in (Sequential, ReLU, Conv2d, BatchNorm2d, MaxPool2d):
        setattr(GlassnetLayers, layer.__name__, layer)

    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    print(f"batch {args.batch}, {args.threads} threads, forward + backward, ms (fastest / median of {args.repeats})")
    print(f"{'':24}{'glassnet':>18}{'PyTorch':>18}{'ratio':>8}")
    with threadpool_limits(args.threads):
        for kind in INPUTS:
            channels, side = INPUTS[kind]
            data = rng.standard_normal((args.batch, channels, side, side)).astype(np.float32)
            mine, theirs = build(GlassnetLayers, kind), build(torch.nn, kind)
            grad_input = kind not in ("conv pair", "cnn block", "Conv2d(1, 32) 28x28")  # inner layers pass gradients on
            x = gn.tensor(data, requires_grad=grad_input)
            tx = torch.tensor(data, requires_grad=grad_input)

            def glassnet_step():
                mine(x).sum().backward()

            def torch_step():
                theirs(tx).sum().backward()

            results = {}
            for _ in range(2):  # interleaved rounds
                for name, step in (("glassnet", glassnet_step), ("torch", torch_step)):
                    results.setdefault(name, []).extend(timings(step, args.repeats // 2))
            best = {name: min(t) * 1e3 for name, t in results.items()}
            median = {name: statistics.median(t) * 1e3 for name, t in results.items()}
            print(
                f"{kind:24}{best['glassnet']:>9.1f} / {median['glassnet']:<6.1f}{best['torch']:>9.1f} / {median['torch']:<6.1f}"
                f"{best['glassnet'] / best['torch']:>7.2f}x"
            )


if __name__ == "__main__":
    main()
