"""The one switch point between glassnet and its array library.

Every op reaches arrays through ``xp`` (as Chainer does), so that a later GPU path can
hand the same code CuPy arrays instead of NumPy ones. Today ``xp`` is NumPy.
"""
import numpy

xp = numpy

