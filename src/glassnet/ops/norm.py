"""Normalization ops, forward and backward fused in each: ``BatchNorm`` standardizes
each channel over the batch, ``LayerNorm`` each sample over its last axes.

Beside each op stands its reference (``batch_norm_reference``, ``layer_norm_reference``):
the same formula written with tensor ops, whose backward autograd derives. It is the
version to read; ``tests/test_references.py`` checks that the two agree.
"""
import math

from .. import compiled
from ..backend import xp
from ..tensor import Function, Tensor
from ..threads import CHEAP, in_blocks, on_pool, pool_blocks


def batch_norm_reference(x, weight=None, bias=None, running_mean=None, running_var=None, training=True, momentum=0.1, eps=1e-5):
    """(x - mean) / sqrt(var + eps) * weight + bias per channel, with tensor ops: what
    :class:`BatchNorm` computes. Training uses the batch's statistics and updates the
    running ones (arrays, in place); evaluation uses the running ones.

    Shape: x (N, C, *), weight, bias, running_mean, running_var (C,) -> like x.

    >>> import glassnet as gn
    >>> from glassnet.ops import batch_norm_reference
    >>> batch_norm_reference(gn.tensor([[1.0, 10.0], [3.0, 30.0]])).numpy().round(4).tolist()
    [[-1.0, -1.0], [1.0, 1.0]]
    """
    axes = (0,) + tuple(range(2, x.ndim))  # every axis but the channels'
    per_channel = (1, -1) + (1,) * (x.ndim - 2)  # a (C,) array to broadcast over x
    if training:
        mean = x.mean(axis=axes, keepdims=True)
        var = ((x - mean) ** 2).mean(axis=axes, keepdims=True)  # biased
        if running_mean is not None:  # plain arrays, outside the graph; the variance unbiased
            count = x.numel() // x.shape[1]
            running_mean[...] = (1 - momentum) * running_mean + momentum * mean.numpy().reshape(-1)
            running_var[...] = (1 - momentum) * running_var + momentum * count / (count - 1) * var.numpy().reshape(-1)
    else:
        mean, var = Tensor(running_mean.reshape(per_channel)), Tensor(running_var.reshape(per_channel))
    out = (x - mean) / (var + eps).sqrt()
    return out if weight is None else out * weight.reshape(per_channel) + bias.reshape(per_channel)


