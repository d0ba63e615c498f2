"""DataLoader: turns a dataset into a stream of mini-batches of Tensors, one epoch per
``for`` loop."""
import collections.abc
import copy
import hashlib
import numbers

import numpy as np

from ..random import get_rng_state, set_rng_state, spawn
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

    The loader knows where it is: :meth:`state_dict` holds its shuffling generator, the
    order of the epoch in progress and how many batches of it were handed out, and after
    :meth:`load_state_dict` the next ``for`` loop goes on from there (a resumed training
    run sees the batches it would have seen had it never stopped).

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
        self._order, self._position = None, 0  # the epoch in progress: its order, batches handed out
        self._resume = None  # (order, position) set by load_state_dict for the next epoch to go on from

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
            self._position += 1  # counted as handed out before the caller sees it
            yield self._batch(indices)

    def _batches_of_indices(self):
        order, start = self._resume or (None, 0)
        self._resume = None
        self._position = start
        if self.batch_sampler is not None:  # an epoch that goes on skips the lists already seen
            for b, indices in enumerate(self.batch_sampler):
                if b >= start:
                    yield indices
            return
        if order is None:
            if self.sampler is not None:
                order = np.fromiter(iter(self.sampler), dtype=np.int64)
            elif self.shuffle:
                order = self.generator.permutation(len(self.dataset))
            else:
                order = np.arange(len(self.dataset))
        self._order = order
        for b in range(start, len(self)):
            yield order[b * self.batch_size : (b + 1) * self.batch_size]

    # -- where the loader is, for resuming ------------------------------------------------------

    def state_dict(self):
        """Where the loader is: ``generator`` (its shuffling generator's state, or None),
        ``order`` (the epoch in progress's order of the examples, an int64 array, or None:
        also when the sampler has ``set_epoch``, whose order is that of its epoch)
        and ``position`` (how many of that epoch's batches were handed out). Plain data:
        arrays and numbers."""
        in_progress = 0 < self._position < len(self)
        # a sampler with epochs (DistributedSampler) gives the same order again once set to the epoch: on each
        # rank its own share, even when a run goes on with another number of ranks
        keep_order = in_progress and self._order is not None and not hasattr(self.sampler, "set_epoch")
        return {
            "generator": get_rng_state(self.generator) if self.generator is not None else None,
            "order": np.asarray(self._order, dtype=np.int64) if keep_order else None,
            "position": self._position if in_progress else 0,
        }

    def load_state_dict(self, state):
        """Go on from ``state`` (of :meth:`state_dict`): the next ``for`` loop continues the
        saved epoch after its last handed-out batch, or starts a new epoch if none was in
        progress; the shuffling generator continues as saved."""
        if state.get("generator") is not None:
            if self.generator is None:
                raise ValueError("this DataLoader does not shuffle, but the saved one did (it has a generator's "
                                 "state); help: build it with shuffle=True, as when the state was saved")
            set_rng_state(state["generator"], self.generator)
        order, position = state.get("order"), int(state.get("position", 0))
        if order is not None and len(order) != len(self._order_source()):
            raise ValueError(f"the saved DataLoader went through {len(order)} examples an epoch, this one has "
                             f"{len(self._order_source())}: is it the same data set?")
        order = None if order is None else np.asarray(order, dtype=np.int64)
        self._resume = (order, position) if position else None
        self._order, self._position = order, position

    def _order_source(self):
        return self.sampler if self.sampler is not None else self.dataset

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


def fingerprint(data):
    """What identifies the data a loader goes through, to tell on resuming whether it
    changed: ``length`` (examples, or batches when the examples cannot be counted),
    ``name`` (when the data set has one) and ``sample_hash``, a SHA-256 of a few examples
    (the first, the middle and the last) read with glassnet's generator set aside, so that
    a random transform neither moves the run's random state nor changes the hash.

    ``data`` is a DataLoader, a Dataset, or any loader of batches that wraps one (through
    ``dataset`` or ``loader``) or holds ``tokens`` (text windows).
    """
    source = data
    while not hasattr(source, "__getitem__") and hasattr(source, "loader"):  # a wrapper of a loader
        source = source.loader
    if not hasattr(source, "__getitem__") and hasattr(source, "dataset"):  # a DataLoader
        source = source.dataset
    name = getattr(source, "name", None)
    name = name if isinstance(name, str) else None
    if hasattr(source, "tokens"):
        tokens = np.asarray(source.tokens)
        return {"length": int(len(tokens)), "name": name, "sample_hash": _hash(tokens[:4096], tokens[-4096:])}
    if not (hasattr(source, "__getitem__") and hasattr(source, "__len__")):
        return {"length": len(data) if hasattr(data, "__len__") else None, "name": name, "sample_hash": None}
    n = len(source)
    indices = sorted({0, n // 2, n - 1}) if n else []
    saved = get_rng_state()
    set_rng_state(get_rng_state(np.random.default_rng(0)))  # a fixed state while reading them
    try:
        examples = [source[i] for i in indices]
    finally:
        set_rng_state(saved)
    return {"length": int(n), "name": name, "sample_hash": _hash(*examples)}


def _hash(*values):
    digest = hashlib.sha256()
    for value in values:
        _feed(digest, value)
    return digest.hexdigest()


def _feed(digest, value):
    if isinstance(value, (str, bytes)):
        digest.update(value.encode() if isinstance(value, str) else value)
    elif isinstance(value, collections.abc.Mapping):
        for key in value:
            _feed(digest, str(key))
            _feed(digest, value[key])
    elif isinstance(value, (tuple, list)):
        for item in value:
            _feed(digest, item)
    else:
        array = np.ascontiguousarray(np.asarray(as_array(value)))
        digest.update(str((array.dtype.str, array.shape)).encode())
        digest.update(array.tobytes())


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
