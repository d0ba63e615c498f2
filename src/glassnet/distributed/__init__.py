"""Data-parallel training on many processes and machines, over MPI.

Each process (a *rank*) holds the whole model and trains on its own share of every
batch; before each step the ranks average their gradients, so all take the same step,
the one a single process would take on the whole batch. The same script runs as one
process on a laptop and as hundreds on a cluster::

    mpiexec -n 4 python train.py                           # 4 processes on this machine
    mpiexec -n 16 -f hosts python train.py                 # over the machines listed in ./hosts
    srun --ntasks=64 python train.py                       # under Slurm

and in ``train.py``::

    import glassnet as gn
    from glassnet import distributed as dist

    dist.init()                                            # join the job (a world of one without MPI)
    model = gn.models.build("cnn", (1, 28, 28), 10)
    dist.broadcast_parameters(model.state_dict(), root=0)  # every rank starts from rank 0's weights
    optimizer = dist.DistributedOptimizer(gn.optim.Adam(model.parameters(), lr=1e-3))
    sampler = dist.DistributedSampler(train_set, seed=0)   # this rank's share, new each epoch
    loader = gn.data.DataLoader(train_set, batch_size=256 // dist.world_size(), sampler=sampler)
    gn.train.fit(model, loader, optimizer, epochs=10, val=test_set, save_path="runs/cnn/model.safetensors")

The engine is MPI (through mpi4py: ``pip install 'glassnet[distributed]'`` brings it
with MPICH, whose wheel carries ``mpiexec``), the engine Horovod and ChainerMN were
built on. It is imported by :func:`init` only, never by ``import glassnet``.

What :func:`glassnet.train.fit` does when several ranks train:

- it sets the sampler's epoch (:meth:`DistributedSampler.set_epoch`) before each epoch;
- the epoch's metrics (loss, accuracy) are those of all ranks' examples (their sums are
  all-reduced), and the validation data is split between the ranks (every N-th batch
  each) and its sums all-reduced: faster than rank 0 alone, and the same numbers;
- only rank 0 prints the table and the progress bar, writes the history and saves the
  checkpoints (the weights are the same on every rank);
- buffers, such as batch norm's running statistics, are each rank's own during the
  epoch, and rank 0's are given to all at its end (before validation and the
  checkpoint): as PyTorch's DistributedDataParallel, whose default gives rank 0's buffers
  to all before each forward pass. Batch norm normalizes each rank's share of the batch
  with that share's statistics (not the whole batch's: that would be SyncBatchNorm), so
  with batch norm N ranks do not take exactly the steps of one process; the difference
  is measured in the tests and in bench/RESULTS.md;
- the stop decision (early stopping, time budget) is rank 0's, so that all stop together.

Give ``fit`` the same arguments on every rank, ``save_path`` too (rank 0 alone writes, but
every rank takes part in summing the epoch before a checkpoint), and a checkpoint path
that every rank can read to resume (a shared file system on a cluster). Callbacks run on
every rank: one that writes files should do so on rank 0 only (``dist.rank() == 0``).

A rank that raises ends the whole job: the traceback, ``glassnet: error: rank R: ...``,
and MPI's Abort (:func:`abort`). A rank killed from outside is seen by MPICH's ``mpiexec``,
which ends the others within about a second.
"""
from .comm import (
    abort, all_gather, all_reduce, barrier, broadcast, broadcast_parameters, init, is_initialized, local_rank,
    local_size, rank, world_size,
)
from .optimizer import DistributedOptimizer
from .sampler import DistributedSampler

__all__ = [
    "init", "is_initialized", "rank", "world_size", "local_rank", "local_size", "barrier", "all_reduce", "broadcast",
    "all_gather",
    "broadcast_parameters", "abort", "DistributedOptimizer", "DistributedSampler",
]
