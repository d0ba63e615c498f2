"""The one switch point between glassnet and its array library.

Every op reaches arrays through ``xp`` (as Chainer does), so that a later GPU path can
hand the same code CuPy arrays instead of NumPy ones. Today ``xp`` is NumPy.
"""
import ctypes
import os

import numpy

xp = numpy


def keep_freed_memory():
    """Ask the C library's allocator (glibc's malloc, on Linux) to keep the memory of freed
    arrays for the next ones. By default it hands large blocks back to the system when they
    are freed, and every new array then takes a page fault per 4 KiB as it is first
    written: each step of training frees and allocates the same activations again, so
    that is paid on every step (a quarter of a gpt step, measured in bench/RESULTS.md,
    issue 11). Arrays up to 32 MiB now come from, and return to, memory the process keeps;
    the peak memory stays what it was. ``GLASSNET_KEEP_MEMORY=0`` turns this off."""
    if os.environ.get("GLASSNET_KEEP_MEMORY") == "0":
        return False
    try:
        mallopt = ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):  # not glibc: nothing to tune
        return False
    trim_threshold, top_pad, mmap_threshold = -1, -2, -3  # glibc's malloc.h
    return all([mallopt(mmap_threshold, 32 << 20), mallopt(trim_threshold, 1 << 30), mallopt(top_pad, 64 << 20)])


keep_freed_memory()


def memory_order(array):
    """The array's axes from outermost to innermost in memory (axes of size 1, which have
    no place, go last): (0, 1, 2, 3) for C order, (1, 2, 3, 0) for a batch-last (N, C, H, W)
    view of (C, H, W, N) memory (see ops/conv.py). C order for a broadcast view, which has
    no order of its own (an array made in its order would have a broadcast axis innermost)."""
    if any(stride == 0 and size > 1 for stride, size in zip(array.strides, array.shape)):
        return list(range(array.ndim))
    return sorted(range(array.ndim), key=lambda axis: -array.strides[axis] if array.shape[axis] > 1 else 0)


def empty_in_order(shape, order, dtype):
    """A new array of ``shape`` whose axes lie in memory in ``order`` (from :func:`memory_order`)."""
    return xp.empty([shape[axis] for axis in order], dtype).transpose(xp.argsort(order))


def in_layout_of(like, array):
    """``array`` (of ``like``'s shape) in ``like``'s memory order, copied only if it differs:
    an element-wise pass over two arrays laid out in different orders (a gradient that a
    Flatten hands back batch-first, beside batch-last activations, see ops/conv.py) runs
    several times slower than one copy that aligns them first."""
    if memory_order(like) == memory_order(array):
        return array
    aligned = xp.empty_like(like, dtype=array.dtype)  # empty_like keeps like's memory order
    aligned[...] = array
    return aligned
