"""Specification of glassnet.data.datasets: digits, MNIST and Fashion-MNIST, where they
are looked for, how they are downloaded, and what a missing data set says."""
import dataclasses
import gzip
import hashlib
import io
import os
import urllib.error
from pathlib import Path

import numpy as np
import pytest

from glassnet.data import DataLoader, DataNotFoundError, IDXError, available, load_dataset, write_idx
from glassnet.data import datasets as D

DEBIAN_FASHION = Path("/usr/share/datasets/fashion-mnist")


pytestmark = pytest.mark.usefixtures("offline_data")  # conftest: no real data folders, cache or network


def fake_split(folder, split="train", n=6, marker=1, gz=True):
    """Write a tiny MNIST-like split into ``folder``: ``n`` 4x4 images whose pixels all
    equal ``marker`` (so a test can tell which folder was read) and labels 0, 1, 2, ..."""
    folder.mkdir(parents=True, exist_ok=True)
    suffix = ".gz" if gz else ""
    images_name, labels_name = D.FILES[split]
    write_idx(folder / (images_name + suffix), np.full((n, 4, 4), marker, dtype=np.uint8))
    write_idx(folder / (labels_name + suffix), (np.arange(n) % 10).astype(np.uint8))
    return folder


def marker_of(dataset):
    return round(float(dataset.images[0, 0, 0, 0]) * 255)


# -- digits -------------------------------------------------------------------------------


def test_digits_images_are_float32_in_unit_range_shaped_n_1_8_8():
    train, test = D.digits("train"), D.digits("test")
    assert train.images.shape == (1438, 1, 8, 8) and test.images.shape == (359, 1, 8, 8)
    assert train.images.dtype == np.float32 and train.labels.dtype == np.int64
    assert train.images.min() == 0.0 and train.images.max() == 1.0
    assert set(train.labels.tolist()) == set(range(10))
    assert train.classes == [str(d) for d in range(10)]
    assert (train.name, train.split) == ("digits", "train")


def test_digits_split_is_stratified_about_80_20():
    train, test = D.digits("train"), D.digits("test")
    assert len(train) + len(test) == 1797
    share = np.bincount(test.labels) / (np.bincount(train.labels) + np.bincount(test.labels))
    assert np.all(np.abs(share - 0.2) < 0.01)  # every digit has its fifth in the test set


def test_digits_split_is_deterministic_and_train_and_test_do_not_overlap():
    from sklearn.datasets import load_digits

    original = (load_digits().images / 16).astype(np.float32).reshape(1797, -1)
    row_of = {row.tobytes(): i for i, row in enumerate(original)}

    def rows(split):
        return {row_of[image.tobytes()] for image in D.digits(split).images.reshape(-1, 64)}

    train, test = rows("train"), rows("test")
    assert train.isdisjoint(test)
    assert len(train | test) == len(set(row_of.values()))  # every distinct image is used
    D._digits_arrays.cache_clear()
    assert rows("test") == test  # rebuilt from scratch: the same test set


