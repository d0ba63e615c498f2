"""Specification of glassnet.data: datasets, the DataLoader, and IDX files."""
import gzip

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import glassnet.random
from glassnet.data import (
    DataLoader,
    Dataset,
    IDXError,
    Subset,
    TensorDataset,
    random_split,
    read_idx,
    write_idx,
)
from glassnet.tensor import Tensor


def epoch_order(loader):
    """The example indices one epoch visits, for a dataset whose only field is its index."""
    return np.concatenate([batch[0].data for batch in loader]).tolist()


def indexed(n):
    return TensorDataset(np.arange(n))


class ItemsOnly(Dataset):
    """The same examples as a TensorDataset, but without the batch fast path; counts
    how many times it is indexed."""

    def __init__(self, *arrays):
        self.arrays = arrays
        self.calls = 0

    def __len__(self):
        return len(self.arrays[0])

    def __getitem__(self, i):
        self.calls += 1
        return tuple(a[i] for a in self.arrays)


# -- batching -------------------------------------------------------------------------------


def test_ten_examples_in_batches_of_four_make_three_batches_the_last_of_two():
    loader = DataLoader(indexed(10), batch_size=4)
    assert len(loader) == 3
    assert [len(batch[0].data) for batch in loader] == [4, 4, 2]
    assert epoch_order(loader) == list(range(10))


def test_drop_last_skips_the_short_final_batch():
    loader = DataLoader(indexed(10), batch_size=4, drop_last=True)
    assert len(loader) == 2
    assert [len(batch[0].data) for batch in loader] == [4, 4]
    assert epoch_order(loader) == list(range(8))


def test_drop_last_keeps_every_batch_when_the_size_divides_evenly():
    loader = DataLoader(indexed(12), batch_size=4, drop_last=True)
    assert len(loader) == 3
    assert epoch_order(loader) == list(range(12))


def test_batch_size_one_is_the_default():
    assert len(DataLoader(indexed(5))) == 5


@pytest.mark.parametrize("bad", [0, -3, 2.5, True, "8"])
def test_a_batch_size_that_is_not_a_positive_integer_is_rejected(bad):
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        DataLoader(indexed(5), batch_size=bad)


def test_batches_are_tuples_of_tensors_float32_inputs_int64_labels_without_grad():
    x = np.random.default_rng(0).random((6, 3))  # float64 in, float32 out
    y = np.array([0, 1, 2, 0, 1, 2], dtype=np.uint8)  # uint8 in, int64 out
    xb, yb = next(iter(DataLoader(TensorDataset(x, y), batch_size=4)))
    assert isinstance(xb, Tensor) and isinstance(yb, Tensor)
    assert xb.data.dtype == np.float32 and xb.shape == (4, 3)
    assert yb.data.dtype == np.int64 and yb.data.tolist() == [0, 1, 2, 0]
    assert not xb.requires_grad and not yb.requires_grad
    np.testing.assert_allclose(xb.data, x[:4], rtol=1e-6)


# -- shuffling ------------------------------------------------------------------------------


def test_shuffling_visits_every_example_exactly_once_per_epoch():
    loader = DataLoader(indexed(103), batch_size=10, shuffle=True, seed=1)
    for _ in range(3):
        assert sorted(epoch_order(loader)) == list(range(103))


def test_each_epoch_has_a_new_order():
    loader = DataLoader(indexed(100), batch_size=10, shuffle=True, seed=1)
    epochs = [epoch_order(loader) for _ in range(3)]
    assert epochs[0] != list(range(100))
    assert epochs[0] != epochs[1] and epochs[1] != epochs[2] and epochs[0] != epochs[2]


def test_the_same_seed_gives_the_same_sequence_of_epochs():
    a = DataLoader(indexed(100), batch_size=10, shuffle=True, seed=42)
    b = DataLoader(indexed(100), batch_size=10, shuffle=True, seed=42)
    assert [epoch_order(a) for _ in range(3)] == [epoch_order(b) for _ in range(3)]


def test_different_seeds_give_different_orders():
    a = DataLoader(indexed(100), batch_size=10, shuffle=True, seed=1)
    b = DataLoader(indexed(100), batch_size=10, shuffle=True, seed=2)
    assert epoch_order(a) != epoch_order(b)


def test_without_a_seed_shuffling_follows_glassnet_seed():
    glassnet.random.seed(7)
    a = DataLoader(indexed(100), batch_size=10, shuffle=True)
    glassnet.random.seed(7)
    b = DataLoader(indexed(100), batch_size=10, shuffle=True)
    assert epoch_order(a) == epoch_order(b)


def test_drop_last_with_shuffle_drops_a_different_remainder_but_never_repeats():
    loader = DataLoader(indexed(10), batch_size=4, shuffle=True, drop_last=True, seed=0)
    for _ in range(3):
        order = epoch_order(loader)
        assert len(order) == 8 and len(set(order)) == 8


