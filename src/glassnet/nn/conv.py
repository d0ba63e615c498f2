"""Convolution: a small filter slides over the image and, at every position, takes the
weighted sum of the pixels under it, so the same pattern detector is used everywhere.

The layer owns the filters; the computation is the op ``ops.Conv2d`` (one matrix product
of the filters with the unfolded image, im2col: ``glassnet/ops/conv.py``), and the
functional form ``conv2d``, with the argument checks both share, is in ``functional``.
"""
from .. import ops
from . import checks, init
from .functional import _as_tensor, _conv_options, _pair, _padding
from .module import Module, Parameter

# -- the layer -----------------------------------------------------------------------------


class Conv2d(Module):
    """2-D convolution over a batch of images: ``out_channels`` filters of size
    ``kernel_size``, each looking at ``in_channels / groups`` input channels.

    Args:
        in_channels, out_channels: channels of the input and of the output.
        kernel_size, stride, dilation: an int or a pair (height, width).
        padding: an int, a pair, ``'valid'`` (no padding) or ``'same'`` (keep H and W; stride 1).
        groups: independent blocks of channels (``groups=in_channels``: depthwise).
        bias: whether to learn one additive bias per output channel.

    Shape: (N, in_channels, H, W) -> (N, out_channels, out_h, out_w), with
    out_h = (H + pad_top + pad_bottom - dilation (kh - 1) - 1) // stride + 1 (out_w alike).

    Parameters: ``weight`` (out_channels, in_channels / groups, kh, kw) and ``bias``
    (out_channels,), both uniform in ±1/sqrt(fan_in), fan_in = in_channels / groups * kh * kw,
    as in PyTorch.

    >>> import numpy as np
    >>> import glassnet as gn
    >>> gn.nn.Conv2d(1, 32, 3, padding=1)(gn.tensor(np.zeros((8, 1, 28, 28), "float32"))).shape
    (8, 32, 28, 28)
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1, bias=True):
        super().__init__()
        for argument, value in (("in_channels", in_channels), ("out_channels", out_channels), ("groups", groups)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"Conv2d: {argument} must be a positive int, got {value!r}")
        for argument, value in (("in_channels", in_channels), ("out_channels", out_channels)):
            if value % groups:
                raise ValueError(
                    f"Conv2d: {argument} must be divisible by groups, got {argument}={value} and groups={groups}; "
                    "help: each group takes an equal share of the input channels and of the filters"
                )
        self.in_channels, self.out_channels, self.groups = in_channels, out_channels, groups
        self.kernel_size = _pair(kernel_size, "kernel_size", "Conv2d", 1)
        self.stride = _pair(stride, "stride", "Conv2d", 1)
        self.dilation = _pair(dilation, "dilation", "Conv2d", 1)
        # kept as given ('same', 'valid' or a pair), as PyTorch shows it; the op gets four numbers
        self._padding = _padding(padding, self.kernel_size, self.stride, self.dilation, "Conv2d")
        self.padding = padding if isinstance(padding, str) else _pair(padding, "padding", "Conv2d", 0)
        self.weight = Parameter(init.empty(out_channels, in_channels // groups, *self.kernel_size))
        if bias:
            self.bias = Parameter(init.empty(out_channels))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self):
        init.layer_default_(self.weight, self.bias)

    def forward(self, input):
        checks.floating(self, input)
        input = _as_tensor(input)
        options = _conv_options(self, input, self.weight, self.bias, self.stride, self._padding, self.dilation, self.groups)
        tensors = (input, self.weight) if self.bias is None else (input, self.weight, self.bias)
        return ops.Conv2d.apply(*tensors, **options)

    def extra_repr(self):
        text = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if self.padding != (0, 0):
            text += f", padding={self.padding}"
        if self.dilation != (1, 1):
            text += f", dilation={self.dilation}"
        if self.groups != 1:
            text += f", groups={self.groups}"
        if self.bias is None:
            text += ", bias=False"
        return text
