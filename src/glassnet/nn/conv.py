"""Convolution: a small filter slides over the image and, at every position, takes the
weighted sum of the pixels under it, so the same pattern detector is used everywhere.

The op is written as one matrix product (im2col): every receptive field of the input is
unfolded into a column, and the filters, flattened into rows, multiply all columns at
once. Its backward is two more matrix products and the adjoint of the unfolding
(col2im), which adds each column back onto the pixels it came from.
"""
import math

from ..backend import xp
from ..tensor import Function, Tensor
from . import checks, init
from .module import Module, Parameter

# -- input checks shared by the image layers (conv, pooling, batch norm) ------------------


def _name(who):
    """``who`` is a layer (named by its repr, e.g. ``Conv2d(1, 32, kernel_size=(3, 3), ...)``) or a function name."""
    return who._label() if isinstance(who, Module) else who


def check_images(who, shape, channels=None, channels_argument="in_channels"):
    """``shape`` must be a batch of images (N, C, H, W), with ``channels`` channels if given.

    The errors name the layer and the shapes, and guess the usual causes: a single image
    without its batch axis, flat images, channels stored last.
    """
    shape = tuple(shape)
    if len(shape) != 4:
        raise ValueError(f"{_name(who)}: expected a 4-D input (N, C, H, W), got shape {shape}{_four_d_hint(shape, channels)}")
    if channels is not None and shape[1] != channels:
        if shape[3] == channels:
            hint = f"; help: the channels seem to be last (N, H, W, C); move them with x.permute(0, 3, 1, 2)"
        else:
            hint = f"; help: if the images really have {shape[1]} channels, build the layer with {channels_argument}={shape[1]}"
        raise ValueError(f"{_name(who)}: expected input with {_plural(channels, 'channel')}, got {shape}{hint}")


def _four_d_hint(shape, channels):
    if len(shape) == 3 and channels not in (None, 1) and shape[0] == channels:
        return "; help: for a single image add a batch axis with x.unsqueeze(0)"
    if len(shape) == 3:
        return (
            "; help: a batch of one-channel images (N, H, W) needs a channel axis: x.unsqueeze(1); "
            "a single image (C, H, W) a batch axis: x.unsqueeze(0)"
        )
    if len(shape) == 2 and math.isqrt(shape[1]) ** 2 == shape[1]:
        side = math.isqrt(shape[1])
        return f"; help: the images look flattened; reshape them with x.reshape(-1, 1, {side}, {side})"
    return ""


def _plural(count, word):
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def _pair(value, argument, who, minimum):
    """An int or a pair of ints (height, width), each at least ``minimum``."""
    pair = (value, value) if isinstance(value, int) else tuple(value) if isinstance(value, (tuple, list)) else None
    if pair is None or len(pair) != 2 or not all(isinstance(v, int) and not isinstance(v, bool) for v in pair):
        raise ValueError(f"{who}: {argument} must be an int or a pair of ints (height, width), got {value!r}")
    if min(pair) < minimum:
        raise ValueError(f"{who}: {argument} must be at least {minimum}, got {value!r}")
    return pair


