"""Normalization ops, forward and backward fused in each: ``BatchNorm`` standardizes
each channel over the batch, ``LayerNorm`` each sample over its last axes.

Beside each op stands its reference (``batch_norm_reference``, ``layer_norm_reference``):
the same formula written with tensor ops, whose backward autograd derives. It is the
version to read; ``tests/test_references.py`` checks that the two agree.
"""
import math

from ..backend import xp
from ..tensor import Function, Tensor


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
        axes = (0,) + tuple(range(2, x.ndim))
        per_channel = (1, -1) + (1,) * (x.ndim - 2)  # reshapes a (C,) array to broadcast over x
        count = x.size // x.shape[1]
        if training:
            mean = x.mean(axis=axes)
            x_hat = x - mean.reshape(per_channel)  # centred once: the variance, then x_hat in place, reuse it
            var = xp.square(x_hat).mean(axis=axes)  # biased: the batch is the whole population here
            if running_mean is not None:  # running averages, in place; the variance unbiased, as in PyTorch
                running_mean *= 1 - momentum
                running_mean += momentum * mean
                running_var *= 1 - momentum
                running_var += (momentum * count / (count - 1)) * var
        else:
            x_hat, var = x - running_mean.reshape(per_channel), running_var
        inv_std = 1 / xp.sqrt(var + eps)  # one division per channel, then a product per element
        x_hat *= inv_std.reshape(per_channel)
        self.x_hat, self.inv_std, self.weight = x_hat, inv_std, weight
        self.axes, self.per_channel, self.count, self.training = axes, per_channel, count, training
        if weight is None:
            return x_hat.copy(order="K")  # x_hat is kept for backward; "K" keeps the memory layout (see conv.py)
        out = x_hat * weight.reshape(per_channel)
        out += bias.reshape(per_channel)
        return out

    def backward(self, grad):
        axes, per_channel = self.axes, self.per_channel
        grad_bias = grad.sum(axis=axes)
        grad_weight = (grad * self.x_hat).sum(axis=axes)
        scale = self.inv_std if self.weight is None else self.inv_std * self.weight
        grad_x = None
        if self.needs_input_grad[0] and self.training:  # the formula above, in place to spare temporaries
            grad_x = self.x_hat * (-grad_weight / self.count).reshape(per_channel)
            grad_x += grad
            grad_x -= (grad_bias / self.count).reshape(per_channel)
            grad_x *= scale.reshape(per_channel)
        elif self.needs_input_grad[0]:  # fixed statistics: a plain per-channel scaling
            grad_x = grad * scale.reshape(per_channel)
        if self.weight is None:
            return grad_x
        return grad_x, grad_weight, grad_bias


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
        mean = rows.mean(axis=1, keepdims=True)
        centered = rows - mean
        var = (centered * centered).mean(axis=1, keepdims=True)  # biased, as in the paper
        self.rstd = 1 / xp.sqrt(var + eps)
        self.xhat = centered * self.rstd
        self.weight = affine[0].reshape(-1) if has_weight else None
        self.has_bias = has_bias
        out = self.xhat * self.weight if has_weight else self.xhat.copy()
        if has_bias:
            out += affine[-1].reshape(-1)
        return out.reshape(x.shape)

    def backward(self, grad):
        grad = grad.reshape(self.xhat.shape)
        grad_x = grad_weight = grad_bias = None
        if self.needs_input_grad[0]:
            grad_xhat = grad * self.weight if self.weight is not None else grad
            # every element moves its row's mean and variance: the gradient loses its
            # row mean and its component along xhat
            mean_grad = grad_xhat.mean(axis=1, keepdims=True)
            mean_grad_dot_xhat = (grad_xhat * self.xhat).mean(axis=1, keepdims=True)
            grad_x = ((grad_xhat - mean_grad - self.xhat * mean_grad_dot_xhat) * self.rstd).reshape(self.x_shape)
        if self.weight is not None and self.needs_input_grad[1]:
            grad_weight = (grad * self.xhat).sum(axis=0).reshape(self.param_shape)
        if self.has_bias and self.needs_input_grad[-1]:
            grad_bias = grad.sum(axis=0).reshape(self.param_shape)
        grads = (grad_x,) + ((grad_weight,) if self.weight is not None else ()) + ((grad_bias,) if self.has_bias else ())
        return grads


LayerNorm.reference = layer_norm_reference
