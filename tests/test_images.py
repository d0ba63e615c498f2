"""Specification of glassnet.data.images: a folder of images, one subfolder per class, read
as torchvision's ImageFolder reads it; decoded once, on threads, into memory; as arrays
that glassnet's models take, or as PIL images for a transform; whole splits in memory;
and an ImageDataset written out in the same layout."""
import threading
import warnings
from pathlib import Path

import numpy as np
import pytest

import glassnet as gn
from glassnet.data import (DataLoader, ImageDataset, ImageFolder, ImageFolderError, load_image_folder, random_split,
                           write_image_folder)
from glassnet.data import images as I
from glassnet.extras import MissingExtra

Image = pytest.importorskip("PIL.Image")


def grey(value, size=(6, 5)):
    """A grey image (mode 'L') of ``size`` = (height, width) filled with ``value``."""
    return Image.fromarray(np.full(size, value, dtype=np.uint8))


def colour(rgb, size=(6, 5)):
    """An 'RGB' image of ``size`` = (height, width) filled with the colour ``rgb``."""
    return Image.fromarray(np.broadcast_to(np.array(rgb, dtype=np.uint8), (*size, 3)).copy())


def make_folder(root, layout):
    """Write ``{class: {file name: PIL image or bytes}}`` under ``root``; returns root."""
    root = Path(root)
    for name, files in layout.items():
        (root / name).mkdir(parents=True, exist_ok=True)
        for filename, content in files.items():
            path = root / name / filename
            path.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                path.write_bytes(content)
            else:
                content.save(path)
    return root


@pytest.fixture
def pets(tmp_path):
    """Two classes of grey 6x5 PNGs: cat (values 10, 20), dog (30, 40, 50)."""
    return make_folder(tmp_path / "pets", {
        "dog": {"a.png": grey(30), "b.png": grey(40), "c.png": grey(50)},
        "cat": {"2.png": grey(20), "1.png": grey(10)},
    })


@pytest.fixture
def opens(monkeypatch):
    """Every path Pillow's Image.open is called with, and the thread that called it."""
    calls = []
    original = Image.open

    def counting_open(path, *args, **kwargs):
        calls.append((str(path), threading.current_thread()))
        return original(path, *args, **kwargs)

    monkeypatch.setattr(Image, "open", counting_open)
    return calls


def pixel(image):
    """The first pixel value(s) of a (C, H, W) float image, as bytes."""
    return np.rint(np.asarray(image)[:, 0, 0] * 255).astype(int).tolist()


# -- classes, samples, labels -------------------------------------------------------------


def test_classes_are_the_sorted_subfolders_and_samples_are_path_label_pairs(pets):
    folder = ImageFolder(pets)
    assert folder.classes == ["cat", "dog"]
    assert folder.class_to_idx == {"cat": 0, "dog": 1}
    assert [(Path(path).relative_to(pets).as_posix(), label) for path, label in folder.samples] == [
        ("cat/1.png", 0), ("cat/2.png", 0), ("dog/a.png", 1), ("dog/b.png", 1), ("dog/c.png", 1)]
    assert folder.targets == [0, 0, 1, 1, 1]
    assert len(folder) == 5
    assert [pixel(folder[i][0]) for i in range(5)] == [[10], [20], [30], [40], [50]]


def test_an_example_is_a_chw_float32_image_in_0_1_and_an_int64_label(pets):
    image, label = ImageFolder(pets)[2]
    assert image.shape == (1, 6, 5) and image.dtype == np.float32
    assert image.min() == image.max() == np.float32(30) / np.float32(255)
    assert label == 1 and isinstance(label, np.int64)


