"""Specification of ``glassnet.utils.data``, PyTorch's ``torch.utils.data`` by name:
the same split sizes as ``random_split``, the same batches as ``DataLoader`` and
``default_collate`` (tuples, lists, dicts, named tuples, nested), the same samplers,
and the same errors, against PyTorch itself."""
import collections
import warnings

import numpy as np
import pytest
import torch
import torch.utils.data as torch_data

import glassnet as gn
import glassnet.data
from glassnet.utils.data import DataLoader, Dataset, Subset, TensorDataset, default_collate, random_split


def test_the_torch_names_are_glassnets_own_objects():
    import glassnet.nn.utils
    import glassnet.utils.data

    for name in ("Dataset", "TensorDataset", "Subset", "random_split", "DataLoader", "default_collate"):
        assert getattr(glassnet.utils.data, name) is getattr(glassnet.data, name)
    assert gn.utils.data.DataLoader is DataLoader
    assert glassnet.utils is not glassnet.nn.utils and callable(gn.nn.utils.clip_grad_norm_)


# -- random_split and Subset --------------------------------------------------------------------------

SPLITS = [
    (10, [7, 3]),
    (100, [70, 20, 10]),
    (11, [0.5, 0.3, 0.2]),
    (10, [0.33, 0.33, 0.34]),
    (7, [0.5, 0.5]),
    (3, [0.25, 0.25, 0.25, 0.25]),  # more subsets than the remainder reaches: some are empty
    (10, [1, 0]),  # counts that add up to 1 are read as fractions, as PyTorch reads them
    (1, [1, 0]),
    (5, [1.0]),
]


@pytest.mark.parametrize("n, lengths", SPLITS, ids=[f"{n}-{lengths}" for n, lengths in SPLITS])
def test_random_split_sizes_are_pytorchs(n, lengths):
    with warnings.catch_warnings(record=True) as ours:
        warnings.simplefilter("always")
        mine = random_split(TensorDataset(np.arange(n)), lengths, generator=np.random.default_rng(0))
    with warnings.catch_warnings(record=True) as theirs:
        warnings.simplefilter("always")
        expected = torch_data.random_split(range(n), lengths, generator=torch.Generator().manual_seed(0))
    assert [len(part) for part in mine] == [len(part) for part in expected]
    assert [str(w.message) for w in ours] == [str(w.message) for w in theirs]  # "Length of split at index i is 0"
    together = np.concatenate([part.indices for part in mine]) if mine else np.array([])
    assert sorted(together.tolist()) == list(range(n))


@pytest.mark.parametrize("lengths", [[5, 4], [0.5, 0.6], [1.5, -0.5], [6, -1]])
def test_random_split_refuses_what_pytorch_refuses(lengths):
    with pytest.raises(ValueError):
        torch_data.random_split(range(10), lengths)
    with pytest.raises(ValueError):
        random_split(TensorDataset(np.arange(10)), lengths)


def test_random_split_follows_its_generator():
    def split(generator):
        return [part.indices.tolist() for part in random_split(TensorDataset(np.arange(20)), [0.5, 0.5], generator=generator)]

    assert split(np.random.default_rng(7)) == split(np.random.default_rng(7)) != split(np.random.default_rng(8))
    assert split(gn.manual_seed(3)) == split(gn.manual_seed(3))  # the object PyTorch code passes
    gn.seed(3)
    without = split(None)
    gn.seed(3)
    assert split(None) == without  # no generator: glassnet's, which follows gn.seed


def test_subset_takes_the_examples_at_its_indices_as_pytorchs():
    data = np.arange(12, dtype=np.float32).reshape(6, 2)
    indices = [4, 0, 5, 2]
    mine = Subset(TensorDataset(data), indices)
    theirs = torch_data.Subset(torch_data.TensorDataset(torch.from_numpy(data)), indices)
    assert len(mine) == len(theirs) == 4
    for i in range(4):
        np.testing.assert_array_equal(mine[i][0], theirs[i][0].numpy())


# -- default_collate ---------------------------------------------------------------------------------

Point = collections.namedtuple("Point", ["x", "y"])


def _example(i):
    """One example of every kind default_collate handles, nested."""
    rng = np.random.default_rng(i)
    return {
        "image": rng.standard_normal((2, 3)).astype(np.float32),
        "label": int(i),
        "name": f"example-{i}",
        "pair": (rng.standard_normal(2).astype(np.float32), np.int64(i * 10)),
        "point": Point(np.float32(i), np.array([i, i + 1])),
        "nested": {"mask": np.array([True, i % 2 == 0]), "values": [np.float32(i), np.float32(-i)]},
    }


