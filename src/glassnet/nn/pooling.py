"""Pooling: summarize each small window of an image by one number (its maximum or its
mean), so that the image shrinks and small shifts of a pattern matter less.

The layers here call the ops of ``glassnet/ops/pool.py``; the functional forms
(``max_pool2d``, ``avg_pool2d``, ``adaptive_avg_pool2d``) and the argument checks they
share with the layers are in ``functional``.
"""
from .. import ops
from .functional import _adaptive_size, _as_tensor, _avg_options, _check_divisor, _pool_arguments, _pool_options
from .module import Module

# -- max pooling ---------------------------------------------------------------------------


class MaxPool2d(Module):
    """Max pooling over ``kernel_size`` windows of each channel.

    Args:
        kernel_size: an int or a pair (height, width).
        stride: the step between windows (default: ``kernel_size``).
        padding: pixels of -infinity added on each side (at most half the kernel).
        dilation: spacing between the pixels of a window.
        ceil_mode: round the output size up, so the last partial window counts.

    Shape: (N, C, H, W) -> (N, C, out_h, out_w), see :func:`max_pool2d`.

    >>> import numpy as np
    >>> import glassnet as gn
    >>> gn.nn.MaxPool2d(2)(gn.tensor(np.zeros((8, 32, 28, 28), "float32"))).shape
    (8, 32, 14, 14)
    """

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
        super().__init__()
        self.kernel_size, self.stride = kernel_size, kernel_size if stride is None else stride
        self.padding, self.dilation, self.ceil_mode = padding, dilation, ceil_mode
        _pool_arguments("MaxPool2d", kernel_size, stride, padding, dilation)  # wrong ones fail here, not at the first batch

    def forward(self, input):
        input = _as_tensor(input)
        options = _pool_options(self, input.shape, self.kernel_size, self.stride, self.padding, self.dilation, self.ceil_mode)
        return ops.MaxPool2d.apply(input, **options)

    def extra_repr(self):
        return (
            f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
            f"dilation={self.dilation}, ceil_mode={self.ceil_mode}"
        )


# -- average pooling -----------------------------------------------------------------------


class AvgPool2d(Module):
    """Average pooling over ``kernel_size`` windows of each channel.

    Args:
        kernel_size: an int or a pair (height, width).
        stride: the step between windows (default: ``kernel_size``).
        padding: zeros added on each side (at most half the kernel).
        ceil_mode: round the output size up, so the last partial window counts.
        count_include_pad: whether the padding zeros count in each mean.
        divisor_override: divide every window sum by this number instead.

    Shape: (N, C, H, W) -> (N, C, out_h, out_w), see :func:`avg_pool2d`.

    >>> import numpy as np
    >>> import glassnet as gn
    >>> gn.nn.AvgPool2d(2)(gn.tensor(np.zeros((8, 6, 28, 28), "float32"))).shape
    (8, 6, 14, 14)
    """

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True, divisor_override=None):
        super().__init__()
        self.kernel_size, self.stride = kernel_size, kernel_size if stride is None else stride
        self.padding, self.ceil_mode = padding, ceil_mode
        self.count_include_pad, self.divisor_override = count_include_pad, divisor_override
        _pool_arguments("AvgPool2d", kernel_size, stride, padding, 1)  # wrong ones fail here, not at the first batch
        _check_divisor("AvgPool2d", divisor_override)

    def forward(self, input):
        input = _as_tensor(input)
        options = _avg_options(
            self, input.shape, self.kernel_size, self.stride, self.padding, self.ceil_mode,
            self.count_include_pad, self.divisor_override,
        )
        return ops.AvgPool2d.apply(input, **options)

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


# -- adaptive average pooling --------------------------------------------------------------


class AdaptiveAvgPool2d(Module):
    """Average pooling to a fixed output size, whatever the input size; ``AdaptiveAvgPool2d(1)``
    is the global average pooling at the end of modern CNNs.

    Shape: (N, C, H, W) -> (N, C, *output_size).

    >>> import numpy as np
    >>> import glassnet as gn
    >>> gn.nn.AdaptiveAvgPool2d((1, 1))(gn.tensor(np.zeros((8, 64, 7, 7), "float32"))).shape
    (8, 64, 1, 1)
    """

    def __init__(self, output_size):
        super().__init__()
        self.output_size = output_size
        _adaptive_size("AdaptiveAvgPool2d", (1, 1, 1, 1), output_size)  # a wrong one fails here, not at the first batch

    def forward(self, input):
        input = _as_tensor(input)
        return ops.AdaptiveAvgPool2d.apply(input, out_size=_adaptive_size(self, input.shape, self.output_size))

    def extra_repr(self):
        return f"output_size={self.output_size}"