def test_embedded_digits_are_scikit_learns_digits():
    """glassnet ships the digits (no scikit-learn needed to train on them): the same
    images and labels, in the same order, as ``sklearn.datasets.load_digits``."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    images, labels, _ = D._digits_arrays()
    np.testing.assert_array_equal(images[:, 0], (bunch.images / 16).astype(np.float32))
    np.testing.assert_array_equal(labels, bunch.target)


def test_damaged_embedded_digits_are_refused(tmp_path, monkeypatch):
    for name in D.DIGITS_FILES:
        (tmp_path / name).write_bytes((D.EMBEDDED / name).read_bytes())
    with open(tmp_path / "digits-labels-idx1-ubyte.gz", "r+b") as f:
        f.seek(-3, 2)
        f.write(b"\x00\x00\x00")
    monkeypatch.setattr(D, "EMBEDDED", tmp_path)
    D._digits_arrays.cache_clear()
    try:
        with pytest.raises(D.DataNotFoundError, match="digits-labels-idx1-ubyte.gz is damaged.*reinstall glassnet"):
            D.digits("train")
    finally:
        D._digits_arrays.cache_clear()


def test_digits_does_not_depend_on_glassnet_seed():
    import glassnet.random

    glassnet.random.seed(123)
    first = D.digits("test").labels.copy()
    D._digits_arrays.cache_clear()
    glassnet.random.seed(456)
    np.testing.assert_array_equal(D.digits("test").labels, first)


def test_an_unknown_split_is_rejected():
    with pytest.raises(ValueError, match=r"split must be one of \('train', 'test'\), got 'val'"):
        D.digits("val")
    with pytest.raises(ValueError, match="split must be one of"):
        D.mnist("validation")


def test_digits_feed_a_loader_batches_of_float32_images_and_int64_labels():
    x, y = next(iter(DataLoader(D.digits("train"), batch_size=32, shuffle=True, seed=0)))
    assert x.shape == (32, 1, 8, 8) and x.data.dtype == np.float32
    assert y.shape == (32,) and y.data.dtype == np.int64


# -- where MNIST is looked for ------------------------------------------------------------


def test_files_in_root_are_read_as_float32_images_and_int64_labels(tmp_path):
    fake_split(tmp_path / "mine", "train", n=6, marker=255)
    train = D.mnist("train", root=tmp_path / "mine")
    assert train.images.shape == (6, 1, 4, 4) and train.images.dtype == np.float32
    assert train.images.max() == 1.0
    assert train.labels.tolist() == [0, 1, 2, 3, 4, 5] and train.labels.dtype == np.int64
    assert train.classes == [str(d) for d in range(10)] and train.name == "mnist"


def test_raw_and_gzip_files_are_both_found(tmp_path):
    fake_split(tmp_path / "raw", "test", n=3, gz=False)
    fake_split(tmp_path / "gz", "test", n=4, gz=True)
    assert len(D.mnist("test", root=tmp_path / "raw")) == 3
    assert len(D.mnist("test", root=tmp_path / "gz")) == 4


def test_root_beats_glassnet_data_which_beats_the_cache(tmp_path, monkeypatch):
    fake_split(tmp_path / "root", marker=1)
    fake_split(tmp_path / "env", marker=2)
    fake_split(tmp_path / "cache" / "glassnet" / "mnist", marker=3)
    monkeypatch.setenv("GLASSNET_DATA", str(tmp_path / "env"))

    assert marker_of(D.mnist("train", root=tmp_path / "root")) == 1
    assert marker_of(D.mnist("train")) == 2
    monkeypatch.delenv("GLASSNET_DATA")
    assert marker_of(D.mnist("train")) == 3


def test_a_root_without_the_files_falls_through_to_the_next_place(tmp_path, monkeypatch):
    fake_split(tmp_path / "env", marker=2)
    monkeypatch.setenv("GLASSNET_DATA", str(tmp_path / "env"))
    assert marker_of(D.mnist("train", root=tmp_path / "empty")) == 2


def test_glassnet_data_may_hold_each_data_set_in_its_own_subfolder(tmp_path, monkeypatch):
    fake_split(tmp_path / "env" / "mnist", marker=4)
    fake_split(tmp_path / "env" / "fashion-mnist", marker=5)
    monkeypatch.setenv("GLASSNET_DATA", str(tmp_path / "env"))
    assert marker_of(D.mnist("train")) == 4
    assert marker_of(D.fashion_mnist("train")) == 5


def test_xdg_cache_home_moves_the_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "elsewhere"))
    fake_split(tmp_path / "elsewhere" / "glassnet" / "fashion-mnist", marker=6)
    assert marker_of(D.fashion_mnist("train")) == 6


def test_fashion_mnist_has_named_classes(tmp_path):
    fake_split(tmp_path, "test", n=10)
    test = D.fashion_mnist("test", root=tmp_path)
    assert test.classes[0] == "T-shirt/top" and test.classes[9] == "Ankle boot"
    assert len(test.classes) == 10 and test.name == "fashion-mnist"


def test_loading_the_same_files_twice_decodes_them_once(tmp_path):
    fake_split(tmp_path)
    first, second = D.mnist("train", root=tmp_path), D.mnist("train", root=tmp_path)
    assert second.images is first.images and second.labels is first.labels
    with pytest.raises(ValueError, match="read-only"):
        first.images[0] = 0  # shared arrays cannot be changed behind another dataset's back


def test_a_corrupt_file_on_disk_is_reported_with_its_path(tmp_path):
    fake_split(tmp_path)
    labels = tmp_path / "train-labels-idx1-ubyte.gz"
    labels.write_bytes(gzip.compress(gzip.decompress(labels.read_bytes())[:-2]))
    with pytest.raises(IDXError, match="truncated") as error:
        D.mnist("train", root=tmp_path)
    assert str(labels) in str(error.value)


def test_images_and_labels_of_different_lengths_are_rejected(tmp_path):
    fake_split(tmp_path, n=6)
    write_idx(tmp_path / "train-labels-idx1-ubyte.gz", np.zeros(5, dtype=np.uint8))
    with pytest.raises(ValueError, match="has 6 images but .* has 5 labels"):
        D.mnist("train", root=tmp_path)


# -- when the data is nowhere -------------------------------------------------------------


def test_missing_data_raises_one_error_that_lists_every_place_and_how_to_fix_it(tmp_path, monkeypatch):
    debian = tmp_path / "no-debian"
    monkeypatch.setattr(
        D, "_FASHION_MNIST", dataclasses.replace(D._FASHION_MNIST, system_dirs=((str(debian), "Debian package"),))
    )
    monkeypatch.setenv("GLASSNET_DATA", str(tmp_path / "env"))
    with pytest.raises(DataNotFoundError) as error:
        D.fashion_mnist("train", root=tmp_path / "root", download=False)
    message = str(error.value)
    assert isinstance(error.value, FileNotFoundError)
    for place in [
        tmp_path / "root",
        tmp_path / "root" / "fashion-mnist",
        tmp_path / "env",
        tmp_path / "env" / "fashion-mnist",
        tmp_path / "cache" / "glassnet" / "fashion-mnist",
        debian,
    ]:
        assert f"- {place}  (" in message
    assert "train-images-idx3-ubyte[.gz]" in message and "train-labels-idx1-ubyte[.gz]" in message
    assert "GLASSNET_DATA=" in message and "root=" in message
    assert "apt-get install dataset-fashion-mnist" in message
    assert "download=False" in message


def test_the_error_says_when_glassnet_data_is_not_set(tmp_path):
    with pytest.raises(DataNotFoundError, match=r"\$GLASSNET_DATA is not set"):
        D.mnist("test", download=False)


def test_offline_the_error_lists_every_place_and_every_failed_mirror(tmp_path, monkeypatch):
    def offline(url):
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(D, "_open_url", offline)
    with pytest.raises(DataNotFoundError) as error:
        D.mnist("train")
    message = str(error.value)
    assert f"- {tmp_path / 'cache' / 'glassnet' / 'mnist'}  (user cache)" in message
    for mirror in D._MNIST.mirrors:
        assert f"{mirror}train-images-idx3-ubyte.gz: <urlopen error" in message
    assert "apt-get" not in message  # that hint is for Fashion-MNIST only
    assert not any((tmp_path / "cache").rglob("*.part"))


# -- downloading --------------------------------------------------------------------------


@pytest.fixture
def mirror(monkeypatch):
    """Two fake mirrors serving a tiny MNIST-like 'test' split; the first is down.
    ``served`` maps file name to the bytes served; the expected checksums are those of
    the honest bytes."""
    honest = {
        "t10k-images-idx3-ubyte.gz": _gz_idx(np.full((3, 4, 4), 255, dtype=np.uint8)),
        "t10k-labels-idx1-ubyte.gz": _gz_idx(np.array([7, 8, 9], dtype=np.uint8)),
    }
    source = dataclasses.replace(
        D._MNIST,
        mirrors=("https://down.example/", "https://up.example/"),
        sha256={name: hashlib.sha256(data).hexdigest() for name, data in honest.items()},
    )
    monkeypatch.setattr(D, "_MNIST", source)
    served = dict(honest)
    requested = []

    def fetch(url):
        requested.append(url)
        if url.startswith("https://down.example/"):
            raise urllib.error.URLError("connection refused")
        return io.BytesIO(served[url.rsplit("/", 1)[1]])

    monkeypatch.setattr(D, "_open_url", fetch)
    return served, requested


def _gz_idx(array):
    buffer = io.BytesIO()
    raw = bytes([0, 0, 0x08, array.ndim]) + np.array(array.shape, dtype=">u4").tobytes() + array.tobytes()
    with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0) as f:
        f.write(raw)
    return buffer.getvalue()


def test_a_download_is_verified_and_kept_in_the_cache(tmp_path, mirror):
    served, requested = mirror
    test = D.mnist("test")
    assert test.labels.tolist() == [7, 8, 9] and test.images.max() == 1.0
    cache = tmp_path / "cache" / "glassnet" / "mnist"
    assert sorted(p.name for p in cache.iterdir()) == ["t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"]
    assert requested == [
        "https://down.example/t10k-images-idx3-ubyte.gz",
        "https://up.example/t10k-images-idx3-ubyte.gz",
        "https://down.example/t10k-labels-idx1-ubyte.gz",
        "https://up.example/t10k-labels-idx1-ubyte.gz",
    ]

    requested.clear()
    D._decoded.clear()
    assert D.mnist("test").labels.tolist() == [7, 8, 9]
    assert requested == []  # the second time it comes from the cache


def test_with_root_the_download_goes_into_root(tmp_path, mirror):
    D.mnist("test", root=tmp_path / "data")
    assert (tmp_path / "data" / "t10k-labels-idx1-ubyte.gz").is_file()
    assert not (tmp_path / "cache").exists()


def test_a_checksum_mismatch_is_rejected_and_leaves_no_file_behind(tmp_path, mirror):
    served, _ = mirror
    tampered = bytearray(served["t10k-labels-idx1-ubyte.gz"])
    tampered[-5] ^= 0xFF
    served["t10k-labels-idx1-ubyte.gz"] = bytes(tampered)
    with pytest.raises(DataNotFoundError, match="t10k-labels-idx1-ubyte.gz: SHA-256 mismatch: expected"):
        D.mnist("test")
    cache = tmp_path / "cache" / "glassnet" / "mnist"
    assert sorted(p.name for p in cache.iterdir()) == ["t10k-images-idx3-ubyte.gz"]  # the good file stays


def test_an_interrupted_download_leaves_no_partial_file(tmp_path, mirror, monkeypatch):
    class Interrupted(io.BytesIO):
        def read(self, size=-1):
            raise ConnectionResetError("connection reset by peer")

    monkeypatch.setattr(D, "_open_url", lambda url: Interrupted())
    with pytest.raises(DataNotFoundError, match="connection reset by peer"):
        D.mnist("test")
    assert os.listdir(tmp_path / "cache" / "glassnet" / "mnist") == []


def test_the_real_checksums_are_sha256_of_every_file_of_both_splits():
    for source in (D._MNIST, D._FASHION_MNIST):
        names = {stem + ".gz" for stems in D.FILES.values() for stem in stems}
        assert set(source.sha256) == names
        assert all(len(digest) == 64 and int(digest, 16) >= 0 for digest in source.sha256.values())


# -- the real Fashion-MNIST ---------------------------------------------------------------


@pytest.mark.data
@pytest.mark.skipif(
    not DEBIAN_FASHION.is_dir(),
    reason=f"Fashion-MNIST is not installed at {DEBIAN_FASHION} (apt-get install dataset-fashion-mnist)",
)
def test_fashion_mnist_from_the_debian_package_has_60000_train_and_10000_test_images():
    train, test = D.fashion_mnist("train"), D.fashion_mnist("test")
    assert train.images.shape == (60000, 1, 28, 28) and test.images.shape == (10000, 1, 28, 28)
    assert train.images.dtype == np.float32 and train.labels.dtype == np.int64
    assert 0.0 == train.images.min() and train.images.max() == 1.0
    assert np.bincount(train.labels).tolist() == [6000] * 10
    assert np.bincount(test.labels).tolist() == [1000] * 10
    assert test.classes[test.labels[0]] == "Ankle boot"  # the first test image


# -- the data sets by name (glassnet.data.load_dataset) ---------------------------------------


def test_load_dataset_finds_each_data_set_by_its_name(tmp_path):
    assert available() == ["digits", "mnist", "fashion-mnist", "cifar10"]
    assert len(load_dataset("digits", "test")) == len(D.digits("test"))
    fake_split(tmp_path, "test", n=5, marker=7)
    mnist = load_dataset("mnist", "test", root=tmp_path)  # root reaches the loader
    assert len(mnist) == 5 and marker_of(mnist) == 7


def test_an_unknown_data_set_name_is_a_value_error_listing_the_known_ones():
    with pytest.raises(ValueError, match="unknown dataset 'cifar'; choose one of: digits, mnist, fashion-mnist"):
        load_dataset("cifar", "train")