def _plain(tree):
    """A batch as plain Python: arrays for tensors, and the container kinds kept, except
    that tuples and lists compare alike (PyTorch turns tuples into lists)."""
    if isinstance(tree, (gn.Tensor, torch.Tensor)):
        return tree.numpy()
    if isinstance(tree, dict):
        return {key: _plain(value) for key, value in tree.items()}
    if isinstance(tree, tuple) and hasattr(tree, "_fields"):
        return (type(tree).__name__, [_plain(value) for value in tree])
    if isinstance(tree, (list, tuple)) and not all(isinstance(v, str) for v in tree):
        return [_plain(value) for value in tree]
    return tree


def _assert_same(mine, expected, where="batch"):
    if isinstance(expected, np.ndarray):
        assert isinstance(mine, np.ndarray), where
        assert mine.dtype == expected.dtype and mine.shape == expected.shape, where
        np.testing.assert_array_equal(mine, expected, err_msg=where)
    elif isinstance(expected, dict):
        assert list(mine) == list(expected), where
        for key in expected:
            _assert_same(mine[key], expected[key], f"{where}[{key!r}]")
    elif isinstance(expected, tuple):  # a named tuple: its name, then its fields
        assert mine[0] == expected[0], where
        _assert_same(mine[1], expected[1], where)
    elif isinstance(expected, list) and not all(isinstance(v, str) for v in expected):
        assert len(mine) == len(expected), where
        for i, (a, b) in enumerate(zip(mine, expected)):
            _assert_same(a, b, f"{where}[{i}]")
    else:
        assert mine == expected, where


def test_default_collate_of_nested_examples_is_pytorchs():
    examples = [_example(i) for i in range(3)]
    mine, theirs = default_collate(examples), torch_data.default_collate(examples)
    _assert_same(_plain(mine), _plain(theirs))
    assert isinstance(mine["point"], Point) and mine["name"] == ["example-0", "example-1", "example-2"]
    assert isinstance(mine["pair"], tuple) and isinstance(mine["nested"]["values"], list)


@pytest.mark.parametrize("examples", [
    [(np.zeros(3, np.float32), 1), (np.ones(3, np.float32), 0)],
    [[np.float32(1), np.int64(2)], [np.float32(3), np.int64(4)]],
    [np.arange(4), np.arange(4, 8)],
    [{"a": True}, {"a": False}],
    [collections.OrderedDict(b=np.float32(1), a=np.float32(2))] * 2,
    [collections.defaultdict(list, x=np.zeros(2, np.float32))] * 2,
], ids=["tuples", "lists", "arrays", "bools", "ordered_dict", "defaultdict"])
def test_default_collate_keeps_pytorchs_containers_and_dtypes(examples):
    mine, theirs = default_collate(examples), torch_data.default_collate(examples)
    _assert_same(_plain(mine), _plain(theirs))
    if isinstance(theirs, torch.Tensor):
        assert isinstance(mine, gn.Tensor)
    else:
        assert type(mine) is type(theirs) or (isinstance(mine, tuple) and isinstance(theirs, list))
    if isinstance(theirs, collections.defaultdict):
        assert mine.default_factory is list


def test_default_collate_turns_glassnet_tensors_and_python_numbers_into_batches():
    batch = default_collate([(gn.tensor([1.0, 2.0]), 0.5, 3), (gn.tensor([3.0, 4.0]), 1.5, 4)])
    assert [t.shape for t in batch] == [(2, 2), (2,), (2,)]
    assert [t.dtype for t in batch] == [np.float32, np.float32, np.int64]  # glassnet's dtypes; PyTorch's float is float64
    np.testing.assert_array_equal(batch[0].numpy(), [[1, 2], [3, 4]])


def test_default_collate_refuses_what_pytorch_refuses():
    with pytest.raises(RuntimeError, match="each element in list of batch should be of equal size"):
        default_collate([[1, 2], [3]])
    with pytest.raises(RuntimeError, match="each element in list of batch should be of equal size"):
        torch_data.default_collate([[1, 2], [3]])
    with pytest.raises(TypeError, match="batch must contain tensors, numpy arrays, numbers, dicts or lists"):
        default_collate([object(), object()])
    with pytest.raises(TypeError, match="batch must contain tensors, numpy arrays, numbers, dicts or lists"):
        torch_data.default_collate([object(), object()])


# -- DataLoader ------------------------------------------------------------------------------------


