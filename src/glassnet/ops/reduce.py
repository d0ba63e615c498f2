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
    """The largest values over ``axis`` (one, several or all axes: ``amax``, and ``max()``
    of a whole tensor). The gradient goes to the maximal elements, split evenly between ties."""

    reduce = staticmethod(xp.max)

    def forward(self, x, axis=None, keepdims=False):
        self.x, self.axis, self.keepdims = x, axis, keepdims
        self.out = self.reduce(x, axis=axis, keepdims=True)
        return _dropping_kept_axes(self.out, axis, keepdims)

    def backward(self, grad):
        if not self.keepdims:
            grad = grad.reshape(self.out.shape)
        winners = self.x == self.out
        return winners * (grad / winners.sum(axis=self.axis, keepdims=True, dtype=grad.dtype))


class Min(Max):
    """The smallest values over ``axis`` (``amin``, ``min()``); ties split the gradient."""

    reduce = staticmethod(xp.min)


class Prod(Function):
    """The product over one axis (or all). d/dx_i is the product of the other elements,
    computed from running products on either side of i, so zeros need no division."""

    def forward(self, x, axis=None, keepdims=False):
        self.x, self.axis, self.keepdims = x, axis, keepdims
        return xp.asarray(x.prod(axis=axis, keepdims=keepdims))

    def backward(self, grad):
        x = self.x.reshape(-1) if self.axis is None else xp.moveaxis(self.x, self.axis, -1)
        ones = xp.ones(x.shape[:-1] + (1,), x.dtype)
        before = xp.cumprod(xp.concatenate([ones, x[..., :-1]], axis=-1), axis=-1)
        after = xp.cumprod(xp.concatenate([ones, x[..., :0:-1]], axis=-1), axis=-1)[..., ::-1]
        others = before * after if x.shape[-1] else x
        others = others.reshape(self.x.shape) if self.axis is None else xp.moveaxis(others, -1, self.axis)
        if not self.keepdims and self.axis is not None:
            grad = xp.expand_dims(grad, self.axis)
        return grad * others


class Norm(Function):
    """The vector p-norm over ``axis``, (Σ |x|^p)^(1/p), for a finite p > 0.
    d/dx = sign(x) |x|^(p-1) / norm^(p-1); where the norm is 0 the gradient is 0 (as PyTorch)."""

    def forward(self, x, p=2, axis=None, keepdims=False):
        self.x, self.p, self.axis, self.keepdims = x, p, axis, keepdims
        if p == 2:
            self.out = xp.sqrt(xp.square(x).sum(axis=axis, keepdims=True))
        elif p == 1:
            self.out = xp.abs(x).sum(axis=axis, keepdims=True)
        else:
            self.out = (xp.abs(x) ** p).sum(axis=axis, keepdims=True) ** (1 / p)
        return _dropping_kept_axes(self.out, axis, keepdims)

    def backward(self, grad):
        x, p, out = self.x, self.p, self.out
        grad = grad.reshape(out.shape)
        safe = xp.where(out == 0, 1, out)
        if p == 2:
            slope = x / safe
        elif p == 1:
            slope = xp.sign(x)
        else:
            slope = xp.sign(x) * xp.abs(x) ** (p - 1) / safe ** (p - 1)
        return xp.where(out == 0, 0, grad * slope).astype(x.dtype, copy=False)


class LogSumExp(Function):
    """log Σ exp(x) over ``axis``, shifted by the max so that nothing overflows;
    d/dx = exp(x - out), the softmax."""

    def forward(self, x, axis=None, keepdims=False):
        self.x, self.axis, self.keepdims = x, axis, keepdims
        shift = x.max(axis=axis, keepdims=True) if x.size else xp.zeros((1,) * x.ndim, x.dtype)
        shift = xp.where(xp.isfinite(shift), shift, 0)  # all -inf (or inf): no shift
        with xp.errstate(divide="ignore"):  # log(0) = -inf for a slice of -infs, as PyTorch
            self.out = xp.log(xp.exp(x - shift).sum(axis=axis, keepdims=True)) + shift
        return _dropping_kept_axes(self.out, axis, keepdims)

    def backward(self, grad):
        return grad.reshape(self.out.shape) * xp.exp(self.x - self.out)