def _padding(padding, kernel_size, stride, dilation, who):
    """Padding as ((top, bottom), (left, right)). ``'same'`` keeps the size: the total
    dilation * (k - 1) is split with the odd pixel at the bottom/right, as in PyTorch."""
    if isinstance(padding, str):
        if padding == "valid":
            return ((0, 0), (0, 0))
        if padding != "same":
            raise ValueError(f"{who}: padding must be an int, a pair of ints, 'same' or 'valid', got {padding!r}")
        if stride != (1, 1):
            raise ValueError(
                f"{who}: padding='same' is not supported for strided convolutions (stride={stride}); "
                "help: give the padding as numbers"
            )
        totals = [d * (k - 1) for k, d in zip(kernel_size, dilation)]
        return tuple((t // 2, t - t // 2) for t in totals)
    if isinstance(padding, tuple) and all(isinstance(p, tuple) for p in padding):
        return padding  # already ((top, bottom), (left, right))
    ph, pw = _pair(padding, "padding", who, 0)
    return ((ph, ph), (pw, pw))


def output_size(size, kernel, stride, pad_before, pad_after, dilation):
    """How many positions a window of ``kernel`` (spread by ``dilation``) takes along an
    axis of ``size`` pixels padded by ``pad_before`` and ``pad_after``, moving by ``stride``."""
    span = dilation * (kernel - 1) + 1
    return (size + pad_before + pad_after - span) // stride + 1


# -- im2col and its adjoint ---------------------------------------------------------------
#
# The arrays inside are batch-last, (C, H, W, N) in memory. Then every slice taken below
# (one kernel offset across all windows) is made of runs of at least N adjacent numbers,
# which NumPy copies and adds at full speed; in (N, C, H, W) order the runs would be a
# few pixels of one image row. The op hands its result on as an (N, C, H, W) view of
# batch-last memory (a transpose, no copy): the shape and values are as always, and the
# next convolution, pooling or batch norm reads it in the fast order without copying.


def im2col(x, kernel_size, stride, padding, dilation):
    """Unfold every receptive field into a column: (N, C, H, W) -> (C * kh * kw, out_h * out_w * N).

    Row (c, i, j), column (y, x, n) holds x_padded[n, c, y * sh + i * dh, x * sw + j * dw].
    Rows are ordered as a weight (out, C, kh, kw) flattens, so that
    weight.reshape(out, -1) @ columns is the convolution, for every image at once.
    """
    (kh, kw), (sh, sw), (dh, dw) = kernel_size, stride, dilation
    (top, bottom), (left, right) = padding
    n, c, h, w = x.shape
    x_padded = xp.zeros((c, h + top + bottom, w + left + right, n), dtype=x.dtype)  # batch-last
    x_padded[:, top:top + h, left:left + w] = x.transpose(1, 2, 3, 0)  # a plain copy if x is batch-last already
    out_h, out_w = (output_size(size, k, s, 0, 0, d) for size, k, s, d in zip(x_padded.shape[1:3], kernel_size, stride, dilation))
    span = (dh * (kh - 1) + 1, dw * (kw - 1) + 1)
    windows = xp.lib.stride_tricks.sliding_window_view(x_padded, span, axis=(1, 2))  # a view, no copy
    windows = windows[:, : sh * (out_h - 1) + 1 : sh, : sw * (out_w - 1) + 1 : sw, :, ::dh, ::dw]  # (C, out_h, out_w, N, kh, kw)
    return windows.transpose(0, 4, 5, 1, 2, 3).reshape(c * kh * kw, -1)  # the copy that makes the columns


def col2im(columns, x_shape, kernel_size, stride, padding, dilation):
    """The adjoint of :func:`im2col`: add every column entry back onto the input pixel it
    was read from (a pixel in several windows collects several). One slice-add per kernel
    offset (i, j), each moving all windows of all images at once."""
    n, c, h, w = x_shape
    (kh, kw), (sh, sw), (dh, dw), ((top, bottom), (left, right)) = kernel_size, stride, dilation, padding
    out_h, out_w = output_size(h, kh, sh, top, bottom, dh), output_size(w, kw, sw, left, right, dw)
    columns = columns.reshape(c, kh, kw, out_h, out_w, n)
    grad = xp.zeros((c, h + top + bottom, w + left + right, n), dtype=columns.dtype)
    for i in range(kh):
        for j in range(kw):
            rows = slice(i * dh, i * dh + sh * (out_h - 1) + 1, sh)
            cols = slice(j * dw, j * dw + sw * (out_w - 1) + 1, sw)
            grad[:, rows, cols, :] += columns[:, i, j]
    return grad[:, top:top + h, left:left + w, :].transpose(3, 0, 1, 2)  # (N, C, H, W), batch-last memory


# -- the op ---------------------------------------------------------------------------------


class Conv2dFunction(Function):
    """out[n, o] = bias[o] + sum over c, i, j of weight[o, c, i, j] * x_padded[n, c, y*s + i*d, x*s + j*d],
    as one matrix product of the filters with the im2col columns of all images.

    With G groups, the C input channels and O filters split into G blocks; block g of
    the filters sees only block g of the channels (G = C: depthwise), a batch of G products.
    """

    def forward(self, x, weight, bias=None, stride=(1, 1), padding=((0, 0), (0, 0)), dilation=(1, 1), groups=1):
        out_channels, kernel_size = weight.shape[0], weight.shape[2:]
        columns = im2col(x, kernel_size, stride, padding, dilation)  # (C*kh*kw, L*N)
        columns = columns.reshape(groups, -1, columns.shape[-1])  # (G, C/G*kh*kw, L*N)
        filters = weight.reshape(groups, out_channels // groups, -1)  # (G, O/G, C/G*kh*kw)
        out_h = output_size(x.shape[2], kernel_size[0], stride[0], *padding[0], dilation[0])
        out = xp.matmul(filters, columns).reshape(out_channels, out_h, -1, x.shape[0])  # (O, out_h, out_w, N)
        if bias is not None:
            out += bias.reshape(-1, 1, 1, 1)
        self.columns, self.filters, self.x_shape, self.weight_shape = columns, filters, x.shape, weight.shape
        self.geometry, self.has_bias = (kernel_size, stride, padding, dilation), bias is not None
        return out.transpose(3, 0, 1, 2)  # (N, O, out_h, out_w), batch-last memory

    def backward(self, grad):
        x_needs, weight_needs = self.needs_input_grad[:2]
        groups, group_out = self.filters.shape[:2]
        # (G, O/G, L*N): no copy when grad is batch-last; a copy when it is not, or when it is
        # a broadcast view (as from sum()), which matmul could not hand to BLAS
        grad_t = xp.ascontiguousarray(grad.transpose(1, 2, 3, 0)).reshape(groups, group_out, -1)
        grad_x = grad_weight = grad_bias = None
        if weight_needs:  # every window's gradient times that window, summed over windows and images
            grad_weight = xp.matmul(grad_t, self.columns.swapaxes(-1, -2)).reshape(self.weight_shape)
        if x_needs:  # each column's gradient, then back onto the pixels it came from
            grad_columns = xp.matmul(self.filters.swapaxes(-1, -2), grad_t)  # (G, C/G*kh*kw, L*N)
            grad_x = col2im(grad_columns, self.x_shape, *self.geometry)
        if not self.has_bias:
            return grad_x, grad_weight
        if self.needs_input_grad[2]:
            grad_bias = grad_t.sum(axis=-1).reshape(-1)
        return grad_x, grad_weight, grad_bias


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """2-D convolution (strictly, cross-correlation, as in every deep-learning library)
    of a batch of images with a bank of filters.

    Args:
        input: images (N, C, H, W).
        weight: filters (O, C / groups, kh, kw).
        bias: (O,) or None.
        stride, padding, dilation: an int or a pair (height, width); padding may also be
            ``'valid'`` (none) or ``'same'`` (output as large as the input, stride 1 only).
        groups: split channels and filters into this many independent blocks.

    Shape: (N, C, H, W) -> (N, O, out_h, out_w), out = (H + 2 padding - dilation (k - 1) - 1) // stride + 1.

    >>> import glassnet as gn
    >>> image = gn.tensor([[[[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]]]])
    >>> gn.nn.functional.conv2d(image, gn.tensor([[[[1.0, 0.0], [0.0, -1.0]]]])).tolist()
    [[[[-4.0, -4.0], [-4.0, -4.0]]]]
    """
    input, weight = _as_tensor(input), _as_tensor(weight)
    bias = None if bias is None else _as_tensor(bias)
    options = _conv_options("conv2d", input, weight, bias, stride, padding, dilation, groups)
    tensors = (input, weight) if bias is None else (input, weight, bias)
    return Conv2dFunction.apply(*tensors, **options)


def _conv_options(who, input, weight, bias, stride, padding, dilation, groups):
    """Check the arguments of a convolution against each other; return the op's options."""
    name = _name(who)
    if weight.ndim != 4:
        raise ValueError(f"{name}: weight must be 4-D (out_channels, in_channels / groups, kh, kw), got shape {weight.shape}")
    if not isinstance(groups, int) or groups < 1:
        raise ValueError(f"{name}: groups must be a positive int, got {groups!r}")
    out_channels, group_channels, kh, kw = weight.shape
    if out_channels % groups:
        raise ValueError(f"{name}: the {out_channels} filters of weight {weight.shape} cannot be split into groups={groups}")
    check_images(who, input.shape, group_channels * groups)
    if bias is not None and bias.shape != (out_channels,):
        raise ValueError(f"{name}: bias must have shape ({out_channels},), one per filter, got {bias.shape}")
    for tensor in (weight, bias):
        if tensor is not None and tensor.dtype != input.dtype:
            raise TypeError(
                f"{name}: input of dtype {input.dtype} with parameters of dtype {tensor.dtype}; help: convert "
                "the input (x.float()) or the layer (.double()) so that they match"
            )
    stride, dilation = _pair(stride, "stride", name, 1), _pair(dilation, "dilation", name, 1)
    padding = _padding(padding, (kh, kw), stride, dilation, name)
    h, w = input.shape[2:]
    spans = (dilation[0] * (kh - 1) + 1, dilation[1] * (kw - 1) + 1)
    padded = (h + sum(padding[0]), w + sum(padding[1]))
    if padded[0] < spans[0] or padded[1] < spans[1]:
        raise ValueError(
            f"{name}: the kernel ({kh}x{kw}, spanning {spans[0]}x{spans[1]} pixels with dilation {dilation}) is larger than "
            f"the padded input ({padded[0]}x{padded[1]}: input {input.shape} with padding {padding}); help: use a smaller "
            "kernel or more padding, or feed larger images (earlier pooling may have shrunk them)"
        )
    return {"stride": stride, "padding": padding, "dilation": dilation, "groups": groups}


def _as_tensor(x):
    return x if isinstance(x, Tensor) else Tensor(x)


# -- the layer ----------------------------------------------------------------------------------


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
        return Conv2dFunction.apply(*tensors, **options)

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
