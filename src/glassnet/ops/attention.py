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
from ..backend import xp
from ..threads import in_blocks
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


def _softmax_in_place(scores, mask):
    """softmax(scores + mask) along the last axis, in the scores' own memory; rows that
    may attend nowhere (every entry -inf) end up all zero. The compiled kernel does each
    row in one pass where NumPy makes seven, and its blocks of rows run on all threads."""
    length, size = scores.shape[-2:]
    if compiled.fits(scores) and (mask is None or (mask.ndim == 2 and compiled.fits(mask)
                                                   and mask.shape[1] == size and mask.shape[0] in (1, length))):
        rows = scores.reshape(-1, size)
        kernel, no_mask = compiled.load().softmax_rows, xp.zeros((1, 1), xp.float32)
        in_blocks(lambda start, stop: kernel(rows[start:stop], no_mask if mask is None else mask, mask is not None, start),
                  len(rows), rows[0].nbytes)
        return scores
    if mask is not None:
        scores += mask
    row_max = scores.max(axis=-1, keepdims=True)
    row_max[xp.isneginf(row_max)] = 0
    scores -= row_max
    weights = xp.exp(scores, out=scores)
    total = weights.sum(axis=-1, keepdims=True)
    total[total == 0] = 1
    weights /= total
    return weights


class Attention(Function):
    """softmax(q k^T * scale + mask) v, with dropout on the weights, as one op.

    Fused so that the (N, heads, L, S) scores are masked and normalized in place, in one
    array where the composed ops make about five, and the softmax backward takes its row
    sums from the smaller output (see ``backward``): about a fifth faster, forward and
    backward, at the sizes of a small GPT. ``mask`` is an additive array (no gradient).
    """

    def forward(self, query, key, value, mask=None, scale=1.0, dropout_p=0.0, generator=None):
        self.shapes = (query.shape, key.shape, value.shape)
        # the inputs themselves are kept for backward (alive anyway), not the scaled query
        self.query, self.key, self.value, self.scale = query, key, value, scale
        scores = (query * scale) @ xp.swapaxes(key, -1, -2)
        weights = _softmax_in_place(scores, mask)
        self.weights, self.keep = weights, None
        if dropout_p > 0:
            self.keep = _dropout_keep(weights.shape, dropout_p, generator)
            self.keep_scale = xp.asarray(0.0 if dropout_p == 1 else 1 / (1 - dropout_p), dtype=weights.dtype)
            weights = weights * self.keep * self.keep_scale
        self.dropped = weights
        self.out = weights @ value
        return self.out

    def backward(self, grad):
        query_shape, key_shape, value_shape = self.shapes
        q_needs, k_needs, v_needs = self.needs_input_grad
        grad_value = unbroadcast(xp.swapaxes(self.dropped, -1, -2) @ grad, value_shape) if v_needs else None
        if not (q_needs or k_needs):
            return None, None, grad_value
        grad_weights = grad @ xp.swapaxes(self.value, -1, -2)
        if self.keep is not None:
            grad_weights *= self.keep * self.keep_scale
        # softmax backward, w * (g - sum(g * w)) along each row; that row sum equals
        # sum(grad * out) over the (shorter) head axis, as out = dropped weights @ value
        grad_weights -= (grad * self.out).sum(axis=-1, keepdims=True)
        grad_scores = grad_weights
        grad_scores *= self.weights
        grad_query = unbroadcast(grad_scores @ self.key * self.scale, query_shape) if q_needs else None
        grad_key = unbroadcast(xp.swapaxes(grad_scores, -1, -2) @ self.query * self.scale, key_shape) if k_needs else None
        return grad_query, grad_key, grad_value


def _attention_output(query, key, value, mask=None, scale=1.0, dropout_p=0.0, generator=None):
    """The reference with Attention.apply's arguments and result: the output alone."""
    return attention_reference(query, key, value, mask, scale, dropout_p, generator)[0]


Attention.reference = _attention_output
