"""DataLoader: turns a dataset into a stream of mini-batches of Tensors, one epoch per
``for`` loop."""
import numpy as np

from ..random import spawn
from ..tensor import Tensor
from .dataset import standard_dtype


def default_collate(items):
    """Stack a list of examples into one batch.

    Examples that are tuples ``(x, y, ...)`` give a tuple of Tensors, one per field,
    each with a new first (batch) dimension; single arrays give a single Tensor.
    Floats become float32 and integers int64 (see ``standard_dtype``).

    Shape:
        ``B`` examples of shape ``(...)`` -> a Tensor of shape ``(B, ...)``.

    >>> import numpy as np
    >>> x, y = default_collate([(np.zeros(3), 1), (np.ones(3), 0)])
    >>> x.shape, y.tolist()
    ((2, 3), [1, 0])
    """
    first = items[0]
    if isinstance(first, (tuple, list)):
        return tuple(_stack(field) for field in zip(*items))
    return _stack(items)


def _stack(values):
    return Tensor(standard_dtype(np.stack([getattr(v, "data", v) for v in values])))


class DataLoader:
    """Iterate over ``dataset`` in mini-batches; each ``for`` loop is one epoch.

    Args:
        dataset: a :class:`~glassnet.data.Dataset` (anything with ``len`` and ``[i]``).
        batch_size: examples per batch; the last batch may be smaller.
        shuffle: visit the examples in a new random order every epoch.
        drop_last: skip the last batch if it is smaller than ``batch_size``.
        seed: seed of the shuffling generator. The same seed gives the same sequence of
            epochs; ``None`` draws one from glassnet's generator (see ``glassnet.seed``).
        collate_fn: turns a list of examples into a batch (default: :func:`default_collate`).

    When the dataset has ``__getitems__`` and no ``collate_fn`` is given, a batch is cut
    with one NumPy fancy-index per array instead of ``batch_size`` calls to
    ``dataset[i]``: the same result, without a Python loop per example.

    Shape:
        a batch of a dataset of ``(x, y)`` examples is a tuple of Tensors
        ``(x: (B, ...), y: (B,))`` with ``B = batch_size`` (smaller for the last batch),
        none of them requiring gradients.

    >>> import numpy as np
    >>> from glassnet.data import TensorDataset
    >>> loader = DataLoader(TensorDataset(np.zeros((10, 3)), np.arange(10)), batch_size=4)
    >>> len(loader), [x.shape[0] for x, y in loader]
    (3, [4, 4, 2])
    """

    def __init__(self, dataset, batch_size=1, shuffle=False, drop_last=False, seed=None, collate_fn=None):
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
            raise ValueError(f"DataLoader: batch_size must be a positive integer, got {batch_size!r}")
        self.dataset = dataset
        self.batch_size = int(batch_size)
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.collate_fn = collate_fn
        # One generator for the loader's whole life, so that epoch k's order depends only
        # on the seed and k. Made only when shuffling, so that a loader that does not
        # shuffle does not shift glassnet's global random stream.
        self.generator = spawn(seed) if shuffle else None

    def __len__(self):
        """The number of batches in one epoch."""
        n = len(self.dataset)
        if self.drop_last:
            return n // self.batch_size
        return -(-n // self.batch_size)  # ceiling division

    def __iter__(self):
        n = len(self.dataset)
        order = self.generator.permutation(n) if self.shuffle else np.arange(n)
        for b in range(len(self)):
            yield self._batch(order[b * self.batch_size : (b + 1) * self.batch_size])

    def _batch(self, indices):
        get_batch = getattr(self.dataset, "__getitems__", None)
        if get_batch is not None and self.collate_fn is None:
            return tuple(Tensor(standard_dtype(getattr(a, "data", a))) for a in get_batch(indices))
        collate = self.collate_fn or default_collate
        return collate([self.dataset[int(i)] for i in indices])

    def __repr__(self):
        return (
            f"DataLoader({self.dataset!r}, batch_size={self.batch_size}, shuffle={self.shuffle}, "
            f"drop_last={self.drop_last})"
        )