class BatchNorm(Function):
    """out = (x - mean) / sqrt(var + eps) * weight + bias, per channel (axis 1), the mean
    and variance taken over every other axis.

    Forward and backward are fused: with x_hat the standardized input and every mean
    taken per channel, the training-mode gradient is
    grad_x = weight / std * (grad - mean(grad) - x_hat * mean(grad * x_hat)),
    the two subtracted terms because the batch's mean and variance depend on every x.
    Reference: ``batch_norm_reference`` above, the same maths from tensor ops.
    """

    def forward(self, x, weight=None, bias=None, running_mean=None, running_var=None, training=True, momentum=0.1, eps=1e-5):
        rows, self.shape = channel_rows(x)  # (C, everything else): a view of a convolution's output
        self.count, self.training, self.weight = rows.shape[1], training, weight
        # x_hat is kept for backward; with no gradient to come (inference) it is made in the
        # output's memory on the way, not in an array of its own: a pass over memory less
        out = xp.empty_like(rows)
        self.x_hat = xp.empty_like(rows) if any(self.needs_input_grad) else out
        self.mean = xp.empty(len(rows), x.dtype) if training else running_mean
        self.var = xp.empty(len(rows), x.dtype) if training else running_var
        self.inv_std = xp.empty(len(rows), x.dtype)
        cheap = self.x_hat is out and not training  # one pass: reads x, writes out (threads.CHEAP)
        work = rows[0].nbytes * (2 * CHEAP if cheap else 1)
        if self._compiled(rows, out, bias) and pool_blocks(len(rows) * work) > 1:  # channels on the pool's helpers
            on_pool("rows", "BATCH_NORM", len(rows), len(rows) * work, [
                rows, out, self.x_hat, self.mean, self.var, self.inv_std, weight, bias], numbers=(
                    rows.shape[1], training + 2 * (weight is not None) + 4 * (self.x_hat is not out)), floats=(eps, 0.0))
        else:
            in_blocks(lambda start, stop: self._normalize(slice(start, stop), rows, out, bias, eps), len(rows), work)
        if training and running_mean is not None:  # running averages, in place; the variance unbiased, as in PyTorch
            running_mean *= 1 - momentum
            running_mean += momentum * self.mean
            running_var *= 1 - momentum
            running_var += (momentum * self.count / (self.count - 1)) * self.var
        if self.x_hat is out:
            self.x_hat = None
        return self.shape.of(out)

    def _normalize(self, c, rows, out, bias, eps):
        """The forward for the block of channels ``c``: every pass runs while it is in the cache."""
        if self._compiled(rows, out, bias):  # the same maths, three passes instead of seven
            weight, no_affine = self.weight, xp.zeros(0, xp.float32)
            return compiled.load().batch_norm_rows(
                rows[c], self.training, self.mean[c], self.var[c], self.inv_std[c],
                no_affine if weight is None else weight[c], no_affine if bias is None else bias[c], weight is not None, xp.float32(eps),
                self.x_hat[c], self.x_hat is not out, out[c])
        x_hat = self.x_hat[c]
        if self.training:
            self.mean[c] = rows[c].mean(axis=1)
        xp.subtract(rows[c], self.mean[c, None], out=x_hat)  # centred once; then scaled in place
        if self.training:
            self.var[c] = xp.square(x_hat).mean(axis=1)  # biased: the batch is the whole population here
        self.inv_std[c] = 1 / xp.sqrt(self.var[c] + eps)  # one division per channel, then a product per element
        x_hat *= self.inv_std[c, None]
        if self.weight is None:
            out[c] = x_hat
        else:
            xp.multiply(x_hat, self.weight[c, None], out=out[c])
            out[c] += bias[c, None]

    def backward(self, grad):
        grad, _ = channel_rows(grad, like=self.shape)
        self.grad_weight, self.grad_bias = xp.empty(len(grad), grad.dtype), xp.empty(len(grad), grad.dtype)
        grad_x = xp.empty_like(grad) if self.needs_input_grad[0] else None
        if self._compiled(grad, *(() if grad_x is None else (grad_x,))) and pool_blocks(grad.nbytes) > 1:
            on_pool("rows", "BATCH_NORM_BACKWARD", len(grad), grad.nbytes, [
                self.x_hat, grad, self.x_hat if grad_x is None else grad_x, self.grad_weight, self.grad_bias, self.inv_std,
                self.weight], numbers=(grad.shape[1], self.training + 2 * (self.weight is not None) + 4 * (grad_x is not None)))
        else:
            in_blocks(lambda start, stop: self._backward(slice(start, stop), grad, grad_x), len(grad), grad[0].nbytes)
        grad_x = None if grad_x is None else self.shape.of(grad_x)
        if self.weight is None:
            return grad_x
        return grad_x, self.grad_weight, self.grad_bias

    def _compiled(self, *arrays):
        """Whether the compiled kernels take these arrays and the op's own (None: absent)."""
        arrays = [a for a in arrays + (self.mean, self.var, self.inv_std, self.weight) if a is not None]
        return compiled.fits(self.x_hat, *(a for a in arrays if a.ndim == 2)) and all(
            compiled.fits(a) for a in arrays if a.ndim == 1)

    def _backward(self, c, grad, grad_x):
        """The backward for the block of channels ``c``, the formula above, in place to spare temporaries."""
        if self._compiled(grad, *(() if grad_x is None else (grad_x,))):  # the same maths, two passes
            weight = self.weight[c] if self.weight is not None else xp.zeros(0, xp.float32)
            return compiled.load().batch_norm_backward_rows(
                self.x_hat[c], grad[c], self.inv_std[c], weight, self.weight is not None, self.training,
                self.grad_weight[c], self.grad_bias[c], self.x_hat[c] if grad_x is None else grad_x[c], grad_x is not None)
        x_hat, grad = self.x_hat[c], grad[c]
        self.grad_bias[c] = grad.sum(axis=1)
        self.grad_weight[c] = xp.einsum("cm,cm->c", grad, x_hat)
        if grad_x is None:
            return
        scale = self.inv_std[c] if self.weight is None else self.inv_std[c] * self.weight[c]
        out = grad_x[c]
        if self.training:
            xp.multiply(x_hat, (-self.grad_weight[c] / self.count)[:, None], out=out)
            out += grad
            out -= (self.grad_bias[c] / self.count)[:, None]
            out *= scale[:, None]
        else:  # fixed statistics: a plain per-channel scaling
            xp.multiply(grad, scale[:, None], out=out)


