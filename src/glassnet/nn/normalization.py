"""Layer normalization: rescale each sample's features to mean 0 and variance 1, then let
the network choose its own scale and shift (``weight``, ``bias``).

Unlike batch norm it needs no batch statistics, so it behaves the same in training and
evaluation and for a batch of one; transformers put one around every sub-layer.
"""
import math
import numbers

from ..backend import xp
from ..tensor import Function, Tensor
from . import init
from .module import Module, Parameter


class LayerNormFunction(Function):
    """y = (x - mean) / sqrt(var + eps) * weight + bias, the statistics taken over the
    last ``normalized_ndim`` axes; forward and backward in one op.

    Fused because the chain of small ops (mean, subtract, square, mean, sqrt, divide,
    multiply, add) would store, and walk back through, eight arrays the size of ``x``.
    ``affine`` holds the weight and/or the bias, as ``has_weight`` and ``has_bias`` say.
    """

    def forward(self, x, *affine, normalized_ndim, eps, has_weight, has_bias):
        self.x_shape, self.param_shape = x.shape, x.shape[x.ndim - normalized_ndim:]
        rows = x.reshape(-1, math.prod(self.param_shape))  # one sample's features per row
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


def _as_shape(normalized_shape):
    if isinstance(normalized_shape, numbers.Integral):
        return (int(normalized_shape),)
    return tuple(int(n) for n in normalized_shape)


def _check_input(who, shape, normalized_shape):
    k = len(normalized_shape)
    if tuple(shape[len(shape) - k:]) != normalized_shape or len(shape) < k:
        raise ValueError(
            f"{who}: expected input of shape (*, {', '.join(map(str, normalized_shape))}) "
            f"(the last {k} dimension{'s' if k > 1 else ''} normalized), got {tuple(shape)}; "
            f"help: build the layer with normalized_shape={tuple(shape[len(shape) - k:]) if len(shape) >= k else tuple(shape)} "
            "or reshape the input"
        )


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5):
    """Normalize over the trailing ``normalized_shape`` dimensions, then scale by
    ``weight`` and shift by ``bias`` (both of shape ``normalized_shape``, optional).

    Shape: input (*, *normalized_shape) -> the same shape.

    >>> import glassnet as gn
    >>> from glassnet.nn.normalization import layer_norm
    >>> layer_norm(gn.tensor([[1.0, 2.0, 3.0]]), (3,))
    tensor([[-1.2247356,  0.       ,  1.2247356]])
    """
    input = input if isinstance(input, Tensor) else Tensor(input)
    normalized_shape = _as_shape(normalized_shape)
    _check_input("layer_norm", input.shape, normalized_shape)
    for name, param in (("weight", weight), ("bias", bias)):
        if param is not None and tuple(param.shape) != normalized_shape:
            raise ValueError(f"layer_norm: {name} of shape {tuple(param.shape)} for normalized_shape {normalized_shape}")
    affine = [t for t in (weight, bias) if t is not None]
    return LayerNormFunction.apply(
        input, *affine, normalized_ndim=len(normalized_shape), eps=eps,
        has_weight=weight is not None, has_bias=bias is not None,
    )


class LayerNorm(Module):
    """Normalize each sample over its last dimensions (``normalized_shape``) to mean 0 and
    variance 1, then scale and shift by learned ``weight`` and ``bias``.

    Args:
        normalized_shape: the trailing shape to normalize over, an int or a tuple.
        eps: added to the variance, so that a constant input does not divide by zero.
        elementwise_affine: learn ``weight`` (ones at first) and, if ``bias``, ``bias`` (zeros).
        bias: learn the shift too (only with ``elementwise_affine``).

    Shape: input (*, *normalized_shape) -> output of the same shape.
    Parameters: ``weight`` and ``bias``, each of shape ``normalized_shape``.

    >>> import glassnet as gn
    >>> import numpy as np
    >>> from glassnet.nn.normalization import LayerNorm
    >>> norm = LayerNorm(8)
    >>> norm(gn.tensor(np.ones((2, 5, 8), dtype="float32"))).shape
    (2, 5, 8)
    """

    def __init__(self, normalized_shape, eps=1e-5, elementwise_affine=True, bias=True):
        super().__init__()
        self.normalized_shape = _as_shape(normalized_shape)
        if not self.normalized_shape or min(self.normalized_shape) <= 0:
            raise ValueError(f"LayerNorm: normalized_shape must be positive sizes, got {normalized_shape!r}")
        self.eps, self.elementwise_affine = eps, elementwise_affine
        if elementwise_affine:
            self.weight = Parameter(init.empty(*self.normalized_shape))
            if bias:
                self.bias = Parameter(init.empty(*self.normalized_shape))
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self):
        if self.weight is not None:
            init.ones_(self.weight)
        if self.bias is not None:
            init.zeros_(self.bias)

    def forward(self, input):
        _check_input(self._label(), getattr(input, "shape", xp.shape(input)), self.normalized_shape)
        return layer_norm(input, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return (
            f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}, "
            f"bias={self.bias is not None}"
        )
