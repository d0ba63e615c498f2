"""Text classifiers: token ids in, one score per class out.

Every model here reads a batch of token ids shaped (N, T), each row padded with 0 at its
end (as :mod:`glassnet.data.texts` encodes them), and ignores the padding: a text gives
the same scores whether it is padded to 20 ids or to 200.

- :class:`RecurrentTextClassifier` (``"lstm"``, ``"gru"``): an embedding, a recurrent
  network reading the text one token at a time, and a linear layer on its summary of the
  text: the hidden state after the last real token (``pooling="last"``) or the mean of the
  hidden states over the real tokens (``"mean"``). ``bidirectional=True`` adds a second
  network that reads each text from its last real token back to its first.
- :class:`TransformerTextClassifier` (``"transformer"``): an embedding with learned
  positions, pre-norm encoder blocks whose attention skips the padding (a key padding
  mask), and a linear layer on the mean over the real tokens.

>>> import numpy as np
>>> from glassnet import Tensor
>>> ids = Tensor(np.array([[5, 3, 9, 0, 0], [2, 2, 2, 2, 7]]))
>>> RecurrentTextClassifier(vocab_size=10, num_classes=3)(ids).shape
(2, 3)
>>> TransformerTextClassifier(vocab_size=10, num_classes=3, max_length=5)(ids).shape
(2, 3)
"""
from .. import nn
from ..backend import xp
from ..ops import concatenate
from ..tensor import Tensor

PADDING_IDX = 0  # the id of <pad> in glassnet.data.texts' tokenizers
RECURRENT = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN}
POOLINGS = ("last", "mean")


def _token_ids(module, ids):
    """``ids`` as an int64 Tensor of shape (N, T), or an error that says what was given."""
    ids = ids if isinstance(ids, Tensor) else Tensor(xp.asarray(ids))
    if ids.ndim != 2 or ids.dtype.kind not in "iu":
        raise ValueError(f"{module._label()}: expected token ids of shape (N, T) and an integer dtype, got "
                         f"{ids.dtype} {ids.shape}; help: encode texts with a tokenizer of glassnet.data.texts")
    return ids


def _lengths(ids, padding_idx):
    """The number of real tokens of each row (the ids before the padding at its end), at
    least 1 so that an empty text still has a position to read."""
    return xp.maximum((ids.numpy() != padding_idx).sum(axis=1), 1)


def _masked_mean(x, lengths):
    """The mean over the first ``lengths[n]`` steps of each sequence: (N, T, H) -> (N, H)."""
    real = xp.arange(x.shape[1])[None, :] < lengths[:, None]
    weights = (real / lengths[:, None]).astype(x.dtype)[:, :, None]
    return (x * Tensor(weights)).sum(axis=1)


class RecurrentTextClassifier(nn.Module):
    """Embedding (``padding_idx=0``) + LSTM or GRU + Linear.

    The recurrent layers run over the whole padded batch; only the steps of real tokens are
    read out. A forward network's state at the last real token has not seen the padding
    after it. The backward network of ``bidirectional=True`` would see the padding first,
    so it reads each text reversed within its own length (the padding stays at the end)
    and its outputs are put back in the text's order.

    Args:
        vocab_size: ids run from 0 to vocab_size - 1 (the tokenizer's ``vocab_size``).
        num_classes: scores out.
        cell: ``"lstm"``, ``"gru"`` or ``"rnn"``.
        embedding_dim, hidden_size, num_layers: the sizes.
        bidirectional: also read every text backwards; the summary is both directions'.
        pooling: ``"last"`` (the forward state after the last real token, with the backward
            state after the first) or ``"mean"`` (the mean over the real tokens).
        dropout: on the embeddings, between recurrent layers, and before the head.
        padding_idx: the id of padding.

    Shape: (N, T) int64 ids, padded with ``padding_idx`` at the end -> (N, num_classes).
    """

    def __init__(self, vocab_size, num_classes, cell="lstm", embedding_dim=64, hidden_size=128, num_layers=1,
                 bidirectional=False, pooling="last", dropout=0.0, padding_idx=PADDING_IDX):
        super().__init__()
        if cell not in RECURRENT:
            raise ValueError(f"RecurrentTextClassifier: cell must be one of {sorted(RECURRENT)}, got {cell!r}")
        if pooling not in POOLINGS:
            raise ValueError(f"RecurrentTextClassifier: pooling must be one of {POOLINGS}, got {pooling!r}")
        if not isinstance(num_layers, int) or num_layers < 1:
            raise ValueError(f"RecurrentTextClassifier: num_layers must be a positive integer, got {num_layers!r}")
        self.cell, self.pooling, self.bidirectional, self.padding_idx = cell, pooling, bool(bidirectional), padding_idx
        self.hidden_size = hidden_size
        directions = 2 if bidirectional else 1
        sizes = [embedding_dim] + [hidden_size * directions] * (num_layers - 1)
        rnn = RECURRENT[cell]
        self.embedding = nn.Embedding(vocab_size, embedding_dim, padding_idx=padding_idx)
        # one single-layer network per layer (and per direction), so each direction can be
        # given its own order of the tokens
        self.rnns = nn.ModuleList([rnn(size, hidden_size, batch_first=True) for size in sizes])
        if bidirectional:
            self.rnns_reverse = nn.ModuleList([rnn(size, hidden_size, batch_first=True) for size in sizes])
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(hidden_size * directions, num_classes)

    def forward(self, ids):
        ids = _token_ids(self, ids)
        lengths = _lengths(ids, self.padding_idx)
        rows = xp.arange(len(lengths))
        x = self.dropout(self.embedding(ids))
        if self.bidirectional:
            steps = xp.arange(ids.shape[1])[None, :]
            # step t of a reversed text is step lengths-1-t of the text; padding stays put
            reversed_order = xp.where(steps < lengths[:, None], lengths[:, None] - 1 - steps, steps)
        for layer, rnn in enumerate(self.rnns):
            x_in = x
            x, _ = rnn(x_in)
            if self.bidirectional:
                backward, _ = self.rnns_reverse[layer](x_in[rows[:, None], reversed_order])
                x = concatenate([x, backward[rows[:, None], reversed_order]], axis=-1)
            if layer < len(self.rnns) - 1:
                x = self.dropout(x)
        if self.pooling == "mean":
            summary = _masked_mean(x, lengths)
        else:
            summary = x[rows, lengths - 1]  # the forward state after the last real token
            if self.bidirectional:  # the backward network ends at the first token
                summary = concatenate([summary[:, : self.hidden_size], x[:, 0, self.hidden_size:]], axis=-1)
        return self.head(self.dropout(summary))

    def extra_repr(self):
        return f"cell={self.cell!r}, pooling={self.pooling!r}, bidirectional={self.bidirectional}"


