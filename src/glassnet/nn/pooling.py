"""Pooling: summarize each small window of an image by one number (its maximum or its
mean), so that the image shrinks and small shifts of a pattern matter less.

Max and average pooling walk the kernel offsets: for an offset (i, j), the pixel at that
place in every window is one strided slice of the input, so a k x k pooling is k * k
whole-array operations (and its backward as many slice-adds), never a loop over pixels.
"""
from ..backend import xp
from ..tensor import Function
from .conv import _as_tensor, _name, _pair, check_images
from .module import Module

# -- geometry ---------------------------------------------------------------------------


def _pool_output_size(size, kernel, stride, padding, dilation, ceil_mode):
    """PyTorch's rule: floor (or ceil) of the window count; with ceil_mode, a last window
    that would start in the right padding is dropped."""
    span = dilation * (kernel - 1) + 1
    out = (size + 2 * padding - span + (stride - 1 if ceil_mode else 0)) // stride + 1
    if ceil_mode and (out - 1) * stride >= size + padding:
        out -= 1
    return out


def _pool_arguments(name, kernel_size, stride, padding, dilation):
    """Check a pooling's hyperparameters; return them as pairs (height, width)."""
    kernel_size = _pair(kernel_size, "kernel_size", name, 1)
    stride = kernel_size if stride is None or stride == () else _pair(stride, "stride", name, 1)
    padding, dilation = _pair(padding, "padding", name, 0), _pair(dilation, "dilation", name, 1)
    if padding[0] > kernel_size[0] // 2 or padding[1] > kernel_size[1] // 2:
        raise ValueError(
            f"{name}: padding must be at most half the kernel size, got padding={padding} for kernel_size={kernel_size}; "
            "help: more padding would make windows of padding alone"
        )
    return kernel_size, stride, padding, dilation


def _pool_options(who, shape, kernel_size, stride, padding, dilation, ceil_mode):
    """Check a pooling's hyperparameters and the input shape; return the op's options."""
    name = _name(who)
    kernel_size, stride, padding, dilation = _pool_arguments(name, kernel_size, stride, padding, dilation)
    check_images(who, shape)
    out_size = tuple(
        _pool_output_size(size, k, s, p, d, ceil_mode)
        for size, k, s, p, d in zip(shape[2:], kernel_size, stride, padding, dilation)
    )
    if min(out_size) < 1:
        raise ValueError(
            f"{name}: the input {tuple(shape)} is too small for a {kernel_size[0]}x{kernel_size[1]} window "
            f"(dilation {dilation}, padding {padding}): the output would be {out_size[0]}x{out_size[1]}; "
            "help: pool less (a smaller kernel, fewer pooling layers) or feed larger images"
        )
    return {"kernel_size": kernel_size, "stride": stride, "padding": padding, "dilation": dilation, "out_size": out_size}


def _padded(x, padding, kernel_size, stride, dilation, out_size, value):
    """``x`` padded with ``value``: ``padding`` pixels on the top and left, and on the bottom
    and right as many as the windows reach (with ceil_mode the last window may hang over
    the padding). The result keeps x's memory layout (batch-last after a convolution, see conv.py)."""
    (top, left), (n, c, h, w) = padding, x.shape
    bottom, right = (
        max((out - 1) * s + d * (k - 1) + 1 - size - p, 0)  # pixels the windows cover, past the image
        for size, k, s, p, d, out in zip((h, w), kernel_size, stride, padding, dilation, out_size)
    )
    if top == bottom == left == right == 0:
        return x
    padded = xp.full_like(x, value, shape=(n, c, top + h + bottom, left + w + right))
    padded[:, :, top:top + h, left:left + w] = x
    return padded


def _offset_slices(kernel_size, stride, dilation, out_size):
    """For each kernel offset (i, j): its index i * kw + j and the slices that pick that
    offset's pixel from every window of the padded input."""
    (kh, kw), (sh, sw), (dh, dw), (out_h, out_w) = kernel_size, stride, dilation, out_size
    for i in range(kh):
        for j in range(kw):
            rows = slice(i * dh, i * dh + sh * (out_h - 1) + 1, sh)
            cols = slice(j * dw, j * dw + sw * (out_w - 1) + 1, sw)
            yield i * kw + j, (slice(None), slice(None), rows, cols)


# -- max pooling ----------------------------------------------------------------------------


