"""The program tests/test_distributed.py runs on several ranks (``mpiexec -n 2 python
distributed_worker.py MODE ...``); importing it does nothing.

Modes:
    check OUT        collectives, then N ranks against one process (the same steps, to
                     float32 rounding), then the same with batch norm (the difference,
                     measured); rank 0 writes the numbers to OUT (JSON)
    raise RANK       rank RANK raises in the middle of training; the others are in a collective
    hang SAVE        trains for ever, saving a checkpoint every few steps (for a kill from outside)
    midway FOLDER    2 epochs with a checkpoint every 5 steps, a copy of the one at step 10
                     (in the second epoch) kept in FOLDER/midway; the weights in FOLDER/whole.npz
    resume FOLDER    goes on from FOLDER/midway to the end; the weights in FOLDER/resumed.npz
"""
import json
import os
import shutil
import sys

import numpy as np

import glassnet as gn
from glassnet import distributed as dist

BATCH = 32  # the global batch: each of N ranks takes BATCH / N
STEPS = 6


def arrays(n, features=12, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, features)).astype(np.float32)
    return x, x[:, :classes].argmax(axis=1).astype(np.int64)


def data(n):
    return gn.data.TensorDataset(*arrays(n))


def model(batch_norm):
    gn.manual_seed(1)
    layers = [gn.nn.Linear(12, 16)] + ([gn.nn.BatchNorm1d(16)] if batch_norm else []) + [gn.nn.ReLU(),
                                                                                         gn.nn.Linear(16, 3)]
    return gn.nn.Sequential(*layers)


def optimizer(net):
    return gn.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)


def distributed_weights(batch_norm):
    """STEPS steps on this job's ranks through fit: per-rank batch BATCH / N."""
    net = model(batch_norm)
    dist.broadcast_parameters(net.state_dict())
    train_set = data(n=BATCH * STEPS)
    sampler = dist.DistributedSampler(train_set, seed=3)
    loader = gn.data.DataLoader(train_set, batch_size=BATCH // dist.world_size(), sampler=sampler)
    history = gn.train.fit(net, loader, dist.DistributedOptimizer(optimizer(net), bucket_mb=0.001), epochs=1,
                           progress=False)
    return net, history


def single_process_weights(batch_norm):
    """The same STEPS steps in one process, by hand: batch BATCH, the same order."""
    net = model(batch_norm)
    x_all, y_all = arrays(BATCH * STEPS)
    order = np.array(list(dist.DistributedSampler(len(x_all), num_replicas=1, rank=0, seed=3)))
    step = optimizer(net)
    for k in range(STEPS):
        batch = order[k * BATCH:(k + 1) * BATCH]
        x, y = x_all[batch], y_all[batch]
        step.zero_grad()
        gn.nn.functional.cross_entropy(net(gn.tensor(x)), gn.tensor(y)).backward()
        step.step()
    return net


def largest_difference(a, b):
    """The largest difference between two models' weights (running statistics aside)."""
    b_state = b.state_dict()
    return max(float(np.abs(value - b_state[k]).max()) for k, value in a.state_dict().items() if "running" not in k
               and "num_batches" not in k)


def check(out):
    r, n = dist.rank(), dist.world_size()
    checks = {
        "sum": dist.all_reduce(np.array([r + 1.0, 1.0])).tolist(),
        "average": dist.all_reduce(float(r), "average"),
        "max": dist.all_reduce(gn.tensor([float(r)]), "max").tolist(),
        "broadcast": dist.broadcast(np.array([10 * r + 7]), root=n - 1).tolist(),
        "gathered": dist.all_gather(np.array([r, -r])).tolist(),
        "local_rank": dist.all_gather(np.array(dist.local_rank())).tolist(),
        "threads": [dist.local_size(), gn.get_num_threads()],  # the machine's 2 cores shared by its 2 ranks
    }
    dist.barrier()
    results = {"world_size": n, "checks": checks}
    for batch_norm in (False, True):
        net, history = distributed_weights(batch_norm)
        checksums = dist.all_gather(np.array([np.abs(v).sum() for v in net.state_dict().values()], dtype=np.float64))
        results[f"batch_norm={batch_norm}"] = {
            "difference": largest_difference(net, single_process_weights(batch_norm)),
            "moved": largest_difference(net, model(batch_norm)),  # how far training took the weights
            "ranks_agree": bool((checksums == checksums[0]).all()),  # weights and buffers: the same on every rank
            "steps": len(history.last["step_losses"]),
            "train_loss": history.last["train_loss"],
        }
    if r == 0:
        with open(out, "w") as f:
            json.dump(results, f)


def fail(rank_that_raises):
    dist.init()
    if dist.rank() == rank_that_raises:
        raise ValueError("a bad batch on purpose")
    dist.all_reduce(np.zeros(3))  # the others wait here for it


def hang(save):
    """Training that never ends, a checkpoint every few steps, for a rank to be killed."""
    net = model(False)
    train_set = data(n=4096)
    sampler = dist.DistributedSampler(train_set, seed=0)
    loader = gn.data.DataLoader(train_set, batch_size=8, sampler=sampler)
    print(f"rank {dist.rank()} training", flush=True)
    gn.train.fit(net, loader, dist.DistributedOptimizer(optimizer(net)), epochs=10_000, save_path=save,
                 checkpoint_every=5, progress=False)


class KeepCheckpoint(gn.train.Callback):
    """Rank 0 copies the run's checkpoint and history as they are at step ``step`` (the checkpoint of
    an earlier step: a step's own is written after its callbacks)."""

    def __init__(self, run, copy, step):
        self.run, self.copy, self.step = run, copy, step

    def on_batch_end(self, trainer, step, logs):
        if step == self.step and dist.rank() == 0:
            os.makedirs(self.copy, exist_ok=True)
            for name in ("model.safetensors", "history.jsonl"):
                shutil.copy(os.path.join(self.run, name), os.path.join(self.copy, name))


def midway(folder, resume):
    """2 epochs of 8 steps (global batch 32); the run saved at step 10 goes on, on any number of ranks."""
    net = model(False)
    dist.broadcast_parameters(net.state_dict())
    train_set = data(n=256)
    sampler = dist.DistributedSampler(train_set, seed=0)
    loader = gn.data.DataLoader(train_set, batch_size=BATCH // dist.world_size(), sampler=sampler)
    step = dist.DistributedOptimizer(optimizer(net))
    if resume:
        history = gn.train.fit(net, loader, step, epochs=2, resume=os.path.join(folder, "midway"), progress=False)
    else:
        run = os.path.join(folder, "run")
        history = gn.train.fit(net, loader, step, epochs=2, save_path=os.path.join(run, "model.safetensors"),
                               checkpoint_every=5, callbacks=[KeepCheckpoint(run, os.path.join(folder, "midway"), 11)],
                               progress=False)
    if dist.rank() == 0:
        np.savez(os.path.join(folder, "resumed.npz" if resume else "whole.npz"), **net.state_dict(),
                 train_loss=history.last["train_loss"], train_acc=history.last["train_acc"])


if __name__ == "__main__":
    dist.init()
    mode, argument = sys.argv[1], sys.argv[2]
    if mode == "check":
        check(argument)
    elif mode == "raise":
        fail(int(argument))
    elif mode == "hang":
        hang(argument)
    elif mode in ("midway", "resume"):
        midway(argument, resume=mode == "resume")
