"""Specification of glassnet.data.datasets.cifar10: CIFAR-10's binary version (records of
1 label byte and 3072 pixel bytes), found where MNIST is found, read from its batch
files or straight from its .tar.gz, downloaded with a checksum check, and refused with
a clear error when a file is not what the format says."""
import dataclasses
import hashlib
import io
import tarfile
import urllib.error

import numpy as np
import pytest

import glassnet as gn
from glassnet.data import DataLoader, DataNotFoundError, load_dataset
from glassnet.data import datasets as D

CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


pytestmark = pytest.mark.usefixtures("offline_data")  # conftest: no real data folders, cache or network


def batch(n, first_label=0, seed=0):
    """``n`` records as the binary version lays them out: labels ``first_label, +1, ...``
    (mod 10), random pixels. Returns (the file's bytes, labels, pixels (n, 3, 32, 32))."""
    labels = (np.arange(n) + first_label) % 10
    pixels = np.random.default_rng(seed).integers(0, 256, (n, 3, 32, 32), dtype=np.uint8)
    records = np.concatenate([labels.astype(np.uint8)[:, None], pixels.reshape(n, -1)], axis=1)
    return records.tobytes(), labels, pixels


def fake_cifar10(folder, sizes=(2, 3, 1, 2, 4), test_size=3, meta=True):
    """Write the five training batches and the test batch (with ``sizes`` records each)
    and batches.meta.txt into ``folder``; returns the expected {split: (labels, pixels)}."""
    folder.mkdir(parents=True, exist_ok=True)
    expected = {"train": ([], []), "test": ([], [])}
    names = [f"data_batch_{i}.bin" for i in range(1, 6)] + ["test_batch.bin"]
    for seed, (name, n) in enumerate(zip(names, [*sizes, test_size])):
        raw, labels, pixels = batch(n, first_label=seed, seed=seed)
        (folder / name).write_bytes(raw)
        split = "test" if name == "test_batch.bin" else "train"
        expected[split][0].append(labels)
        expected[split][1].append(pixels)
    if meta:
        (folder / "batches.meta.txt").write_text("\n".join(CLASSES) + "\n\n")  # as published: a blank line at the end
    return {split: (np.concatenate(labels), np.concatenate(pixels)) for split, (labels, pixels) in expected.items()}


def tar_gz(folder, archive, inside="cifar-10-batches-bin"):
    """Pack ``folder``'s files as ``archive`` (a .tar.gz) under ``inside/``, as Toronto does."""
    with tarfile.open(archive, "w:gz") as tar:
        for path in sorted(folder.iterdir()):
            tar.add(path, arcname=f"{inside}/{path.name}")
    return archive


def assert_matches(dataset, labels, pixels):
    assert dataset.images.shape == (len(labels), 3, 32, 32) and dataset.images.dtype == np.float32
    assert dataset.labels.dtype == np.int64
    np.testing.assert_array_equal(dataset.labels, labels)
    np.testing.assert_array_equal(dataset.images, pixels.astype(np.float32) / np.float32(255))


# -- reading the binary version -------------------------------------------------------------


def test_batch_files_are_read_as_float32_rgb_images_and_int64_labels(tmp_path):
    expected = fake_cifar10(tmp_path / "data")
    train = D.cifar10("train", root=tmp_path / "data")
    assert_matches(train, *expected["train"])  # the five batches, in order: 12 records
    assert len(train) == 12 and (train.name, train.split) == ("cifar10", "train")
    assert train.classes == CLASSES
    assert_matches(D.cifar10("test", root=tmp_path / "data"), *expected["test"])


def test_a_record_is_a_label_byte_then_the_red_green_and_blue_planes_row_by_row(tmp_path):
    folder = tmp_path / "one"
    fake_cifar10(folder)
    record = bytes([7]) + bytes([10]) * 1024 + bytes([20]) * 1024 + bytes(range(32)) * 32
    (folder / "test_batch.bin").write_bytes(record)
    test = D.cifar10("test", root=folder)
    assert test.labels.tolist() == [7] and test.classes[7] == "horse"
    image = np.rint(test.images[0] * 255).astype(int)
    assert (image[0] == 10).all() and (image[1] == 20).all()  # red, then green
    assert image[2, 0, :4].tolist() == [0, 1, 2, 3] and image[2, 5, 31] == 31  # blue: rows of 32 pixels


def test_the_folder_the_archive_unpacks_to_is_found_inside_root(tmp_path):
    expected = fake_cifar10(tmp_path / "data" / "cifar-10-batches-bin")
    assert_matches(D.cifar10("test", root=tmp_path / "data"), *expected["test"])


def test_the_archive_is_read_as_it_is_without_unpacking(tmp_path):
    expected = fake_cifar10(tmp_path / "files")
    (tmp_path / "root").mkdir()
    tar_gz(tmp_path / "files", tmp_path / "root" / "cifar-10-binary.tar.gz")
    train, test = D.cifar10("train", root=tmp_path / "root"), D.cifar10("test", root=tmp_path / "root")
    assert_matches(train, *expected["train"])
    assert_matches(test, *expected["test"])
    assert train.classes == CLASSES
    assert [p.name for p in (tmp_path / "root").iterdir()] == ["cifar-10-binary.tar.gz"]  # nothing unpacked


