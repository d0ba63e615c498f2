"""Seconds per training epoch of the seed's MLP (784-128-128-10, ReLU, batch 128, Adam
lr 1e-3, cross-entropy) in glassnet and in PyTorch, on the same data, the same machine
and the same number of threads. Prints a table and the ratio.

    python bench/bench_mlp.py [--threads 2] [--repeats 5] [--pause 1]

Uses Fashion-MNIST when it is found, else random data of the same shape (timing does not
depend on the values). Both frameworks run in the same process, interleaved epoch by
epoch, so a noisy machine affects both alike, with ``--pause`` seconds of rest before
each epoch, so that neither framework's idle, spinning threads take time from the other;
each figure is the median over the repeats after a warm-up epoch. Threads:
``torch.set_num_threads`` and ``glassnet.set_num_threads``.
"""
import os

os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "20")  # before NumPy loads OpenBLAS, as importing glassnet first does

import argparse  # noqa: E402
import statistics
import time

import numpy as np


def load_data():
    import glassnet as gn

    try:
        train = gn.datasets.fashion_mnist("train")
        return train.images, train.labels, "Fashion-MNIST"
    except FileNotFoundError:
        rng = np.random.default_rng(0)
        images = rng.random((60000, 1, 28, 28), dtype=np.float32)
        return images, rng.integers(0, 10, 60000), "random data shaped like Fashion-MNIST"


def glassnet_epoch(images, labels, batch_size, seed):
    import glassnet as gn

    gn.seed(seed)
    model = gn.models.mlp((1, 28, 28), 10)
    optimizer = gn.optim.Adam(model.parameters(), lr=1e-3)
    loader = gn.data.DataLoader(gn.data.TensorDataset(images, labels), batch_size=batch_size, shuffle=True, seed=seed)

    def run():
        for x, y in loader:
            loss = gn.nn.functional.cross_entropy(model(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        return loss.item()

    return run


def torch_epoch(images, labels, batch_size, seed):
    import torch

    torch.manual_seed(seed)
    model = torch.nn.Sequential(
        torch.nn.Flatten(), torch.nn.Linear(784, 128), torch.nn.ReLU(),
        torch.nn.Linear(128, 128), torch.nn.ReLU(), torch.nn.Linear(128, 10),
    )
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    x_all, y_all = torch.from_numpy(np.array(images)), torch.from_numpy(labels.astype(np.int64))

    def run():
        order = torch.randperm(len(x_all))
        for start in range(0, len(x_all), batch_size):
            index = order[start:start + batch_size]
            loss = torch.nn.functional.cross_entropy(model(x_all[index]), y_all[index])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        return loss.item()

    return run


def interleaved_medians(runners, repeats, pause):
    """The median seconds of each runner's epoch over ``repeats`` epochs, after a warm-up
    epoch each; the runners take turns epoch by epoch, resting ``pause`` seconds before each."""
    times = {name: [] for name in runners}
    for round_ in range(repeats + 1):
        for name, run in runners.items():
            time.sleep(pause)
            start = time.perf_counter()
            run()
            if round_ > 0:  # round 0 is the warm-up
                times[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in times.items()}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--pause", type=float, default=1.0, help="seconds of rest before every epoch")
    args = parser.parse_args()

    import torch

    import glassnet as gn

    torch.set_num_threads(args.threads)
    gn.set_num_threads(args.threads)  # its pool shares out the products too (NumPy's BLAS on one thread)
    images, labels, source = load_data()
    runners = {
        "glassnet": glassnet_epoch(images, labels, args.batch_size, seed=0),
        f"PyTorch {torch.__version__}": torch_epoch(images, labels, args.batch_size, seed=0),
    }
    seconds = interleaved_medians(runners, args.repeats, args.pause)

    print(f"MLP 784-128-128-10, batch {args.batch_size}, Adam, {len(images)} images ({source}), "
          f"{args.threads} threads, median of {args.repeats} epochs, interleaved")
    print(f"{'framework':<24}{'s/epoch':>10}")
    for name, value in seconds.items():
        print(f"{name:<24}{value:>10.3f}")
    glassnet_s, torch_s = seconds.values()
    print(f"ratio glassnet / PyTorch: {glassnet_s / torch_s:.2f}")


if __name__ == "__main__":
    main()