# -- fast path and generic path ------------------------------------------------------------


def test_the_batch_fast_path_gives_the_same_batches_as_one_example_at_a_time():
    rng = np.random.default_rng(0)
    x = rng.random((50, 2, 3)).astype(np.float32)
    y = rng.integers(0, 5, 50)
    fast = DataLoader(TensorDataset(x, y), batch_size=8, shuffle=True, seed=3)
    slow_dataset = ItemsOnly(x, y)
    slow = DataLoader(slow_dataset, batch_size=8, shuffle=True, seed=3)
    for (xf, yf), (xs, ys) in zip(fast, slow, strict=True):
        np.testing.assert_array_equal(xf.data, xs.data)
        np.testing.assert_array_equal(yf.data, ys.data)
        assert (xf.data.dtype, yf.data.dtype) == (xs.data.dtype, ys.data.dtype) == (np.float32, np.int64)
    assert slow_dataset.calls == 50  # the generic path indexes each example once


def test_the_fast_path_never_indexes_single_examples():
    class Counting(TensorDataset):
        def __getitem__(self, i):
            raise AssertionError("the loader should cut whole batches with __getitems__")

    assert len(list(DataLoader(Counting(np.arange(20)), batch_size=6))) == 4


def test_a_dataset_of_single_arrays_gives_single_tensor_batches():
    class Rows(Dataset):
        def __len__(self):
            return 5

        def __getitem__(self, i):
            return np.full(3, i, dtype=np.float64)

    batches = list(DataLoader(Rows(), batch_size=2))
    assert [b.shape for b in batches] == [(2, 3), (2, 3), (1, 3)]
    assert batches[0].data.dtype == np.float32
    assert batches[2].data.tolist() == [[4.0, 4.0, 4.0]]


def test_a_custom_collate_fn_receives_the_list_of_examples():
    seen = []

    def collate(items):
        seen.append(len(items))
        return [int(label) for _, label in items]

    loader = DataLoader(TensorDataset(np.zeros((5, 2)), np.arange(5)), batch_size=2, collate_fn=collate)
    assert list(loader) == [[0, 1], [2, 3], [4]]
    assert seen == [2, 2, 1]


# -- TensorDataset, Subset, random_split ----------------------------------------------------


def test_tensor_dataset_indexes_every_array_along_the_first_dimension():
    ds = TensorDataset(np.arange(12).reshape(4, 3), np.array([7, 8, 9, 10]))
    assert len(ds) == 4
    x, y = ds[2]
    assert x.tolist() == [6, 7, 8] and y == 9


def test_tensor_dataset_rejects_arrays_of_different_lengths_and_says_which():
    with pytest.raises(ValueError, match=r"same first dimension.*\(4, 3\), \(5,\)"):
        TensorDataset(np.zeros((4, 3)), np.zeros(5))


def test_tensor_dataset_needs_at_least_one_array_and_no_scalars():
    with pytest.raises(ValueError, match="at least one array"):
        TensorDataset()
    with pytest.raises(ValueError, match="scalar"):
        TensorDataset(np.float32(1.0))


def test_tensor_dataset_takes_tensors_without_copying_float32_data():
    features = Tensor(np.ones((3, 2), dtype=np.float32))
    ds = TensorDataset(features, Tensor(np.array([0, 1, 1])))
    assert ds.arrays[0] is features.numpy()
    assert ds.arrays[1].dtype == np.int64


def test_random_split_makes_disjoint_subsets_that_cover_the_dataset():
    train, val, test = random_split(indexed(100), [70, 20, 10], seed=0)
    assert (len(train), len(val), len(test)) == (70, 20, 10)
    together = np.concatenate([train.indices, val.indices, test.indices])
    assert sorted(together.tolist()) == list(range(100))


def test_random_split_is_deterministic_by_seed():
    first = random_split(indexed(50), [40, 10], seed=5)[1].indices.tolist()
    again = random_split(indexed(50), [40, 10], seed=5)[1].indices.tolist()
    other = random_split(indexed(50), [40, 10], seed=6)[1].indices.tolist()
    assert first == again != other


def test_random_split_accepts_fractions_and_gives_the_remainder_to_the_first_subsets():
    parts = random_split(indexed(11), [0.5, 0.3, 0.2], seed=0)
    assert [len(p) for p in parts] == [6, 3, 2]  # 5 + 3 + 2 = 10, one left over goes first


def test_random_split_rejects_lengths_that_do_not_add_up():
    with pytest.raises(ValueError, match="adding up to the dataset's 10 examples"):
        random_split(indexed(10), [5, 4])


def test_a_subset_of_a_batch_capable_dataset_keeps_the_fast_path():
    train, _ = random_split(TensorDataset(np.arange(10) * 10), [6, 4], seed=0)
    batch = next(iter(DataLoader(train, batch_size=6)))[0].data
    assert batch.tolist() == [int(train[i][0]) for i in range(6)]
    assert hasattr(train, "__getitems__")
    assert not hasattr(Subset(ItemsOnly(np.arange(3)), [0, 1]), "__getitems__")