def test_without_batches_meta_the_published_class_names_are_used(tmp_path):
    fake_cifar10(tmp_path / "data", meta=False)
    assert D.cifar10("test", root=tmp_path / "data").classes == CLASSES


def test_loading_the_same_files_twice_decodes_them_once_into_read_only_arrays(tmp_path):
    fake_cifar10(tmp_path)
    first, second = D.cifar10("train", root=tmp_path), D.cifar10("train", root=tmp_path)
    assert second.images is first.images and second.labels is first.labels
    with pytest.raises(ValueError, match="read-only"):
        first.images[0] = 0


# -- files that are not CIFAR-10's binary version ----------------------------------------------


def test_a_file_of_the_wrong_size_is_an_error_naming_it_and_the_record_size(tmp_path):
    fake_cifar10(tmp_path)
    raw, _, _ = batch(2)
    (tmp_path / "data_batch_3.bin").write_bytes(raw[:-100])  # cut short
    with pytest.raises(ValueError, match=r"data_batch_3\.bin: 6046 bytes is not a whole number of 3073-byte "
                                         r"records \(1 label byte \+ 3072 pixel bytes\)") as error:
        D.cifar10("train", root=tmp_path)
    assert str(tmp_path / "data_batch_3.bin") in str(error.value)
    assert "CIFAR-100" in str(error.value)


def test_cifar_100s_records_of_two_label_bytes_are_refused(tmp_path):
    fake_cifar10(tmp_path)
    (tmp_path / "test_batch.bin").write_bytes(bytes(3 * 3074))
    with pytest.raises(ValueError, match="not a whole number of 3073-byte records"):
        D.cifar10("test", root=tmp_path)


def test_a_wrong_size_file_inside_the_archive_is_named_with_the_archive(tmp_path):
    fake_cifar10(tmp_path / "files")
    (tmp_path / "files" / "test_batch.bin").write_bytes(b"\x00" * 3074)
    archive = tar_gz(tmp_path / "files", tmp_path / "cifar-10-binary.tar.gz")
    with pytest.raises(ValueError, match="3074 bytes is not a whole number") as error:
        D.cifar10("test", root=tmp_path)
    assert f"{archive}: cifar-10-batches-bin/test_batch.bin" in str(error.value)


def test_a_label_beyond_the_classes_is_refused(tmp_path):
    fake_cifar10(tmp_path)
    (tmp_path / "test_batch.bin").write_bytes(bytes([12]) + bytes(3072))
    with pytest.raises(ValueError, match="label 12 out of range for the 10 classes"):
        D.cifar10("test", root=tmp_path)


def test_an_archive_that_is_not_a_tar_gz_or_lacks_a_batch_is_refused(tmp_path):
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "cifar-10-binary.tar.gz").write_bytes(b"<html>Not Found</html>")
    with pytest.raises(ValueError, match=r"cifar-10-binary\.tar\.gz: cannot read the archive .*delete it"):
        D.cifar10("train", root=tmp_path / "bad")

    fake_cifar10(tmp_path / "files")
    (tmp_path / "files" / "data_batch_4.bin").unlink()
    (tmp_path / "partial").mkdir()
    tar_gz(tmp_path / "files", tmp_path / "partial" / "cifar-10-binary.tar.gz")
    with pytest.raises(ValueError, match=r"has no data_batch_4\.bin: it is not cifar-10-binary\.tar\.gz"):
        D.cifar10("train", root=tmp_path / "partial")


# -- where it is looked for, and the download --------------------------------------------------


def test_root_beats_glassnet_data_which_beats_the_cache(tmp_path, monkeypatch):
    def marked(folder, label):
        fake_cifar10(folder)
        (folder / "test_batch.bin").write_bytes(bytes([label]) + bytes(3072))

    marked(tmp_path / "root", 1)
    marked(tmp_path / "env" / "cifar10", 2)  # $GLASSNET_DATA may hold each data set in its own subfolder
    marked(tmp_path / "cache" / "glassnet" / "cifar10", 3)
    monkeypatch.setenv("GLASSNET_DATA", str(tmp_path / "env"))
    assert D.cifar10("test", root=tmp_path / "root").labels.tolist() == [1]
    assert D.cifar10("test").labels.tolist() == [2]
    monkeypatch.delenv("GLASSNET_DATA")
    assert D.cifar10("test").labels.tolist() == [3]


