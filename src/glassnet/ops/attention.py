"""The attention core: each position asks a question (its query), compares it with every
position's key, and takes the average of their values weighted by how well they match.

    weights = softmax(query @ key^T * scale + mask)        (N, heads, L, S)
    output  = weights @ value                              (N, heads, L, d)

It exists twice: composed from tensor ops (:func:`attention_reference`, readable, and used
when the weights are returned) and fused into one op (:class:`Attention`, used otherwise);
a test checks they agree. ``mask`` is an additive array (0 where attention is allowed,
-inf where not), a constant; a query that may attend to nothing gets zero weights and a
zero output (not NaN), as in PyTorch's ``scaled_dot_product_attention``.
"""
import math

from .. import compiled, random
from ..backend import empty_in_order, empty_like_stacked, memory_order, xp
from ..threads import in_blocks, job_address, pool_blocks
from ..tensor import Function, Tensor, unbroadcast
from .elementwise import where


def _dropout_keep(shape, p, generator):
    """The kept entries, drawn as :func:`glassnet.nn.functional.dropout` draws them, so
    that the fused and the composed attention drop the same weights for the same seed."""
    return (generator or random.generator()).random(shape, dtype=xp.float32) >= p


def attention_reference(query, key, value, mask=None, scale=None, dropout_p=0.0, generator=None):
    """The attention core composed from tensor ops; returns ``(output, weights)``, the
    weights after dropout and part of the graph (gradients flow through both).

    Shape: query (..., L, E), key (..., S, E), value (..., S, Ev), ``mask`` an additive
    array broadcastable to (..., L, S) -> output (..., L, Ev), weights (..., L, S).
    """
    scale = 1 / math.sqrt(query.shape[-1]) if scale is None else scale
    scores = (query * scale) @ key.transpose(-2, -1)
    if mask is not None:
        scores = scores + Tensor(mask)
    # a query masked from every key would be softmax(-inf, ..., -inf) = NaN: give it no weights
    attends_nowhere = xp.isneginf(scores._data).all(axis=-1, keepdims=True)
    if attends_nowhere.any():
        scores = where(attends_nowhere, 0.0, scores)
    weights = scores.softmax(dim=-1)
    if attends_nowhere.any():
        weights = where(attends_nowhere, 0.0, weights)
    if dropout_p > 0:
        keep = _dropout_keep(weights.shape, dropout_p, generator)
        keep_scale = xp.asarray(0.0 if dropout_p == 1 else 1 / (1 - dropout_p), dtype=weights.dtype)
        weights = weights * Tensor(keep * keep_scale)
    return weights @ value, weights


def _softmax_in_place(scores, mask, rows, keys):
    """softmax(scores + mask) along the last axis over the block scores[..., rows, keys]
    (the rest untouched), in the scores' own memory; rows that may attend nowhere (every
    entry -inf) end up all zero. The compiled kernel does each row in one pass where NumPy
    makes seven; it adds a mask of one or L rows itself."""
    length, size = scores.shape[-2:]
    if mask is not None and not (mask.ndim == 2 and mask.shape[1] == size and mask.shape[0] in (1, length)):
        scores += mask  # any other mask that broadcasts (one block only, see _blocks): added here
        mask = None
    if compiled.fits(scores) and (mask is None or compiled.fits(mask)):
        no_mask = xp.zeros((1, 1), xp.float32)
        compiled.load().softmax_rows(scores.reshape(-1, length, size), no_mask if mask is None else mask,
                                     mask is not None, *rows.indices(length)[:2], keys.indices(size)[1])
        return
    block = scores[..., rows, keys]
    if mask is not None:
        block += mask[rows if len(mask) == length else slice(None), keys]
    row_max = block.max(axis=-1, keepdims=True)
    row_max[xp.isneginf(row_max)] = 0
    block -= row_max
    xp.exp(block, out=block)
    total = block.sum(axis=-1, keepdims=True)
    total[total == 0] = 1
    block /= total


