"""Layer normalization: rescale each sample's features to mean 0 and variance 1, then let
the network choose its own scale and shift (``weight``, ``bias``).

Unlike batch norm it needs no batch statistics, so it behaves the same in training and
evaluation and for a batch of one; transformers put one around every sub-layer. The
layer calls ``functional.layer_norm``, which runs the fused op ``ops.LayerNorm``.
"""
from ..backend import xp
from . import init
from .functional import _as_shape, _check_normalized_shape, layer_norm
from .module import Module, Parameter


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
        _check_normalized_shape(self._label(), getattr(input, "shape", xp.shape(input)), self.normalized_shape)
        return layer_norm(input, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return (
            f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}, "
            f"bias={self.bias is not None}"
        )
