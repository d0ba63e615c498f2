"""Convolution as one matrix product (im2col): every receptive field of the input is
unfolded into a column, and the filters, flattened into rows, multiply all columns at
once. Its backward is two more matrix products and the adjoint of the unfolding
(col2im), which adds each column back onto the pixels it came from.

The same convolution reads plainly in :func:`conv2d_reference` (a loop over kernel offsets
of small tensor ops): ``with gn.reference_ops():`` runs it instead, and a test checks
that the two agree in values and gradients.

The transposed convolution (``ConvTranspose2d``, ``conv_transpose2d_reference``) runs the
same two steps the other way: the filters' product, then col2im; it is the convolution's
gradient with respect to its input, used as a forward (to upsample).

The layers ``nn.Conv2d``, ``nn.Conv1d`` (a conv2d of images one row high) and
``nn.ConvTranspose2d`` and their functional forms check the arguments and call the ops
here with them in normal form (pairs, explicit padding).
"""
from .. import compiled
from ..backend import xp
from ..tensor import Function, Tensor
from ..threads import in_blocks, job_address, pool_blocks
from .matmul import Einsum, _add_to_rows, _rows_product
from .movement import stack

# -- geometry ------------------------------------------------------------------------------


def output_size(size, kernel, stride, pad_before, pad_after, dilation):
    """How many positions a window of ``kernel`` (spread by ``dilation``) takes along an
    axis of ``size`` pixels padded by ``pad_before`` and ``pad_after``, moving by ``stride``."""
    span = dilation * (kernel - 1) + 1
    return (size + pad_before + pad_after - span) // stride + 1


def transposed_size(size, kernel, stride, pad_before, pad_after, dilation):
    """The inverse of :func:`output_size`: the pixels along an axis that ``size`` windows
    cover, less the padding (a transposed convolution's output)."""
    return (size - 1) * stride - pad_before - pad_after + dilation * (kernel - 1) + 1


# -- im2col and its adjoint ---------------------------------------------------------------
#
# The arrays inside are batch-last, (C, H, W, N) in memory. Then every slice taken below
# (one kernel offset across all windows) is made of runs of at least N adjacent numbers,
# which NumPy copies and adds at full speed; in (N, C, H, W) order the runs would be a
# few pixels of one image row. The op hands its result on as an (N, C, H, W) view of
# batch-last memory (a transpose, no copy): the shape and values are as always, and the
# next convolution, pooling or batch norm reads it in the fast order without copying.


def padded_batch_last(x, padding):
    """x (N, C, H, W) with zeros around each image, in batch-last memory: (C, top + H +
    bottom, left + W + right, N). A plain copy, blocked over channels, if x is batch-last."""
    return padded_in_phases(x, padding, 1)[:, :, 0]