class ChannelRows:
    """How an (N, C, *) array maps onto (C, rest) rows, one per channel: the axes in the
    order that puts the channels first and the rest as they lie in memory."""

    def __init__(self, shape, order):
        self.order, self.moved_shape = order, tuple(shape[axis] for axis in order)
        self.inverse = tuple(sorted(range(len(order)), key=order.__getitem__))

    def of(self, rows):
        """The (N, C, *) view of rows laid out this way."""
        return rows.reshape(self.moved_shape).transpose(self.inverse)


def channel_rows(a, like=None):
    """``a`` (N, C, *) as (C, rest) rows and their :class:`ChannelRows` (``like``'s, if given):
    a view when ``a`` is already laid out channel by channel, as a convolution's batch-last
    output is (see conv.py); else one copy, after which every pass reads contiguous rows."""
    if like is None:
        rest = sorted((axis for axis in range(a.ndim) if axis != 1), key=lambda axis: -a.strides[axis])
        like = ChannelRows(a.shape, (1, *rest))
    moved = a.transpose(like.order)
    return xp.ascontiguousarray(moved).reshape(a.shape[1], -1), like


BatchNorm.reference = batch_norm_reference


def layer_norm_reference(x, *affine, normalized_ndim, eps, has_weight, has_bias):
    """(x - mean) / sqrt(var + eps) * weight + bias over the last ``normalized_ndim`` axes,
    with tensor ops: what :class:`LayerNorm` computes (``affine``: the weight and/or bias).

    Shape: x (*, *normalized_shape), weight and bias normalized_shape -> like x.

    >>> import glassnet as gn
    >>> from glassnet.ops import layer_norm_reference
    >>> x = gn.tensor([[1.0, 2.0, 3.0]])
    >>> layer_norm_reference(x, normalized_ndim=1, eps=1e-5, has_weight=False, has_bias=False)
    tensor([[-1.2247,  0.0000,  1.2247]])
    """
    axes = tuple(range(x.ndim - normalized_ndim, x.ndim))
    mean = x.mean(axis=axes, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=axes, keepdims=True)  # biased, as in the paper
    out = (x - mean) / (var + eps).sqrt()
    if has_weight:
        out = out * affine[0]
    return out + affine[-1] if has_bias else out