class TransformerTextClassifier(nn.Module):
    """Embedding (``padding_idx=0``) + learned positions + ``depth`` pre-norm encoder
    blocks (GELU) + LayerNorm + mean over the real tokens + Linear.

    The key padding mask stops every position attending to padding, and the mean reads
    the real positions only, so the padding changes nothing.

    Args:
        vocab_size, num_classes: as :class:`RecurrentTextClassifier`.
        max_length: the longest text it reads (the table of learned positions).
        dim: each token's vector; heads: attention heads (dim must be divisible by it);
        depth: encoder blocks; mlp_dim: the feed-forward size (default 2 * dim).
        dropout: in the encoder blocks and before the head.
        padding_idx: the id of padding.

    Shape: (N, T) int64 ids, T <= max_length, padded at the end -> (N, num_classes).
    """

    def __init__(self, vocab_size, num_classes, max_length=256, dim=64, depth=2, heads=4, mlp_dim=None, dropout=0.1,
                 padding_idx=PADDING_IDX):
        super().__init__()
        self.max_length, self.padding_idx = max_length, padding_idx
        self.embedding = nn.Embedding(vocab_size, dim, padding_idx=padding_idx)
        self.positions = nn.LearnedPositionalEmbedding(max_length, dim)
        layer = nn.TransformerEncoderLayer(dim, heads, mlp_dim or 2 * dim, dropout, activation="gelu",
                                           batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, depth)
        self.norm = nn.LayerNorm(dim)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(dim, num_classes)

    def forward(self, ids):
        ids = _token_ids(self, ids)
        if ids.shape[1] > self.max_length:
            raise ValueError(f"{self._label()}: texts of {ids.shape[1]} ids are longer than max_length="
                             f"{self.max_length}; help: encode them with max_length={self.max_length}, or build the "
                             f"model with max_length={ids.shape[1]}")
        lengths = _lengths(ids, self.padding_idx)
        padding = xp.arange(ids.shape[1])[None, :] >= lengths[:, None]  # True: attention skips it
        x = self.positions(self.embedding(ids))
        x = self.norm(self.encoder(x, src_key_padding_mask=Tensor(padding)))
        return self.head(self.dropout(_masked_mean(x, lengths)))

    def extra_repr(self):
        return f"max_length={self.max_length}"


def lstm_text(vocab_size, num_classes, **options):
    """:class:`RecurrentTextClassifier` with an LSTM; ``options`` as its constructor's."""
    return RecurrentTextClassifier(vocab_size, num_classes, cell="lstm", **options)


def gru_text(vocab_size, num_classes, **options):
    """:class:`RecurrentTextClassifier` with a GRU; ``options`` as its constructor's."""
    return RecurrentTextClassifier(vocab_size, num_classes, cell="gru", **options)


def transformer_text(vocab_size, num_classes, **options):
    """:class:`TransformerTextClassifier`; ``options`` as its constructor's (``max_length``, ``dim``, ...)."""
    return TransformerTextClassifier(vocab_size, num_classes, **options)
