"""The transformer encoder (Vaswani et al., 2017): blocks of self-attention, where every
position gathers information from every other, and a position-wise feed-forward network,
each wrapped in a residual connection and a LayerNorm. Also the masks that stop a
position seeing the future, and positional embeddings, which tell attention (blind to
order by itself) where each position is.
"""
import copy
import math

from ..backend import xp
from ..tensor import Tensor
from . import functional as F
from . import init
from .attention import MultiheadAttention, _causal_mask
from .container import ModuleList
from .dropout import Dropout
from .linear import Linear
from .module import Module, Parameter
from .normalization import LayerNorm

# -- masks -----------------------------------------------------------------------------------


def generate_square_subsequent_mask(size, dtype=xp.float32):
    """The causal mask for a sequence of ``size``: a float (size, size) tensor, 0 on and
    below the diagonal and -inf above it (as ``torch.nn.Transformer.generate_square_subsequent_mask``),
    to pass as ``attn_mask`` / ``src_mask`` so that no position sees the future.

    >>> from glassnet.nn.transformer import generate_square_subsequent_mask
    >>> generate_square_subsequent_mask(3)
    tensor([[  0., -inf, -inf],
            [  0.,   0., -inf],
            [  0.,   0.,   0.]])
    """
    return Tensor(_causal_mask(size, size, xp.dtype(dtype)))


def causal_mask(size):
    """The causal mask as booleans in :class:`MultiheadAttention`'s convention: True above
    the diagonal, where attention is *not* allowed. (``scaled_dot_product_attention``
    takes the opposite convention, True = allowed; there, pass ``is_causal=True``.)

    >>> from glassnet.nn.transformer import causal_mask
    >>> causal_mask(3).numpy()
    array([[False,  True,  True],
           [False, False,  True],
           [False, False, False]])
    """
    return Tensor(xp.triu(xp.ones((size, size), dtype=bool), k=1))


# -- the encoder -----------------------------------------------------------------------------

_ACTIVATIONS = {"relu": F.relu, "gelu": F.gelu}


