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


def memory_owner(array):
    """The array that owns the memory ``array`` views (itself if it owns its own)."""
    while isinstance(array.base, xp.ndarray):
        array = array.base
    return array


def stacked_in_place(arrays, axis):
    """``xp.stack(arrays, axis)`` as a view, with no copy, where the arrays already lie so:
    views of one array, of one shape, strides and dtype, each one step of memory after the
    one before, and together dense (no element twice). The gradients of an attention's q,
    k and v, made as slices of one buffer (:func:`empty_like_stacked`), come back so. Else
    None."""
    first = arrays[0]
    if len(arrays) < 2 or xp.__name__ != "numpy" or any(
            a.shape != first.shape or a.strides != first.strides or a.dtype != first.dtype
            or memory_owner(a) is not memory_owner(first) for a in arrays):
        return None
    addresses = [a.__array_interface__["data"][0] for a in arrays]
    step = addresses[1] - addresses[0]
    if step == 0 or any(b - a != step for a, b in zip(addresses, addresses[1:])):
        return None
    stacked = xp.lib.stride_tricks.as_strided(first, first.shape[:axis] + (len(arrays),) + first.shape[axis:],
                                              first.strides[:axis] + (step,) + first.strides[axis:])
    dense = stacked.transpose(memory_order(stacked))
    return stacked if all(n > 0 for n in stacked.shape) and dense.flags.c_contiguous else None


def empty_like_stacked(arrays, dtype):
    """New arrays of the arrays' shapes, of ``dtype`` promoted with each one's, each laid out
    in memory as its counterpart, and in one buffer where the arrays are slices of one (as
    :func:`stacked_in_place` finds them): the gradients of q, k and v split from one
    projection, which its Unbind then takes back without a copy."""
    parent = stacked_in_place(arrays, 0)
    if parent is None:
        return [empty_in_order(a.shape, memory_order(a), xp.result_type(dtype, a)) for a in arrays]
    return list(empty_in_order(parent.shape, memory_order(parent), xp.result_type(dtype, parent)))