class MaxPool2dFunction(Function):
    """out = the largest pixel of each window; the gradient goes to that pixel alone (the
    first one, when several tie, as in PyTorch: after a ReLU whole windows are often 0).

    The forward is a running maximum over the kernel offsets. The backward walks the
    offsets in the same order and gives each window's gradient to the first offset whose
    pixel equals the maximum (cheaper than tracking the argmax during the forward, which
    inference would pay for too).
    """

    def forward(self, x, kernel_size, stride, padding, dilation, out_size):
        x_padded = _padded(x, padding, kernel_size, stride, dilation, out_size, -xp.inf)
        out = None
        for _, window in _offset_slices(kernel_size, stride, dilation, out_size):
            if out is None:  # order "K": keep the input's memory layout (see conv.py)
                out = x_padded[window].copy(order="K")
            else:
                xp.maximum(out, x_padded[window], out=out)
        self.x_padded, self.out, self.x_shape = x_padded, out, x.shape
        self.geometry = (kernel_size, stride, padding, dilation, out_size)
        return out

    def backward(self, grad):
        kernel_size, stride, padding, dilation, out_size = self.geometry
        grad_padded = xp.zeros_like(self.x_padded, dtype=grad.dtype)
        disjoint, found = _disjoint(kernel_size, stride, dilation), None
        for _, window in _offset_slices(kernel_size, stride, dilation, out_size):
            at_max = self.x_padded[window] == self.out
            if found is None:
                found = at_max
            else:  # True > False: the maximum is here, and no earlier offset had it
                at_max = at_max > found
                found |= at_max
            if disjoint:  # every pixel in one window at most: write, no need to add
                xp.multiply(grad, at_max, out=grad_padded[window])
            else:
                grad_padded[window] += grad * at_max
        return _crop(grad_padded, padding, self.x_shape)


def _disjoint(kernel_size, stride, dilation):
    """Whether no two windows share a pixel (the window's span fits in one stride)."""
    return all(d * (k - 1) + 1 <= s for k, s, d in zip(kernel_size, stride, dilation))


def _crop(grad_padded, padding, shape):
    """The gradient of the image itself: the padding's part is dropped."""
    h, w = shape[2:]
    return grad_padded[:, :, padding[0]:padding[0] + h, padding[1]:padding[1] + w]


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
    """The maximum of each ``kernel_size`` window, moving by ``stride`` (default: the
    kernel size, so windows tile the image). Padding counts as -infinity.

    Shape: (N, C, H, W) -> (N, C, out_h, out_w), out = (H + 2 padding - dilation (k - 1) - 1) // stride + 1
    (rounded up with ``ceil_mode=True``).

    >>> import glassnet as gn
    >>> image = gn.tensor([[[[1.0, 2.0, 5.0, 0.0], [3.0, 4.0, 1.0, 1.0]]]])
    >>> gn.nn.functional.max_pool2d(image, 2).tolist()
    [[[[4.0, 5.0]]]]
    """
    input = _as_tensor(input)
    options = _pool_options("max_pool2d", input.shape, kernel_size, stride, padding, dilation, ceil_mode)
    return MaxPool2dFunction.apply(input, **options)


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
        return MaxPool2dFunction.apply(input, **options)

    def extra_repr(self):
        return (
            f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
            f"dilation={self.dilation}, ceil_mode={self.ceil_mode}"
        )


# -- average pooling ---------------------------------------------------------------------------


class AvgPool2dFunction(Function):
    """out = the sum of each window divided by ``divisor`` (a number, or one per output
    position); each pixel of a window receives gradient / divisor."""

    def forward(self, x, kernel_size, stride, padding, dilation, out_size, divisor):
        x_padded = _padded(x, padding, kernel_size, stride, dilation, out_size, 0)
        out = None
        for _, window in _offset_slices(kernel_size, stride, dilation, out_size):
            if out is None:  # order "K": keep the input's memory layout (see conv.py)
                out = x_padded[window].copy(order="K")
            else:
                out += x_padded[window]
        self.divisor = xp.asarray(divisor, dtype=x.dtype)
        self.x, self.padded_shape = x, x_padded.shape
        self.geometry = (kernel_size, stride, padding, dilation, out_size)
        out /= self.divisor
        return out

    def backward(self, grad):
        kernel_size, stride, padding, dilation, out_size = self.geometry
        share = grad / self.divisor
        grad_padded = xp.zeros_like(self.x, dtype=grad.dtype, shape=self.padded_shape)
        disjoint = _disjoint(kernel_size, stride, dilation)
        for _, window in _offset_slices(kernel_size, stride, dilation, out_size):
            if disjoint:  # every pixel in one window at most: write, no need to add
                grad_padded[window] = share
            else:
                grad_padded[window] += share
        return _crop(grad_padded, padding, self.x.shape)


