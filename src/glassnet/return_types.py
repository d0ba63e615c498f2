"""The named tuples that PyTorch's ops with several results return (``torch.return_types``):
``max``/``min`` along a dim, ``sort`` and ``topk`` give ``(values, indices)``.

They are tuples, so both PyTorch idioms work:

>>> import glassnet as gn
>>> x = gn.tensor([[1.0, 5.0, 2.0], [7.0, 0.0, 3.0]])
>>> values, indices = x.max(1)
>>> indices
tensor([1, 0])
>>> x.max(1)[1].tolist(), x.max(dim=1).values.tolist()
([1, 0], [5.0, 7.0])
"""
from collections import namedtuple


def _values_and_indices(name):
    cls = namedtuple(name, ["values", "indices"], module=__name__)
    cls.__repr__ = lambda self: f"glassnet.return_types.{name}(\nvalues={self.values!r},\nindices={self.indices!r})"
    return cls


max = _values_and_indices("max")  # noqa: A001 (PyTorch's names)
min = _values_and_indices("min")  # noqa: A001
sort = _values_and_indices("sort")
topk = _values_and_indices("topk")

__all__ = ["max", "min", "sort", "topk"]
