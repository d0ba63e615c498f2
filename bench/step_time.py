"""Milliseconds per training step of one model on a fixed random batch: a quick, low-noise
way to compare two versions of glassnet (run it with ``PYTHONPATH=<other checkout>/src``
for the other side, alternating). ``--infer`` times forward passes in eval mode without
autograd instead, as bench_models.py's inference table does.

    python bench/step_time.py [--model mlp] [--steps 200] [--repeats 5] [--threads 2] [--infer]

Prints the minimum and the median over the repeats, after 20 warm-up steps.
"""
import argparse
import statistics
import time

import numpy as np

import glassnet as gn

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--model", default="mlp", choices=sorted(gn.models.IMAGE_MODELS))
parser.add_argument("--steps", type=int, default=200)
parser.add_argument("--repeats", type=int, default=5)
parser.add_argument("--threads", type=int, default=None, help="glassnet.set_num_threads (default: every core)")
parser.add_argument("--infer", action="store_true", help="time eval-mode forward passes without autograd")
args = parser.parse_args()
if args.threads:
    gn.set_num_threads(args.threads)

gn.seed(0)
model = gn.models.build(args.model, (1, 28, 28), 10)
optimizer = gn.optim.Adam(model.parameters(), lr=1e-3)
rng = np.random.default_rng(0)
images = gn.from_numpy(rng.random((128, 1, 28, 28), dtype=np.float32))
labels = gn.from_numpy(rng.integers(0, 10, 128))


def train_step():
    loss = gn.nn.functional.cross_entropy(model(images), labels)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()


def forward():
    with gn.no_grad():
        model(images)


step = forward if args.infer else train_step
if args.infer:
    model.eval()


for _ in range(20):
    step()
times = []
for _ in range(args.repeats):
    start = time.perf_counter()
    for _ in range(args.steps):
        step()
    times.append((time.perf_counter() - start) / args.steps * 1e3)
print(f"{args.model}{' inference' if args.infer else ''} ({gn.__file__}): ms/step min {min(times):.3f} median {statistics.median(times):.3f}")