def _blocks(mask, length, size):
    """The blocks (queries, keys) of the scores to compute, as slices: the whole; or where a
    (length, size) mask hides the last quarter of the keys or more from the first half of
    the queries (a causal mask hides half), the second half of the queries with every key
    and the first half with only those it may see. The scores that no query could use are
    then never computed, as flash attention skips its masked blocks. The first block has
    every key."""
    if mask is None or mask.shape != (length, size) or length < 2:
        return [(slice(None), slice(None))]
    half = length // 2
    seen = xp.flatnonzero(~xp.isneginf(mask[:half]).all(axis=0))  # keys some query of the first half may see
    keys = max(1, int(seen[-1]) + 1 if len(seen) else 0)
    if keys > size - max(1, size // 4):  # too few hidden to be worth two blocks (short rows: none)
        return [(slice(None), slice(None))]
    return [(slice(half, None), slice(None)), (slice(0, half), slice(0, keys))]


def _into(out, a, b, add):
    """out = a @ b for the first block of the scores; out += a @ b when ``add``, for a later
    block (whose keys are among the first's)."""
    if not add:
        return xp.matmul(a, b, out=out)
    out += a @ b


def _batched(array, lead):
    """``array`` (..., r, c) broadcast to the leading shape ``lead`` (a view), with one
    leading axis at least, along which the work is cut into blocks."""
    array = xp.broadcast_to(array, lead + array.shape[-2:])
    return array if lead else array[None]


class Attention(Function):
    """softmax(q k^T * scale + mask) v, with dropout on the weights, as one op.

    Fused so that the (N, heads, L, S) scores are masked and normalized in place, in one
    array where the composed ops make about five, and the softmax backward takes its row
    sums from the smaller output (see ``_backward_block``). The batch is cut along its
    first axis into one block per thread, each block's products on one core (BLAS is set
    to one thread meanwhile): NumPy's stacked products of small matrices keep only one core
    busy, and two BLAS threads on each small product in turn lose more than they gain.
    Where the mask hides the later keys from the first half of the queries (a causal
    mask does), those scores are never computed (``_blocks``).
    Long rows that a mask hides a quarter of (a gpt's causal ones, see _compiled_widths)
    go to compiled kernels instead, one head at a time, whose scores stay in the cache;
    the NumPy blocks are their readable twin and take every other case.
    ``mask`` is an additive array (no gradient).
    """

    def forward(self, query, key, value, mask=None, scale=1.0, dropout_p=0.0, generator=None):
        self.shapes = (query.shape, key.shape, value.shape)
        self.lead = xp.broadcast_shapes(query.shape[:-2], key.shape[:-2], value.shape[:-2])
        # the inputs themselves are kept for backward (alive anyway), as views
        self.query, self.key, self.value = (_batched(a, self.lead) for a in (query, key, value))
        # a NumPy float64 scale would make every query block float64 (NumPy 2 promotion)
        self.scale, self.keep, self.keep_scale = float(scale), None, None
        count, length, size = self.query.shape[0], query.shape[-2], key.shape[-2]
        self.blocks = _blocks(mask, length, size)
        self.weights = xp.empty((count,) + self.query.shape[1:-1] + (size,), xp.result_type(query, key))
        self.dropped = self.weights
        if dropout_p > 0:
            self.keep = _dropout_keep(self.weights.shape, dropout_p, generator)
            self.keep_scale = xp.asarray(0.0 if dropout_p == 1 else 1 / (1 - dropout_p), dtype=self.weights.dtype)
            self.dropped = xp.empty_like(self.weights)
        if mask is not None and mask.ndim > 2:
            mask = _batched(mask, self.lead)  # its blocks are cut as the scores' are
        # the output, and in backward each input's gradient, laid out as the query (as that
        # input): heads made from a projection's rows go back into rows without a copy
        self.out = empty_in_order(self.weights.shape[:-1] + self.value.shape[-1:], memory_order(self.query),
                                  xp.result_type(self.weights, value))
        self.widths = _compiled_widths(self.query, self.key, self.value, mask) if self.keep is None else None
        if self.keep is None and not any(self.needs_input_grad) and _short_rows(self.query, self.key, self.value, mask):
            return self._short_rows_forward(mask)
        in_blocks(lambda start, stop: self._forward_block(slice(start, stop), mask), count, self.weights[0].nbytes,
                  calls_blas=self.widths is None)
        return self.out.reshape(self.lead + self.out.shape[-2:])

    def _short_rows_forward(self, mask):
        """At inference, rows of a few keys (a vision transformer's 17): sixteen heads in
        the lanes (compiled.kernels.attention_short_rows), blocks of the batch on the pool."""
        compiled.load().run_attention_short_rows(
            job_address("attention_short_rows"), *_four_d(self.query, self.key, self.value),
            xp.zeros((1, self.key.shape[-2]), xp.float32) if mask is None else mask, self.scale, *_four_d(self.out),
            pool_blocks(self.weights.nbytes))
        return self.out.reshape(self.lead + self.out.shape[-2:])

    def _forward_block(self, b, mask):
        if self.widths is not None:  # the compiled kernel, one head at a time; weights kept for a backward
            return compiled.load().attention_forward(
                *_four_d(self.query[b], self.key[b], self.value[b]), mask, xp.float32(self.scale), self.widths,
                *_four_d(self.weights[b]), True in self.needs_input_grad, *_four_d(self.out[b]))
        weights, dropped, mask = self.weights[b], self.dropped[b], mask if mask is None or mask.ndim <= 2 else mask[b]
        for rows, keys in self.blocks:
            xp.matmul(self.query[b][..., rows, :] * self.scale, xp.swapaxes(self.key[b][..., keys, :], -1, -2),
                      out=weights[..., rows, keys])
            _softmax_in_place(weights, mask, rows, keys)
            if self.keep is not None:
                xp.multiply(weights[..., rows, keys], self.keep[b][..., rows, keys] * self.keep_scale,
                            out=dropped[..., rows, keys])
            xp.matmul(dropped[..., rows, keys], self.value[b][..., keys, :], out=self.out[b][..., rows, :])

    def backward(self, grad):
        grad = _batched(grad, self.lead)
        inputs = (self.query, self.key, self.value)  # q, k and v of one projection: their gradients in one buffer
        grads = [g if needs else None for g, needs in zip(
            empty_like_stacked(inputs, grad.dtype), self.needs_input_grad)]
        fused = self.widths is not None and all(self.needs_input_grad) and grad.dtype == xp.float32
        grad = xp.ascontiguousarray(grad) if fused and grad.strides[-1] != 4 else grad  # a broadcast one, of a sum
        block = self._compiled_backward_block if fused else self._backward_block
        in_blocks(lambda start, stop: block(slice(start, stop), grad, *grads), len(grad), self.weights[0].nbytes,
                  calls_blas=not fused)
        return tuple(None if g is None else unbroadcast(g.reshape(self.lead + g.shape[-2:]), shape)
                     for g, shape in zip(grads, self.shapes))

    def _backward_block(self, b, grad, grad_query, grad_key, grad_value):
        grad, to_scores = grad[b], grad_query is not None or grad_key is not None
        # softmax backward, w * (g - sum(g * w)) along each row; that row sum equals
        # sum(grad * out) over the (shorter) head axis, as out = dropped weights @ value
        row_sums = (grad * self.out[b]).sum(axis=-1, keepdims=True) if to_scores else None
        for later, (rows, keys) in enumerate(self.blocks):  # every block after the first adds into the sums
            if grad_value is not None:
                _into(grad_value[b][..., keys, :], xp.swapaxes(self.dropped[b][..., rows, keys], -1, -2),
                      grad[..., rows, :], later)
            if not to_scores:
                continue
            grad_scores = grad[..., rows, :] @ xp.swapaxes(self.value[b][..., keys, :], -1, -2)
            if self.keep is not None:
                grad_scores *= self.keep[b][..., rows, keys] * self.keep_scale
            grad_scores -= row_sums[..., rows, :]
            grad_scores *= self.weights[b][..., rows, keys]
            if grad_query is not None:
                xp.matmul(grad_scores, self.key[b][..., keys, :], out=grad_query[b][..., rows, :])
            if grad_key is not None:
                _into(grad_key[b][..., keys, :], xp.swapaxes(grad_scores, -1, -2), self.query[b][..., rows, :], later)
        for scaled in (grad_query, grad_key):
            if scaled is not None:
                scaled[b] *= self.scale

    def _compiled_backward_block(self, b, grad, grad_query, grad_key, grad_value):
        arrays = _four_d(*(a[b] for a in (self.query, self.key, self.value, self.weights, self.out, grad)))
        compiled.load().attention_backward(*arrays, xp.float32(self.scale), self.widths,
                                           *_four_d(grad_query[b], grad_key[b], grad_value[b]))


# Where the compiled kernels pay (bench/RESULTS.md, issue 11): a mask hides at least a quarter
# of the scores from rows at least this long. The gpt's causal 128 x 128 heads at one
# thread, ms, NumPy's path -> compiled: forward 6.6 -> 5.5, backward 9.6 -> 6.7,
# inference 5.8 -> 4.6; at 256, 11.4 -> 8.1, 15.9 -> 10.6, 11.6 -> 6.7. With every score
# computed they are even at best, and on short rows (a vision transformer's 17) 2-3x
# slower: each head's work is too small for its copies and calls.
COMPILED_MIN_ROWS, COMPILED_MAX_SHARE = 128, 0.75


def _compiled_widths(query, key, value, mask):
    """The compiled kernels' ``widths`` (below) where they take this attention, else None:
    float32 heads of three or four axes with contiguous rows, a mask of one row or one per
    query, and a share of the scores computed below COMPILED_MAX_SHARE."""
    length, size = query.shape[-2], key.shape[-2]
    if length < COMPILED_MIN_ROWS or mask is None or not (
            compiled.enabled() and all(a.dtype == xp.float32 and a.ndim in (3, 4) and a.strides[-1] == 4
                                       for a in (query, key, value))
            and mask.ndim == 2 and mask.shape[0] in (1, length) and mask.shape[1] == size and compiled.fits(mask)):
        return None
    widths = _group_widths(mask, length, size)
    return widths if 4 * widths.sum() <= COMPILED_MAX_SHARE * length * size else None


# At inference, rows of at most SHORT_KEYS keys (a vision transformer's 17) go to
# attention_short_rows, on the pool, sixteen heads in the lanes: a vit layer's heads
# (128 x 4, 17 x 17 x 16) in 213-222 us on two threads against 280-298 with sixteen queries
# in the lanes and 460 on NumPy's path; from one query up, no shape measured slower than
# NumPy's path (bench/RESULTS.md, issue 11). Its NumPy twin is the path below it.
SHORT_KEYS = 32


def _short_rows(query, key, value, mask):
    length, size = query.shape[-2], key.shape[-2]
    # the kernel finds a group's sixteen heads by int32 offsets from its first item's
    return (size <= SHORT_KEYS and compiled.enabled() and pool_blocks(1) > 0 and all(
        a.dtype == xp.float32 and a.ndim in (3, 4) and a.strides[-1] == 4 and abs(a.strides[0]) < 1 << 27 for a in (query, key, value))
            and (mask is None or (mask.ndim == 2 and mask.shape[0] in (1, length) and mask.shape[1] == size
                                  and compiled.fits(mask))))


def _group_widths(mask, length, size):
    """How far along the keys each group of four queries reaches in the compiled kernels:
    one past the last key any of the four may see, rounded up to whole lanes of 16 (a
    later key is -inf in all four rows of the mask)."""
    seen = ~xp.isneginf(mask)
    reach = xp.broadcast_to(xp.where(seen.any(axis=1), size - xp.argmax(seen[:, ::-1], axis=1), 0), (length,))
    reach = xp.pad(reach, (0, -length % 4)).reshape(-1, 4).max(axis=1)
    return xp.minimum(-(-reach // 16) * 16, size).astype(xp.int64)


def _four_d(*arrays):
    """(B, L, E) arrays as (B, 1, L, E): the compiled kernels take the heads on a second axis."""
    return [a if a.ndim == 4 else a[:, None] for a in arrays]


def _attention_output(query, key, value, mask=None, scale=1.0, dropout_p=0.0, generator=None):
    """The reference with Attention.apply's arguments and result: the output alone."""
    return attention_reference(query, key, value, mask, scale, dropout_p, generator)[0]


Attention.reference = _attention_output
