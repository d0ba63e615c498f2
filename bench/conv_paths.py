"""One 3x3 convolution at stride 1 by the direct kernel and by Winograd's F(2x2, 3x3), side
by side in one process: milliseconds (the best of interleaved pairs) and each one's
largest error against float64.

    python bench/conv_paths.py [--threads 2] [--pairs 10]

The calls are those Conv2d's forward makes (``ops.conv.direct_conv``, which hands
Winograd's cases to ``winograd_conv``), on a batch-last input as a convolution hands it
on; the direct kernel's time includes its padded copy, which Winograd's never makes. The
shapes are a resnet's three stages, a batch that fills one and a half runs of 64 images,
one run, and the limits of ops.conv.WINOGRAD_MIN_CHANNELS and WINOGRAD_MIN_BATCH.
"""
import os

os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "20")  # as importing glassnet first does

import argparse  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

import glassnet as gn  # noqa: E402
from glassnet.ops import conv  # noqa: E402

SHAPES = [  # batch, channels, filters, image side
    (128, 16, 16, 28), (128, 32, 32, 14), (128, 64, 64, 7), (100, 32, 32, 14), (64, 16, 16, 28), (128, 16, 32, 9),
    (128, 4, 16, 28), (128, 8, 16, 28), (48, 16, 16, 28), (32, 16, 16, 28),
]
DIRECT, WINOGRAD = (10 ** 9, 10 ** 9), (1, 1)  # (WINOGRAD_MIN_BATCH, WINOGRAD_MIN_CHANNELS) for each path


def run(x, weight, bias, side, path):
    conv.WINOGRAD_MIN_BATCH, conv.WINOGRAD_MIN_CHANNELS = path
    return conv.direct_conv(x, ((1, 1), (1, 1)), weight, (side, side), (1, 1), (1, 1), bias)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--pairs", type=int, default=10, help="timed (direct, Winograd) pairs, 3 calls each")
    args = parser.parse_args()
    gn.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    print(f"ms per convolution (best of {args.pairs} interleaved pairs), {args.threads} thread{'s' * (args.threads > 1)}; "
          "largest error against float64")
    print(f"{'batch, C -> O, image':<24}{'direct':>8}{'Winograd':>10}{'ratio':>7}{'error direct':>15}{'Winograd':>10}")
    for batch, channels, filters, side in SHAPES:
        x = np.ascontiguousarray(rng.standard_normal((channels, side, side, batch), dtype=np.float32)).transpose(3, 0, 1, 2)
        weight = rng.standard_normal((filters, channels, 3, 3), dtype=np.float32)
        bias = rng.standard_normal(filters, dtype=np.float32)
        exact = gn.nn.functional.conv2d(*(gn.tensor(a.astype(np.float64)) for a in (x, weight, bias)), padding=1)
        exact = exact.numpy().transpose(1, 2, 3, 0)
        errors = [float(np.abs(run(x, weight, bias, side, path) - exact).max()) for path in (DIRECT, WINOGRAD)]
        best = {DIRECT: float("inf"), WINOGRAD: float("inf")}
        for _ in range(args.pairs):
            for path in best:
                start = time.perf_counter()
                for _ in range(3):
                    run(x, weight, bias, side, path)
                best[path] = min(best[path], (time.perf_counter() - start) / 3 * 1e3)
        print(f"{f'{batch}, {channels} -> {filters}, {side}x{side}':<24}{best[DIRECT]:>8.2f}{best[WINOGRAD]:>10.2f}"
              f"{best[WINOGRAD] / best[DIRECT]:>7.2f}{errors[0]:>15.1e}{errors[1]:>10.1e}")


if __name__ == "__main__":
    main()
