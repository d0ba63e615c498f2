"""The transformer (Vaswani et al., 2017): blocks of self-attention, where every
position gathers information from every other, and a position-wise feed-forward network,
each wrapped in a residual connection and a LayerNorm. The encoder stacks such blocks;
the decoder's blocks also attend to the encoder's output (the memory); ``Transformer``
is the two together, as PyTorch's, with the same state_dict keys. Also the masks that
stop a position seeing the future, and positional embeddings, which tell attention
(blind to order by itself) where each position is.
"""
import copy
import math

from ..backend import xp
from ..device import as_device
from ..tensor import Tensor
from . import functional as F
from . import init
from .attention import MultiheadAttention
from .container import ModuleList
from .dropout import Dropout
from .functional import _causal_mask
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


def _activation(who, activation):
    """The feed-forward network's activation: "relu", "gelu" or a callable."""
    if isinstance(activation, str) and activation in _ACTIVATIONS:
        return _ACTIVATIONS[activation]
    if isinstance(activation, str) or not callable(activation):
        raise ValueError(f"{who}: activation should be 'relu', 'gelu' or a callable, not {activation!r}")
    return activation


def _check_sequence(layer, name, x, length):
    """``x`` as a Tensor, once it is shaped (L, N, d_model), (N, L, d_model) with
    batch_first, or unbatched (L, d_model); ``length`` names L in the error."""
    x = x if isinstance(x, Tensor) else Tensor(x)
    if x.ndim not in (2, 3) or x.shape[-1] != layer.d_model:
        d = layer.d_model
        layout = f"(N, {length}, {d})" if layer.self_attn.batch_first else f"({length}, N, {d})"
        raise ValueError(f"{layer._label()}: expected {name} of shape {layout} or ({length}, {d}), got {x.shape}")
    return x


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
        activation = _activation("TransformerEncoderLayer", activation)
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
        x = _check_sequence(self, "src", src, "S")
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

    ``enable_nested_tensor`` and ``mask_check`` are accepted so that PyTorch code runs
    unchanged; they switch PyTorch's nested-tensor fast path, which glassnet has not (the
    results are the same either way).

    Shape: as :class:`TransformerEncoderLayer`; ``mask`` and ``src_key_padding_mask`` go to
    every layer.

    >>> import glassnet as gn
    >>> import numpy as np
    >>> from glassnet.nn.transformer import TransformerEncoder, TransformerEncoderLayer
    >>> encoder = TransformerEncoder(TransformerEncoderLayer(16, 4, 32, batch_first=True), num_layers=2)
    >>> [name for name in encoder.state_dict()][:2]
    ['layers.0.self_attn.in_proj_weight', 'layers.0.self_attn.in_proj_bias']
    """

    def __init__(self, encoder_layer, num_layers, norm=None, enable_nested_tensor=True, mask_check=True):
        super().__init__()
        self.layers = _clones("TransformerEncoder", encoder_layer, num_layers)
        self.num_layers = num_layers
        self.norm = norm
        self.enable_nested_tensor, self.mask_check = enable_nested_tensor, mask_check

    def forward(self, src, mask=None, src_key_padding_mask=None, is_causal=None):
        x = src
        for layer in self.layers:
            x = layer(x, src_mask=mask, src_key_padding_mask=src_key_padding_mask, is_causal=bool(is_causal))
        return self.norm(x) if self.norm is not None else x


def clone(module):
    """An independent copy of ``module``: the same structure and values, its own arrays."""
    return copy.deepcopy(module)


def _clones(who, layer, num_layers):
    if num_layers <= 0:
        raise ValueError(f"{who}: num_layers must be positive, got {num_layers}")
    return ModuleList(clone(layer) for _ in range(num_layers))


# -- the decoder -----------------------------------------------------------------------------


class TransformerDecoderLayer(Module):
    """One decoder block: self-attention over the target, then attention from the target
    to the memory (the encoder's output: "cross-attention"), then the feed-forward
    network; each added back to its input (a residual) and normalized.

    ``norm_first=False`` (post-norm): x = norm1(x + self_attention(x)),
    x = norm2(x + cross_attention(x, memory)), x = norm3(x + feed_forward(x)).
    ``norm_first=True`` (pre-norm): each sub-layer reads ``normK(x)`` and adds to x.

    Args:
        d_model, nhead, dim_feedforward, dropout, activation, layer_norm_eps, batch_first,
        norm_first, bias: as :class:`TransformerEncoderLayer` (PyTorch's arguments).

    Sub-modules with PyTorch's names, so ``state_dict`` keys match: ``self_attn``,
    ``multihead_attn``, ``linear1``, ``dropout``, ``linear2``, ``norm1``, ``norm2``,
    ``norm3``, ``dropout1``, ``dropout2``, ``dropout3``.

    Shape:
        tgt (T, N, d_model), or (N, T, d_model) with batch_first, or unbatched (T, d_model);
        memory (S, N, d_model), (N, S, d_model) or (S, d_model) -> the shape of tgt.
        tgt_mask (T, T) or (N * nhead, T, T); memory_mask (T, S) or (N * nhead, T, S);
        tgt_key_padding_mask (N, T); memory_key_padding_mask (N, S): True (or -inf)
        where attention is not allowed, as in :class:`MultiheadAttention`.

    >>> import glassnet as gn
    >>> import numpy as np
    >>> layer = gn.nn.TransformerDecoderLayer(d_model=16, nhead=4, dim_feedforward=32, batch_first=True)
    >>> tgt, memory = gn.tensor(np.ones((2, 3, 16), "float32")), gn.tensor(np.ones((2, 5, 16), "float32"))
    >>> layer(tgt, memory, tgt_mask=gn.nn.Transformer.generate_square_subsequent_mask(3)).shape
    (2, 3, 16)
    """

    def __init__(self, d_model, nhead, dim_feedforward=2048, dropout=0.1, activation="relu", layer_norm_eps=1e-5,
                 batch_first=False, norm_first=False, bias=True):
        super().__init__()
        activation = _activation("TransformerDecoderLayer", activation)
        self.d_model, self.nhead = d_model, nhead
        self.self_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias, batch_first=batch_first)
        self.multihead_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias, batch_first=batch_first)
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias)
        self.norm_first = norm_first
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias)
        self.norm3 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias)
        self.dropout1 = Dropout(dropout)
        self.dropout2 = Dropout(dropout)
        self.dropout3 = Dropout(dropout)
        self.activation = activation

    def forward(self, tgt, memory, tgt_mask=None, memory_mask=None, tgt_key_padding_mask=None,
                memory_key_padding_mask=None, tgt_is_causal=False, memory_is_causal=False):
        x = _check_sequence(self, "tgt", tgt, "T")
        memory = _check_sequence(self, "memory", memory, "S")
        if memory.ndim != x.ndim:
            raise ValueError(f"{self._label()}: tgt {x.shape} and memory {memory.shape} must both be batched or both unbatched")
        self_masks = (tgt_mask, tgt_key_padding_mask, tgt_is_causal)
        memory_masks = (memory_mask, memory_key_padding_mask, memory_is_causal)
        if self.norm_first:
            x = x + self._self_attention_block(self.norm1(x), *self_masks)
            x = x + self._cross_attention_block(self.norm2(x), memory, *memory_masks)
            x = x + self._feed_forward_block(self.norm3(x))
        else:
            x = self.norm1(x + self._self_attention_block(x, *self_masks))
            x = self.norm2(x + self._cross_attention_block(x, memory, *memory_masks))
            x = self.norm3(x + self._feed_forward_block(x))
        return x

    def _self_attention_block(self, x, mask, key_padding_mask, is_causal):
        x = self.self_attn(x, x, x, attn_mask=mask, key_padding_mask=key_padding_mask, need_weights=False,
                           is_causal=bool(is_causal))[0]
        return self.dropout1(x)

    def _cross_attention_block(self, x, memory, mask, key_padding_mask, is_causal):
        x = self.multihead_attn(x, memory, memory, attn_mask=mask, key_padding_mask=key_padding_mask,
                                need_weights=False, is_causal=bool(is_causal))[0]
        return self.dropout2(x)

    def _feed_forward_block(self, x):
        x = self.linear2(self.dropout(self.activation(self.linear1(x))))
        return self.dropout3(x)

    def extra_repr(self):
        return f"d_model={self.d_model}, nhead={self.nhead}, norm_first={self.norm_first}"


class TransformerDecoder(Module):
    """``num_layers`` independent copies of ``decoder_layer`` (``layers.0``, ...), applied
    in turn to the target, each attending to the same ``memory``; then the optional
    final ``norm``.

    Shape: as :class:`TransformerDecoderLayer`; every mask goes to every layer.

    >>> import glassnet as gn
    >>> decoder = gn.nn.TransformerDecoder(gn.nn.TransformerDecoderLayer(16, 4, 32), num_layers=2)
    >>> [name for name in decoder.state_dict()][4:6]
    ['layers.0.multihead_attn.in_proj_weight', 'layers.0.multihead_attn.in_proj_bias']
    """

    def __init__(self, decoder_layer, num_layers, norm=None):
        super().__init__()
        self.layers = _clones("TransformerDecoder", decoder_layer, num_layers)
        self.num_layers = num_layers
        self.norm = norm

    def forward(self, tgt, memory, tgt_mask=None, memory_mask=None, tgt_key_padding_mask=None,
                memory_key_padding_mask=None, tgt_is_causal=None, memory_is_causal=False):
        x = tgt
        for layer in self.layers:
            x = layer(x, memory, tgt_mask=tgt_mask, memory_mask=memory_mask, tgt_key_padding_mask=tgt_key_padding_mask,
                      memory_key_padding_mask=memory_key_padding_mask, tgt_is_causal=bool(tgt_is_causal),
                      memory_is_causal=memory_is_causal)
        return self.norm(x) if self.norm is not None else x


# -- encoder and decoder together ----------------------------------------------------------------


class Transformer(Module):
    """The encoder-decoder transformer of "Attention is all you need", as PyTorch's
    ``nn.Transformer``: the encoder reads the source sequence into a memory, the decoder
    reads the target sequence while attending to that memory. Both stacks end in a
    LayerNorm, and every weight matrix starts Xavier-uniform.

    Args:
        d_model: size of each position's vector (default 512).
        nhead: attention heads (default 8).
        num_encoder_layers, num_decoder_layers: blocks in each stack (default 6 each).
        dim_feedforward: hidden size of the feed-forward networks (default 2048).
        dropout: dropout probability everywhere (default 0.1).
        activation: ``"relu"`` (default), ``"gelu"`` or a callable.
        custom_encoder, custom_decoder: modules used instead of the built stacks; they
            are called as :class:`TransformerEncoder` and :class:`TransformerDecoder` are.
        layer_norm_eps, batch_first, norm_first, bias: as in :class:`TransformerEncoderLayer`.

    Sub-modules ``encoder`` (``layers.0`` ... and ``norm``) and ``decoder`` (the same), so
    ``state_dict`` keys are PyTorch's and its weights load unchanged.

    Shape:
        src (S, N, E), or (N, S, E) with batch_first, or unbatched (S, E); tgt (T, N, E),
        (N, T, E) or (T, E), with E = d_model -> output shaped as tgt.
        src_mask (S, S), tgt_mask (T, T), memory_mask (T, S), each also (N * nhead, ., .);
        src_key_padding_mask (N, S), tgt_key_padding_mask (N, T), memory_key_padding_mask
        (N, S). True (or -inf) where attention is not allowed; a float mask is added to
        the attention scores.

    >>> import glassnet as gn
    >>> import numpy as np
    >>> model = gn.nn.Transformer(d_model=16, nhead=4, num_encoder_layers=2, num_decoder_layers=2,
    ...                           dim_feedforward=32, batch_first=True)
    >>> src, tgt = gn.tensor(np.ones((2, 7, 16), "float32")), gn.tensor(np.ones((2, 5, 16), "float32"))
    >>> model(src, tgt, tgt_mask=model.generate_square_subsequent_mask(5), tgt_is_causal=True).shape
    (2, 5, 16)
    """

    def __init__(self, d_model=512, nhead=8, num_encoder_layers=6, num_decoder_layers=6, dim_feedforward=2048,
                 dropout=0.1, activation="relu", custom_encoder=None, custom_decoder=None, layer_norm_eps=1e-5,
                 batch_first=False, norm_first=False, bias=True):
        super().__init__()
        options = (d_model, nhead, dim_feedforward, dropout, activation, layer_norm_eps, batch_first, norm_first, bias)
        if custom_encoder is not None:
            self.encoder = custom_encoder
        else:
            norm = LayerNorm(d_model, eps=layer_norm_eps, bias=bias)
            self.encoder = TransformerEncoder(TransformerEncoderLayer(*options), num_encoder_layers, norm)
        if custom_decoder is not None:
            self.decoder = custom_decoder
        else:
            norm = LayerNorm(d_model, eps=layer_norm_eps, bias=bias)
            self.decoder = TransformerDecoder(TransformerDecoderLayer(*options), num_decoder_layers, norm)
        self._reset_parameters()
        self.d_model, self.nhead, self.batch_first = d_model, nhead, batch_first

    def _reset_parameters(self):
        # PyTorch's choice: Xavier-uniform for every matrix (the layers' own defaults
        # differ), biases and LayerNorm parameters as the layers made them
        for parameter in self.parameters():
            if parameter.ndim > 1:
                init.xavier_uniform_(parameter)

    def forward(self, src, tgt, src_mask=None, tgt_mask=None, memory_mask=None, src_key_padding_mask=None,
                tgt_key_padding_mask=None, memory_key_padding_mask=None, src_is_causal=None, tgt_is_causal=None,
                memory_is_causal=False):
        src = src if isinstance(src, Tensor) else Tensor(src)
        tgt = tgt if isinstance(tgt, Tensor) else Tensor(tgt)
        self._check_inputs(src, tgt)
        memory = self.encoder(src, mask=src_mask, src_key_padding_mask=src_key_padding_mask, is_causal=src_is_causal)
        return self.decoder(tgt, memory, tgt_mask=tgt_mask, memory_mask=memory_mask,
                            tgt_key_padding_mask=tgt_key_padding_mask, memory_key_padding_mask=memory_key_padding_mask,
                            tgt_is_causal=tgt_is_causal, memory_is_causal=memory_is_causal)

    def _check_inputs(self, src, tgt):
        batch_axis = 0 if self.batch_first else 1
        if src.ndim == 3 and (tgt.ndim != 3 or src.shape[batch_axis] != tgt.shape[batch_axis]):
            raise RuntimeError(
                f"{self._label()}: the batch number of src and tgt must be equal (axis {batch_axis}"
                f"{' with batch_first=True' if self.batch_first else ''}), got src {src.shape} and tgt {tgt.shape}"
            )
        if src.shape[-1] != self.d_model or tgt.shape[-1] != self.d_model:
            raise RuntimeError(
                f"{self._label()}: the feature number of src and tgt must be equal to d_model={self.d_model}, "
                f"got src {src.shape} and tgt {tgt.shape}"
            )

    @staticmethod
    def generate_square_subsequent_mask(sz, device=None, dtype=None):
        """The causal mask for ``sz`` positions: a float (sz, sz) tensor, 0 on and below the
        diagonal, -inf above it (see :func:`generate_square_subsequent_mask`)."""
        as_device(device, "Transformer.generate_square_subsequent_mask()")
        return generate_square_subsequent_mask(sz, xp.float32 if dtype is None else dtype)

    def extra_repr(self):
        return f"d_model={self.d_model}, nhead={self.nhead}, batch_first={self.batch_first}"


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
