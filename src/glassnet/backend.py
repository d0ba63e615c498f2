"""The one switch point between glassnet and its array library.

Every op reaches arrays through ``xp`` (as Chainer does), so that a later GPU path can
hand the same code CuPy arrays instead of NumPy ones. Today ``xp`` is NumPy.
"""
import numpy

xp = numpy


def in_layout_of(like, array):
    """``array`` (of ``like``'s shape) in ``like``'s memory order, copied only if it differs:
    an element-wise pass over two arrays laid out in different orders (a gradient that a
    Flatten hands back batch-first, beside batch-last activations, see ops/conv.py) runs
    several times slower than one copy that aligns them first."""
    def order(a):
        return sorted(range(a.ndim), key=lambda axis: -a.strides[axis] if a.shape[axis] > 1 else 0)
    if order(like) == order(array):
        return array
    aligned = xp.empty_like(like, dtype=array.dtype)  # empty_like keeps like's memory order
    aligned[...] = array
    return aligned
