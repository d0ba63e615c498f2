"""DataLoader: turns a dataset into a stream of mini-batches of Tensors, one epoch per
``for`` loop."""
import collections.abc
import copy
import numbers

import numpy as np

from ..random import spawn
from ..tensor import Tensor
from .dataset import as_array, standard_dtype


def default_collate(batch):
    """Stack a list of examples into one batch, as PyTorch's ``default_collate``, field by
    field and at any depth:

    - arrays, Tensors and numbers -> one Tensor with a new first (batch) dimension;
    - dicts -> a dict of the same keys (and type), each value collated;
    - tuples, lists and named tuples -> the same kind, each position collated;
    - strings -> the list of them.

    Floats become float32 and integers int64 (see ``standard_dtype``), glassnet's dtypes;
    PyTorch keeps float64 arrays and Python floats as float64. Tuples stay tuples where
    PyTorch returns lists: both unpack alike (``x, y = batch``).

    Shape:
        ``B`` examples of shape ``(...)`` -> a Tensor of shape ``(B, ...)``.

    >>> import numpy as np
    >>> x, y = default_collate([(np.zeros(3), 1), (np.ones(3), 0)])
    >>> x.shape, y.tolist()
    ((2, 3), [1, 0])
    >>> batch = default_collate([{"image": np.zeros(2), "label": 3}, {"image": np.ones(2), "label": 5}])
    >>> batch["image"].shape, batch["label"].tolist()
    ((2, 2), [3, 5])
    """
    first = batch[0]
    if isinstance(first, (str, bytes)):
        return list(batch)
    if isinstance(first, (Tensor, np.ndarray, np.generic, numbers.Number)):
        return _stack(batch)
    if isinstance(first, collections.abc.Mapping):
        return _same_kind_of_mapping(first, {key: default_collate([example[key] for example in batch]) for key in first})
    if isinstance(first, tuple) and hasattr(first, "_fields"):  # a named tuple keeps its type
        return type(first)(*(default_collate(list(field)) for field in zip(*batch)))
    if isinstance(first, collections.abc.Sequence):
        if any(len(example) != len(first) for example in batch):
            raise RuntimeError("default_collate: each element in list of batch should be of equal size")
        fields = [default_collate(list(field)) for field in zip(*batch)]
        return tuple(fields) if isinstance(first, tuple) else fields
    raise TypeError(
        f"default_collate: batch must contain tensors, numpy arrays, numbers, dicts or lists; found {type(first)}"
    )


def _stack(values):
    return Tensor(standard_dtype(np.stack([as_array(v) for v in values])))


def _same_kind_of_mapping(example, collated):
    # PyTorch's rule: a mutable mapping is copied (keeping, e.g., a defaultdict's factory),
    # another mapping type is rebuilt from a dict, and a plain dict is the fallback
    if isinstance(example, collections.abc.MutableMapping):
        clone = copy.copy(example)
        clone.update(collated)
        return clone
    try:
        return type(example)(collated)
    except TypeError:
        return collated


class DataLoader:
    """Iterate over ``dataset`` in mini-batches; each ``for`` loop is one epoch.

    Args:
        dataset: a :class:`~glassnet.data.Dataset` (anything with ``len`` and ``[i]``).
        batch_size: examples per batch; the last batch may be smaller.
        shuffle: visit the examples in a new random order every epoch.
        sampler: an iterable of indices that gives the order instead (not with ``shuffle``).
        batch_sampler: an iterable of lists of indices, one list per batch (instead of
            ``batch_size``, ``shuffle``, ``sampler`` and ``drop_last``).
        collate_fn: turns a list of examples into a batch (default: :func:`default_collate`).
        drop_last: skip the last batch if it is smaller than ``batch_size``.
        generator: the NumPy Generator that shuffles (e.g. ``gn.manual_seed(0)``'s).
        seed: without ``generator``, the seed of the shuffling generator: the same seed
            gives the same sequence of epochs; ``None`` draws one from glassnet's
            generator (see ``glassnet.seed``).

    ``num_workers``, ``pin_memory``, ``timeout``, ``worker_init_fn``,
    ``multiprocessing_context``, ``prefetch_factor``, ``persistent_workers``,
    ``pin_memory_device`` and ``in_order`` are accepted so that PyTorch code runs
    unchanged, and change nothing: batches are cut in the main process (cheaply, see
    below) and there is no GPU memory to pin.

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

    def __init__(self, dataset, batch_size=1, shuffle=None, sampler=None, batch_sampler=None, num_workers=0,
                 collate_fn=None, pin_memory=False, drop_last=False, timeout=0, worker_init_fn=None,
                 multiprocessing_context=None, generator=None, *, prefetch_factor=None, persistent_workers=False,
                 pin_memory_device="", in_order=True, seed=None):
        _check_options(batch_size, shuffle, sampler, batch_sampler, drop_last, num_workers)
        self.dataset = dataset
        self.batch_size = None if batch_sampler is not None else int(batch_size)
        self.shuffle = bool(shuffle)
        self.sampler, self.batch_sampler = sampler, batch_sampler
        self.drop_last = drop_last
        self.collate_fn = collate_fn
        self.num_workers, self.pin_memory = num_workers, pin_memory
        # One generator for the loader's whole life, so that epoch k's order depends only
        # on the seed and k. Made only when shuffling, so that a loader that does not
        # shuffle does not shift glassnet's global random stream.
        self.generator = generator if generator is not None else spawn(seed) if self.shuffle else None

    def __len__(self):
        """The number of batches in one epoch."""
        if self.batch_sampler is not None:
            return len(self.batch_sampler)
        n = len(self.sampler) if self.sampler is not None else len(self.dataset)
        if self.drop_last:
            return n // self.batch_size
        return -(-n // self.batch_size)  # ceiling division

    def __iter__(self):
        for indices in self._batches_of_indices():
            yield self._batch(indices)

    def _batches_of_indices(self):
        if self.batch_sampler is not None:
            yield from self.batch_sampler
            return
        if self.sampler is not None:
            order = np.fromiter(iter(self.sampler), dtype=np.int64)
        elif self.shuffle:
            order = self.generator.permutation(len(self.dataset))
        else:
            order = np.arange(len(self.dataset))
        for b in range(len(self)):
            yield order[b * self.batch_size : (b + 1) * self.batch_size]

    def _batch(self, indices):
        get_batch = getattr(self.dataset, "__getitems__", None)
        if get_batch is not None and self.collate_fn is None:
            return tuple(Tensor(standard_dtype(as_array(a))) for a in get_batch(indices))
        collate = self.collate_fn or default_collate
        return collate([self.dataset[int(i)] for i in indices])

    def __repr__(self):
        return (
            f"DataLoader({self.dataset!r}, batch_size={self.batch_size}, shuffle={self.shuffle}, "
            f"drop_last={self.drop_last})"
        )


def _check_options(batch_size, shuffle, sampler, batch_sampler, drop_last, num_workers):
    if batch_sampler is not None:
        if batch_size != 1 or shuffle or sampler is not None or drop_last:
            raise ValueError(
                "DataLoader: batch_sampler option is mutually exclusive with batch_size, shuffle, sampler, and drop_last"
            )
    elif isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"DataLoader: batch_size must be a positive integer, got {batch_size!r}")
    if sampler is not None and shuffle:
        raise ValueError("DataLoader: sampler option is mutually exclusive with shuffle")
    if num_workers < 0:
        raise ValueError("DataLoader: num_workers option should be non-negative")
