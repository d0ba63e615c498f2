"""Convolution: a small filter slides over the image and, at every position, takes the
weighted sum of the pixels under it, so the same pattern detector is used everywhere.

The layers own the filters; the computation is the op ``ops.Conv2d`` (one matrix product
of the filters with the unfolded image, im2col, or where numba is installed a compiled
loop that sums the taps straight from the image: ``glassnet/ops/conv.py``). ``Conv1d`` runs
it on sequences seen as images one row high; ``ConvTranspose2d`` runs ``ops.ConvTranspose2d``,
the convolution's gradient with respect to its input, which spreads each pixel over a patch
and so upsamples. The functional forms (``conv1d``, ``conv2d``, ``conv_transpose2d``), with
the argument checks the layers share, are in ``functional``.
"""
from .. import ops
from . import checks, init
from .functional import (
    _as_tensor, _check_output_padding, _conv1d, _conv_options, _conv_transpose_options, _padding, _sizes, check_images,
)
from .module import Module, Parameter

# -- what the layers share -----------------------------------------------------------------


class _ConvNd(Module):
    """What the convolution layers share, as PyTorch's ``_ConvNd``: the checks of their
    sizes, the filters and the bias with their initialization, and the repr. A subclass
    says over how many axes it slides (``dims``) and whether it is ``transposed``."""

    dims, transposed = 2, False

    def __init__(self, in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias, output_padding=0):
        super().__init__()
        kind = type(self).__name__
        for argument, value in (("in_channels", in_channels), ("out_channels", out_channels), ("groups", groups)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{kind}: {argument} must be a positive int, got {value!r}")
        for argument, value in (("in_channels", in_channels), ("out_channels", out_channels)):
            if value % groups:
                raise ValueError(
                    f"{kind}: {argument} must be divisible by groups, got {argument}={value} and groups={groups}; "
                    "help: each group takes an equal share of the input channels and of the filters"
                )
        self.in_channels, self.out_channels, self.groups = in_channels, out_channels, groups
        self.kernel_size = _sizes(kernel_size, self.dims, "kernel_size", kind, 1)
        self.stride = _sizes(stride, self.dims, "stride", kind, 1)
        self.dilation = _sizes(dilation, self.dims, "dilation", kind, 1)
        if self.transposed:  # numbers only: the padding of the convolution it inverts
            self.padding = _sizes(padding, self.dims, "padding", kind, 0)
            self.output_padding = _check_output_padding(kind, output_padding, self.stride, self.dilation)
        else:
            # kept as given ('same', 'valid' or numbers), as PyTorch shows it; the op gets (before, after) per axis
            self._padding = _padding(padding, self.kernel_size, self.stride, self.dilation, kind)
            self.padding = padding if isinstance(padding, str) else _sizes(padding, self.dims, "padding", kind, 0)
            self.output_padding = (0,) * self.dims
        # a transposed convolution's filters map its output channels back to its input's, as in PyTorch
        channels = (in_channels, out_channels // groups) if self.transposed else (out_channels, in_channels // groups)
        self.weight = Parameter(init.empty(*channels, *self.kernel_size))
        if bias:
            self.bias = Parameter(init.empty(out_channels))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self):
        init.layer_default_(self.weight, self.bias)

    def _tensors(self, input):
        return (input, self.weight) if self.bias is None else (input, self.weight, self.bias)

    def extra_repr(self):
        text = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if self.padding != (0,) * self.dims:
            text += f", padding={self.padding}"
        if self.dilation != (1,) * self.dims:
            text += f", dilation={self.dilation}"
        if self.output_padding != (0,) * self.dims:
            text += f", output_padding={self.output_padding}"
        if self.groups != 1:
            text += f", groups={self.groups}"
        if self.bias is None:
            text += ", bias=False"
        return text


# -- the layers ----------------------------------------------------------------------------


class Conv2d(_ConvNd):
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
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias)

    def forward(self, input):
        checks.floating(self, input)
        input = _as_tensor(input)
        options = _conv_options(self, input, self.weight, self.bias, self.stride, self._padding, self.dilation, self.groups)
        return ops.Conv2d.apply(*self._tensors(input), **options)


