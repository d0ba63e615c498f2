"""Pooling ops: max and average pooling over windows, and adaptive average pooling.

Max and average pooling walk the kernel offsets: for an offset (i, j), the pixel at that
place in every window is one strided slice of the input, so a k x k pooling is k * k
whole-array operations (and its backward as many slice-adds), never a loop over pixels.
The layers and functional forms in ``nn`` check the arguments and compute the output
size; the ops here receive them in normal form (pairs, ``out_size``).

Max pooling also reads plainly in :func:`max_pool2d_reference` (a running maximum of
tensors): ``with gn.reference_ops():`` runs it instead, and a test checks that they agree.
"""
from .. import compiled
from ..backend import empty_in_order, in_layout_of, memory_order, xp
from ..tensor import Function, Tensor
from ..threads import in_blocks
from .elementwise import Maximum

# -- windows -------------------------------------------------------------------------------


def _padding_after(shape, padding, kernel_size, stride, dilation, out_size):
    """The padding on the bottom and the right: as many pixels as the windows reach past
    the image (with ceil_mode the last window may hang over the edge)."""
    return tuple(
        max((out - 1) * s + d * (k - 1) + 1 - size - p, 0)  # pixels the windows cover, past the image
        for size, k, s, p, d, out in zip(shape[2:], kernel_size, stride, padding, dilation, out_size)
    )


def _padded(x, padding, kernel_size, stride, dilation, out_size, value):
    """``x`` padded with ``value``: ``padding`` pixels on the top and left, and on the bottom
    and right as many as the windows reach. The result keeps x's memory layout (batch-last
    after a convolution, see conv.py), so the walk below reads it in the fast order."""
    (top, left), (n, c, h, w) = padding, x.shape
    bottom, right = _padding_after(x.shape, padding, kernel_size, stride, dilation, out_size)
    if top == bottom == left == right == 0:
        return x
    padded = xp.full_like(x, value, shape=(n, c, top + h + bottom, left + w + right))
    padded[:, :, top:top + h, left:left + w] = x
    return padded


def _offset_slices(kernel_size, stride, dilation, out_size, channels=slice(None)):
    """For each kernel offset (i, j): its index i * kw + j and the slices that pick that
    offset's pixel from every window of the padded input (of the ``channels`` only)."""
    (kh, kw), (sh, sw), (dh, dw), (out_h, out_w) = kernel_size, stride, dilation, out_size
    for i in range(kh):
        for j in range(kw):
            rows = slice(i * dh, i * dh + sh * (out_h - 1) + 1, sh)
            cols = slice(j * dw, j * dw + sw * (out_w - 1) + 1, sw)
            yield i * kw + j, (slice(None), channels, rows, cols)


def _disjoint(kernel_size, stride, dilation):
    """Whether no two windows share a pixel (the window's span fits in one stride)."""
    return all(d * (k - 1) + 1 <= s for k, s, d in zip(kernel_size, stride, dilation))


def _tiled(padded_shape, kernel_size, stride, dilation, out_size):
    """Whether the windows tile the padded input: every pixel in exactly one window."""
    return all(d * (k - 1) + 1 == s and size == out * s
               for size, k, s, d, out in zip(padded_shape[2:], kernel_size, stride, dilation, out_size))


def _crop(grad_padded, padding, shape):
    """The gradient of the image itself: the padding's part is dropped."""
    h, w = shape[2:]
    return grad_padded[:, :, padding[0]:padding[0] + h, padding[1]:padding[1] + w]


# -- max pooling ---------------------------------------------------------------------------


