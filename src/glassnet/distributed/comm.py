"""Ranks and collectives: who this process is among the job's, and the four operations
data-parallel training needs (all-reduce, broadcast, all-gather, barrier), over MPI.

MPI is the engine: ``mpiexec -n N python script.py`` (or ``srun``) starts N copies of the
same program, each a *rank* numbered 0..N-1, and MPI moves arrays between them, on one
machine through shared memory and between machines over the network. mpi4py hands NumPy
arrays to MPI as buffers, at C speed: the upper-case calls (``Allreduce``, ``Bcast``,
``Allgather``) are used here, never the lower-case ones that pickle Python objects.

mpi4py is imported by :func:`init` alone, so ``import glassnet`` never starts MPI. With
one process (``python script.py``), or without mpi4py installed, :func:`init` gives a
world of one rank in which every collective returns its input: the same script runs on a
laptop without MPI and on a cluster.

A rank that fails must not leave the others waiting for it in a collective forever (MPI
waits without a time limit): once :func:`init` has joined a job of several ranks, an
exception that nothing catches prints ``glassnet: error: rank R: ...`` and calls MPI's
``Abort``, which ends every rank of the job (:func:`abort`).
"""
import importlib.util
import os
import sys
import time
import traceback

import numpy as np

from ..extras import require
from ..tensor import Tensor
from ..threads import get_num_threads, set_num_threads

# the launchers' variables that say how many processes they started: MPICH's Hydra (and
# Slurm's PMI), Open MPI, Slurm's srun
LAUNCHER_SIZES = ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "SLURM_STEP_NUM_TASKS")
OPERATIONS = ("sum", "average", "max", "min")
ABORT_GRACE_SECONDS = 0.5  # for the error's lines to leave through mpiexec before the job ends

_initialized = False
_comm = None  # mpi4py's COMM_WORLD once init() joined a job; None in a world of one
_local_rank, _local_size = 0, 1
_MPI = None  # the mpi4py.MPI module, once imported