def test_other_files_hidden_files_and_hidden_folders_are_ignored_and_subfolders_are_read(pets):
    (pets / "dog" / "notes.txt").write_text("not an image")
    (pets / "dog" / "._a.png").write_bytes(b"macOS resource fork, not a PNG")
    (pets / ".ipynb_checkpoints").mkdir()
    (pets / "cat" / "kittens").mkdir()
    grey(60).save(pets / "cat" / "kittens" / "0.PNG")  # extensions in any case
    folder = ImageFolder(pets)
    assert folder.classes == ["cat", "dog"]
    assert [Path(path).relative_to(pets).as_posix() for path, _ in folder.samples] == [
        "cat/1.png", "cat/2.png", "cat/kittens/0.PNG", "dog/a.png", "dog/b.png", "dog/c.png"]


def test_every_pillow_format_of_the_list_is_read(tmp_path):
    formats = {".png": "PNG", ".bmp": "BMP", ".gif": "GIF", ".tif": "TIFF", ".tiff": "TIFF", ".webp": "WEBP",
               ".jpg": "JPEG", ".jpeg": "JPEG"}
    root = tmp_path / "formats"
    (root / "all").mkdir(parents=True)
    for i, (extension, kind) in enumerate(formats.items()):
        options = {"lossless": True} if kind == "WEBP" else {}
        grey(100).save(root / "all" / f"{i}{extension}", format=kind, **options)
    folder = ImageFolder(root, mode="L")
    assert len(folder) == len(formats) == len(I.IMG_EXTENSIONS)
    for image, _ in (folder[i] for i in range(len(folder))):
        assert abs(pixel(image)[0] - 100) <= 2  # JPEG may move a flat grey by a step or two


# -- grey or colour ------------------------------------------------------------------------


def test_a_folder_of_grey_images_is_read_as_one_channel(pets):
    folder = ImageFolder(pets)
    assert folder.mode == "L" and folder[0][0].shape == (1, 6, 5)


def test_one_colour_image_makes_the_folder_rgb_and_grey_images_get_three_equal_channels(pets):
    colour((200, 100, 0)).save(pets / "dog" / "d.png")
    folder = ImageFolder(pets)
    assert folder.mode == "RGB"
    assert folder[0][0].shape == (3, 6, 5)
    assert pixel(folder[0][0]) == [10, 10, 10]
    assert pixel(folder[5][0]) == [200, 100, 0]


def test_a_jpeg_folder_in_colour_is_rgb(tmp_path):
    root = make_folder(tmp_path / "photos", {"red": {"1.jpg": colour((250, 0, 0))},
                                             "blue": {"1.jpg": colour((0, 0, 250))}})
    folder = ImageFolder(root)
    assert folder.mode == "RGB" and folder.classes == ["blue", "red"]
    red = pixel(folder[1][0])
    assert red[0] > 240 and red[1] < 10 and red[2] < 10


def test_mode_can_be_chosen_grey_from_colour_by_luma_or_colour_from_grey(pets):
    colour((255, 0, 0)).save(pets / "dog" / "d.png")
    as_grey = ImageFolder(pets, mode="L")
    assert as_grey[5][0].shape == (1, 6, 5)
    assert pixel(as_grey[5][0]) == [76]  # Pillow's luma: 299/1000 of the red
    assert pixel(ImageFolder(pets, mode="RGB")[0][0]) == [10, 10, 10]


def test_sixteen_bit_grey_keeps_its_top_eight_bits(tmp_path):
    root = tmp_path / "depth"
    (root / "x").mkdir(parents=True)
    Image.fromarray(np.full((4, 4), 0x8000, dtype=np.uint16)).save(root / "x" / "deep.png")
    folder = ImageFolder(root)
    assert folder.mode == "L" and pixel(folder[0][0]) == [128]  # not clipped to 255


# -- sizes ---------------------------------------------------------------------------------


def test_image_size_resizes_every_image_an_int_to_a_square(pets):
    assert ImageFolder(pets, image_size=4)[0][0].shape == (1, 4, 4)
    folder = ImageFolder(pets, image_size=(3, 7))
    assert folder.image_size == (3, 7) and folder[4][0].shape == (1, 3, 7)
    assert pixel(folder[4][0]) == [50]  # a flat image stays flat


