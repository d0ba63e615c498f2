"""``glassnet train --distributed``: the same training command on several processes (MPI ranks).

    mpiexec -n 2 glassnet train --model mlp --dataset digits --distributed --batch-size 64
    mpiexec -n 16 -f hosts glassnet train --model cnn --dataset fashion-mnist --distributed --batch-size 256
    srun --ntasks=64 glassnet train --model cnn --dataset fashion-mnist --distributed --batch-size 1024

``--batch-size`` is the *global* batch, the examples of one optimizer step in all: each of
the N ranks takes ``batch-size / N`` of them (N must divide it). So the command means the
same training on 1, 2 or 64 ranks (the same steps, the same learning rate, the same
schedule), a run can be resumed on another number of ranks, and only the time changes.
PyTorch's and Horovod's scripts usually give the batch per rank instead; then the run
changes with the number of ranks, and the learning rate must be scaled by hand.

Images are shared out by a :class:`~glassnet.distributed.DistributedSampler`; gpt's random
windows are drawn for the whole batch by the same generator on every rank, each rank
keeping its slice (:class:`RankSlices`). Own data (``--data``) is not distributed yet.

Rank 0 prints and saves; the others print nothing (their standard output is closed) but
their errors: a rank that fails names itself and ends the job (:func:`abort_job`).
"""
import os
import sys

from ..data import DataLoader
from ..tensor import Tensor
from ..train import TimeBudget


def add_distributed_arguments(parser):
    parser.add_argument(
        "--distributed", action="store_true",
        help="data-parallel training on the ranks 'mpiexec -n N' (or srun) started: each trains on its share of "
             "every batch and the gradients are averaged over them (MPI, pip install 'glassnet[distributed]'); "
             "--batch-size is then the global batch, split evenly over the N ranks (N must divide it). "
             "Alone (one process, or no MPI installed) it trains as one rank")


def start(args):
    """Join the job when ``--distributed`` asks (:func:`glassnet.distributed.init`) and check
    that it can share the batch out; returns glassnet.distributed, or None without it.
    Ranks other than 0 print nothing from then on."""
    if not getattr(args, "distributed", False):
        return None
    from .. import distributed

    distributed.init()
    if args.data:
        raise ValueError("--distributed trains on the built-in data sets (--dataset) and gpt; --data is not "
                         "distributed yet; help: drop --distributed, or train from Python with glassnet.distributed")
    ranks = distributed.world_size()
    if args.batch_size % ranks:
        raise ValueError(f"--batch-size {args.batch_size} is the global batch, split evenly over the {ranks} ranks, "
                         f"which {ranks} does not divide; help: a multiple of {ranks}, such as "
                         f"{max(ranks, args.batch_size // ranks * ranks)}")
    if distributed.rank() != 0:
        sys.stdout = open(os.devnull, "w")  # rank 0 speaks for the job
    else:
        print(f"glassnet: distributed over {ranks} ranks (MPI): each takes {args.batch_size // ranks} examples of "
              f"every batch of {args.batch_size}", flush=True)
    return distributed


def training_loader(train_set, args, world):
    """The loader of the training images: shuffled each epoch; with ``world`` (several
    ranks or one) each rank gets its own share through a DistributedSampler."""
    if world is None:
        return DataLoader(train_set, batch_size=args.batch_size, shuffle=True, seed=args.seed)
    sampler = world.DistributedSampler(train_set, seed=args.seed)
    return DataLoader(train_set, batch_size=args.batch_size // world.world_size(), sampler=sampler)


def distribute(model, optimizer, world):
    """The optimizer to train with: on several ranks, every rank starts from rank 0's weights
    and the optimizer averages the gradients."""
    if world is None:
        return optimizer
    world.broadcast_parameters(model.state_dict(), root=0)
    return world.DistributedOptimizer(optimizer)


def for_this_rank(callbacks, world):
    """The callbacks this rank runs: all of them on rank 0; on the others only the time
    budget (whose decision rank 0 gives to all), not those that write files."""
    if world is None or world.rank() == 0:
        return callbacks
    return [callback for callback in callbacks if isinstance(callback, TimeBudget)]


def abort_job(message):
    """An error on one rank of several ends the whole job, naming the rank (never returns
    then); otherwise it does nothing and the command reports the error as usual."""
    distributed = sys.modules.get("glassnet.distributed")
    if distributed is not None and distributed.is_initialized():
        distributed.abort(message)


class RankSlices:
    """This rank's slice of every batch of ``loader``, which every rank draws whole and
    alike (the same generator, the same seed): rank r of N keeps examples r·B/N to
    (r+1)·B/N. For random windows of text, whose drawing costs little: the ranks share
    one random stream, which a checkpoint keeps and any number of ranks can go on with."""

    def __init__(self, loader, rank, world_size):
        self.loader, self.rank, self.world_size = loader, rank, world_size

    @property
    def generator(self):
        return self.loader.generator  # what a checkpoint keeps and resuming puts back

    def __len__(self):
        return len(self.loader)

    def __iter__(self):
        for inputs, targets in self.loader:
            share = len(targets) // self.world_size
            keep = slice(self.rank * share, (self.rank + 1) * share)
            yield Tensor(inputs.numpy()[keep]), Tensor(targets.numpy()[keep])


def text_loader(loader, world):
    """gpt's training windows: on several ranks, each rank's slice of every batch."""
    if world is None:
        return loader
    return RankSlices(loader, world.rank(), world.world_size())
