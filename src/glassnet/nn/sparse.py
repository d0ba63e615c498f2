"""Embedding: a learned vector for each of a fixed set of symbols (characters, words,
classes), looked up by index — the first layer of every language model.

A lookup is a product of a one-hot vector with the table, so its gradient adds each
output gradient onto the row it was read from (rows read twice receive both).
"""
from ..backend import xp
from ..tensor import Function, Tensor
from . import init
from .module import Module, Parameter


class EmbeddingFunction(Function):
    """out[...] = weight[indices[...]]; the padding row, if any, receives no gradient."""

    def forward(self, weight, indices, padding_idx=None):
        self.indices, self.weight_shape, self.padding_idx = indices, weight.shape, padding_idx
        return weight[indices]

    def backward(self, grad):
        grad_weight = xp.zeros(self.weight_shape, dtype=grad.dtype)
        xp.add.at(grad_weight, self.indices.reshape(-1), grad.reshape(-1, self.weight_shape[1]))
        if self.padding_idx is not None:
            grad_weight[self.padding_idx] = 0
        return grad_weight


def _check_indices(who, indices, size):
    if indices.dtype.kind not in "iu":
        raise TypeError(
            f"{who}: indices must be integers, got dtype {indices.dtype}; "
            "help: convert them with .astype('int64')"
        )
    if indices.size == 0:
        return
    low, high = int(indices.min()), int(indices.max())
    if low < 0 or high >= size:
        bad = low if low < 0 else high
        raise ValueError(
            f"{who}: index {bad} is out of range for an embedding table of {size} rows "
            f"(valid indices are 0..{size - 1}); help: build the layer with num_embeddings "
            "at least the vocabulary size"
        )


def _padding_row(who, padding_idx, size):
    if padding_idx is None:
        return None
    if not -size <= padding_idx < size:
        raise ValueError(f"{who}: padding_idx {padding_idx} must be within the {size} rows (-{size}..{size - 1})")
    return padding_idx % size


def embedding(input, weight, padding_idx=None):
    """The rows of ``weight`` at the integer positions in ``input``.

    Shape: input (*) of integers, weight (num_embeddings, embedding_dim)
    -> (*, embedding_dim).

    >>> import glassnet as gn
    >>> from glassnet.nn.sparse import embedding
    >>> embedding(gn.tensor([2, 0]), gn.tensor([[0.0, 0.0], [1.0, 1.0], [2.0, 2.0]]))
    tensor([[2., 2.],
            [0., 0.]])
    """
    indices = input.data if isinstance(input, Tensor) else xp.asarray(input)
    _check_indices("embedding", indices, weight.shape[0])
    padding_idx = _padding_row("embedding", padding_idx, weight.shape[0])
    return EmbeddingFunction.apply(weight, indices=indices, padding_idx=padding_idx)


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
            self.weight.data[self.padding_idx] = 0

    def forward(self, input):
        indices = input.data if isinstance(input, Tensor) else xp.asarray(input)
        _check_indices(self._label(), indices, self.num_embeddings)
        return EmbeddingFunction.apply(self.weight, indices=indices, padding_idx=self.padding_idx)

    def extra_repr(self):
        padding = f", padding_idx={self.padding_idx}" if self.padding_idx is not None else ""
        return f"{self.num_embeddings}, {self.embedding_dim}{padding}"