def test_mixed_sizes_are_resized_to_the_most_common_with_one_warning(pets):
    grey(70, size=(9, 9)).save(pets / "dog" / "d.png")
    grey(80, size=(2, 3)).save(pets / "dog" / "e.png")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        folder = ImageFolder(pets)
    assert len(caught) == 1
    message = str(caught[0].message)
    assert "2 of 7 are resized to 6x5 (height x width), the most common size" in message
    assert str(pets) in message and "image_size=" in message
    assert folder.image_size == (6, 5)
    assert {folder[i][0].shape for i in range(len(folder))} == {(1, 6, 5)}
    assert pixel(folder[5][0]) == [70]


def test_same_sizes_say_nothing(pets, recwarn):
    ImageFolder(pets)
    assert len(recwarn) == 0


def test_with_a_transform_each_image_reaches_it_as_a_pil_image_at_its_own_size(pets, recwarn):
    grey(70, size=(9, 9)).save(pets / "dog" / "d.png")
    seen = []

    def transform(image):
        seen.append((type(image), image.mode, image.size))
        return np.asarray(image, dtype=np.float32)[None] / 255

    folder = ImageFolder(pets, transform=transform, target_transform=lambda label: label * 10)
    image, label = folder[5]
    assert seen == [(Image.Image, "L", (9, 9))]  # PIL's size is (width, height)
    assert image.shape == (1, 9, 9) and label == 10
    assert folder.image_size is None and len(recwarn) == 0
    ImageFolder(pets, transform=transform, image_size=4)[5]
    assert seen[-1][2] == (4, 4)  # image_size is applied before the transform


# -- decoding once, on threads --------------------------------------------------------------


def test_every_image_is_decoded_once_and_epochs_decode_nothing(pets, opens):
    folder = ImageFolder(pets)
    assert sorted(path for path, _ in opens) == sorted(path for path, _ in folder.samples)
    opens.clear()
    loader = DataLoader(folder, batch_size=2, shuffle=True, seed=0)
    for epoch in range(3):
        for x, y in loader:
            pass
    folder[0], folder.to_dataset()
    assert opens == []


def test_decoding_runs_on_the_worker_threads_and_gives_the_same_images(pets, opens):
    threaded = ImageFolder(pets, num_workers=3)
    assert threading.main_thread() not in {thread for _, thread in opens}
    opens.clear()
    alone = ImageFolder(pets, num_workers=0)
    assert {thread for _, thread in opens} == {threading.main_thread()}
    for i in range(len(alone)):
        np.testing.assert_array_equal(threaded[i][0], alone[i][0])


def test_without_the_cache_each_example_is_decoded_when_asked_for(pets, opens):
    folder = ImageFolder(pets, cache=False, mode="L", image_size=(6, 5))
    assert opens == []  # mode and size given: nothing to read up front
    folder[3], folder[3]
    assert [Path(path).name for path, _ in opens] == ["b.png", "b.png"]


def test_without_the_cache_mode_and_size_come_from_the_headers(pets, recwarn):
    colour((1, 2, 3), size=(9, 9)).save(pets / "dog" / "d.png")
    folder = ImageFolder(pets, cache=False)
    assert folder.mode == "RGB" and folder.image_size == (6, 5)
    assert "1 of 6 are resized to 6x5" in str(recwarn.pop(UserWarning).message)
    assert folder[5][0].shape == (3, 6, 5) and pixel(folder[5][0]) == [1, 2, 3]
    np.testing.assert_array_equal(folder.to_dataset().images, ImageFolder(pets).to_dataset().images)


# -- damaged files --------------------------------------------------------------------------