class CumSum(Function):
    """Running sums along ``axis``; backward is the running sum of the gradient from the far end."""

    def forward(self, x, axis):
        self.axis = axis
        return xp.cumsum(x, axis=axis)

    def backward(self, grad):
        return xp.flip(xp.cumsum(xp.flip(grad, self.axis), axis=self.axis), self.axis)


def _dropping_kept_axes(out, axis, keepdims):
    """A reduction computed with ``keepdims=True`` (which its backward reuses), in the shape asked for."""
    if keepdims:
        return out
    return out.reshape(()) if axis is None else xp.squeeze(out, axis=axis)


# -- values and their indices --------------------------------------------------------------


class Selection(Function):
    """Values picked from ``x`` along one axis, with their indices (int64, no gradient) as a
    second output: max and min along a dim, sort, topk. Backward puts each value's gradient
    back where the value came from."""

    def select(self, x, indices, axis, keepdims=True):
        self.shape, self.axis, self.keepdims = x.shape, axis, keepdims
        self.indices = indices = indices.astype(xp.int64, copy=False)
        values = xp.take_along_axis(x, indices, axis=axis)
        if not keepdims:
            values, indices = xp.squeeze(values, axis), xp.squeeze(indices, axis)
        return values, indices

    def backward(self, grad, _indices_grad=None):
        full = xp.zeros(self.shape, grad.dtype)
        xp.put_along_axis(full, self.indices, grad if self.keepdims else xp.expand_dims(grad, self.axis), self.axis)
        return full


class MaxWithIndices(Selection):
    """``max(dim)``: the largest value of each slice along ``axis`` and its (first) index;
    the whole gradient goes to that index, as PyTorch's."""

    op, arg = "max", staticmethod(xp.argmax)

    def forward(self, x, axis, keepdims=False):
        axis = _one_axis(self.op, axis, x.ndim)
        return self.select(x, self.arg(x, axis=axis, keepdims=True), axis, keepdims)


class MinWithIndices(MaxWithIndices):
    op, arg = "min", staticmethod(xp.argmin)


class Sort(Selection):
    """Values sorted along ``axis`` and where they came from. Always stable: equal values
    keep their order (also when descending); NaN counts as the largest, as in PyTorch."""

    def forward(self, x, axis=-1, descending=False):
        axis = _one_axis("sort", axis, x.ndim)
        return self.select(x, stable_argsort(x, axis, descending), axis)


class TopK(Selection):
    """The ``k`` largest (or smallest) values along ``axis``, largest first, with their indices."""

    def forward(self, x, k, axis=-1, largest=True, sorted=True):
        axis = _one_axis("topk", axis, x.ndim)
        if not 0 <= k <= x.shape[axis]:
            raise RuntimeError(f"topk: k ({k}) is out of range for a dimension of size {x.shape[axis]}")
        order = stable_argsort(x, axis, descending=largest)
        return self.select(x, xp.take(order, xp.arange(k), axis=axis), axis)


def stable_argsort(x, axis=-1, descending=False):
    """Stable argsort (``Tensor.argsort``); descending keeps equal values in their original
    order too, and puts NaN first, as PyTorch."""
    if not descending:
        return xp.argsort(x, axis=axis, kind="stable")
    n = x.shape[axis]  # sort the reversed array ascending, then reverse the order back
    return n - 1 - xp.flip(xp.argsort(xp.flip(x, axis), axis=axis, kind="stable"), axis)


def _one_axis(op, axis, ndim):
    if not isinstance(axis, (int, xp.integer)):
        raise TypeError(f"{op}: dim must be one int, got {axis!r}; help: use amax/amin to reduce over several dims")
    if not -ndim <= axis < ndim:
        raise IndexError(f"{op}: dim {axis} is out of range for a tensor of {ndim} dimensions")
    return int(axis)


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