def test_a_subset_rejects_indices_outside_the_dataset():
    with pytest.raises(IndexError, match=r"\[0, 3\)"):
        Subset(indexed(3), [0, 3])


# -- IDX files ------------------------------------------------------------------------------

IDX_DTYPES = [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64]


@pytest.mark.parametrize("dtype", IDX_DTYPES)
@pytest.mark.parametrize("name", ["array-idx3", "array-idx3.gz"])
def test_idx_round_trip_keeps_values_shape_and_dtype(tmp_path, dtype, name):
    array = (np.arange(2 * 3 * 4) - 5).reshape(2, 3, 4).astype(dtype)
    write_idx(tmp_path / name, array)
    back = read_idx(tmp_path / name)
    assert back.dtype == dtype and back.shape == (2, 3, 4)
    np.testing.assert_array_equal(back, array)


@settings(max_examples=25, deadline=None)
@given(shape=st.lists(st.integers(0, 5), min_size=1, max_size=4), gz=st.booleans())
def test_idx_round_trip_for_any_shape(tmp_path_factory, shape, gz):
    path = tmp_path_factory.mktemp("idx") / ("a.gz" if gz else "a")
    array = np.arange(int(np.prod(shape)), dtype=np.int32).reshape(shape)
    write_idx(path, array)
    np.testing.assert_array_equal(read_idx(path), array)


def test_idx_header_is_big_endian_as_in_mnist(tmp_path):
    write_idx(tmp_path / "images", np.zeros((2, 28, 28), dtype=np.uint8))
    raw = (tmp_path / "images").read_bytes()
    assert raw[:16] == bytes.fromhex("00000803" "00000002" "0000001c" "0000001c")  # magic 2051, dims
    assert len(raw) == 16 + 2 * 28 * 28


def test_gzip_idx_files_are_byte_for_byte_reproducible(tmp_path):
    write_idx(tmp_path / "a.gz", np.arange(10, dtype=np.uint8))
    write_idx(tmp_path / "b.gz", np.arange(10, dtype=np.uint8))
    assert (tmp_path / "a.gz").read_bytes() == (tmp_path / "b.gz").read_bytes()


def test_write_idx_rejects_dtypes_idx_cannot_hold(tmp_path):
    with pytest.raises(ValueError, match="cannot store dtype int64"):
        write_idx(tmp_path / "x", np.arange(3, dtype=np.int64))


def _valid_idx_bytes():
    return bytes.fromhex("00000802" "00000002" "00000003") + bytes(range(6))  # (2, 3) uint8


@pytest.mark.parametrize(
    "raw, message",
    [
        (b"\x01\x02\x08\x02" + _valid_idx_bytes()[4:], r"bad magic number 0x01020802.*two zero bytes"),
        (b"\x00\x00\x0a\x02" + _valid_idx_bytes()[4:], r"bad magic number 0x00000A02.*unknown dtype code 0x0A"),
        (b"\x00\x00\x08\x00", r"zero dimensions"),
        (b"\x00\x00", r"too short for the 4-byte IDX magic number"),
        (_valid_idx_bytes()[:9], r"truncated header: 2 dimensions need 12 header bytes, the file has 9"),
        (_valid_idx_bytes()[:-2], r"truncated: a \(2, 3\) array of uint8 needs 18 bytes, the file has 16 \(2 missing\)"),
        (_valid_idx_bytes() + b"xyz", r"wrong length: .* needs 18 bytes, the file has 21 \(3 extra\)"),
    ],
    ids=["bad-magic", "unknown-dtype", "no-dims", "tiny", "short-header", "truncated", "too-long"],
)
@pytest.mark.parametrize("gz", [False, True], ids=["raw", "gz"])
def test_a_corrupt_idx_file_raises_a_clear_error_naming_the_file(tmp_path, raw, message, gz):
    path = tmp_path / ("broken-idx2-ubyte.gz" if gz else "broken-idx2-ubyte")
    path.write_bytes(gzip.compress(raw) if gz else raw)
    with pytest.raises(IDXError, match=message) as error:
        read_idx(path)
    assert str(path) in str(error.value)


def test_a_truncated_gzip_download_is_reported_not_half_read(tmp_path):
    path = tmp_path / "images-idx3-ubyte.gz"
    write_idx(path, np.random.default_rng(0).integers(0, 256, (50, 28, 28), dtype=np.uint8))
    whole = path.read_bytes()
    path.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(IDXError, match="gzip stream is truncated") as error:
        read_idx(path)
    assert str(path) in str(error.value)


def test_a_file_named_gz_that_is_not_gzip_is_reported(tmp_path):
    path = tmp_path / "labels-idx1-ubyte.gz"
    path.write_bytes(_valid_idx_bytes())
    with pytest.raises(IDXError, match="not a valid gzip file"):
        read_idx(path)
