"""Attention: each position asks a question (its query), compares it with every
position's key, and takes the average of their values weighted by how well they match.

    weights = softmax(query @ key^T / sqrt(d) + mask)        (N, heads, L, S)
    output  = weights @ value                                (N, heads, L, d)

All heads and positions are computed at once by batched matrix products over
(N, heads, L, d) arrays. The core above exists twice, in ``glassnet/ops/attention.py``:
composed from tensor ops (``ops.attention_reference``, readable, and used when the weights
are returned) and fused into one op (``ops.Attention``, used otherwise); a test checks
they agree. The functional form ``scaled_dot_product_attention`` is in ``functional``.

Masks are additive here: 0 where attention is allowed, -inf where it is not; they are
constants (a float mask receives no gradient, unlike in PyTorch). A query
that may attend to nothing gets zero weights and a zero output (not NaN), as in
PyTorch's ``scaled_dot_product_attention``.
"""
import math

from .. import ops
from ..tensor import Tensor
from . import functional as F
from . import init
from .functional import _additive_mask, _causal_mask
from .linear import Linear
from .module import Module, Parameter

# -- the layer -----------------------------------------------------------------------------


class MultiheadAttention(Module):
    """Attention with ``num_heads`` heads, each on its own embed_dim / num_heads slice of
    learned projections of the query, key and value; the heads' outputs are concatenated
    and projected back to ``embed_dim``.

    Args:
        embed_dim: size of every input and output vector (E); divisible by num_heads.
        num_heads: number of heads.
        dropout: probability of dropping an attention weight in training.
        bias: learn biases for the input and output projections.
        batch_first: inputs and outputs are (N, L, E) instead of (L, N, E).

    Shape (batch_first=False; with batch_first=True swap the first two axes of each):
        query (L, N, E), key and value (S, N, E); unbatched (L, E) and (S, E) too.
        key_padding_mask (N, S): True (or -inf) at the keys to ignore, e.g. padding.
        attn_mask (L, S) or (N * num_heads, L, S): True (or -inf) where a query may not
        attend to a key; a float mask is added to the scores.
        -> output (L, N, E), and the attention weights (N, L, S), averaged over the heads
        (or (N, num_heads, L, S) with average_attn_weights=False) when need_weights.

    Parameters, as in PyTorch: ``in_proj_weight`` (3E, E), the query, key and value
    projections stacked (Xavier-uniform); ``in_proj_bias`` (3E,) (zeros); ``out_proj``, a
    Linear(E, E) (its bias zeros).

    >>> import glassnet as gn
    >>> import numpy as np
    >>> from glassnet.nn.attention import MultiheadAttention
    >>> attention = MultiheadAttention(16, 4, batch_first=True)
    >>> x = gn.tensor(np.ones((2, 5, 16), dtype="float32"))
    >>> output, weights = attention(x, x, x)
    >>> output.shape, weights.shape
    ((2, 5, 16), (2, 5, 5))
    """

    def __init__(self, embed_dim, num_heads, dropout=0.0, bias=True, batch_first=False, kdim=None, vdim=None):
        super().__init__()
        if embed_dim <= 0 or num_heads <= 0:
            raise ValueError(f"MultiheadAttention: embed_dim and num_heads must be positive, got {embed_dim}, {num_heads}")
        if embed_dim % num_heads:
            divisors = [h for h in range(1, embed_dim + 1) if embed_dim % h == 0]
            raise ValueError(
                f"MultiheadAttention: embed_dim {embed_dim} is not divisible by num_heads {num_heads}: each "
                f"head takes an equal slice of the embedding; help: choose num_heads among {divisors}"
            )
        if kdim not in (None, embed_dim) or vdim not in (None, embed_dim):
            raise ValueError(
                f"MultiheadAttention: glassnet supports keys and values of size embed_dim ({embed_dim}) only, "
                f"got kdim={kdim}, vdim={vdim}; help: project them to {embed_dim} with a Linear first"
            )
        if not 0 <= dropout <= 1:
            raise ValueError(f"MultiheadAttention: dropout must be between 0 and 1, got {dropout}")
        self.embed_dim, self.kdim, self.vdim = embed_dim, embed_dim, embed_dim
        self.num_heads, self.head_dim = num_heads, embed_dim // num_heads
        self.dropout, self.batch_first = dropout, batch_first
        self.in_proj_weight = Parameter(init.empty(3 * embed_dim, embed_dim))
        if bias:
            self.in_proj_bias = Parameter(init.empty(3 * embed_dim))
        else:
            self.register_parameter("in_proj_bias", None)
        self.out_proj = Linear(embed_dim, embed_dim, bias=bias)
        self.reset_parameters()

    def reset_parameters(self):
        init.xavier_uniform_(self.in_proj_weight)
        if self.in_proj_bias is not None:
            init.zeros_(self.in_proj_bias)
            init.zeros_(self.out_proj.bias)

    def forward(self, query, key, value, key_padding_mask=None, need_weights=True, attn_mask=None,
                average_attn_weights=True, is_causal=False):
        """``is_causal=True`` applies the causal mask: ``attn_mask``, when given, is taken to
        be that mask (as PyTorch's hint); without one it is built (PyTorch requires it).
        With ``need_weights=False`` (as the encoder layer calls it) the fused core runs and
        no weights are kept; with weights, the composed one, so they can be backpropagated."""
        self_attention = query is key and key is value  # one product makes q, k and v
        query, key, value = (t if isinstance(t, Tensor) else Tensor(t) for t in (query, key, value))
        batched = self._check_inputs(query, key, value)
        if not batched:  # one sequence: a batch of one
            query, key, value = query.unsqueeze(0), key.unsqueeze(0), value.unsqueeze(0)
        elif not self.batch_first:
            query, key, value = query.transpose(0, 1), key.transpose(0, 1), value.transpose(0, 1)
        batch, length, source_length = query.shape[0], query.shape[1], key.shape[1]
        mask = self._merged_mask(attn_mask, key_padding_mask, is_causal, batched, batch, length, source_length, query.dtype)

        if self_attention:
            q, k, v = self._project_together(query)
        else:
            q, k, v = (self._project(x, i) for i, x in enumerate((query, key, value)))
        dropout_p = self.dropout if self.training else 0.0
        scale = 1 / math.sqrt(self.head_dim)
        if need_weights:
            heads, weights = ops.attention_reference(q, k, v, mask, scale, dropout_p)
        else:
            heads, weights = ops.Attention.apply(q, k, v, mask=mask, scale=scale, dropout_p=dropout_p), None
        output = self.out_proj(heads.transpose(1, 2).reshape(batch, length, self.embed_dim))

        if not batched:
            output = output.squeeze(0)
        elif not self.batch_first:
            output = output.transpose(0, 1)
        if weights is not None:
            weights = weights.mean(axis=1) if average_attn_weights else weights
            weights = weights if batched else weights.squeeze(0)
        return output, weights

    def _project(self, x, which):
        """Project (N, L, E) with rows which*E..(which+1)*E of the stacked weights and split
        the result into heads: (N, num_heads, L, head_dim)."""
        rows = slice(which * self.embed_dim, (which + 1) * self.embed_dim)
        bias = self.in_proj_bias[rows] if self.in_proj_bias is not None else None
        projected = F.linear(x, self.in_proj_weight[rows], bias)
        return projected.reshape(x.shape[0], x.shape[1], self.num_heads, self.head_dim).transpose(1, 2)

    def _project_together(self, x):
        """Self-attention: q, k and v of (N, L, E) from one product with all the stacked
        weights (one product three times the size runs faster than three, and the weight
        needs no slicing), then split into heads: three (N, num_heads, L, head_dim)."""
        projected = F.linear(x, self.in_proj_weight, self.in_proj_bias)  # (N, L, 3E)
        heads = projected.reshape(x.shape[0], x.shape[1], 3, self.num_heads, self.head_dim)
        return heads.permute(2, 0, 3, 1, 4).unbind(0)

    def _layout(self, name):
        length = "L" if name == "query" else "S"
        return f"({length}, E) or " + (f"(N, {length}, E)" if self.batch_first else f"({length}, N, E)")

    def _check_inputs(self, query, key, value):
        e = self.embed_dim
        for name, x in (("query", query), ("key", key), ("value", value)):
            if x.ndim not in (2, 3) or x.shape[-1] != e:
                hint = f"; help: the last axis must hold the {e} features" if x.ndim in (2, 3) else ""
                raise ValueError(
                    f"{self._label()}: expected {name} of shape {self._layout(name).replace('E', str(e))}, got {x.shape}{hint}"
                )
        if not query.ndim == key.ndim == value.ndim:
            raise ValueError(f"{self._label()}: query {query.shape}, key {key.shape} and value {value.shape} must all be batched (3-D) or all unbatched (2-D)")
        if key.shape != value.shape:
            raise ValueError(f"{self._label()}: key {key.shape} and value {value.shape} must have the same shape")
        batch_axis = 0 if self.batch_first else 1
        if query.ndim == 3 and query.shape[batch_axis] != key.shape[batch_axis]:
            raise ValueError(
                f"{self._label()}: query {query.shape} and key {key.shape} have different batch sizes "
                f"(axis {batch_axis}{' with batch_first=True' if self.batch_first else ''})"
            )
        return query.ndim == 3

    def _merged_mask(self, attn_mask, key_padding_mask, is_causal, batched, batch, length, source_length, dtype):
        """attn_mask, key_padding_mask and the causal mask as one additive array that
        broadcasts to the scores (N, num_heads, L, S)."""
        heads = self.num_heads
        masks = []
        if attn_mask is not None:
            mask = _additive_mask(self, "attn_mask", attn_mask, dtype, true_means="blocked")
            shapes = [(length, source_length), (batch * heads if batched else heads, length, source_length)]
            if mask.shape not in shapes:
                raise ValueError(
                    f"{self._label()}: attn_mask of shape {mask.shape}; expected (L, S) = {shapes[0]} or "
                    f"({'N * num_heads' if batched else 'num_heads'}, L, S) = {shapes[1]} for a query of "
                    f"length L = {length} and keys of length S = {source_length}"
                )
            masks.append(mask.reshape(-1, heads, length, source_length) if mask.ndim == 3 else mask)
        elif is_causal:
            masks.append(_causal_mask(length, source_length, dtype))
        if key_padding_mask is not None:
            mask = _additive_mask(self, "key_padding_mask", key_padding_mask, dtype, true_means="blocked")
            expected = (batch, source_length) if batched else (source_length,)
            if mask.shape != expected:
                raise ValueError(
                    f"{self._label()}: key_padding_mask of shape {mask.shape}; expected {'(N, S)' if batched else '(S,)'} = "
                    f"{expected}, one entry per key of each sequence"
                )
            masks.append(mask.reshape(batch, 1, 1, source_length))
        if not masks:
            return None
        return masks[0] if len(masks) == 1 else masks[0] + masks[1]

    def extra_repr(self):
        return f"embed_dim={self.embed_dim}, num_heads={self.num_heads}, batch_first={self.batch_first}"
