"""DistributedOptimizer: an optimizer whose step first averages the gradients of all ranks.

Data parallelism in one idea: every rank holds the same model, computes the gradient of
its own share of the batch, and before the step the gradients are averaged over the
ranks. With equal shares, the average of the ranks' mean gradients is the mean gradient
of the whole batch, so every rank takes the very step one process would take on the
whole batch, and the models stay the same on every rank.

Why an optimizer wrapper (as Horovod's) rather than a model wrapper (as PyTorch's
DistributedDataParallel): glassnet's backward runs on one thread, op after op, so DDP's
trick of sending a layer's gradients while backward is still computing the earlier
layers' buys nothing here; what is left is averaging before the step, and that belongs
to the step. Wrapping the optimizer keeps the model a plain Module (its checkpoints have
the same names as a single process's, no ``module.`` prefix), lets gradient
accumulation sum several batches locally and average once per step, and needs no change
to the training loop beyond calling :meth:`DistributedOptimizer.synchronize` before
gradient clipping (the loop does).

The gradients travel in *buckets*: they are packed into one flat array of up to
``bucket_mb`` megabytes and each bucket is averaged by one MPI all-reduce, instead of one
call per parameter. Each call costs a fixed latency (microseconds on one machine, tens
on a network) on top of its bytes, and a model has dozens of small tensors (biases,
norms): packing pays that latency once per bucket. 25 MB is PyTorch DDP's default.
"""
import time

import numpy as np

from ..optim import Optimizer
from ..tensor import Tensor, enable_grad
from . import comm

BUCKET_MB = 25.0


class DistributedOptimizer(Optimizer):
    """``DistributedOptimizer(optimizer)``: the same optimizer (same parameter groups,
    same state, same class name in checkpoints), whose :meth:`step` first averages every
    parameter's gradient over the ranks, in buckets of up to ``bucket_mb`` megabytes.

    The result is an instance of both this class and the optimizer's own (an ``Adam``
    stays an ``Adam``), and shares the optimizer's state: a scheduler built on either
    drives both, and a checkpoint written from either loads into the other, with any
    number of ranks. In a world of one, the step is the optimizer's step.

    A gradient a rank does not have (a parameter its batch did not use) counts as zeros
    in the average; a parameter that no rank has a gradient for stays without one.

    ``synchronize_seconds``: the time the last step spent averaging; ``buckets``: how many
    all-reduce calls it took.
    """

    def __new__(cls, optimizer, bucket_mb=BUCKET_MB):
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"DistributedOptimizer: expected a glassnet optimizer, got {type(optimizer).__name__}")
        if isinstance(optimizer, DistributedOptimizer):
            raise TypeError("DistributedOptimizer: this optimizer averages its gradients already (wrapped twice)")
        return object.__new__(_distributed_class(type(optimizer)))

    def __init__(self, optimizer, bucket_mb=BUCKET_MB):  # the optimizer is built already: no super().__init__
        if isinstance(bucket_mb, bool) or not isinstance(bucket_mb, (int, float)) or not bucket_mb > 0:
            raise ValueError(f"DistributedOptimizer: bucket_mb must be a positive number of megabytes, "
                             f"got {bucket_mb!r}")
        self.__dict__ = optimizer.__dict__  # one optimizer seen two ways: groups, state, everything shared
        self.bucket_bytes = int(bucket_mb * 2**20)
        self.synchronized, self.synchronize_seconds, self.buckets = False, 0.0, 0

    def synchronize(self):
        """Average the gradients over the ranks now (the loop calls it before clipping, so
        that clipping sees the averaged gradients); :meth:`step` then does not average
        again. Does nothing in a world of one."""
        if self.synchronized:
            return
        started = time.perf_counter()
        parameters = [p for group in self.param_groups for p in group["params"]]
        size = comm.world_size()
        self.buckets = average_gradients(parameters, self.bucket_bytes, _mpi_sum, size) if size > 1 else 0
        self.synchronize_seconds = time.perf_counter() - started
        self.synchronized = True

    def step(self, closure=None):
        """Average the gradients (unless :meth:`synchronize` did), then the optimizer's step.
        ``closure``, if given, recomputes the loss and the gradients first."""
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
            self.synchronized = False  # fresh gradients
        self.synchronize()
        super().step()
        self.synchronized = False
        return loss


def average_gradients(parameters, bucket_bytes, all_reduce_sum, world_size):
    """Replace each parameter's ``.grad`` by its average over ``world_size`` ranks.
    ``all_reduce_sum(buffer)`` sums a flat array over the ranks, in place. Returns the
    number of buckets (calls).

    Each bucket carries, after the gradients, one number per parameter: 1 when this rank
    has its gradient, 0 when not, so that after the sum a parameter that no rank had a
    gradient for is told apart from one whose gradients summed to zero."""
    calls = 0
    for bucket in buckets(parameters, bucket_bytes):
        dtype = bucket[0].dtype
        sizes = [p._data.size for p in bucket]
        flat = np.empty(sum(sizes) + len(bucket), dtype=dtype)
        offset = 0
        for p, size in zip(bucket, sizes):
            flat[offset:offset + size] = p.grad._data.ravel() if p.grad is not None else 0
            offset += size
        flat[offset:] = [p.grad is not None for p in bucket]
        all_reduce_sum(flat)
        calls += 1
        flat /= world_size
        offset = 0
        for p, size, has in zip(bucket, sizes, flat[-len(bucket):]):
            p.grad = Tensor(flat[offset:offset + size].reshape(p.shape)) if has > 0 else None
            offset += size
    return calls


def buckets(parameters, bucket_bytes):
    """The trainable parameters cut into consecutive buckets of one dtype and at most
    ``bucket_bytes`` bytes each (a parameter larger than that is a bucket of its own).
    Every rank builds the same buckets: they follow the parameters' order only."""
    bucket, filled = [], 0
    for p in parameters:
        if not p.requires_grad or p.dtype.kind not in "fc":
            continue
        if bucket and (filled + p._data.nbytes > bucket_bytes or p.dtype != bucket[0].dtype):
            yield bucket
            bucket, filled = [], 0
        bucket.append(p)
        filled += p._data.nbytes
    if bucket:
        yield bucket


def _mpi_sum(buffer):
    comm._comm.Allreduce(comm._MPI.IN_PLACE, buffer, op=comm._MPI.SUM)


_classes = {}


def _distributed_class(optimizer_class):
    """The class of a distributed ``optimizer_class``: both at once, under the optimizer's
    own name (so that a checkpoint says 'Adam' whether or not it was trained on many ranks)."""
    if optimizer_class not in _classes:
        _classes[optimizer_class] = type(optimizer_class.__name__, (DistributedOptimizer, optimizer_class),
                                         {"__module__": __name__, "__doc__": DistributedOptimizer.__doc__})
    return _classes[optimizer_class]
