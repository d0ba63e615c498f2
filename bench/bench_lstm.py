"""Seconds per training epoch of an LSTM that reads each 28x28 image row by row (28 steps
of 28 features, hidden 128, then Linear(128, 10) on the last hidden state; batch 128,
Adam lr 1e-3, cross-entropy) in glassnet and in PyTorch, on the same data, the same
machine and the same number of threads.

    python bench/bench_lstm.py [--threads 2] [--repeats 5] [--batches N]

Uses Fashion-MNIST when it is found, else random data of the same shape (timing does not
depend on the values). ``--batches`` times only the first N batches of each epoch and
scales up to the full epoch (for a quick look). After a warm-up, the two frameworks take
turns, epoch by epoch, so that a burst of load on a shared machine hits both alike; each
figure is the best and the median of the repeats.
"""
import argparse
import statistics
import time

import numpy as np
from threadpoolctl import threadpool_limits


def load_data():
    import glassnet as gn

    try:
        train = gn.datasets.fashion_mnist("train")
        images, labels, source = train.images, train.labels, "Fashion-MNIST"
    except FileNotFoundError:
        rng = np.random.default_rng(0)
        images = rng.random((60000, 28, 28), dtype=np.float32)
        labels, source = rng.integers(0, 10, 60000), "random data shaped like Fashion-MNIST"
    # one writable float32 copy, which PyTorch shares (from_numpy) rather than copying again
    return np.array(images, dtype=np.float32).reshape(-1, 28, 28), np.array(labels, dtype=np.int64), source


def batches(count, batch_size, limit, rng):
    order = rng.permutation(count)
    starts = range(0, count, batch_size)
    for start in list(starts)[:limit]:
        yield order[start:start + batch_size]


def glassnet_epoch(images, labels, batch_size, limit, seed):
    import glassnet as gn
    from glassnet.nn.rnn import LSTM

    gn.seed(seed)
    lstm, head = LSTM(28, 128, batch_first=True), gn.nn.Linear(128, 10)
    optimizer = gn.optim.Adam(list(lstm.parameters()) + list(head.parameters()), lr=1e-3)
    rng = np.random.default_rng(seed)

    def run():
        for index in batches(len(images), batch_size, limit, rng):
            _, (h_n, _) = lstm(gn.tensor(images[index]))
            loss = gn.nn.functional.cross_entropy(head(h_n[0]), labels[index])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        return loss.item()

    return run


def torch_epoch(images, labels, batch_size, limit, seed):
    import torch

    torch.manual_seed(seed)
    lstm, head = torch.nn.LSTM(28, 128, batch_first=True), torch.nn.Linear(128, 10)
    optimizer = torch.optim.Adam(list(lstm.parameters()) + list(head.parameters()), lr=1e-3)
    x_all, y_all = torch.from_numpy(images), torch.from_numpy(labels)
    rng = np.random.default_rng(seed)

    def run():
        for index in batches(len(images), batch_size, limit, rng):
            index = torch.from_numpy(index)
            _, (h_n, _) = lstm(x_all[index])
            loss = torch.nn.functional.cross_entropy(head(h_n[0]), y_all[index])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        return loss.item()

    return run


def interleaved_seconds(runners, repeats):
    """Each runner's epoch times, the runners taking turns after one warm-up epoch each."""
    times = {name: [] for name in runners}
    for run in runners.values():
        run()
    for _ in range(repeats):
        for name, run in runners.items():
            start = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - start)
    return times


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--batches", type=int, default=None, help="time only this many batches per epoch, scaled up")
    args = parser.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    images, labels, source = load_data()
    per_epoch = -(-len(images) // args.batch_size)
    limit = per_epoch if args.batches is None else min(args.batches, per_epoch)
    with threadpool_limits(limits=args.threads):
        runners = {
            "glassnet": glassnet_epoch(images, labels, args.batch_size, limit, seed=0),
            f"PyTorch {torch.__version__}": torch_epoch(images, labels, args.batch_size, limit, seed=0),
        }
        times = interleaved_seconds(runners, args.repeats)
    scale = per_epoch / limit
    best = {name: min(t) * scale for name, t in times.items()}
    median = {name: statistics.median(t) * scale for name, t in times.items()}

    scaled = "" if limit == per_epoch else f", timed on {limit} of {per_epoch} batches and scaled"
    print(f"LSTM(28, 128) over 28 rows + Linear(128, 10), batch {args.batch_size}, Adam, {len(images)} images "
          f"({source}), {args.threads} threads, {args.repeats} epochs each, interleaved{scaled}")
    print(f"{'framework':<24}{'best s/epoch':>14}{'median':>10}")
    for name in times:
        print(f"{name:<24}{best[name]:>14.3f}{median[name]:>10.3f}")
    glassnet_s, torch_s = best.values()
    print(f"ratio glassnet / PyTorch (best): {glassnet_s / torch_s:.2f}")


if __name__ == "__main__":
    main()
