"""Both cores for element-wise work.

NumPy runs every element-wise pass on one core; only BLAS, the matrix products, uses them
all. So the fused kernels that make several element-wise passes (batch norm, pooling,
the convolution's unfolding) cut their work along a leading axis into one block per
thread and run the blocks at once: NumPy releases the GIL inside its loops, so the
threads really run in parallel. One large block per thread, not many small ones: each
NumPy call costs a few microseconds of Python under the GIL, which small blocks would
pay many times over (measured in bench/RESULTS.md, issue 11).

The threads of NumPy's BLAS (OpenBLAS) busy-wait after each matrix product, by default
for about 0.1 s: through all the element-wise work of a training step, on the very cores
these blocks need. ``import glassnet`` shortens that wait to about 0.4 ms (the
``OPENBLAS_THREAD_TIMEOUT`` variable, read when NumPy loads OpenBLAS: so import glassnet
before NumPy, or set it in the environment).

``gn.set_num_threads(n)`` sets the number of threads, BLAS's too (through threadpoolctl),
as ``torch.set_num_threads`` does; the default is the number of cores this
process may use.

Where numba is installed (x86-64 Linux, OpenBLAS 0.3.27 on), the two pools become one
(the last section below): OpenBLAS runs its threaded products on glassnet's helper
threads, which wait spinning in compiled code without the GIL, and the compiled kernels
(element-wise, layer and batch norm, Linear's products and bias, the convolutions,
attention at inference on short rows, the LSTM's forward loop) are handed to the same helpers as
jobs, a hand-off of a few microseconds while they spin (``map_blocks(..., job=)``,
``on_pool``). ``in_blocks`` stays for work written in Python and NumPy.

>>> import numpy as np
>>> out = np.zeros(10)
>>> def double(start, stop):
...     out[start:stop] = 2 * np.arange(start, stop)
>>> in_blocks(double, 10, bytes_per_item=8)
>>> out.tolist()[:4]
[0.0, 2.0, 4.0, 6.0]
"""
import os
from concurrent.futures import ThreadPoolExecutor

from . import compiled
from .backend import xp

# Below this many bytes per block, a thread's start-up costs more than it saves.
MIN_BLOCK_BYTES = 1 << 20
# The same for a job handed to a spinning helper of the pool (below): through the op, the
# hand-over costs 3.5-4 us, so two blocks gain from about 80 KB of work (a ReLU of 85K
# floats, a GELU of 14K, a tanh of 20K); a GELU of 272K floats took 78 us against 153
MIN_JOB_BYTES = 40 << 10
# What a byte of each array that a cheap pass (a compiled ReLU's select, a bias add)
# reads or writes weighs against the blocks' measure (a byte of a sigmoid's output). On
# the 2-core VM handing a block to the other thread costs 100-200 us, so such a pass
# gains from it only where it moves about 15 MB in all (bench/RESULTS.md, issue 11:
# ReLU of 3.2 MB took 159 us alone and 284 split, of 9.6 MB 629 and 529)
CHEAP = 2 / 15

# the cores this process may run on (a container may allow fewer than the machine has)
_threads = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
_pool = None


def set_num_threads(count):
    """Use ``count`` threads for glassnet's element-wise kernels and for the BLAS
    library's matrix products."""
    global _threads, _pool
    if not isinstance(count, int) or isinstance(count, bool) or count < 1:
        raise ValueError(f"set_num_threads: count must be a whole number of at least 1, got {count!r}")
    if count != _threads and _pool is not None:
        _pool.shutdown()
        _pool = None
    _threads = count
    from threadpoolctl import threadpool_limits  # here, not at import: it looks for libraries
    if _pool_kernels is not None:  # the helpers first: OpenBLAS may then hand them its jobs
        _add_helpers(count - 1)
    threadpool_limits(count)


def get_num_threads():
    return _threads