def _avg_divisor(shape, options, count_include_pad, divisor_override):
    """PyTorch's divisor: the window's pixels inside the padded image (or, without
    ``count_include_pad``, inside the image itself); a window hanging past the padding
    (ceil_mode) counts only the part within."""
    if divisor_override is not None:
        return divisor_override
    counts = []
    for size, k, s, p, out in zip(shape[2:], options["kernel_size"], options["stride"], options["padding"], options["out_size"]):
        start = xp.arange(out) * s - p
        end = xp.minimum(start + k, size + p)
        if not count_include_pad:
            start, end = xp.maximum(start, 0), xp.minimum(end, size)
        counts.append(end - start)
    divisor = counts[0][:, None] * counts[1][None, :]
    return divisor.flat[0] if (divisor == divisor.flat[0]).all() else divisor


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True, divisor_override=None):
    """The mean of each ``kernel_size`` window, moving by ``stride`` (default: the kernel
    size). Padding adds zeros; ``count_include_pad`` says whether they count in the mean.

    Shape: (N, C, H, W) -> (N, C, out_h, out_w), out = (H + 2 padding - k) // stride + 1
    (rounded up with ``ceil_mode=True``).

    >>> import glassnet as gn
    >>> image = gn.tensor([[[[1.0, 2.0, 5.0, 0.0], [3.0, 4.0, 1.0, 1.0]]]])
    >>> gn.nn.functional.avg_pool2d(image, 2).tolist()
    [[[[2.5, 1.75]]]]
    """
    input = _as_tensor(input)
    options = _avg_options("avg_pool2d", input.shape, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override)
    return AvgPool2dFunction.apply(input, **options)


def _check_divisor(name, divisor_override):
    if divisor_override is not None and (not isinstance(divisor_override, int) or divisor_override < 1):
        raise ValueError(f"{name}: divisor_override must be a positive int, got {divisor_override!r}")


def _avg_options(who, shape, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override):
    _check_divisor(_name(who), divisor_override)
    options = _pool_options(who, shape, kernel_size, stride, padding, 1, ceil_mode)
    options["divisor"] = _avg_divisor(shape, options, count_include_pad, divisor_override)
    return options


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
        return AvgPool2dFunction.apply(input, **options)

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


# -- adaptive average pooling -------------------------------------------------------------------


def _averaging_matrix(size, out, dtype):
    """(out, size): row i averages pixels floor(i size / out) .. ceil((i + 1) size / out) - 1,
    PyTorch's adaptive windows (they may overlap by a pixel when out does not divide size)."""
    rows = xp.arange(out)
    start, end = (rows * size) // out, -((-(rows + 1) * size) // out)
    pixels = xp.arange(size)
    inside = (pixels[None, :] >= start[:, None]) & (pixels[None, :] < end[:, None])
    return (inside / (end - start)[:, None]).astype(dtype)


class AdaptiveAvgPool2dFunction(Function):
    """Windows sized so the output is ``out_size`` whatever the input size. Each window is
    a rectangle of rows times columns, so the pooling is two small matrix products:
    out = A_rows @ x @ A_cols^T, and its backward A_rows^T @ grad @ A_cols."""

    def forward(self, x, out_size):
        self.rows = _averaging_matrix(x.shape[2], out_size[0], x.dtype)
        self.cols = _averaging_matrix(x.shape[3], out_size[1], x.dtype)
        return xp.matmul(xp.matmul(self.rows, x), self.cols.T)

    def backward(self, grad):
        return xp.matmul(xp.matmul(self.rows.T, grad), self.cols)


def adaptive_avg_pool2d(input, output_size):
    """Average pooling to a fixed ``output_size`` (an int, or a pair whose None entries
    keep the input's size); ``output_size=1`` is global average pooling.

    Shape: (N, C, H, W) -> (N, C, *output_size).

    >>> import glassnet as gn
    >>> image = gn.tensor([[[[1.0, 2.0, 5.0, 0.0], [3.0, 4.0, 1.0, 1.0]]]])
    >>> gn.nn.functional.adaptive_avg_pool2d(image, (1, 2)).tolist()
    [[[[2.5, 1.75]]]]
    """
    input = _as_tensor(input)
    return AdaptiveAvgPool2dFunction.apply(input, out_size=_adaptive_size("adaptive_avg_pool2d", input.shape, output_size))


def _adaptive_size(who, shape, output_size):
    sizes = (output_size, output_size) if output_size is None or isinstance(output_size, int) else tuple(output_size)
    if len(sizes) != 2 or not all(s is None or (isinstance(s, int) and s >= 1) for s in sizes):
        raise ValueError(
            f"{_name(who)}: output_size must be a positive int or a pair of them (None keeps a side), got {output_size!r}"
        )
    check_images(who, shape)
    return tuple(shape[2 + axis] if s is None else s for axis, s in enumerate(sizes))


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
        return AdaptiveAvgPool2dFunction.apply(input, out_size=_adaptive_size(self, input.shape, self.output_size))

    def extra_repr(self):
        return f"output_size={self.output_size}"