class TransformerEncoderLayer(Module):
    """One encoder block: self-attention, then a two-layer feed-forward network applied
    at every position, each added back to its input (a residual) and normalized.

    ``norm_first=False`` (the original, "post-norm"): x = norm1(x + attention(x)),
    x = norm2(x + feed_forward(x)). ``norm_first=True`` ("pre-norm", GPT-2 and ViT,
    easier to train deep): x = x + attention(norm1(x)), x = x + feed_forward(norm2(x)).

    Args:
        d_model: size of each position's vector.
        nhead: attention heads (d_model must be divisible by it).
        dim_feedforward: hidden size of the feed-forward network.
        dropout: dropout on the attention weights, inside the feed-forward network and on
            each sub-layer's output, in training.
        activation: ``"relu"``, ``"gelu"`` or a callable, in the feed-forward network.
        layer_norm_eps, batch_first, norm_first, bias: as their names say (PyTorch's).

    Sub-modules with PyTorch's names, so ``state_dict`` keys match: ``self_attn``,
    ``linear1``, ``dropout``, ``linear2``, ``norm1``, ``norm2``, ``dropout1``, ``dropout2``.

    Shape: src (S, N, d_model), or (N, S, d_model) with batch_first, or unbatched
    (S, d_model) -> the same shape. ``src_mask`` (S, S) or (N * nhead, S, S) and
    ``src_key_padding_mask`` (N, S) as ``attn_mask`` and ``key_padding_mask`` of
    :class:`MultiheadAttention` (True or -inf where attention is not allowed).

    >>> import glassnet as gn
    >>> import numpy as np
    >>> from glassnet.nn.transformer import TransformerEncoderLayer, generate_square_subsequent_mask
    >>> layer = TransformerEncoderLayer(d_model=16, nhead=4, dim_feedforward=32, batch_first=True)
    >>> x = gn.tensor(np.ones((2, 5, 16), dtype="float32"))
    >>> layer(x, src_mask=generate_square_subsequent_mask(5), is_causal=True).shape
    (2, 5, 16)
    """

    def __init__(self, d_model, nhead, dim_feedforward=2048, dropout=0.1, activation="relu", layer_norm_eps=1e-5,
                 batch_first=False, norm_first=False, bias=True):
        super().__init__()
        if isinstance(activation, str):
            if activation not in _ACTIVATIONS:
                raise ValueError(f"TransformerEncoderLayer: activation should be 'relu', 'gelu' or a callable, not {activation!r}")
            activation = _ACTIVATIONS[activation]
        elif not callable(activation):
            raise ValueError(f"TransformerEncoderLayer: activation should be 'relu', 'gelu' or a callable, not {activation!r}")
        self.d_model, self.nhead = d_model, nhead
        self.self_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias, batch_first=batch_first)
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias)
        self.norm_first = norm_first
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias)
        self.dropout1 = Dropout(dropout)
        self.dropout2 = Dropout(dropout)
        self.activation = activation

    def forward(self, src, src_mask=None, src_key_padding_mask=None, is_causal=False):
        src = src if isinstance(src, Tensor) else Tensor(src)
        if src.ndim not in (2, 3) or src.shape[-1] != self.d_model:
            layout = "(N, S, d_model)" if self.self_attn.batch_first else "(S, N, d_model)"
            raise ValueError(
                f"{self._label()}: expected src of shape {layout.replace('d_model', str(self.d_model))} "
                f"or (S, {self.d_model}), got {src.shape}"
            )
        x = src
        if self.norm_first:
            x = x + self._attention_block(self.norm1(x), src_mask, src_key_padding_mask, is_causal)
            x = x + self._feed_forward_block(self.norm2(x))
        else:
            x = self.norm1(x + self._attention_block(x, src_mask, src_key_padding_mask, is_causal))
            x = self.norm2(x + self._feed_forward_block(x))
        return x

    def _attention_block(self, x, mask, key_padding_mask, is_causal):
        x = self.self_attn(x, x, x, attn_mask=mask, key_padding_mask=key_padding_mask, need_weights=False, is_causal=is_causal)[0]
        return self.dropout1(x)

    def _feed_forward_block(self, x):
        x = self.linear2(self.dropout(self.activation(self.linear1(x))))
        return self.dropout2(x)

    def extra_repr(self):
        return f"d_model={self.d_model}, nhead={self.nhead}, norm_first={self.norm_first}"


class TransformerEncoder(Module):
    """``num_layers`` independent copies of ``encoder_layer`` (``layers.0``,
    ``layers.1``, ...), applied in turn, then the optional final ``norm``.

    Shape: as :class:`TransformerEncoderLayer`; ``mask`` and ``src_key_padding_mask`` go to
    every layer.

    >>> import glassnet as gn
    >>> import numpy as np
    >>> from glassnet.nn.transformer import TransformerEncoder, TransformerEncoderLayer
    >>> encoder = TransformerEncoder(TransformerEncoderLayer(16, 4, 32, batch_first=True), num_layers=2)
    >>> [name for name in encoder.state_dict()][:2]
    ['layers.0.self_attn.in_proj_weight', 'layers.0.self_attn.in_proj_bias']
    """

    def __init__(self, encoder_layer, num_layers, norm=None):
        super().__init__()
        if num_layers <= 0:
            raise ValueError(f"TransformerEncoder: num_layers must be positive, got {num_layers}")
        self.layers = ModuleList(clone(encoder_layer) for _ in range(num_layers))
        self.num_layers = num_layers
        self.norm = norm

    def forward(self, src, mask=None, src_key_padding_mask=None, is_causal=None):
        x = src
        for layer in self.layers:
            x = layer(x, src_mask=mask, src_key_padding_mask=src_key_padding_mask, is_causal=bool(is_causal))
        return self.norm(x) if self.norm is not None else x


def clone(module):
    """An independent copy of ``module``: the same structure and values, its own arrays."""
    return copy.deepcopy(module)


# -- positional embeddings --------------------------------------------------------------------


