"""Datasets: indexable collections of examples.

A :class:`Dataset` answers two questions: how many examples (``len``) and what is
example ``i`` (``dataset[i]``, a tuple such as ``(image, label)`` of NumPy values).

A dataset that keeps its examples in arrays can also give a whole batch at once:
``dataset.__getitems__(indices)`` returns one array per field, built with a single
NumPy fancy-index each. :class:`~glassnet.data.DataLoader` uses it when it exists,
which is what makes an epoch over 60,000 images take milliseconds, not seconds.
"""
import math
import warnings

import numpy as np

from ..random import spawn
from ..tensor import Tensor


def as_array(value):
    """The NumPy array of a Tensor (itself, not a copy); anything else as it is."""
    return value._data if isinstance(value, Tensor) else value


def standard_dtype(array):
    """``array`` in the dtype glassnet computes with: floats become float32, integers
    int64 (class labels index with them); other dtypes are kept. Copies only if needed."""
    array = np.asarray(array)
    if array.dtype.kind == "f" and array.dtype != np.float32:
        return array.astype(np.float32)
    if array.dtype.kind in "iu" and array.dtype != np.int64:
        return array.astype(np.int64)
    return array


class Dataset:
    """The interface every dataset follows: ``len(dataset)`` and ``dataset[i]``.

    Subclass it and define ``__len__`` and ``__getitem__``. Define ``__getitems__``
    too (a list or array of indices -> a tuple of batch arrays) if whole batches can be
    cut faster than one example at a time.

    >>> class Squares(Dataset):
    ...     def __len__(self):
    ...         return 4
    ...     def __getitem__(self, i):
    ...         return float(i), i * i
    >>> Squares()[3]
    (3.0, 9)
    """

    def __len__(self):
        raise NotImplementedError(f"{type(self).__name__} must define __len__")

    def __getitem__(self, index):
        raise NotImplementedError(f"{type(self).__name__} must define __getitem__")


class TensorDataset(Dataset):
    """Examples cut from arrays along their first dimension: example ``i`` is
    ``(arrays[0][i], arrays[1][i], ...)``.

    Accepts NumPy arrays or glassnet Tensors (their arrays are used, not copied).
    Floats are stored as float32 and integers as int64 (see :func:`standard_dtype`).

    Shape:
        every array is ``(N, ...)`` with the same ``N``; example ``i`` is a tuple of
        tensors shaped ``(...)``.

    >>> import numpy as np
    >>> ds = TensorDataset(np.zeros((5, 3)), np.arange(5))
    >>> len(ds), ds[2][0].shape, ds[2][1]
    (5, (3,), tensor(2))
    """

    def __init__(self, *arrays):
        if not arrays:
            raise ValueError("TensorDataset needs at least one array, e.g. TensorDataset(inputs, targets)")
        arrays = [standard_dtype(as_array(a)) for a in arrays]
        for i, a in enumerate(arrays):
            if a.ndim == 0:
                raise ValueError(f"TensorDataset: array {i} is a scalar; every array needs a first (example) dimension")
        lengths = [len(a) for a in arrays]
        if len(set(lengths)) > 1:
            shapes = ", ".join(str(a.shape) for a in arrays)
            raise ValueError(
                f"TensorDataset: arrays must have the same first dimension (one row per example), "
                f"got shapes {shapes}"
            )
        self.arrays = tuple(arrays)

    def __len__(self):
        return len(self.arrays[0])

    @property
    def tensors(self):
        """The arrays as tensors that share their memory (PyTorch's attribute)."""
        return tuple(Tensor._wrap(a, False) for a in self.arrays)

    def __getitem__(self, index):
        """Example ``index`` as a tuple of tensors, as in PyTorch (views, not copies)."""
        return tuple(Tensor._wrap(a[index], False) for a in self.arrays)

    def __getitems__(self, indices):
        """A whole batch: one fancy-index per array."""
        indices = np.asarray(indices, dtype=np.int64)
        return tuple(a[indices] for a in self.arrays)

    def __repr__(self):
        shapes = ", ".join(f"{a.shape} {a.dtype}" for a in self.arrays)
        return f"TensorDataset({shapes})"


class Subset(Dataset):
    """The examples of ``dataset`` at ``indices``, in that order (a view: nothing copied).

    >>> import numpy as np
    >>> evens = Subset(TensorDataset(np.arange(10)), [0, 2, 4])
    >>> len(evens), evens[1][0]
    (3, tensor(2))
    """

    def __init__(self, dataset, indices):
        self.dataset = dataset
        self.indices = np.asarray(indices, dtype=np.int64)
        if self.indices.ndim != 1:
            raise ValueError(f"Subset: indices must be one-dimensional, got shape {self.indices.shape}")
        n = len(dataset)
        if len(self.indices) and (self.indices.min() < 0 or self.indices.max() >= n):
            raise IndexError(f"Subset: indices must lie in [0, {n}) for a dataset of {n} examples")
        # Only a batch-capable dataset gives a batch-capable subset; this keeps the
        # loader's fast path after random_split.
        if hasattr(dataset, "__getitems__"):
            self.__getitems__ = self._getitems

    def __len__(self):
        return len(self.indices)

    def __getitem__(self, index):
        return self.dataset[int(self.indices[index])]

    def _getitems(self, indices):
        return self.dataset.__getitems__(self.indices[np.asarray(indices, dtype=np.int64)])

    def __repr__(self):
        return f"Subset({len(self)} of {self.dataset!r})"


def random_split(dataset, lengths, generator=None, *, seed=None):
    """Split ``dataset`` into non-overlapping random :class:`Subset` s of the given sizes.

    ``lengths`` are counts that add up to ``len(dataset)``, or fractions that add up to 1:
    as in PyTorch, each fraction gives ``floor(fraction * len(dataset))`` examples and
    the few left over go one each to the first subsets, in turn.

    The order comes from ``generator`` (a NumPy Generator, e.g. ``gn.manual_seed(0)``'s),
    else from ``seed``, else from glassnet's generator (so it follows ``glassnet.seed``).
    The split sizes are PyTorch's; which examples land where is not, as the random
    streams differ.

    >>> import numpy as np
    >>> train, val = random_split(TensorDataset(np.arange(10)), [0.8, 0.2], generator=np.random.default_rng(0))
    >>> len(train), len(val)
    (8, 2)
    """
    n = len(dataset)
    lengths = list(lengths)
    if lengths and math.isclose(sum(lengths), 1) and sum(lengths) <= 1:
        lengths = _counts_from_fractions(lengths, n)
    if any(not isinstance(x, (int, np.integer)) or x < 0 for x in lengths) or sum(lengths) != n:
        raise ValueError(
            f"random_split: lengths {lengths} must be non-negative counts adding up to the dataset's "
            f"{n} examples, or fractions adding up to 1"
        )
    order = (generator if generator is not None else spawn(seed)).permutation(n)
    ends = np.cumsum([int(x) for x in lengths])
    return [Subset(dataset, order[end - length : end]) for end, length in zip(ends, lengths)]


def _counts_from_fractions(fractions, n):
    counts = []
    for i, fraction in enumerate(fractions):
        if not 0 <= fraction <= 1:
            raise ValueError(f"random_split: fraction at index {i} is not between 0 and 1, got {fraction}")
        counts.append(math.floor(n * fraction))
    for i in range(n - sum(counts)):  # the remainder, round-robin from the first subset
        counts[i % len(counts)] += 1
    for i, count in enumerate(counts):
        if count == 0:
            warnings.warn(f"Length of split at index {i} is 0. This might result in an empty dataset.", stacklevel=3)
    return counts