def damage(pets):
    (pets / "dog" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n but nothing more")
    cut = (pets / "cat" / "1.png").read_bytes()
    (pets / "cat" / "cut.png").write_bytes(cut[: len(cut) // 2])  # a header, half the data


def test_a_file_that_cannot_be_decoded_is_an_error_naming_it(pets):
    damage(pets)
    with pytest.raises(ImageFolderError, match=r"cut\.png: cannot read this image .*on_error='skip'") as error:
        ImageFolder(pets)
    assert str(pets / "cat" / "cut.png") in str(error.value)
    assert isinstance(error.value, ValueError)


def test_on_error_skip_leaves_the_damaged_files_out_with_one_warning_that_counts_them(pets):
    damage(pets)
    with pytest.warns(UserWarning, match=r"skipped 2 of 7 image files that cannot be read, e\.g\. .*cut\.png"):
        folder = ImageFolder(pets, on_error="skip")
    assert len(folder) == 5 and folder.targets == [0, 0, 1, 1, 1]
    assert [pixel(folder[i][0])[0] for i in range(5)] == [10, 20, 30, 40, 50]


def test_on_error_skip_still_refuses_a_folder_where_nothing_can_be_read(tmp_path):
    root = make_folder(tmp_path / "junk", {"a": {"1.png": b"no"}, "b": {"2.jpg": b"nope"}})
    with pytest.raises(ImageFolderError, match="none of its 2 image files can be read"):
        ImageFolder(root, on_error="skip")


def test_without_the_cache_a_damaged_file_is_named_when_it_is_read(pets):
    damage(pets)
    folder = ImageFolder(pets, cache=False, mode="L", image_size=(6, 5))
    with pytest.raises(ImageFolderError, match=r"cut\.png: cannot read this image"):
        folder[2]


# -- folders that are not image folders -------------------------------------------------------


def test_a_missing_root_is_an_error_naming_it(tmp_path):
    with pytest.raises(FileNotFoundError, match=f"{tmp_path / 'nowhere'}: no such folder"):
        ImageFolder(tmp_path / "nowhere")
    (tmp_path / "file.png").write_bytes(b"")
    with pytest.raises(NotADirectoryError, match="is a file, not a folder"):
        ImageFolder(tmp_path / "file.png")


def test_a_folder_without_class_folders_says_how_to_lay_it_out(tmp_path):
    (tmp_path / "flat").mkdir()
    grey(1).save(tmp_path / "flat" / "1.png")
    with pytest.raises(FileNotFoundError, match=r"flat: no class folders\. It has image files but no subfolder; "
                                                r"an image folder holds one subfolder per class"):
        ImageFolder(tmp_path / "flat")


def test_an_empty_class_folder_is_an_error_naming_every_empty_one(pets):
    (pets / "bird").mkdir()
    (pets / "eel").mkdir()
    (pets / "eel" / "readme.txt").write_text("no images here")
    with pytest.raises(FileNotFoundError, match=r"class folder\(s\) bird, eel hold no image file"):
        ImageFolder(pets)


def test_bad_options_are_value_errors(pets):
    with pytest.raises(ValueError, match="mode must be 'L'"):
        ImageFolder(pets, mode="CMYK")
    with pytest.raises(ValueError, match="image_size must be a positive int"):
        ImageFolder(pets, image_size=(0, 4))
    with pytest.raises(ValueError, match="on_error must be 'raise' or 'skip'"):
        ImageFolder(pets, on_error="ignore")
    with pytest.raises(ValueError, match="num_workers"):
        ImageFolder(pets, num_workers=-1)


def test_without_pillow_the_error_says_what_to_install(pets, monkeypatch):
    monkeypatch.setitem(__import__("sys").modules, "PIL.Image", None)
    with pytest.raises(MissingExtra, match=r"reading image folders needs PIL.*pip install 'glassnet\[data\]'"):
        ImageFolder(pets)


def test_read_image_reads_one_file_as_the_folder_reads_it(pets, tmp_path):
    folder = ImageFolder(pets, mode="RGB", image_size=(3, 4))
    np.testing.assert_array_equal(I.read_image(folder.samples[2][0], "RGB", (3, 4)), folder[2][0])
    assert I.read_image(pets / "cat" / "1.png").shape == (1, 6, 5)
    (tmp_path / "bad.png").write_bytes(b"not a png")
    with pytest.raises(ImageFolderError, match=r"bad\.png: cannot read this image"):
        I.read_image(tmp_path / "bad.png", "L", (6, 5))


# -- batches for glassnet's models -----------------------------------------------------------


def test_a_dataloader_gives_nchw_float32_batches_that_a_model_takes(pets):
    loader = DataLoader(ImageFolder(pets), batch_size=2, shuffle=True, seed=0)
    batches = list(loader)
    assert [tuple(x.shape) for x, _ in batches] == [(2, 1, 6, 5), (2, 1, 6, 5), (1, 1, 6, 5)]
    x, y = batches[0]
    assert x.data.dtype == np.float32 and y.data.dtype == np.int64 and not x.requires_grad
    model = gn.models.mlp((1, 6, 5), 2)
    assert model(x).shape == (2, 2)


def test_a_batch_is_the_same_cut_at_once_or_example_by_example(pets):
    colour((9, 8, 7)).save(pets / "cat" / "3.png")
    folder = ImageFolder(pets)
    images, labels = folder.__getitems__([5, 0, 2])
    np.testing.assert_array_equal(images, np.stack([folder[i][0] for i in (5, 0, 2)]))
    assert labels.dtype == np.int64 and labels.tolist() == [1, 0, 0]


def test_with_a_transform_the_loader_collates_its_results(pets):
    folder = ImageFolder(pets, transform=lambda image: np.asarray(image, dtype=np.float32)[None] / 255)
    x, y = next(iter(DataLoader(folder, batch_size=4)))
    assert x.shape == (4, 1, 6, 5) and y.tolist() == [0, 0, 1, 1]


def test_random_split_of_a_folder_keeps_the_batch_fast_path(pets):
    train, val = random_split(ImageFolder(pets), [3, 2], generator=np.random.default_rng(0))
    assert hasattr(train, "__getitems__")
    assert sum(len(y) for _, y in DataLoader(val, batch_size=8)) == 2


# -- whole folders in memory -------------------------------------------------------------------


def test_to_dataset_holds_every_image_in_one_array(pets):
    folder = ImageFolder(pets)
    data = folder.to_dataset()
    assert isinstance(data, ImageDataset)
    assert data.images.shape == (5, 1, 6, 5) and data.images.dtype == np.float32
    assert data.labels.tolist() == folder.targets and data.labels.dtype == np.int64
    assert data.classes == ["cat", "dog"] and data.name == "pets"
    np.testing.assert_array_equal(data.images[3], folder[3][0])


def test_to_dataset_of_a_folder_for_a_transform_picks_one_size(pets):
    grey(70, size=(9, 9)).save(pets / "dog" / "d.png")
    folder = ImageFolder(pets, transform=lambda image: image)
    with pytest.warns(UserWarning, match="1 of 6 are resized to 6x5"):
        data = folder.to_dataset()
    assert data.images.shape == (6, 1, 6, 5)


def test_load_image_folder_without_splits_gives_one_train_split(pets):
    splits = load_image_folder(pets)
    assert list(splits) == ["train"]
    assert splits["train"].images.shape == (5, 1, 6, 5) and splits["train"].split == "train"


def test_load_image_folder_reads_train_val_and_test_with_the_training_classes_mode_and_size(tmp_path):
    root = make_folder(tmp_path / "data", {
        "train/cat": {"1.png": colour((1, 2, 3)), "2.png": grey(5)},
        "train/dog": {"1.png": grey(6)},
        "train/eel": {"1.png": grey(7)},
        "val/dog": {"1.png": grey(8, size=(3, 3))},   # no cat/, no eel/; grey; another size
        "test/eel": {"1.png": grey(9)},
    })
    splits = load_image_folder(root)
    assert list(splits) == ["train", "val", "test"]
    assert splits["val"].classes == splits["test"].classes == ["cat", "dog", "eel"]
    assert splits["val"].labels.tolist() == [1] and splits["test"].labels.tolist() == [2]
    assert splits["val"].images.shape == (1, 3, 6, 5)  # train's RGB and 6x5
    assert [split.split for split in splits.values()] == ["train", "val", "test"]
    assert {split.name for split in splits.values()} == {"data"}


def test_a_split_with_a_class_train_does_not_have_is_refused(tmp_path):
    root = make_folder(tmp_path / "data", {"train/cat": {"1.png": grey(1)}, "val/cow": {"1.png": grey(2)}})
    with pytest.raises(ValueError, match=r"val: class folders cow are not among the classes given \(cat\)"):
        load_image_folder(root)


def test_class_folders_beside_split_folders_are_refused(tmp_path):
    root = make_folder(tmp_path / "data", {"train/cat": {"1.png": grey(1)}, "dog": {"1.png": grey(2)}})
    with pytest.raises(ValueError, match="has a train/ folder, .* but it also has dog"):
        load_image_folder(root)


# -- writing an ImageDataset out ---------------------------------------------------------------


def test_digits_written_as_pngs_read_back_identical(tmp_path):
    digits = gn.datasets.digits("test")
    quantized = np.rint(digits.images * 255).astype(np.float32) / np.float32(255)  # 8 bits, as PNG keeps them
    root = write_image_folder({"test": digits}, tmp_path / "digits")
    assert sorted(p.name for p in (root / "test").iterdir()) == digits.classes
    folder = ImageFolder(root / "test")
    original = [int(Path(path).stem) for path, _ in folder.samples]  # files are named by index
    assert sorted(original) == list(range(len(digits)))
    back = folder.to_dataset()
    np.testing.assert_array_equal(back.images, quantized[original])
    np.testing.assert_array_equal(back.labels, digits.labels[original])


def test_colour_images_and_class_names_with_slashes_round_trip_by_name(tmp_path):
    rng = np.random.default_rng(0)
    images = (rng.integers(0, 256, (6, 3, 4, 5)) / 255).astype(np.float32)
    labels = np.array([0, 1, 2, 0, 1, 2])
    data = ImageDataset(images, labels, ["T-shirt/top", "Trouser", "Bag"])
    splits = load_image_folder(write_image_folder({"train": data, "val": data}, tmp_path / "clothes"))
    back = splits["train"]
    assert back.classes == ["Bag", "T-shirt_top", "Trouser"]  # sorted, '/' made '_'
    assert [back.classes[label] for label in back.labels] == ["Bag", "Bag", "T-shirt_top", "T-shirt_top",
                                                              "Trouser", "Trouser"]
    np.testing.assert_array_equal(back.images, images[[2, 5, 0, 3, 1, 4]])  # by class name, then index
    np.testing.assert_array_equal(splits["val"].images, back.images)


def test_write_image_folder_refuses_a_folder_that_is_not_empty_and_images_it_cannot_write(tmp_path, pets):
    digits = gn.datasets.digits("test")
    with pytest.raises(FileExistsError, match=f"{pets} is not empty"):
        write_image_folder(digits, pets)
    with pytest.raises(ValueError, match=r"C 1 or 3, got \(2, 2, 4, 4\)"):
        two_channels = ImageDataset(np.zeros((2, 2, 4, 4), np.float32), np.zeros(2, np.int64), ["a"])
        write_image_folder(two_channels, tmp_path / "x")
    with pytest.raises(ValueError, match="extension must be one of"):
        write_image_folder(digits, tmp_path / "y", extension=".svg")


def test_write_image_folder_as_jpeg(tmp_path):
    data = ImageDataset(np.full((2, 3, 8, 8), 0.5, np.float32), np.array([0, 1]), ["a", "b"])
    root = write_image_folder(data, tmp_path / "jpegs", extension=".jpg")
    assert sorted(p.relative_to(root).as_posix() for p in root.rglob("*.jpg")) == ["a/0.jpg", "b/1.jpg"]
    assert abs(pixel(ImageFolder(root)[0][0])[0] - 128) <= 2
