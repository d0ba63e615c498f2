"""DistributedSampler: each rank its own share of the data set, a new shuffle every epoch.

Every rank draws the same permutation of the examples (from ``seed`` and the epoch, so
no rank needs to tell another) and takes every N-th example of it, starting at its own
rank: rank 0 the 0th, Nth, 2Nth..., rank 1 the 1st, (N+1)th... The shares are disjoint
and together they are the whole epoch. Cut into batches of B/N, the k-th batches of all
ranks together are exactly the k-th batch of size B of that permutation: N ranks train
on the batches one process would.

So that every rank has as many examples (and batches, and optimizer steps: a rank with
one step more would wait forever for the others at its all-reduce), the permutation is
padded with its own first examples up to a multiple of N, as PyTorch's sampler does; or,
with ``drop_last=True``, cut down to one.
"""
import numpy as np

from . import comm


class DistributedSampler:
    """The indices of this rank's share of ``dataset`` (anything with ``len``, or a
    number of examples), for ``DataLoader(dataset, batch_size=..., sampler=...)``.

    Args:
        dataset: the data set (all of it: every rank gives the same).
        num_replicas: the number of ranks (default: :func:`world_size`).
        rank: this rank (default: :func:`rank`).
        shuffle: a new order each epoch (``False``: the examples in order).
        seed: the order's seed; the same on every rank.
        drop_last: drop the last examples instead of padding, so that N divides them.

    Call :meth:`set_epoch` before each epoch (:func:`glassnet.train.fit` does) to get
    that epoch's order; without it, every epoch has the first one's.

    >>> [list(DistributedSampler(10, num_replicas=3, rank=r, shuffle=False)) for r in range(3)]
    [[0, 3, 6, 9], [1, 4, 7, 0], [2, 5, 8, 1]]
    """

    def __init__(self, dataset, num_replicas=None, rank=None, shuffle=True, seed=0, drop_last=False):
        self.num_replicas = comm.world_size() if num_replicas is None else num_replicas
        self.rank = comm.rank() if rank is None else rank
        if isinstance(self.num_replicas, bool) or not isinstance(self.num_replicas, (int, np.integer)) \
                or self.num_replicas < 1:
            raise ValueError(f"DistributedSampler: num_replicas must be a whole number of at least 1, "
                             f"got {self.num_replicas!r}")
        if isinstance(self.rank, bool) or not isinstance(self.rank, (int, np.integer)) \
                or not 0 <= self.rank < self.num_replicas:
            raise ValueError(f"DistributedSampler: rank must be from 0 to {self.num_replicas - 1} "
                             f"(num_replicas={self.num_replicas}), got {self.rank!r}")
        self.length = dataset if isinstance(dataset, (int, np.integer)) else len(dataset)
        if drop_last and self.length < self.num_replicas:
            raise ValueError(f"DistributedSampler: {self.length} examples cannot give each of {self.num_replicas} "
                             "ranks one with drop_last=True")
        self.shuffle, self.seed, self.drop_last, self.epoch = shuffle, seed, drop_last, 0
        if drop_last:
            self.num_samples = self.length // self.num_replicas
        else:
            self.num_samples = -(-self.length // self.num_replicas)  # ceiling division
        self.total_size = self.num_samples * self.num_replicas

    def set_epoch(self, epoch):
        """Use epoch ``epoch``'s order (the same on every rank)."""
        self.epoch = int(epoch)

    def __len__(self):
        """The examples of this rank in one epoch."""
        return self.num_samples

    def __iter__(self):
        if self.shuffle:
            order = np.random.default_rng([self.seed, self.epoch]).permutation(self.length)
        else:
            order = np.arange(self.length)
        if self.total_size > len(order):  # pad with the first examples (again and again if need be)
            order = np.resize(order, self.total_size)
        order = order[:self.total_size]
        return iter(order[self.rank::self.num_replicas].tolist())

    def __repr__(self):
        return (f"DistributedSampler({self.length} examples, rank {self.rank} of {self.num_replicas}, "
                f"shuffle={self.shuffle}, seed={self.seed}, epoch={self.epoch})")