def init():
    """Join the job this process was started in: with MPI (mpi4py) when it is installed,
    else as the one rank of a world of one. Call it once, first; later calls do nothing.

    Started by ``mpiexec -n 4``, each of the four processes learns its :func:`rank` and
    the :func:`world_size`; started alone it is rank 0 of 1. A process that a launcher
    started as one of several, without mpi4py to talk to the others, is an error (it would
    otherwise train alone, as if it were the whole job).

    Ranks that share a machine share its cores: each gets ``cores // ranks on the machine``
    threads (:func:`glassnet.set_num_threads`; call it after ``init()`` to choose), since
    more threads than cores wait for each other and lose far more than they gain."""
    global _initialized, _comm, _local_rank, _local_size, _MPI
    if _initialized:
        return
    launched = _launched_size()
    if not _mpi4py_installed():
        if launched > 1:
            require("mpi4py", f"glassnet.distributed.init (this process is one of {launched} that a launcher started)",
                    extra="distributed")
        _initialized = True  # a world of one: every collective gives back its input
        return
    _MPI = require("mpi4py.MPI", "glassnet.distributed.init", extra="distributed")  # starts MPI
    _comm = _MPI.COMM_WORLD
    # the ranks on this machine, numbered from 0: which of its cores (or accelerators) to use
    machine = _comm.Split_type(_MPI.COMM_TYPE_SHARED)
    _local_rank, _local_size = machine.Get_rank(), machine.Get_size()
    machine.Free()
    _initialized = True
    if _comm.Get_size() > 1:
        sys.excepthook = _abort_on_uncaught_exception
    if _local_size > 1:
        set_num_threads(max(1, get_num_threads() // _local_size))


def is_initialized():
    """Whether :func:`init` was called (in a world of one, too)."""
    return _initialized


def rank():
    """This process's number in the job, 0 to ``world_size() - 1``; rank 0 is the one that
    prints, writes the history and saves the checkpoints."""
    _check_initialized("rank")
    return _comm.Get_rank() if _comm is not None else 0


def world_size():
    """How many processes (ranks) the job has."""
    _check_initialized("world_size")
    return _comm.Get_size() if _comm is not None else 1


def local_rank():
    """This process's number among the ranks on its own machine (0 to their count - 1)."""
    _check_initialized("local_rank")
    return _local_rank


def local_size():
    """How many ranks run on this process's machine."""
    _check_initialized("local_size")
    return _local_size


def barrier():
    """Wait until every rank has called ``barrier()``."""
    if _several("barrier"):
        _comm.Barrier()


def all_reduce(value, op="sum"):
    """Every rank's ``value`` combined, given back to every rank: ``op`` is 'sum',
    'average' (the sum divided by the number of ranks; a float), 'max' or 'min'.

    ``value`` is a NumPy array, a Tensor or a number, of the same shape and dtype on every
    rank; the result is of the same kind (a new array, Tensor or number), ``value`` is
    left as it was. In a world of one, the result is ``value`` itself (a copy).
    """
    if op not in OPERATIONS:
        raise ValueError(f"all_reduce: op must be one of {', '.join(OPERATIONS)}, got {op!r}")
    buffer, kind = _as_buffer(value, "all_reduce")
    if op == "average" and buffer.dtype.kind not in "fc":
        buffer = buffer.astype(np.float64)
    if _several("all_reduce"):
        operation = {"sum": _MPI.SUM, "average": _MPI.SUM, "max": _MPI.MAX, "min": _MPI.MIN}[op]
        _comm.Allreduce(_MPI.IN_PLACE, buffer, op=operation)
        if op == "average":
            buffer /= _comm.Get_size()
    return _as_kind(buffer, kind)


def broadcast(value, root=0):
    """Rank ``root``'s ``value``, given to every rank (a new array, Tensor or number; the
    other ranks' ``value`` only says the shape and dtype to expect, the same as root's)."""
    buffer, kind = _as_buffer(value, "broadcast")
    if _several("broadcast"):
        _check_root(root, "broadcast")
        _comm.Bcast(buffer, root=root)
    return _as_kind(buffer, kind)


def all_gather(value):
    """Every rank's ``value`` (of one shape and dtype on every rank), stacked along a new
    first axis: ``result[r]`` is rank r's. A world of one gives ``value[None]``."""
    buffer, kind = _as_buffer(value, "all_gather")
    gathered = np.empty((world_size(),) + buffer.shape, dtype=buffer.dtype)
    if _several("all_gather"):
        _comm.Allgather(buffer, gathered)
    else:
        gathered[0] = buffer
    return _as_kind(gathered, "tensor" if kind == "tensor" else "array")


def broadcast_parameters(parameters, root=0):
    """Give every rank rank ``root``'s values of ``parameters``, in place: a
    ``model.state_dict()`` (name -> array), ``model.named_parameters()``, or a Module.
    Called once at the start, so that all ranks begin from the same weights (and the same
    buffers, e.g. batch norm's running statistics)."""
    if hasattr(parameters, "state_dict") and callable(parameters.state_dict):
        parameters = parameters.state_dict()
    named = parameters.items() if hasattr(parameters, "items") else parameters
    if not _several("broadcast_parameters"):
        return
    _check_root(root, "broadcast_parameters")
    for name, value in named:  # in the model's own order, which every rank shares
        array = value._data if isinstance(value, Tensor) else value
        if not isinstance(array, np.ndarray):
            raise TypeError(f"broadcast_parameters: {name!r} is a {type(value).__name__}, not an array or Tensor")
        if array.flags.c_contiguous:
            _comm.Bcast(array, root=root)
        else:  # MPI needs one run of memory: through a copy
            copy = np.ascontiguousarray(array)
            _comm.Bcast(copy, root=root)
            array[...] = copy


def abort(message, code=1):
    """End the whole job because of ``message``: print ``glassnet: error: rank R: message``
    on stderr and call MPI's ``Abort``, which stops every rank (never returns). In a world
    of one (or before :func:`init`) it does nothing: the caller reports the error its
    usual way."""
    if _comm is None or _comm.Get_size() < 2:
        return
    print(f"glassnet: error: rank {_comm.Get_rank()}: {message}", file=sys.stderr, flush=True)
    sys.stdout.flush()
    # mpiexec forwards each rank's output through a pipe, and Abort kills every rank at once:
    # a moment first, so that the lines above reach the terminal (on a busy machine they were lost)
    time.sleep(ABORT_GRACE_SECONDS)
    _comm.Abort(code)


# -- the pieces ------------------------------------------------------------------------------


def _abort_on_uncaught_exception(kind, error, trace):
    """sys.excepthook in a job of several ranks: the traceback, then the whole job ends."""
    traceback.print_exception(kind, error, trace)
    if issubclass(kind, KeyboardInterrupt):
        abort("interrupted", code=130)
    abort(f"{kind.__name__}: {error}")


def _mpi4py_installed():
    if "mpi4py" in sys.modules:  # None there stands for a module that cannot be imported
        return sys.modules["mpi4py"] is not None
    return importlib.util.find_spec("mpi4py") is not None


def _launched_size():
    for name in LAUNCHER_SIZES:
        try:
            return int(os.environ[name])
        except (KeyError, ValueError):
            continue
    return 1


def _check_initialized(function):
    if not _initialized:
        raise RuntimeError(f"glassnet.distributed.{function}(): call glassnet.distributed.init() first")


def _several(function):
    """True when collectives must talk to other ranks; False in a world of one."""
    _check_initialized(function)
    return _comm is not None and _comm.Get_size() > 1


def _check_root(root, function):
    size = _comm.Get_size()
    if isinstance(root, bool) or not isinstance(root, (int, np.integer)) or not 0 <= root < size:
        raise ValueError(f"{function}: root must be a rank from 0 to {size - 1}, got {root!r}")


def _as_buffer(value, function):
    """A contiguous array copy of ``value`` for MPI to work in, and what kind to give back."""
    if isinstance(value, Tensor):
        return np.array(value._data, copy=True, order="C"), "tensor"
    if isinstance(value, np.ndarray):
        return np.array(value, copy=True, order="C"), "array"
    if isinstance(value, (bool, int, float, np.generic)):
        return np.array(value), "number"
    raise TypeError(f"{function}: expected a NumPy array, a Tensor or a number, got {type(value).__name__}")


def _as_kind(buffer, kind):
    if kind == "tensor":
        return Tensor(buffer)
    if kind == "number":
        return buffer.item()
    return buffer