class MaxPool2d(Function):
    """out = the largest pixel of each window; the gradient goes to that pixel alone (the
    first one, when several tie, as in PyTorch: after a ReLU whole windows are often 0).

    The forward is a running maximum over the kernel offsets. The backward walks the
    offsets in the same order and gives each window's gradient to the first offset whose
    pixel equals the maximum (cheaper than tracking the argmax during the forward, which
    inference would pay for too). Where numba is installed, batch-last float32 inputs go
    through compiled kernels instead (glassnet.compiled: kernels.max_pool_rows), which
    find the maximum and its place in one pass and keep the place (a byte per output) for
    the backward: no comparisons to redo, and not the input to keep.

    Reference: :func:`max_pool2d_reference` below, the running maximum of tensors; fused
    so that the maximum is taken in place in one array, and its backward is a slice-add
    per offset instead of a graph of k * k Maximum ops.
    """

    def forward(self, x, kernel_size, stride, padding, dilation, out_size):
        self.x_padded = _padded(x, padding, kernel_size, stride, dilation, out_size, -xp.inf)
        self.out = xp.empty_like(x, shape=x.shape[:2] + tuple(out_size))  # keeps x's memory layout (see conv.py)
        self.x_shape, self.geometry = x.shape, (kernel_size, stride, padding, dilation, out_size)
        x_t, out_t = self.x_padded.transpose(1, 2, 3, 0), self.out.transpose(1, 2, 3, 0)  # (C, H, W, N)
        if kernel_size[0] * kernel_size[1] < 256 and compiled.enabled() and x.dtype == xp.float32 \
                and x_t.flags.c_contiguous and out_t.flags.c_contiguous:
            self.argmax, self.padded_shape = xp.empty(out_t.shape, xp.uint8), self.x_padded.shape
            kernel = compiled.load().max_pool_rows

            def run(start, stop):
                kernel(x_t[start:stop], out_t[start:stop], self.argmax[start:stop], *kernel_size, *stride, *dilation)
            in_blocks(run, x.shape[1], self.x_padded[:, 0].nbytes)
            del self.x_padded  # the backward needs only where each maximum was
            return self.out
        in_blocks(self._forward, x.shape[1], self.x_padded[:, 0].nbytes)  # channels in parallel
        return self.out

    def _forward(self, start, stop):
        kernel_size, stride, _, dilation, out_size = self.geometry
        out = self.out[:, start:stop]
        for k, window in _offset_slices(kernel_size, stride, dilation, out_size, slice(start, stop)):
            if k == 0:
                out[...] = self.x_padded[window]
            else:
                xp.maximum(out, self.x_padded[window], out=out)

    def backward(self, grad):
        kernel_size, stride, padding, dilation, out_size = self.geometry
        grad = in_layout_of(self.out, grad)
        if "argmax" in self.__dict__:  # the compiled forward ran
            grad_t = xp.ascontiguousarray(grad.transpose(1, 2, 3, 0), dtype=xp.float32)
            n, c, h, w = self.padded_shape
            grad_padded = xp.empty((c, h, w, n), xp.float32)
            kernel = compiled.load().max_pool_backward_rows

            def run(start, stop):
                kernel(grad_t[start:stop], self.argmax[start:stop], grad_padded[start:stop], *kernel_size, *stride, *dilation)
            in_blocks(run, c, grad_padded[0].nbytes)
            return _crop(grad_padded.transpose(3, 0, 1, 2), padding, self.x_shape).astype(grad.dtype, copy=False)
        # every pixel is written when the windows tile the input, so nothing needs zeroing first
        tiled = _tiled(self.x_padded.shape, kernel_size, stride, dilation, out_size)
        grad_padded = (xp.empty_like if tiled else xp.zeros_like)(self.x_padded, dtype=grad.dtype)
        in_blocks(lambda start, stop: self._backward(slice(start, stop), grad, grad_padded), grad.shape[1],
                  self.x_padded[:, 0].nbytes)
        return _crop(grad_padded, padding, self.x_shape)

    def _backward(self, channels, grad, grad_padded):
        kernel_size, stride, _, dilation, out_size = self.geometry
        disjoint, found, grad, out = _disjoint(kernel_size, stride, dilation), None, grad[:, channels], self.out[:, channels]
        for _, window in _offset_slices(kernel_size, stride, dilation, out_size, channels):
            at_max = self.x_padded[window] == out
            if found is None:
                found = at_max
            else:  # True > False: the maximum is here, and no earlier offset had it
                at_max = at_max > found
                found |= at_max
            if disjoint:  # every pixel in one window at most: write, no need to add
                xp.multiply(grad, at_max, out=grad_padded[window])
            else:
                grad_padded[window] += grad * at_max


