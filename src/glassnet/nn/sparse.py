"""Embedding: a learned vector for each of a fixed set of symbols (characters, words,
classes), looked up by index — the first layer of every language model.

The lookup is the op ``ops.Embedding``; the functional form ``embedding`` and the index
checks are in ``functional``.
"""
from .. import ops
from ..backend import xp
from ..tensor import Tensor
from . import init
from .functional import _check_indices, _padding_row
from .module import Module, Parameter


class Embedding(Module):
    """A table of ``num_embeddings`` learned vectors of size ``embedding_dim``; the input
    holds indices into it.

    Args:
        num_embeddings: how many rows (the vocabulary size).
        embedding_dim: the size of each vector.
        padding_idx: a row that stays zero and is never trained (for padding tokens).

    Shape: input (*) of integers in [0, num_embeddings) -> output (*, embedding_dim).
    Parameters: ``weight`` (num_embeddings, embedding_dim), drawn from N(0, 1) as in
    PyTorch, the padding row zero.

    >>> import glassnet as gn
    >>> from glassnet.nn.sparse import Embedding
    >>> Embedding(65, 16)(gn.tensor([[1, 2, 3]])).shape
    (1, 3, 16)
    """

    def __init__(self, num_embeddings, embedding_dim, padding_idx=None):
        super().__init__()
        if num_embeddings <= 0 or embedding_dim <= 0:
            raise ValueError(f"Embedding: num_embeddings and embedding_dim must be positive, got {num_embeddings}, {embedding_dim}")
        self.num_embeddings, self.embedding_dim = num_embeddings, embedding_dim
        self.padding_idx = _padding_row("Embedding", padding_idx, num_embeddings)
        self.weight = Parameter(init.empty(num_embeddings, embedding_dim))
        self.reset_parameters()

    def reset_parameters(self):
        init.normal_(self.weight)
        if self.padding_idx is not None:
            self.weight._data[self.padding_idx] = 0

    def forward(self, input):
        indices = input._data if isinstance(input, Tensor) else xp.asarray(input)
        _check_indices(self, indices, self.num_embeddings)
        return ops.Embedding.apply(self.weight, indices=indices, padding_idx=self.padding_idx)

    def extra_repr(self):
        padding = f", padding_idx={self.padding_idx}" if self.padding_idx is not None else ""
        return f"{self.num_embeddings}, {self.embedding_dim}{padding}"