def padded_in_phases(x, padding, phases):
    """x padded as :func:`padded_batch_last` pads it, each row's columns dealt into
    ``phases`` groups: (C, top + H + bottom, phases, W', N), where [c, y, p, q] is padded
    column q * phases + p (zeros past the last). At a stride of ``phases`` the pixels a
    kernel tap reads across all windows of a row are then consecutive columns of one
    phase: one run of adjacent numbers, as at stride 1 (the direct convolution's kernels
    read such runs)."""
    (top, bottom), (left, right) = padding
    n, c, h, w = x.shape
    x_phased = xp.empty((c, h + top + bottom, phases, -(-(left + w + right) // phases), n), dtype=x.dtype)

    def copy(start, stop):  # a block of channels; the blocks run on all threads at once
        block = x_phased[start:stop]
        block[:, :top] = block[:, top + h:] = 0  # only the border is zeroed: a pass less over the inside
        source = x[:, start:stop].transpose(1, 2, 3, 0)  # (C, H, W, N)
        for p in range(phases):
            first = max(0, -((p - left) // phases))  # the first q whose column q * phases + p is a pixel of x
            columns = source[:, :, first * phases + p - left::phases]
            block[:, top:top + h, p, :first] = block[:, top:top + h, p, first + columns.shape[2]:] = 0
            block[:, top:top + h, p, first:first + columns.shape[2]] = columns

    in_blocks(copy, c, x_phased[0].nbytes)
    return x_phased


def im2col(x, kernel_size, stride, padding, dilation):
    """Unfold every receptive field into a column: (N, C, H, W) -> (C * kh * kw, out_h * out_w * N).

    Row (c, i, j), column (y, x, n) holds x_padded[n, c, y * sh + i * dh, x * sw + j * dw].
    Rows are ordered as a weight (out, C, kh, kw) flattens, so that
    weight.reshape(out, -1) @ columns is the convolution, for every image at once.
    A negative bottom or right padding leaves that many last rows or columns unread.
    """
    (kh, kw), (sh, sw), (dh, dw) = kernel_size, stride, dilation
    (top, bottom), (left, right) = padding
    if bottom < 0 or right < 0:  # a transposed convolution's output_padding beyond its padding
        x = x[:, :, :x.shape[2] + min(bottom, 0), :x.shape[3] + min(right, 0)]
        bottom, right = max(bottom, 0), max(right, 0)
    if top == bottom == left == right == 0:  # the windows read x as it lies: no padded copy to make
        x_padded = x.transpose(1, 2, 3, 0)
    else:
        x_padded = padded_batch_last(x, ((top, bottom), (left, right)))
    c, n = x_padded.shape[0], x_padded.shape[3]
    out_h, out_w = (output_size(size, k, s, 0, 0, d) for size, k, s, d in zip(x_padded.shape[1:3], kernel_size, stride, dilation))
    span = (dh * (kh - 1) + 1, dw * (kw - 1) + 1)
    columns = xp.empty((c, kh, kw, out_h, out_w, n), dtype=x.dtype)

    def unfold(start, stop):  # a block of channels; the blocks run on all threads at once
        windows = xp.lib.stride_tricks.sliding_window_view(x_padded[start:stop], span, axis=(1, 2))  # a view, no copy
        windows = windows[:, : sh * (out_h - 1) + 1 : sh, : sw * (out_w - 1) + 1 : sw, :, ::dh, ::dw]  # (C, out_h, out_w, N, kh, kw)
        columns[start:stop] = windows.transpose(0, 4, 5, 1, 2, 3)  # the copy that makes the columns

    in_blocks(unfold, c, columns[0].nbytes)
    return columns.reshape(c * kh * kw, -1)


def col2im(columns, x_shape, kernel_size, stride, padding, dilation):
    """The adjoint of :func:`im2col`: add every column entry back onto the input pixel it
    was read from (a pixel in several windows collects several). One slice-add per kernel
    offset (i, j), each moving all windows of all images at once. The rows and columns that
    a negative bottom or right padding leaves unread get zeros."""
    n, c, h, w = x_shape
    (kh, kw), (sh, sw), (dh, dw), ((top, bottom), (left, right)) = kernel_size, stride, dilation, padding
    out_h, out_w = output_size(h, kh, sh, top, bottom, dh), output_size(w, kw, sw, left, right, dw)
    columns = columns.reshape(c, kh, kw, out_h, out_w, n)
    grad = xp.empty((c, top + h + max(bottom, 0), left + w + max(right, 0), n), dtype=columns.dtype)

    def fold(start, stop):  # a block of channels; the blocks run on all threads at once
        block = grad[start:stop]
        block[...] = 0
        for i in range(kh):
            for j in range(kw):
                rows = slice(i * dh, i * dh + sh * (out_h - 1) + 1, sh)
                cols = slice(j * dw, j * dw + sw * (out_w - 1) + 1, sw)
                block[:, rows, cols, :] += columns[start:stop, i, j]

    in_blocks(fold, c, columns[0].nbytes)
    return grad[:, top:top + h, left:left + w, :].transpose(3, 0, 1, 2)  # (N, C, H, W), batch-last memory


# -- the direct convolution (compiled) ------------------------------------------------------
#
# The columns cost memory: 9 floats per input float for a 3x3 kernel (25 for 5x5), written,
# read by the product, kept for the backward pass and read again. Where numba is installed,
# a compiled kernel (glassnet.compiled: kernels.conv2d_rows) sums the taps straight from
# the padded input instead, and the weight's gradient (kernels.conv2d_weight_grad) reads
# the input, padded again, in the backward pass: the op keeps its input, as PyTorch does,
# and never makes the columns. At a stride that skips pixels the padded copy deals each
# row's columns into the stride's phases (padded_in_phases), so that the kernels read runs
# of adjacent numbers as at stride 1. At stride 1 the input's gradient is a convolution too: of
# the output's gradient, padded by the kernel's reach less the padding, with the filters
# flipped and their inputs and outputs swapped. A 3x3 kernel at stride 1 (a ResNet's) goes
# by Winograd's F(2x2, 3x3) where it pays: 4 multiplies per output and channel where the
# direct sum makes 9, or by F(4x4, 3x3), 2.25 (``winograd_conv`` below;
# ``conv2d_winograd_reference`` is the same from tensor ops). The im2col path above
# stays: the NumPy version, and the one for groups, 1x1 kernels and everything else the
# kernels do not take.


def takes_direct(x, weight, stride, padding, groups):
    """Whether the compiled direct convolution takes this one: float32, one group, a kernel
    wider than a pixel (a 1x1 convolution's columns are its input: nothing to save), and
    no negative padding."""
    return (groups == 1 and weight.shape[2] * weight.shape[3] > 1 and x.dtype == weight.dtype == xp.float32
            and min(*padding[0], *padding[1]) >= 0 and compiled.enabled())


def _in_rows(x_phased, kernel_width, dilation):
    """The kernels' view of an input from :func:`padded_in_phases`: its rows (C, H, W' N),
    and where in a row each kernel tap's run of pixels starts."""
    channels, height, phases, width, batch = x_phased.shape
    taps = [((j * dilation) % phases) * width * batch + (j * dilation) // phases * batch for j in range(kernel_width)]
    return x_phased.reshape(channels, height, -1), xp.array(taps, dtype=xp.int64)


def direct_conv(x, padding, weight, out_size, stride, dilation, bias=None):
    """The convolution of x (N, C, H, W), padded, with filters (O, C, kh, kw), plus the
    bias (O,) if given: (O, out_h, out_w, N), batch-last; four filters at a time, split over
    the threads. x is copied padded into the stride's phases (:func:`padded_in_phases`).
    The 3x3 convolutions that pay go to :func:`winograd_conv` instead."""
    filters = weight.shape[0]
    bias = xp.zeros(filters, x.dtype) if bias is None else xp.ascontiguousarray(bias, dtype=x.dtype)
    if takes_winograd(x, weight, stride, dilation):
        return winograd_conv(x, padding, weight, out_size, bias)
    weight = xp.ascontiguousarray(weight)
    rows, taps = _in_rows(padded_in_phases(x, padding, stride[1]), weight.shape[3], dilation[1])
    out = xp.empty((filters, *out_size, x.shape[0]), dtype=x.dtype)
    kernel = compiled.load().conv2d_rows

    def run(start, stop):  # four filters per item
        kernel(rows, weight, bias, out, 4 * start, min(4 * stop, filters), stride[0], dilation[0], taps)

    # a multiply-add weighs as a byte of a pass
    _conv_in_blocks("CONV_DIRECT", run, -(-filters // 4), 4 * out[0].nbytes * weight[0].size, (rows, weight, bias, out),
                    (stride[0], dilation[0], 0), taps)
    return out


_NOTHING = xp.zeros((1, 1, 1, 1), xp.float32)  # an array a job is not given


def _conv_in_blocks(which, run, count, item_bytes, arrays, numbers, taps=None):
    """``run(start, stop)`` over range(count) on all threads, ``item_bytes`` the work of an
    item: as the pool's job (compiled/kernels.py, ``conv_job``: kernel ``which`` on the
    four arrays, the numbers and taps) where the pool runs and the arrays are C-ordered
    float32, without the executor's wake-up; else in blocks on the executor."""
    blocks = pool_blocks(count * item_bytes)
    if blocks > 1 and all(a.flags.c_contiguous and a.dtype == xp.float32 for a in arrays):
        kernels = compiled.load()
        taps = xp.zeros(0, xp.int64) if taps is None else taps
        return kernels.run_conv(job_address("conv"), getattr(kernels, which), count, blocks, *arrays, taps, *numbers)
    in_blocks(run, count, item_bytes)


# Winograd's F(2x2, 3x3) and F(4x4, 3x3) (compiled/kernels.py: conv3x3_winograd and
# conv3x3_winograd4) take the 3x3 convolutions at stride 1 where they pay (bench/RESULTS.md,
# issue 11): their transforms cost a pass per channel and per filter that the direct sum
# does not make, which a few channels do not repay, and they work in runs of 64 images (a
# batch of 32 would fill half of one).
WINOGRAD_MIN_CHANNELS, WINOGRAD_MIN_BATCH = 8, 48


def winograd_block(out_size):
    """4, F(4x4, 3x3) (compiled/kernels.py: conv3x3_winograd4), where its 4x4 blocks cover
    the output with no more pixels than 2x2 blocks do (a 28x28 or 7x7 output); else 2: on
    14x14 the larger blocks' wasted rows cost what their fewer multiplies save."""
    return 4 if all(-(-size // 4) * 4 == -(-size // 2) * 2 for size in out_size) else 2


def takes_winograd(x, weight, stride, dilation):
    """Whether :func:`winograd_conv` takes a convolution the direct kernel would."""
    return (weight.shape[2:] == (3, 3) and tuple(stride) == tuple(dilation) == (1, 1)
            and weight.shape[1] >= WINOGRAD_MIN_CHANNELS and x.shape[0] >= WINOGRAD_MIN_BATCH)


def winograd_conv(x, padding, weight, out_size, bias):
    """The 3x3 convolution at stride 1 of x (N, C, H, W), padded, by Winograd's F(2x2, 3x3)
    or F(4x4, 3x3) (:func:`winograd_block`): (O, out_h, out_w, N), batch-last; rows of
    blocks split over the threads. The kernel reads x's batch-last memory as it lies (a
    copy only if it lies otherwise) and never makes the padding: the loads that fall in it
    read nothing."""
    (top, _), (left, _) = padding
    n, c, h, w = x.shape
    rows = xp.ascontiguousarray(x.transpose(1, 2, 3, 0)).reshape(c, h, w * n)  # no copy after a convolution
    kernels, block, chunks = compiled.load(), winograd_block(out_size), -(-n // 64)
    transform, kernel, job = ((kernels.winograd4_filters, kernels.conv3x3_winograd4, "CONV_WINOGRAD4") if block == 4
                              else (kernels.winograd_filters, kernels.conv3x3_winograd, "CONV_WINOGRAD"))
    filters, out = xp.empty(((block + 2) ** 2, c, len(weight)), dtype=x.dtype), xp.empty((len(weight), *out_size, n), x.dtype)
    transform(weight, filters)

    def run(first, last):  # rows of blocks, in runs of 64 images
        kernel(rows, filters, bias, out, first, last, chunks, top, left)

    _conv_in_blocks(job, run, -(-out_size[0] // block) * chunks,
                    4 * out[0, :block].nbytes * weight[0].size // chunks, (rows, filters, bias, out), (chunks, top, left))
    return out


def direct_weight_grad(x, padding, grad, weight_shape, stride, dilation):
    """The filters' gradient from the input x (N, C, H, W), padded as :func:`direct_conv`
    pads it, and the output's gradient (O, out_h, out_w, N), batch-last; four filters at a
    time, split over the threads."""
    grad_weight = xp.empty(weight_shape, dtype=grad.dtype)
    rows, taps = _in_rows(padded_in_phases(x, padding, stride[1]), weight_shape[3], dilation[1])
    kernel = compiled.load().conv2d_weight_grad

    def run(start, stop):  # four filters per item
        kernel(rows, grad, grad_weight, 4 * start, min(4 * stop, weight_shape[0]), stride[0], dilation[0], taps)

    _conv_in_blocks("CONV_WEIGHT_GRAD", run, -(-weight_shape[0] // 4), 4 * grad[0].nbytes * grad_weight[0].size,
                    (rows, grad, grad_weight, grad_weight), (stride[0], dilation[0], 0), taps)
    return grad_weight


def direct_input_grad(grad, weight, x_shape, padding, dilation):
    """At stride 1, the input's gradient (N, C, H, W) as the convolution above; None when
    the padding is wider than the kernel's reach (NumPy's col2im then takes it)."""
    (kh, kw), (dh, dw), ((top, bottom), (left, right)) = weight.shape[2:], dilation, padding
    reach_h, reach_w = dh * (kh - 1), dw * (kw - 1)
    grad_padding = ((reach_h - top, reach_h - bottom), (reach_w - left, reach_w - right))
    if min(*grad_padding[0], *grad_padding[1]) < 0:
        return None
    flipped = weight[:, :, ::-1, ::-1].transpose(1, 0, 2, 3)  # (C, O, kh, kw)
    grad_x = direct_conv(grad, grad_padding, flipped, x_shape[2:], (1, 1), dilation)
    return grad_x.transpose(3, 0, 1, 2)  # (N, C, H, W), batch-last memory


# -- windows that tile the image ---------------------------------------------------------
#
# A kernel as large as its stride (a vision transformer's patch embedding) reads every
# pixel once: its columns are the pixels rearranged, one row per tile, and the convolution
# is the rows' product with the filters, as a Linear layer's. Its output is then rows of
# tokens, (N, out_h, out_w, O) in memory, which a transformer flattens into its sequence
# without a copy (batch-last memory would have to be transposed into rows there).


def tiles_the_image(kernel_size, stride, padding, dilation, groups):
    """Whether each pixel lies in exactly one window: kernel == stride (wider than a
    pixel), no padding, no dilation, one group."""
    return (tuple(kernel_size) == tuple(stride) and kernel_size[0] * kernel_size[1] > 1 and groups == 1
            and tuple(padding) == ((0, 0), (0, 0)) and tuple(dilation) == (1, 1))


def tiles(x, kernel_size, out_size):
    """The tiles of x (N, C, H, W), one row each: (N * out_h * out_w, C * kh * kw), a row's
    entries ordered as a weight (O, C, kh, kw) flattens (pixels past the last tile unread)."""
    (kh, kw), (out_h, out_w), (n, c) = kernel_size, out_size, x.shape[:2]
    x = x[:, :, :out_h * kh, :out_w * kw]
    if compiled.enabled() and x.dtype == xp.float32 and x.strides[-1] == x.itemsize:
        # compiled, a run of kw pixels at a time, in blocks of images on all threads: the
        # rows each thread makes are those it multiplies next (Conv2d.forward), in its own
        # cache (a vision transformer's patches: 70 + 67 us made by NumPy -> 30 + 67 made
        # on one thread, whose rows the other core then fetches -> ...)
        columns = xp.empty((n, out_h, out_w, c * kh * kw), xp.float32)
        kernel = compiled.load().image_tiles
        _conv_in_blocks("CONV_TILES", lambda start, stop: kernel(x[start:stop], kh, kw, columns[start:stop].reshape(-1, c * kh * kw)),
                        n, 2 * columns[0].nbytes, (x, _NOTHING, _NOTHING, columns), (kh, kw, 0))
        return columns.reshape(n * out_h * out_w, c * kh * kw)
    x = x.reshape(n, c, out_h, kh, out_w, kw)
    return x.transpose(0, 2, 4, 1, 3, 5).reshape(n * out_h * out_w, c * kh * kw)


def untiled(rows, x_shape, kernel_size):
    """The adjoint of :func:`tiles`: each row back onto its tile's pixels (zeros past the last)."""
    (n, c, h, w), (kh, kw) = x_shape, kernel_size
    out_h, out_w = h // kh, w // kw
    image = rows.reshape(n, out_h, out_w, c, kh, kw).transpose(0, 3, 1, 4, 2, 5).reshape(n, c, out_h * kh, out_w * kw)
    return image if image.shape[2:] == (h, w) else xp.pad(image, ((0, 0), (0, 0), (0, h - out_h * kh), (0, w - out_w * kw)))


# -- the op --------------------------------------------------------------------------------


class Conv2d(Function):
    """out[n, o] = bias[o] + sum over c, i, j of weight[o, c, i, j] * x_padded[n, c, y*s + i*d, x*s + j*d],
    as one matrix product of the filters with the im2col columns of all images, or (where
    numba is installed) by the direct kernel above; windows that tile the image are one
    product of the tiles, as a Linear layer's.

    With G groups, the C input channels and O filters split into G blocks; block g of
    the filters sees only block g of the channels (G = C: depthwise), a batch of G products.

    Reference: :func:`conv2d_reference` below, the same sum as a loop over kernel offsets;
    fused because one large matrix product runs at BLAS speed where kh * kw small ones
    would each pay for a pass over the input.
    """

    def forward(self, x, weight, bias=None, stride=(1, 1), padding=((0, 0), (0, 0)), dilation=(1, 1), groups=1):
        out_channels, kernel_size = weight.shape[0], weight.shape[2:]
        axes = zip(x.shape[2:], kernel_size, stride, padding, dilation)
        out_size = tuple(output_size(size, k, s, before, after, d) for size, k, s, (before, after), d in axes)
        self.filters = weight.reshape(groups, out_channels // groups, -1)  # (G, O/G, C/G*kh*kw)
        self.x_shape, self.weight_shape = x.shape, weight.shape
        self.geometry, self.has_bias = (kernel_size, stride, padding, dilation), bias is not None
        self.tiled = tiles_the_image(kernel_size, stride, padding, dilation, groups)
        if self.tiled:  # rows of tokens, (N, out_h, out_w, O) in memory
            columns = tiles(x, kernel_size, out_size)
            self.columns, out = (columns if self.needs_input_grad[1] else None), _rows_product(
                columns, self.filters[0], bias, of_weight=True)
            return out.reshape(x.shape[0], *out_size, out_channels).transpose(0, 3, 1, 2)
        self.direct = takes_direct(x, weight, stride, padding, groups)
        if self.direct:
            out = direct_conv(x, padding, weight, out_size, stride, dilation, bias)
            # the input as it came (memory the layer before keeps anyway), padded again in backward
            self.x, self.weight = (x if self.needs_input_grad[1] else None), weight
        else:
            columns = im2col(x, kernel_size, stride, padding, dilation)  # (C*kh*kw, L*N)
            self.columns = columns.reshape(groups, -1, columns.shape[-1])  # (G, C/G*kh*kw, L*N)
            out = xp.matmul(self.filters, self.columns).reshape(out_channels, *out_size, x.shape[0])  # (O, out_h, out_w, N)
            if bias is not None:
                out += bias.reshape(-1, 1, 1, 1)
        return out.transpose(3, 0, 1, 2)  # (N, O, out_h, out_w), batch-last memory

    def backward(self, grad):
        if self.tiled:
            return self._tiled_backward(grad)
        x_needs, weight_needs = self.needs_input_grad[:2]
        groups, group_out = self.filters.shape[:2]
        kernel_size, stride, padding, dilation = self.geometry
        # (G, O/G, L*N): no copy when grad is batch-last; a copy when it is not, or when it is
        # a broadcast view (as from sum()), which matmul could not hand to BLAS
        grad_t = xp.ascontiguousarray(grad.transpose(1, 2, 3, 0)).reshape(groups, group_out, -1)
        grad_x = grad_weight = grad_bias = None
        if weight_needs and self.direct:
            grad_weight = direct_weight_grad(self.x, padding, grad_t.reshape(grad.shape[1:] + grad.shape[:1]),
                                             self.weight_shape, stride, dilation)
        elif weight_needs:  # every window's gradient times that window, summed over windows and images
            grad_weight = xp.matmul(grad_t, self.columns.swapaxes(-1, -2)).reshape(self.weight_shape)
        if x_needs and self.direct and stride == (1, 1):
            grad_x = direct_input_grad(grad, self.weight, self.x_shape, padding, dilation)
        if x_needs and grad_x is None:  # each column's gradient, then back onto the pixels it came from
            grad_columns = xp.matmul(self.filters.swapaxes(-1, -2), grad_t)  # (G, C/G*kh*kw, L*N)
            grad_x = col2im(grad_columns, self.x_shape, *self.geometry)
        if not self.has_bias:
            return grad_x, grad_weight
        if self.needs_input_grad[2]:
            grad_bias = grad_t.sum(axis=-1).reshape(-1)
        return grad_x, grad_weight, grad_bias

    def _tiled_backward(self, grad):
        """The backward of a Linear layer over the tiles (no copy when grad is in rows of tokens)."""
        x_needs, weight_needs = self.needs_input_grad[:2]
        rows = xp.ascontiguousarray(grad.transpose(0, 2, 3, 1)).reshape(-1, grad.shape[1])  # (N * L, O)
        grad_x = untiled(rows @ self.filters[0], self.x_shape, self.geometry[0]) if x_needs else None
        grad_weight = (rows.T @ self.columns).reshape(self.weight_shape) if weight_needs else None
        if not self.has_bias:
            return grad_x, grad_weight
        return grad_x, grad_weight, rows.sum(axis=0) if self.needs_input_grad[2] else None


# -- the reference ---------------------------------------------------------------------


def conv2d_reference(x, weight, bias=None, stride=(1, 1), padding=((0, 0), (0, 0)), dilation=(1, 1), groups=1):
    """The convolution as its formula reads, from small tensor ops: for each kernel offset
    (i, j), the pixel that offset sees in every window is one strided slice of the padded
    input; contract it with the filters' weights at (i, j) and sum over the offsets.

    Shape: x (N, C, H, W), weight (O, C / groups, kh, kw), bias (O,) or None -> (N, O, out_h, out_w).

    >>> import glassnet as gn
    >>> image = gn.tensor([[[[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]]]])
    >>> conv2d_reference(image, gn.tensor([[[[1.0, 0.0], [0.0, -1.0]]]])).tolist()
    [[[[-4.0, -4.0], [-4.0, -4.0]]]]
    """
    (n, c, h, w), (out_channels, _, kh, kw) = x.shape, weight.shape
    (top, bottom), (left, right), (sh, sw), (dh, dw) = *padding, stride, dilation
    x_padded = Tensor(xp.zeros((n, c, top + h + bottom, left + w + right), dtype=x.dtype))
    x_padded[:, :, top:top + h, left:left + w] = x  # item assignment: the gradient flows back to x
    out_h, out_w = output_size(h, kh, sh, top, bottom, dh), output_size(w, kw, sw, left, right, dw)
    # G independent blocks: images (N, G, C/G, H, W) and filters (G, O/G, C/G, kh, kw)
    x_padded = x_padded.reshape(n, groups, c // groups, *x_padded.shape[2:])
    weight = weight.reshape(groups, out_channels // groups, c // groups, kh, kw)
    out = 0
    for i in range(kh):
        for j in range(kw):
            seen = x_padded[..., i * dh:i * dh + sh * (out_h - 1) + 1:sh, j * dw:j * dw + sw * (out_w - 1) + 1:sw]
            out = out + Einsum.apply(seen, weight[..., i, j], equation="ngcyx,goc->ngoyx")
    out = out.reshape(n, out_channels, out_h, out_w)
    return out if bias is None else out + bias.reshape(-1, 1, 1)


Conv2d.reference = conv2d_reference

# Winograd's F(2x2, 3x3) (Lavin and Gray, 2015): a 4x4 tile d of the input, transformed
# (B^T d B), times a 3x3 filter g transformed (G g G^T), point by point, summed over the
# channels and transformed back (A^T M A), is the filter's 2x2 block of outputs there.
# F(4x4, 3x3) does the same from 6x6 tiles (interpolating at 0, 1, -1, 2, -2, infinity).
WINOGRAD_B_T = [[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]]
WINOGRAD_G = [[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]]
WINOGRAD_A_T = [[1, 1, 1, 0], [0, 1, -1, -1]]
WINOGRAD4_B_T = [[4, 0, -5, 0, 1, 0], [0, -4, -4, 1, 1, 0], [0, 4, -4, -1, 1, 0], [0, -2, -1, 2, 1, 0],
                 [0, 2, -1, -2, 1, 0], [0, 4, 0, -5, 0, 1]]
WINOGRAD4_G = [[1 / 4, 0, 0], [-1 / 6, -1 / 6, -1 / 6], [-1 / 6, 1 / 6, -1 / 6], [1 / 24, 1 / 12, 1 / 6],
               [1 / 24, -1 / 12, 1 / 6], [0, 0, 1]]
WINOGRAD4_A_T = [[1, 1, 1, 1, 1, 0], [0, 1, -1, 2, -2, 0], [0, 1, 1, 4, 4, 0], [0, 1, -1, 8, -8, 1]]
WINOGRAD_MATRICES = {2: (WINOGRAD_B_T, WINOGRAD_G, WINOGRAD_A_T), 4: (WINOGRAD4_B_T, WINOGRAD4_G, WINOGRAD4_A_T)}


def conv2d_winograd_reference(x, weight, bias=None, padding=((1, 1), (1, 1)), block=2):
    """The 3x3 convolution at stride 1 by Winograd's F(2x2, 3x3) (``block=2``) or F(4x4,
    3x3) (``block=4``), from tensor ops, as the compiled kernels (``conv3x3_winograd``,
    ``conv3x3_winograd4``) compute it: the padded input cut into tiles of block + 2 pixels,
    ``block`` apart, one per block of outputs (the last tiles of an output that blocks do
    not divide read zeros past it), and the three transforms as einsums.

    Shape: x (N, C, H, W), weight (O, C, 3, 3), bias (O,) or None -> (N, O, out_h, out_w).

    >>> import glassnet as gn
    >>> image = gn.tensor([[[[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]]]])
    >>> conv2d_winograd_reference(image, gn.ones(1, 1, 3, 3), padding=((0, 0), (0, 0)), block=4).tolist()
    [[[[45.0]]]]
    """
    if tuple(weight.shape[2:]) != (3, 3) or block not in WINOGRAD_MATRICES:
        raise ValueError(f"conv2d_winograd_reference: F(2x2, 3x3) and F(4x4, 3x3) take 3x3 filters and block 2 or 4, "
                         f"got a weight of shape {weight.shape} and block {block}")
    (n, c, h, w), ((top, bottom), (left, right)) = x.shape, padding
    out_h, out_w = h + top + bottom - 2, w + left + right - 2
    rows, columns = block * -(-out_h // block), block * -(-out_w // block)  # the outputs, in whole blocks
    x_padded = Tensor(xp.zeros((n, c, rows + 2, columns + 2), dtype=x.dtype))
    x_padded[:, :, top:top + h, left:left + w] = x
    tiles = stack([stack([x_padded[:, :, i:i + rows:block, j:j + columns:block] for j in range(block + 2)], -1)
                   for i in range(block + 2)], -2)
    b_t, g, a_t = (Tensor(xp.array(m, dtype=x.dtype)) for m in WINOGRAD_MATRICES[block])
    points = Einsum.apply(b_t, tiles, b_t, equation="ai,ncyxij,bj->ncyxab")  # V = B^T d B
    filters = Einsum.apply(g, weight, g, equation="ai,ocij,bj->ocab")  # U = G g G^T
    sums = Einsum.apply(points, filters, equation="ncyxab,ocab->noyxab")  # M: U V, summed over the channels
    blocks = Einsum.apply(a_t, sums, a_t, equation="pa,noyxab,qb->noypxq")  # A^T M A: (N, O, rows/b, b, columns/b, b)
    out = blocks.reshape(n, len(weight), rows, columns)[:, :, :out_h, :out_w]
    return out if bias is None else out + bias.reshape(-1, 1, 1)


# -- the transposed convolution ------------------------------------------------------------


class ConvTranspose2d(Function):
    """The transposed convolution: the gradient of :class:`Conv2d` with respect to its input,
    run forward. Each input pixel adds its value, times the kernel, onto a kh x kw patch of
    the output, the patches ``stride`` pixels apart: out = col2im(W^T x). So its backward
    is a conv2d forward (the input's gradient) and a product with the columns (the weight's).

    ``weight`` is (C, O / G, kh, kw), and ``stride``, ``padding``, ``dilation``, ``groups``
    are those of the conv2d from O channels back to C that this op inverts; PyTorch's
    ``output_padding`` is taken off that convolution's bottom and right padding, which may
    then be negative: output rows past every patch (zeros, and the bias).

    Reference: :func:`conv_transpose2d_reference` below, the same sum as a loop over kernel
    offsets; fused, as Conv2d, because one large matrix product runs at BLAS speed where
    kh * kw small ones would each pay for a pass over the output.
    """

    def forward(self, x, weight, bias=None, stride=(1, 1), padding=((0, 0), (0, 0)), dilation=(1, 1), groups=1):
        (in_channels, group_out), kernel_size = weight.shape[:2], weight.shape[2:]
        axes = zip(x.shape[2:], kernel_size, stride, padding, dilation)
        out_size = [transposed_size(size, k, s, before, after, d) for size, k, s, (before, after), d in axes]
        self.x_shape, self.weight_shape, self.has_bias = x.shape, weight.shape, bias is not None
        self.geometry = (kernel_size, stride, padding, dilation)
        # (G, C/G, H*W*N), batch-last: no copy when x is a convolution's output
        self.x_t = xp.ascontiguousarray(x.transpose(1, 2, 3, 0)).reshape(groups, in_channels // groups, -1)
        self.filters = weight.reshape(groups, in_channels // groups, -1)  # (G, C/G, O/G*kh*kw)
        columns = xp.matmul(self.filters.swapaxes(-1, -2), self.x_t)  # each pixel's patch, weighted: (G, O/G*kh*kw, H*W*N)
        out = col2im(columns, (x.shape[0], group_out * groups, *out_size), *self.geometry)  # batch-last memory
        if bias is not None:
            out += bias.reshape(-1, 1, 1)
        return out

    def backward(self, grad):
        x_needs, weight_needs = self.needs_input_grad[:2]
        grad_x = grad_weight = grad_bias = None
        if x_needs or weight_needs:  # the windows of the output's gradient that each input pixel's patch covered
            columns = im2col(grad, *self.geometry)  # (O*kh*kw, H*W*N)
            columns = columns.reshape(self.filters.shape[0], -1, columns.shape[-1])  # (G, O/G*kh*kw, H*W*N)
        if x_needs:  # conv2d's forward of grad
            n, c, h, w = self.x_shape
            grad_x = xp.matmul(self.filters, columns).reshape(c, h, w, n).transpose(3, 0, 1, 2)
        if weight_needs:
            grad_weight = xp.matmul(self.x_t, columns.swapaxes(-1, -2)).reshape(self.weight_shape)
        if not self.has_bias:
            return grad_x, grad_weight
        if self.needs_input_grad[2]:
            grad_bias = grad.sum(axis=(0, 2, 3))
        return grad_x, grad_weight, grad_bias


def conv_transpose2d_reference(x, weight, bias=None, stride=(1, 1), padding=((0, 0), (0, 0)), dilation=(1, 1), groups=1):
    """The transposed convolution as its formula reads: input pixel (y, x) adds its value
    times weight[c, o, i, j] onto output pixel (y * s + i * d, x * s + j * d) of the padded
    output. For each kernel offset (i, j) the pixels it reaches are one strided slice of
    that output: add the input, contracted with the weights at (i, j), there; then cut the
    padding away.

    Shape: x (N, C, H, W), weight (C, O / groups, kh, kw), bias (O,) or None -> (N, O, out_h, out_w).

    >>> import glassnet as gn
    >>> pixels = gn.tensor([[[[1.0, 2.0]]]])
    >>> conv_transpose2d_reference(pixels, gn.tensor([[[[1.0, 10.0]]]])).tolist()
    [[[[1.0, 12.0, 20.0]]]]
    """
    (n, c, h, w), (_, group_out, kh, kw) = x.shape, weight.shape
    (top, bottom), (left, right), (sh, sw), (dh, dw) = *padding, stride, dilation
    out_h, out_w = transposed_size(h, kh, sh, top, bottom, dh), transposed_size(w, kw, sw, left, right, dw)
    # the padded output, tall and wide enough for output_padding's rows past every patch
    padded = Tensor(xp.zeros((n, groups, group_out, top + out_h + max(bottom, 0), left + out_w + max(right, 0)), x.dtype))
    x = x.reshape(n, groups, c // groups, h, w)
    weight = weight.reshape(groups, c // groups, group_out, kh, kw)
    for i in range(kh):
        for j in range(kw):
            reached = (Ellipsis, slice(i * dh, i * dh + sh * (h - 1) + 1, sh), slice(j * dw, j * dw + sw * (w - 1) + 1, sw))
            padded[reached] = padded[reached] + Einsum.apply(x, weight[..., i, j], equation="ngcyx,gco->ngoyx")
    out = padded[..., top:top + out_h, left:left + out_w].reshape(n, groups * group_out, out_h, out_w)
    return out if bias is None else out + bias.reshape(-1, 1, 1)


ConvTranspose2d.reference = conv_transpose2d_reference
