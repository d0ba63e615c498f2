"""``Size``, the shape PyTorch's ``size()`` returns, and the parsing of sizes given as
varargs or as one sequence (``zeros(2, 3)``, ``zeros((2, 3))``, ``zeros([2, 3])``)."""
import math
import operator


class Size(tuple):
    """A shape: a tuple of ints that prints as PyTorch's ``torch.Size`` does.

    >>> import glassnet as gn
    >>> gn.zeros(2, 3).size(), gn.zeros(2, 3).size() == (2, 3), gn.Size([2, 3]).numel()
    (glassnet.Size([2, 3]), True, 6)
    """

    __slots__ = ()

    def __new__(cls, sizes=()):
        return super().__new__(cls, (operator.index(n) for n in sizes))

    def numel(self):
        return math.prod(self)

    def __getitem__(self, index):
        item = super().__getitem__(index)
        return Size(item) if isinstance(index, slice) else item

    def __repr__(self):
        return f"glassnet.Size({list(self)})"

    __str__ = __repr__


def sizes(args, who, keep=False):
    """The shape in ``args``, a function's varargs: ``(2, 3)`` or ``((2, 3),)`` or ``([2, 3],)``.
    With ``keep``, -1 may stand for a size (expand's "keep this one")."""
    if len(args) == 1 and not isinstance(args[0], int) and hasattr(args[0], "__iter__"):
        args = tuple(args[0])
    try:
        shape = tuple(operator.index(n) for n in args)
    except TypeError:
        raise TypeError(f"{who}: a size must be ints, given as {who}(2, 3) or {who}((2, 3)); got {args!r}") from None
    if any(n < (-1 if keep else 0) for n in shape):
        raise RuntimeError(f"{who}: negative size in {shape}")
    return shape