class _Positions(Module):
    """Adds row ``i`` of a (max_len, d_model) table to the vector at position ``i``."""

    def _add_table(self, input, table):
        input = input if isinstance(input, Tensor) else Tensor(input)
        axis = 0 if input.ndim == 2 or not self.batch_first else 1
        if input.ndim not in (2, 3) or input.shape[-1] != self.d_model:
            layout = "(N, L, d_model)" if self.batch_first else "(L, N, d_model)"
            raise ValueError(
                f"{self._label()}: expected input of shape {layout.replace('d_model', str(self.d_model))} "
                f"or (L, {self.d_model}), got {input.shape}"
            )
        length = input.shape[axis]
        if length > self.max_len:
            raise ValueError(
                f"{self._label()}: a sequence of {length} positions is longer than max_len={self.max_len}; "
                f"help: build the layer with max_len >= {length}"
            )
        rows = table[:length]
        return input + (rows.unsqueeze(1) if axis == 0 and input.ndim == 3 else rows)

    def extra_repr(self):
        return f"d_model={self.d_model}, max_len={self.max_len}, batch_first={self.batch_first}"


class SinusoidalPositionalEncoding(_Positions):
    """Adds the fixed "Attention is all you need" encoding of each position to the input:
    pe[pos, 2i] = sin(pos / 10000^(2i / d_model)), pe[pos, 2i + 1] = cos(the same), waves
    of geometrically growing wavelength, so that nearby positions get similar vectors and a
    fixed offset is a linear map.

    The table is a non-persistent buffer ``pe`` (max_len, d_model): computed, never
    trained, not in ``state_dict``.

    Shape: (N, L, d_model) with batch_first (the default), (L, N, d_model) without, or
    (L, d_model) -> the same shape; L <= max_len.

    >>> import glassnet as gn
    >>> import numpy as np
    >>> from glassnet.nn.transformer import SinusoidalPositionalEncoding
    >>> SinusoidalPositionalEncoding(16)(gn.tensor(np.zeros((2, 10, 16), dtype="float32"))).shape
    (2, 10, 16)
    """

    def __init__(self, d_model, max_len=5000, batch_first=True):
        super().__init__()
        if d_model <= 0 or max_len <= 0:
            raise ValueError(f"SinusoidalPositionalEncoding: d_model and max_len must be positive, got {d_model}, {max_len}")
        self.d_model, self.max_len, self.batch_first = d_model, max_len, batch_first
        position = xp.arange(max_len, dtype=xp.float64)[:, None]
        frequency = xp.exp(xp.arange(0, d_model, 2, dtype=xp.float64) * (-math.log(10000.0) / d_model))
        table = xp.zeros((max_len, d_model), dtype=xp.float64)
        table[:, 0::2] = xp.sin(position * frequency)
        table[:, 1::2] = xp.cos(position * frequency[: d_model // 2])
        self.register_buffer("pe", Tensor(table.astype(xp.float32)), persistent=False)

    def forward(self, input):
        return self._add_table(input, self.pe)


class LearnedPositionalEmbedding(_Positions):
    """Adds a learned vector for each position to the input (as GPT-2, BERT and ViT do):
    a Parameter ``weight`` (max_len, d_model), drawn from N(0, 0.02^2).

    Shape: (N, L, d_model) with batch_first (the default), (L, N, d_model) without, or
    (L, d_model) -> the same shape; L <= max_len.

    >>> import glassnet as gn
    >>> import numpy as np
    >>> from glassnet.nn.transformer import LearnedPositionalEmbedding
    >>> LearnedPositionalEmbedding(128, 16)(gn.tensor(np.zeros((2, 10, 16), dtype="float32"))).shape
    (2, 10, 16)
    """

    def __init__(self, max_len, d_model, batch_first=True):
        super().__init__()
        if d_model <= 0 or max_len <= 0:
            raise ValueError(f"LearnedPositionalEmbedding: max_len and d_model must be positive, got {max_len}, {d_model}")
        self.d_model, self.max_len, self.batch_first = d_model, max_len, batch_first
        self.weight = Parameter(init.empty(max_len, d_model))
        self.reset_parameters()

    def reset_parameters(self):
        init.normal_(self.weight, std=0.02)

    def forward(self, input):
        return self._add_table(input, self.weight)
