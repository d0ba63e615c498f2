"""Compiled kernels: the fast path beside NumPy's, for the element-wise formulas that
dominate a step once the matrix products are done.

NumPy runs one pass over memory per operation, and on this project's CPUs its float32
``exp`` and ``tanh`` are not vectorized (about 1.5 and 2.8 ns a value): a GELU, with its
erf, is about 22 passes; a sigmoid five. A loop compiled by numba computes the whole
formula per element in one pass, eight lanes at a time (``exp`` in about 0.4 ns a value).

Each kernel here is the same maths as the NumPy code it stands beside in ``glassnet.ops``,
which stays: it is the version to read, and it runs whenever these cannot (numba not
installed, the kernels switched off by ``GLASSNET_COMPILED=0`` or :func:`set_enabled`,
float64 arrays, arrays that are not contiguous, or an array library other than NumPy).
``tests/test_compiled.py`` ties every kernel to it.

The kernels are serial loops that release the GIL; the ops split them over the threads
with ``glassnet.threads`` as they do NumPy's passes, so ``gn.set_num_threads`` governs
both. numba is optional (``pip install glassnet[fast]``, part of ``all``); each kernel
compiles when first used, about a second, and is cached on disk after that.
"""
import importlib
import os
import warnings

from ..backend import memory_order, xp

_modules = {}
# GLASSNET_COMPILED=0 in the environment switches the kernels off. It is read once, here:
# ops ask enabled() before every kernel, and reading the environment takes 1.6 us a time
# here (4.7 us for the whole check), 2-3% of a small MLP's training step
_switched_on = os.environ.get("GLASSNET_COMPILED", "1") != "0"


def enabled():
    """Whether the compiled kernels run: numba is installed and loads, the arrays are
    NumPy's, and the kernels are switched on (:func:`set_enabled`; off where the
    environment had ``GLASSNET_COMPILED=0`` when glassnet was imported)."""
    return _switched_on and xp.__name__ == "numpy" and _kernels() is not None


def set_enabled(on):
    """Switch the compiled kernels on or off (NumPy's passes run instead) for the whole
    process; returns the previous setting.

    >>> previous = set_enabled(False)
    >>> enabled()
    False
    >>> _ = set_enabled(previous)

    ``on`` is a bool: a string such as ``"0"`` would read as true, so it is refused.
    """
    global _switched_on
    if not isinstance(on, bool):
        raise TypeError(f"compiled.set_enabled: on must be True or False, got {on!r}")
    previous, _switched_on = _switched_on, on
    return previous


def fits(*arrays):
    """Whether compiled kernels may take these arrays: all float32 and C-contiguous, of
    one shape, and the kernels enabled. Their blocks (``threads.map_blocks``) then are too.
    Asked before every kernel, so written as plain loops: all() over a generator took 1.3
    us more for a Linear layer's three arrays."""
    if not enabled():
        return False
    shape = arrays[0].shape
    for a in arrays:
        if a.dtype != xp.float32 or not a.flags.c_contiguous or a.shape != shape:
            return False
    return True


def fits_flat(*arrays):
    """Whether an element-wise kernel may take these arrays as flat runs of memory
    (:func:`flat`): all float32, of one shape and the same strides, each dense in some
    order of its axes. A batch-last activation, an (N, C, H, W) view of (C, H, W, N)
    memory (see ops/conv.py), is; C-contiguity alone would leave it to NumPy."""
    first = arrays[0]
    if not (enabled() and (first.flags.c_contiguous or _in_memory_order(first).flags.c_contiguous)):
        return False
    for a in arrays:
        if a.dtype != xp.float32 or a.shape != first.shape or a.strides != first.strides:
            return False
    return True


def flat(array):
    """The elements of a dense array as one 1-D view, in the order they lie in memory."""
    return array.reshape(-1) if array.flags.c_contiguous else _in_memory_order(array).reshape(-1)


def _in_memory_order(array):
    return array.transpose(memory_order(array))


def fits_each(*arrays):
    """Whether the kernels may take each of these arrays (:func:`fits`, one at a time:
    they need not share a shape). What a recurrence asks before its compiled loop."""
    if not enabled():
        return False
    for a in arrays:
        if a.dtype != xp.float32 or not a.flags.c_contiguous:
            return False
    return True


def load():
    """The module of compiled kernels, ``glassnet.compiled.kernels``. Check :func:`fits`
    first."""
    return _kernels()


def _kernels():
    """The kernels' module, imported once (with numba, 0.2 s: not when glassnet is), or
    None without numba. A numba that is installed but cannot load (built for another
    NumPy, say) is said once in a warning, and NumPy's passes run."""
    if "kernels" not in _modules:
        try:
            _modules["kernels"] = importlib.import_module(f"{__name__}.kernels")
            from .. import threads
            threads.start_pool(_modules["kernels"])
        except ImportError as error:
            if not (isinstance(error, ModuleNotFoundError) and error.name in ("numba", "llvmlite")):
                warnings.warn(f"glassnet.compiled: numba is installed but does not load ({error}); "
                              "NumPy's kernels run instead", RuntimeWarning, stacklevel=3)
            _modules["kernels"] = None
    return _modules["kernels"]