def max_pool2d_reference(x, kernel_size, stride, padding, dilation, out_size):
    """Max pooling from small tensor ops: pad with -inf (which never wins), then for each
    kernel offset take the pixel it sees in every window (one strided slice) and keep the
    running elementwise maximum. Where pixels tie, this splits the gradient among them
    while the fused op sends it all to the first; ties have probability 0 on random data.

    Shape: x (N, C, H, W) -> (N, C, out_h, out_w); the options are the fused op's, in pairs.

    >>> import glassnet as gn
    >>> image = gn.tensor([[[[1.0, 2.0, 5.0, 0.0], [3.0, 4.0, 1.0, 1.0]]]])
    >>> max_pool2d_reference(image, (2, 2), (2, 2), (0, 0), (1, 1), (1, 2)).tolist()
    [[[[4.0, 5.0]]]]
    """
    (kh, kw), (sh, sw), (dh, dw), (out_h, out_w) = kernel_size, stride, dilation, out_size
    (top, left), (n, c, h, w) = padding, x.shape
    bottom, right = _padding_after(x.shape, padding, kernel_size, stride, dilation, out_size)
    x_padded = Tensor(xp.full((n, c, top + h + bottom, left + w + right), -xp.inf, dtype=x.dtype))
    x_padded[:, :, top:top + h, left:left + w] = x  # item assignment: the gradient flows back to x
    out = None
    for i in range(kh):
        for j in range(kw):
            seen = x_padded[:, :, i * dh:i * dh + sh * (out_h - 1) + 1:sh, j * dw:j * dw + sw * (out_w - 1) + 1:sw]
            out = seen if out is None else Maximum.apply(out, seen)
    return out


MaxPool2d.reference = max_pool2d_reference


# -- average pooling -----------------------------------------------------------------------


class AvgPool2d(Function):
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


# -- adaptive average pooling --------------------------------------------------------------


def _averaging_matrix(size, out, dtype):
    """(out, size): row i averages pixels floor(i size / out) .. ceil((i + 1) size / out) - 1,
    PyTorch's adaptive windows (they may overlap by a pixel when out does not divide size)."""
    rows = xp.arange(out)
    start, end = (rows * size) // out, -((-(rows + 1) * size) // out)
    pixels = xp.arange(size)
    inside = (pixels[None, :] >= start[:, None]) & (pixels[None, :] < end[:, None])
    return (inside / (end - start)[:, None]).astype(dtype)


class AdaptiveAvgPool2d(Function):
    """Windows sized so the output is ``out_size`` whatever the input size. Each window is
    a rectangle of rows times columns, so the pooling is two small matrix products:
    out = A_rows @ x @ A_cols^T, and its backward A_rows^T @ grad @ A_cols. To one pixel (a
    ResNet's global pooling) it is the mean, and its backward a broadcast into an array of
    the input's layout, which the activation's backward before it reads without a copy;
    N * C stacked products of 1 x 7 matrices take 4-6 times as long (bench/RESULTS.md)."""

    def forward(self, x, out_size):
        if out_size == (1, 1):
            self.rows, self.x_shape, self.x_order = None, x.shape, memory_order(x)
            return x.mean(axis=(2, 3), keepdims=True, dtype=x.dtype)
        self.rows = _averaging_matrix(x.shape[2], out_size[0], x.dtype)
        self.cols = _averaging_matrix(x.shape[3], out_size[1], x.dtype)
        return xp.matmul(xp.matmul(self.rows, x), self.cols.T)

    def backward(self, grad):
        if self.rows is not None:
            return xp.matmul(xp.matmul(self.rows.T, grad), self.cols)
        height, width = self.x_shape[2:]
        return xp.multiply(grad, 1 / (height * width), out=empty_in_order(self.x_shape, self.x_order, grad.dtype))
