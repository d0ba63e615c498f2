"""Normalization of each sample on its own: rescale its features to a standard size, then
let the network choose its own scale (``weight``) and shift (``bias``).

Unlike batch norm they need no batch statistics, so they behave the same in training and
evaluation and for a batch of one. ``LayerNorm`` standardizes the last dimensions
(transformers put one around every sub-layer) and calls ``functional.layer_norm``, which
runs the fused op ``ops.LayerNorm``. ``GroupNorm`` is a layer norm of each group of
channels (CNNs with small batches); ``RMSNorm`` only divides by the root mean square (no
centring, no shift; LLaMA's). Both are composed from tensor ops in ``functional``.
"""
from . import checks, init
from .functional import _as_shape, _check_group_norm, _check_normalized_shape, group_norm, layer_norm, rms_norm
from .module import Module, Parameter


class _Normalization(Module):
    """What the normalizations share: a learned scale (``weight``) and shift (``bias``), each
    optional, that start as ones and zeros so that at first the layer only normalizes."""

    def _learn(self, shape, weight, bias=None):
        """Register ``weight`` and ``bias`` of ``shape`` if learned, else None
        (``bias=None``: the layer has no shift at all, as RMSNorm)."""
        for name, learned in (("weight", weight), ("bias", bias)):
            if learned:
                setattr(self, name, Parameter(init.empty(*shape)))
            elif learned is not None:
                self.register_parameter(name, None)
        self.reset_parameters()

    def reset_parameters(self):
        if self.weight is not None:
            init.ones_(self.weight)
        if getattr(self, "bias", None) is not None:
            init.zeros_(self.bias)


def _normalized_shape(value, kind):
    shape = _as_shape(value)
    if not shape or min(shape) <= 0:
        raise ValueError(f"{kind}: normalized_shape must be positive sizes, got {value!r}")
    return shape


class LayerNorm(_Normalization):
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
        self.normalized_shape = _normalized_shape(normalized_shape, "LayerNorm")
        self.eps, self.elementwise_affine = eps, elementwise_affine
        self._learn(self.normalized_shape, weight=elementwise_affine, bias=bool(elementwise_affine and bias))

    def forward(self, input):
        _check_normalized_shape(self, checks.shape_of(input), self.normalized_shape)
        return layer_norm(input, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return (
            f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}, "
            f"bias={self.bias is not None}"
        )


class GroupNorm(_Normalization):
    """Split the channels into ``num_groups`` groups and normalize each group of each sample,
    over its channels and all positions, to mean 0 and variance 1; then scale and shift
    each channel by learned ``weight`` and ``bias``. ``num_groups=1`` normalizes each whole
    sample (a layer norm over (C, *)); ``num_groups=num_channels``, each channel alone
    (instance norm).

    Args:
        num_groups: how many groups the channels split into; it must divide ``num_channels``.
        num_channels: the channels of the input (axis 1).
        eps: added to the variance, so that a constant group does not divide by zero.
        affine: learn ``weight`` (ones at first) and, if ``bias``, ``bias`` (zeros).
        bias: learn the shift too (only with ``affine``).

    Shape: input (N, num_channels, *) -> output of the same shape.
    Parameters: ``weight`` and ``bias``, each (num_channels,).

    >>> import numpy as np
    >>> import glassnet as gn
    >>> gn.nn.GroupNorm(4, 32)(gn.tensor(np.ones((2, 32, 7, 7), "float32"))).shape
    (2, 32, 7, 7)
    """

    def __init__(self, num_groups, num_channels, eps=1e-5, affine=True, *, bias=True):
        super().__init__()
        for argument, value in (("num_groups", num_groups), ("num_channels", num_channels)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"GroupNorm: {argument} must be a positive int, got {value!r}")
        if num_channels % num_groups:
            raise ValueError(
                f"GroupNorm: num_channels must be divisible by num_groups, got num_channels={num_channels} and "
                f"num_groups={num_groups}; help: each group takes an equal share of the channels"
            )
        self.num_groups, self.num_channels, self.eps, self.affine = num_groups, num_channels, eps, affine
        self._learn((num_channels,), weight=affine, bias=bool(affine and bias))

    def forward(self, input):
        checks.floating(self, input)
        _check_group_norm(self, checks.shape_of(input), self.num_groups, self.num_channels)
        return group_norm(input, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}, bias={self.bias is not None}"


class RMSNorm(_Normalization):
    """Divide each sample by the root mean square of its last dimensions
    (``normalized_shape``), then scale by a learned ``weight``: a layer norm without the
    centring and the shift, cheaper and, in large language models (LLaMA), as good.

    Args:
        normalized_shape: the trailing shape to normalize over, an int or a tuple.
        eps: added to the mean square; None (the default) means the input dtype's machine
            epsilon, ``np.finfo(dtype).eps``, as in PyTorch.
        elementwise_affine: learn ``weight`` (ones at first).

    Shape: input (*, *normalized_shape) -> output of the same shape.
    Parameters: ``weight``, of shape ``normalized_shape``.

    >>> import numpy as np
    >>> import glassnet as gn
    >>> gn.nn.RMSNorm(8)(gn.tensor(np.ones((2, 5, 8), "float32"))).shape
    (2, 5, 8)
    """

    def __init__(self, normalized_shape, eps=None, elementwise_affine=True):
        super().__init__()
        self.normalized_shape = _normalized_shape(normalized_shape, "RMSNorm")
        if eps is not None and not eps >= 0:
            raise ValueError(f"RMSNorm: eps must be at least 0 (or None for the dtype's machine epsilon), got {eps!r}")
        self.eps, self.elementwise_affine = eps, elementwise_affine
        self._learn(self.normalized_shape, weight=elementwise_affine)

    def forward(self, input):
        checks.floating(self, input)
        _check_normalized_shape(self, checks.shape_of(input), self.normalized_shape)
        return rms_norm(input, self.normalized_shape, self.weight, self.eps)

    def extra_repr(self):
        return f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"