class Records(Dataset):
    """A map-style dataset of dicts, the shape Hugging Face-style code gives."""

    def __init__(self, n):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return {"input": np.full(3, i, np.float32), "target": np.int64(i % 2), "meta": {"index": i}}


class TorchRecords(torch_data.Dataset):
    def __init__(self, n):
        self.records = Records(n)

    def __len__(self):
        return len(self.records)

    def __getitem__(self, i):
        return self.records[i]


def _same_batches(mine, theirs):
    mine, theirs = list(mine), list(theirs)
    assert len(mine) == len(theirs)
    for i, (a, b) in enumerate(zip(mine, theirs)):
        _assert_same(_plain(a), _plain(b), f"batch {i}")


@pytest.mark.parametrize("options", [
    dict(batch_size=4),
    dict(batch_size=4, drop_last=True),
    dict(batch_size=3, sampler=[9, 0, 4, 4, 2, 7, 1]),
    dict(batch_sampler=[[0, 1], [9, 3, 5], [2]]),
    dict(batch_size=4, num_workers=0, pin_memory=False, timeout=0),
], ids=["batches", "drop_last", "sampler", "batch_sampler", "worker_options"])
def test_dataloader_of_dicts_gives_pytorchs_batches(options):
    mine, theirs = DataLoader(Records(10), **options), torch_data.DataLoader(TorchRecords(10), **options)
    assert len(mine) == len(theirs)
    _same_batches(mine, theirs)


def test_dataloader_of_a_tensor_dataset_gives_pytorchs_batches():
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((10, 3)).astype(np.float32), rng.integers(0, 3, 10)
    mine = DataLoader(TensorDataset(gn.tensor(x), gn.tensor(y)), batch_size=4)
    theirs = torch_data.DataLoader(torch_data.TensorDataset(torch.from_numpy(x), torch.from_numpy(y)), batch_size=4)
    _same_batches(mine, theirs)
    xb, yb = next(iter(mine))
    assert isinstance(xb, gn.Tensor) and not xb.requires_grad and yb.dtype == np.int64


def test_worker_and_memory_options_are_accepted_and_change_nothing():
    plain = DataLoader(Records(10), batch_size=4, shuffle=True, generator=np.random.default_rng(0))
    busy = DataLoader(Records(10), batch_size=4, shuffle=True, generator=np.random.default_rng(0), num_workers=4,
                      pin_memory=True, persistent_workers=True, prefetch_factor=2, worker_init_fn=print,
                      multiprocessing_context="spawn", pin_memory_device="", in_order=False)
    _same_batches(plain, busy)


def test_shuffling_follows_the_generator():
    def epochs(generator):
        loader = DataLoader(Records(10), batch_size=10, shuffle=True, generator=generator)
        return [next(iter(loader))["meta"]["index"].tolist() for _ in range(2)]

    first = epochs(np.random.default_rng(5))
    assert first == epochs(np.random.default_rng(5)) != epochs(np.random.default_rng(6))
    assert first[0] != first[1] and sorted(first[0]) == list(range(10))  # a new order every epoch


@pytest.mark.parametrize("options", [
    dict(sampler=[0, 1], shuffle=True),
    dict(batch_sampler=[[0]], batch_size=2),
    dict(batch_sampler=[[0]], shuffle=True),
    dict(batch_sampler=[[0]], drop_last=True),
    dict(batch_sampler=[[0]], sampler=[0]),
    dict(num_workers=-1),
])
def test_dataloader_refuses_the_option_mixes_pytorch_refuses(options):
    with pytest.raises(ValueError):
        torch_data.DataLoader(TorchRecords(4), **options)
    with pytest.raises(ValueError):
        DataLoader(Records(4), **options)


def test_tensor_dataset_gives_tensors_and_its_tensors_as_pytorch():
    features, labels = np.arange(6, dtype=np.float32).reshape(3, 2), np.array([0, 1, 0])
    ours = TensorDataset(gn.tensor(features), gn.tensor(labels))
    theirs = torch.utils.data.TensorDataset(torch.tensor(features), torch.tensor(labels))
    x, y = ours[1]
    tx, ty = theirs[1]
    assert isinstance(x, gn.Tensor) and isinstance(y, gn.Tensor)
    np.testing.assert_array_equal(x.numpy(), tx.numpy())
    assert y.item() == ty.item()
    assert len(ours.tensors) == len(theirs.tensors) == 2
    np.testing.assert_array_equal(ours.tensors[0].numpy(), theirs.tensors[0].numpy())
    assert ours.tensors[0].numpy() is ours.arrays[0]  # the same memory, not a copy