class Conv1d(_ConvNd):
    """1-D convolution over a batch of sequences (audio, text features, time series):
    ``out_channels`` filters of length ``kernel_size`` slide along the sequence. It is a
    Conv2d of images one row high: (N, C, L) is computed as (N, C, 1, L).

    Args:
        in_channels, out_channels: channels of the input and of the output.
        kernel_size, stride, dilation: an int (or a tuple of one).
        padding: an int, ``'valid'`` (no padding) or ``'same'`` (keep L; stride 1).
        groups: independent blocks of channels (``groups=in_channels``: depthwise).
        bias: whether to learn one additive bias per output channel.

    Shape: (N, in_channels, L) -> (N, out_channels, out_l), with
    out_l = (L + 2 padding - dilation (kernel_size - 1) - 1) // stride + 1.

    Parameters: ``weight`` (out_channels, in_channels / groups, kernel_size) and ``bias``
    (out_channels,), both uniform in ±1/sqrt(fan_in), fan_in = in_channels / groups * kernel_size,
    as in PyTorch.

    >>> import numpy as np
    >>> import glassnet as gn
    >>> gn.nn.Conv1d(16, 33, 3, stride=2)(gn.tensor(np.zeros((20, 16, 50), "float32"))).shape
    (20, 33, 24)
    """

    dims = 1

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1, bias=True):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias)

    def forward(self, input):
        checks.floating(self, input)
        input = _as_tensor(input)
        options = _conv_options(self, input, self.weight, self.bias, self.stride, self._padding, self.dilation, self.groups, dims=1)
        return _conv1d(input, self.weight, self.bias, options)


class ConvTranspose2d(_ConvNd):
    """2-D transposed convolution ("deconvolution"), the upsampling of decoders and U-Nets:
    each input pixel adds its value, times a filter, onto a ``kernel_size`` patch of the
    output, the patches ``stride`` pixels apart. It is the gradient of a Conv2d with respect
    to its input (a Conv2d with the same arguments maps the output's size back to the input's).

    Args:
        in_channels, out_channels: channels of the input and of the output.
        kernel_size, stride, dilation: an int or a pair (height, width).
        padding: an int or a pair: the pixels cropped from each side of the output (the
            padding of that Conv2d).
        output_padding: pixels added at the bottom and right (less than the stride or the
            dilation): a strided Conv2d maps several sizes onto one, and this picks among them.
        groups: independent blocks of channels.
        bias: whether to learn one additive bias per output channel.

    Shape: (N, in_channels, H, W) -> (N, out_channels, out_h, out_w), with
    out_h = (H - 1) stride - 2 padding + dilation (kh - 1) + output_padding + 1 (out_w alike).
    ``forward(input, output_size)`` chooses the output_padding that gives ``output_size``.

    Parameters: ``weight`` (in_channels, out_channels / groups, kh, kw), input channels
    first as in PyTorch, and ``bias`` (out_channels,), both uniform in ±1/sqrt(fan_in) with
    fan_in = out_channels / groups * kh * kw (PyTorch's fan_in of that weight's shape).

    >>> import numpy as np
    >>> import glassnet as gn
    >>> up = gn.nn.ConvTranspose2d(16, 8, 3, stride=2, padding=1, output_padding=1)
    >>> up(gn.tensor(np.zeros((4, 16, 7, 7), "float32"))).shape  # twice the size
    (4, 8, 14, 14)
    """

    transposed = True

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, output_padding=0, groups=1, bias=True,
                 dilation=1):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias, output_padding)

    def forward(self, input, output_size=None):
        checks.floating(self, input)
        input = _as_tensor(input)
        output_padding = self.output_padding if output_size is None else self._output_padding(input.shape, output_size)
        options = _conv_transpose_options(
            self, input, self.weight, self.bias, self.stride, self.padding, output_padding, self.groups, self.dilation
        )
        return ops.ConvTranspose2d.apply(*self._tensors(input), **options)

    def _output_padding(self, shape, output_size):
        """The output_padding that makes the output ``output_size``, (H, W) or the whole
        (N, C, H, W), as PyTorch's: from the smallest size to ``stride - 1`` more."""
        check_images(self, shape, self.in_channels)
        geometry = zip(shape[2:], self.kernel_size, self.stride, self.padding, self.dilation)
        smallest = tuple(ops.conv.transposed_size(size, k, s, p, p, d) for size, k, s, p, d in geometry)
        wanted = tuple(output_size)[-2:]
        output_padding = tuple(int(size) - low for size, low in zip(wanted, smallest))
        if len(tuple(output_size)) not in (2, 4) or not all(0 <= extra < s for extra, s in zip(output_padding, self.stride)):
            largest = tuple(low + s - 1 for low, s in zip(smallest, self.stride))
            raise ValueError(
                f"{self._label()}: output_size={tuple(output_size)} cannot be reached from an input {shape}: "
                f"the output's (H, W) can be from {smallest} to {largest}"
            )
        return output_padding