def test_missing_data_lists_every_place_and_what_was_looked_for(tmp_path, monkeypatch):
    monkeypatch.setenv("GLASSNET_DATA", str(tmp_path / "env"))
    with pytest.raises(DataNotFoundError) as error:
        D.cifar10("train", root=tmp_path / "root", download=False)
    message = str(error.value)
    for place in [tmp_path / "root", tmp_path / "root" / "cifar10", tmp_path / "env", tmp_path / "env" / "cifar10",
                  tmp_path / "cache" / "glassnet" / "cifar10"]:
        assert f"- {place}  (" in message
    assert message.startswith("CIFAR-10 'train' split not found. Looked for cifar-10-binary.tar.gz or data_batch_1.bin")
    assert "cifar-10-batches-bin/" in message and "download=False" in message and "GLASSNET_DATA=" in message
    assert "files from https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz" in message


def test_offline_the_error_names_the_canonical_url_and_leaves_no_partial_file(tmp_path, monkeypatch):
    def offline(url):
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(D, "_open_url", offline)
    with pytest.raises(DataNotFoundError, match=r"https://www\.cs\.toronto\.edu/~kriz/cifar-10-binary\.tar\.gz: "
                                                r"<urlopen error"):
        D.cifar10("test")
    assert not any((tmp_path / "cache").rglob("*.part"))


@pytest.fixture
def mirror(tmp_path, monkeypatch):
    """A fake Toronto serving a tiny archive; the expected checksum is the honest bytes'."""
    expected = fake_cifar10(tmp_path / "served")
    honest = tar_gz(tmp_path / "served", tmp_path / "honest.tar.gz").read_bytes()
    source = dataclasses.replace(D._CIFAR10, sha256={"cifar-10-binary.tar.gz": hashlib.sha256(honest).hexdigest()})
    monkeypatch.setattr(D, "_CIFAR10", source)
    served = {"bytes": honest}
    requested = []

    def fetch(url):
        requested.append(url)
        return io.BytesIO(served["bytes"])

    monkeypatch.setattr(D, "_open_url", fetch)
    return expected, served, requested


def test_a_download_is_verified_kept_in_the_cache_and_read_from_there_next_time(tmp_path, mirror):
    expected, _, requested = mirror
    assert_matches(D.cifar10("test"), *expected["test"])
    assert requested == ["https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz"]
    cache = tmp_path / "cache" / "glassnet" / "cifar10"
    assert [p.name for p in cache.iterdir()] == ["cifar-10-binary.tar.gz"]
    D._decoded.clear()
    assert_matches(D.cifar10("train"), *expected["train"])
    assert len(requested) == 1  # the second split comes from the same archive


def test_with_root_the_download_goes_into_root(tmp_path, mirror):
    D.cifar10("test", root=tmp_path / "data")
    assert (tmp_path / "data" / "cifar-10-binary.tar.gz").is_file()
    assert not (tmp_path / "cache").exists()


def test_a_checksum_mismatch_is_rejected_and_leaves_no_file(tmp_path, mirror):
    _, served, _ = mirror
    served["bytes"] = served["bytes"][:-1] + bytes([served["bytes"][-1] ^ 0xFF])
    with pytest.raises(DataNotFoundError, match="cifar-10-binary.tar.gz: SHA-256 mismatch: expected"):
        D.cifar10("test")
    assert list((tmp_path / "cache" / "glassnet" / "cifar10").iterdir()) == []


def test_the_real_source_is_torontos_binary_version_with_its_published_checksum():
    source = D._CIFAR10
    assert source.mirrors == ("https://www.cs.toronto.edu/~kriz/",)
    assert list(source.sha256) == ["cifar-10-binary.tar.gz"]  # never the pickled Python version
    assert source.sha256["cifar-10-binary.tar.gz"] == "c4a38c50a1bc5f3a1c5537f2155ab9d68f9f25eb1ed8d9ddda3db29a59bca1dd"
    assert list(source.classes) == CLASSES


# -- by name, and in batches --------------------------------------------------------------------


def test_load_dataset_knows_cifar10_and_its_batches_feed_a_model(tmp_path):
    fake_cifar10(tmp_path)
    train = load_dataset("cifar10", "train", root=tmp_path)
    x, y = next(iter(DataLoader(train, batch_size=5, shuffle=True, seed=0)))
    assert x.shape == (5, 3, 32, 32) and y.shape == (5,)
    assert gn.models.build("cnn", (3, 32, 32), 10)(x).shape == (5, 10)


# -- the real CIFAR-10 ------------------------------------------------------------------------


@pytest.mark.data
def test_the_real_cifar10_has_50000_train_and_10000_test_images_in_balanced_classes():
    try:
        train, test = D.cifar10("train", download=False), D.cifar10("test", download=False)
    except DataNotFoundError:
        pytest.skip("CIFAR-10 is not on this machine: put cifar-10-binary.tar.gz in $GLASSNET_DATA")
    assert train.images.shape == (50000, 3, 32, 32) and test.images.shape == (10000, 3, 32, 32)
    assert np.bincount(train.labels).tolist() == [5000] * 10
    assert np.bincount(test.labels).tolist() == [1000] * 10
    assert train.classes == CLASSES and 0.0 == train.images.min() and train.images.max() == 1.0
