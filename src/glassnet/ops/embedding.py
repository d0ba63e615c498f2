"""Embedding lookup: the rows of a table at integer positions.

A lookup is a product of a one-hot vector with the table, so its gradient adds each
output gradient onto the row it was read from (rows read twice receive both).
"""
from ..backend import xp
from ..tensor import Function


class Embedding(Function):
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
