"""Reductions along axes: sums and maxima, and the softmax normalizations, which divide
by a sum along an axis.
"""
import math

from ..backend import xp
from ..tensor import Function

# -- sums and maxima -----------------------------------------------------------------------


class Sum(Function):
    def forward(self, x, axis=None, keepdims=False):
        self.shape, self.axis, self.keepdims = x.shape, axis, keepdims
        return xp.asarray(x.sum(axis=axis, keepdims=keepdims))

    def backward(self, grad):
        if not self.keepdims and self.axis is not None:
            grad = xp.expand_dims(grad, self.axis)
        return xp.broadcast_to(grad, self.shape)

    @staticmethod
    def reduced_size(shape, axis):
        """How many elements remain after summing ``shape`` over ``axis``."""
        if axis is None:
            return 1
        axes = (axis,) if isinstance(axis, int) else axis
        kept = [n for i, n in enumerate(shape) if i not in {a % len(shape) for a in axes}]
        return math.prod(kept)


class Max(Function):
    """The gradient goes to the maximal elements (split evenly between ties)."""

    def forward(self, x, axis=None, keepdims=False):
        self.x, self.axis, self.keepdims = x, axis, keepdims
        self.out = x.max(axis=axis, keepdims=True)
        if keepdims:
            return self.out
        return self.out.reshape(()) if axis is None else xp.squeeze(self.out, axis=axis)

    def backward(self, grad):
        if not self.keepdims:
            grad = grad.reshape(self.out.shape)
        winners = self.x == self.out
        return winners * (grad / winners.sum(axis=self.axis, keepdims=True, dtype=grad.dtype))


# -- normalizations ------------------------------------------------------------------------


class Softmax(Function):
    """exp(x) / sum(exp(x)) along ``axis``; the max is subtracted first for stability."""

    def forward(self, x, axis=-1):
        e = xp.exp(x - x.max(axis=axis, keepdims=True))
        self.out, self.axis = e / e.sum(axis=axis, keepdims=True), axis
        return self.out

    def backward(self, grad):
        # Jacobian-vector product: s * (g - sum(g * s))
        s = self.out
        return s * (grad - (grad * s).sum(axis=self.axis, keepdims=True))


class LogSoftmax(Function):
    """x - logsumexp(x) along ``axis``, computed without overflow."""

    def forward(self, x, axis=-1):
        shifted = x - x.max(axis=axis, keepdims=True)
        self.out = shifted - xp.log(xp.exp(shifted).sum(axis=axis, keepdims=True))
        self.axis = axis
        return self.out

    def backward(self, grad):
        return grad - xp.exp(self.out) * grad.sum(axis=self.axis, keepdims=True)