class LayerNorm(Function):
    """y = (x - mean) / sqrt(var + eps) * weight + bias, the statistics taken over the
    last ``normalized_ndim`` axes; forward and backward in one op.

    Fused because the chain of small ops (mean, subtract, square, mean, sqrt, divide,
    multiply, add) would store, and walk back through, eight arrays the size of ``x``.
    ``affine`` holds the weight and/or the bias, as ``has_weight`` and ``has_bias`` say.
    Reference: ``layer_norm_reference`` above, the same maths from tensor ops.
    """

    def forward(self, x, *affine, normalized_ndim, eps, has_weight, has_bias):
        self.x_shape, self.param_shape = x.shape, x.shape[x.ndim - normalized_ndim:]
        rows = x.reshape(-1, math.prod(self.param_shape))  # one sample's features per row: 2-D statistics
        # a float32 view (a vit's class tokens): one copy, then the kernels (128 x 64: 45 -> 18
        # us), not NumPy's passes; for float64 the kernels never run, so no copy either
        if not rows.flags.c_contiguous and rows.dtype == xp.float32 and compiled.enabled():
            rows = xp.ascontiguousarray(rows)
        self.weight = affine[0].reshape(-1) if has_weight else None
        self.has_bias, bias = has_bias, affine[-1].reshape(-1) if has_bias else None
        # kept for backward: the input (alive anyway, as the residual stream) and two numbers
        # per row, from which backward rebuilds xhat; an array the size of x less to hold
        self.rows, out = rows, xp.empty_like(rows)
        self.mean, self.rstd = xp.empty((len(rows), 1), rows.dtype), xp.empty((len(rows), 1), rows.dtype)
        # rows of a few hundred floats are normalized in cache, as fast as a cheap pass: split
        # on the pool's helpers from 40 KB a block, over the executor's threads only from
        # about 8 MB (below, its hand-off costs more)
        if compiled.fits(rows, out) and pool_blocks(rows.nbytes * 2 * CHEAP) > 1 and all(compiled.fits(a) for a in (self.weight, bias) if a is not None):
            on_pool("rows", "LAYER_NORM", len(rows), rows.nbytes * 2 * CHEAP, [
                rows, out, self.weight, bias, self.mean, self.rstd], numbers=(
                    rows.shape[1], (self.weight is not None) + 2 * (bias is not None)), floats=(float(eps), 0.0))
            return out.reshape(x.shape)
        in_blocks(lambda start, stop: self._normalize(slice(start, stop), out, bias, eps), len(rows),
                  rows[:1].nbytes * 2 * CHEAP)
        return out.reshape(x.shape)

    def _normalize(self, r, out, bias, eps):
        """The forward for the block of rows ``r`` (the blocks run on all threads at once)."""
        weight = self.weight
        if compiled.fits(self.rows, out) and all(compiled.fits(a) for a in (weight, bias) if a is not None):
            no_affine = xp.zeros(0, xp.float32)
            # eps as a float32: a Python float would make numba work each row in float64 (1.5x the time)
            return compiled.load().layer_norm_rows(
                self.rows[r], no_affine if weight is None else weight, no_affine if bias is None else bias,
                weight is not None, bias is not None, xp.float32(eps), out[r], self.mean[r, 0], self.rstd[r, 0])
        self.mean[r] = self.rows[r].mean(axis=1, keepdims=True)
        xhat = xp.subtract(self.rows[r], self.mean[r], out=out[r])  # centred
        self.rstd[r] = 1 / xp.sqrt(xp.square(xhat).mean(axis=1, keepdims=True) + eps)  # the variance biased, as in the paper
        xhat *= self.rstd[r]
        if self.weight is not None:
            xhat *= self.weight
        if bias is not None:
            xhat += bias

    def backward(self, grad):
        grad = grad.reshape(self.rows.shape)
        grad_x = xp.empty_like(self.rows, dtype=grad.dtype) if self.needs_input_grad[0] else None
        sums = {}  # per block of rows: the sums over its rows of grad * xhat and of grad
        in_blocks(lambda start, stop: sums.update({start: self._backward(slice(start, stop), grad, grad_x)}), len(grad),
                  grad[:1].nbytes * 2 * CHEAP)  # as forward
        grad_weight, grad_bias = (sum(sums[start][i] for start in sorted(sums)).reshape(self.param_shape) for i in (0, 1))
        grads = (None if grad_x is None else grad_x.reshape(self.x_shape),)
        if self.weight is not None:
            grads += (grad_weight if self.needs_input_grad[1] else None,)
        return grads + ((grad_bias if self.needs_input_grad[-1] else None,) if self.has_bias else ())

    def _backward(self, r, grad, grad_x):
        """The input's gradient for the block of rows ``r``; returns the block's sums for the
        weight's and the bias's gradients (added up in block order: the same numbers every run)."""
        weight, want_grad_x = self.weight, grad_x is not None
        if compiled.fits(self.rows, grad) and (not want_grad_x or compiled.fits(grad_x)) and (
                weight is None or compiled.fits(weight)):
            sums = xp.zeros((2, self.rows.shape[1]), xp.float32)
            compiled.load().layer_norm_backward_rows(
                self.rows[r], grad[r], self.mean[r, 0], self.rstd[r, 0], xp.zeros(0, xp.float32) if weight is None else weight,
                weight is not None, grad_x[r] if want_grad_x else sums, want_grad_x, sums[0], sums[1])
            return sums[0], sums[1]
        grad, xhat = grad[r], (self.rows[r] - self.mean[r]) * self.rstd[r]
        if grad_x is not None:
            grad_xhat = grad * self.weight if self.weight is not None else grad
            # every element moves its row's mean and variance: the gradient loses its
            # row mean and its component along xhat
            mean_grad = grad_xhat.mean(axis=1, keepdims=True)
            out = xp.multiply(xhat, (grad_xhat * xhat).mean(axis=1, keepdims=True), out=grad_x[r])
            xp.subtract(grad_xhat, out, out=out)
            out -= mean_grad
            out *= self.rstd[r]
        return (grad * xhat).sum(axis=0), grad.sum(axis=0)


LayerNorm.reference = layer_norm_reference