def in_blocks(kernel, count, bytes_per_item, calls_blas=False):
    """Call ``kernel(start, stop)`` over consecutive blocks that cover ``range(count)``, one
    per thread (fewer when the work is small: ``bytes_per_item`` is what one item of the
    split axis spans in the largest array the kernel touches, times ``CHEAP`` for a cheap
    pass). The blocks must be independent: each call writes only its own block. The
    calling thread runs the first.

    A kernel that makes matrix products of its own (``calls_blas``) runs them with BLAS on
    one thread while the blocks run: each block is then one core's work, where two blocks
    each asking BLAS for every core would fight over them."""
    blocks = max(1, min(_threads, count, int(count * bytes_per_item // MIN_BLOCK_BYTES)))
    bounds = [count * i // blocks for i in range(blocks + 1)]
    if blocks == 1:
        return kernel(0, count)
    global _pool
    if _pool is None:
        _pool = ThreadPoolExecutor(_threads - 1, thread_name_prefix="glassnet")
    limit = _blas_on_one_thread() if calls_blas else None
    try:
        futures = [_pool.submit(kernel, start, stop) for start, stop in zip(bounds[1:-1], bounds[2:])]
        kernel(bounds[0], bounds[1])
        for future in futures:
            future.result()  # re-raises a kernel's exception here
    finally:
        if limit is not None:
            limit.restore_original_limits()


_blas = None


def _blas_on_one_thread():
    """Set the BLAS libraries NumPy loaded to one thread; returns what restores them.
    Their controller is found once: the search costs milliseconds, the setting itself
    microseconds."""
    global _blas
    if _blas is None:
        from threadpoolctl import ThreadpoolController
        _blas = ThreadpoolController().select(user_api="blas")
    return _blas.limit(limits=1)


def map_blocks(kernel, *arrays, weight=1.0, job=None):
    """Call ``kernel(*blocks)`` on matching blocks of arrays of one shape, in parallel, split
    along the axis outermost in the memory of the last array (the output, as a rule), so
    that each block is one run of memory. ``weight`` is what a byte of the output weighs
    against a sigmoid's (``CHEAP`` for each array of a cheap pass), so that work is split only
    where the second core saves more than handing it over costs. ``job`` names the same
    kernel among the pool's compiled element-wise jobs (``"GELU"``, see compiled/kernels.py):
    where the pool runs and the arrays fit, the helpers run it, without the GIL and from
    far smaller arrays (``MIN_JOB_BYTES``). For element-wise work written with ``out=``:

    >>> import numpy as np
    >>> x = np.arange(-3.0, 3.0); out = np.empty_like(x)
    >>> map_blocks(lambda x, out: np.maximum(x, 0, out=out), x, out)
    >>> out.tolist()
    [0.0, 0.0, 0.0, 0.0, 1.0, 2.0]
    """
    last = arrays[-1]
    if job is not None and pool_blocks(last.nbytes * weight) > 1:  # one block: the kernel itself, no job to hand over
        if compiled.fits_flat(*arrays):  # the pool's element-wise job, over the flat arrays
            return on_pool("elementwise", job, last.size, last.nbytes * weight, [compiled.flat(a) for a in arrays])
    if last.ndim == 0 or last.nbytes * weight < 2 * MIN_BLOCK_BYTES or _threads == 1:  # one block: the whole
        kernel(*arrays)
        return
    axis = max(range(last.ndim), key=lambda axis: (last.shape[axis] > 1, last.strides[axis]))

    def run(start, stop):
        index = (slice(None),) * axis + (slice(start, stop),)
        kernel(*[array[index] for array in arrays])

    in_blocks(run, last.shape[axis], last.nbytes * weight / max(last.shape[axis], 1))


# Below this many bytes, an add runs as NumPy's one call: in blocks it would cost more in
# hand-over than the second core saves (two blocks pay from about 80 KB of work, MIN_JOB_BYTES)
SPLIT_ADD_BYTES = 1 << 18


def add(a, b, out=None):
    """a + b for arrays of one shape and dtype, into ``out`` where given (which may be ``a``
    itself: added in place), else a new array laid out as ``a``. From SPLIT_ADD_BYTES on,
    on all threads (the pool's ADD job, or NumPy's add in blocks): a residual network's
    sums, and their gradients', are megabytes, which one core adds at half the speed of
    two (bench/RESULTS.md, issue 11, tenth session)."""
    if a.nbytes < SPLIT_ADD_BYTES:
        return xp.add(a, b, out=out)
    out = xp.empty_like(a) if out is None else out
    map_blocks(_numpy_add, a, b, out, weight=3 * CHEAP, job="ADD")
    return out


def _numpy_add(a, b, out):
    xp.add(a, b, out=out)


# -- one pool: OpenBLAS's products on glassnet's helper threads --------------------------------
#
# OpenBLAS's threads spin for a while after each product, on the cores the executor above
# needs, so the executor's threads must sleep, and each hand-off wakes one through the
# hypervisor (50-290 us here, bench/RESULTS.md). Where numba is installed and OpenBLAS
# lets its caller run its threads (its pthreads build, 0.3.27 on), glassnet starts helper
# threads of its own that wait spinning in compiled code without the GIL
# (compiled/kernels.py, ``serve``) and hands them OpenBLAS's jobs: one pool, not two.

# GLASSNET_POOL=0 keeps the two pools (OpenBLAS's threads, glassnet's executor), as without numba
_pool_wanted = os.environ.get("GLASSNET_POOL", "1") != "0"
_pool_kernels = None  # the compiled kernels' module, once its helpers run OpenBLAS's jobs
_helpers = []
_NO_ARRAY = None  # a job's unused array arguments


def start_pool(kernels):
    """Run OpenBLAS's threaded products on glassnet's helpers (``kernels``: the compiled
    kernels' module); called once they load. Returns whether the pool runs: not on a
    machine other than x86-64 Linux, nor with an OpenBLAS that cannot hand out its jobs."""
    global _pool_kernels
    if _pool_kernels is not None:
        return True
    import platform
    if platform.system() != "Linux" or platform.machine() not in ("x86_64", "AMD64") or not _pool_wanted:
        return False
    setters = _openblas_callback_setters()
    if not setters:
        return False
    _pool_kernels = kernels
    global _NO_ARRAY
    import numpy
    _NO_ARRAY = numpy.empty(0, numpy.float32)
    _add_helpers(max(_threads, _openblas_threads()) - 1)
    kernels.POOL[kernels.POOL_EXTRA_THREAD] = kernels.extra_blas_thread.address
    for setter in setters:
        setter(kernels.openblas_threads.address)
    _setters[:] = setters
    import atexit
    atexit.register(_stop_pool)
    return True


def _stop_pool():
    """At exit: OpenBLAS back on its own threads, and the helpers out of the compiled code
    (which the interpreter's teardown may free under a thread still spinning in it)."""
    global _pool_kernels
    kernels, _pool_kernels = _pool_kernels, None  # no more jobs for the helpers
    if kernels is None:
        return
    for setter in _setters:
        setter(None)
    for helper, thread in enumerate(_helpers, 1):
        kernels.stop(helper)
        thread.join(timeout=1.0)


def _add_helpers(count):
    """At least ``count`` helpers running (never more than the pool's slots). OpenBLAS
    should not be set to more threads than helpers plus one while the pool runs: the jobs
    beyond then get a thread made for each product (compiled/kernels.py, ``blas_jobs``),
    which is slow. ``set_num_threads`` starts helpers first."""
    import threading
    kernels = _pool_kernels
    for helper in range(len(_helpers) + 1, min(count, kernels.MAX_HELPERS) + 1):
        thread = threading.Thread(target=kernels.serve, args=(helper,), name=f"glassnet-helper-{helper}", daemon=True)
        thread.start()
        _helpers.append(thread)
    kernels.POOL[kernels.POOL_HELPERS] = len(_helpers)


_setters = []


def _openblas_callback_setters():
    """``openblas_set_threads_callback_function`` (under the prefix and suffix of each build:
    NumPy's, and SciPy's, which numba loads) of every OpenBLAS in the process that has it,
    as ctypes functions taking an address."""
    import ctypes
    from threadpoolctl import ThreadpoolController
    setters = []
    for library in ThreadpoolController().select(internal_api="openblas").lib_controllers:
        if library.threading_layer != "pthreads":  # OpenMP's build runs its jobs on OpenMP's threads
            continue
        names = [f"{prefix}openblas_set_threads_callback_function{suffix}"
                 for prefix in ("", "scipy_") for suffix in ("", "64_", "_64")]
        setter = next((getattr(library.dynlib, name) for name in names if hasattr(library.dynlib, name)), None)
        if setter is not None:
            setter.argtypes, setter.restype = [ctypes.c_void_p], None
            setters.append(setter)
    return setters


def _openblas_threads():
    from threadpoolctl import threadpool_info
    return max((info["num_threads"] for info in threadpool_info() if info["internal_api"] == "openblas"), default=1)


def _forget_pool_in_child():
    """A forked child has none of its parent's helper threads: OpenBLAS runs its own again
    there (a job handed to a helper that does not exist would never be done)."""
    global _pool_kernels
    if _pool_kernels is not None:
        for setter in _setters:
            setter(None)
        _pool_kernels.POOL[_pool_kernels.POOL_HELPERS] = 0
        _pool_kernels = None
        _helpers.clear()
        _job_addresses.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool_in_child)


def on_pool(job, which, count, nbytes, arrays, numbers=(0, 0), floats=(0.0, 0.0)):
    """Run the pool's job ``job`` (compiled/kernels.py, ``{job}_job``: kernel ``which``, a
    name there) over range(count), in as many blocks as ``nbytes`` of work pays for
    (``pool_blocks``): on the float32 arrays (at most eight, flat or C-ordered), the two
    whole numbers and the two floats; None for an array the kernel is told it lacks. Check
    ``pool_blocks(1)`` first: the pool must run."""
    kernels = compiled.load()
    padded = [_NO_ARRAY if a is None else a for a in arrays] + [_NO_ARRAY] * (8 - len(arrays))
    kernels.run_job(job_address(job), count, pool_blocks(nbytes), getattr(kernels, which), *padded, *numbers, *floats)


def pool_blocks(nbytes):
    """In how many blocks the pool runs a job over ``nbytes`` of work: 0 where it does not
    run (no numba, the kernels switched off, another machine, one thread). The kernels load
    first where they may (loading them starts the pool), so that a process's first op takes
    the path, and gives the bits, of every later one."""
    if not compiled.enabled() or _pool_kernels is None or _threads == 1:
        return 0
    return max(1, min(_threads, int(nbytes // MIN_JOB_BYTES)))


def job_address(name):
    """The address of the pool's job ``name`` (the compiled kernels' ``{name}_job``)."""
    if name not in _job_addresses:
        _job_addresses[name] = getattr(_pool_kernels, f"{name}_job").address
    return _job_addresses[name]


_job_addresses = {}
