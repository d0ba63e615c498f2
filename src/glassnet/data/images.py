"""Your own images as a data set: a folder with one subfolder per class.

::

    pets/                    ImageFolder("pets"):
        cat/  001.png ...      classes ['cat', 'dog']; every image in cat/ is label 0,
        dog/  x.jpg   ...      every image in dog/ (at any depth) label 1

:class:`ImageFolder` reads this layout as torchvision's ``ImageFolder`` does (class names
sorted, ``classes``, ``class_to_idx``, ``samples``, ``targets``), decoding every image
once, on a few threads, and keeping it in memory, so that later epochs decode nothing.
Without a ``transform`` an example is ``(image: (C, H, W) float32 in [0, 1], label:
int64)``, so ``DataLoader(ImageFolder("pets"), batch_size=64)`` feeds a glassnet model
as it is; with one, the transform gets the PIL image, as torchvision's does.

:func:`load_image_folder` gives a whole folder as :class:`~glassnet.data.ImageDataset`
splits held in two arrays each, the fastest way to train; :func:`write_image_folder`
writes an ImageDataset out as PNG files in the same layout.

A folder for the command line's ``--data DIR``: ``DIR`` is one class folder per class,
or ``train/`` beside ``val/`` and/or ``test/``, each of those one folder per class.
How a command uses it::

    splits = load_image_folder(DIR, image_size=None, mode=None)   # {'train': ..., 'val': ...}
    train = splits["train"]                                       # an ImageDataset
    test = splits.get("val", splits.get("test"))                  # None: cut one from train
    input_shape, num_classes = train.images.shape[1:], len(train.classes)

Errors name the path: ``FileNotFoundError`` for a missing folder, a folder without class
folders or a class folder without images; :class:`ImageFolderError` (a ``ValueError``)
for a file Pillow cannot decode. Pillow does the decoding: ``pip install 'glassnet[data]'``.
"""
import collections.abc
import os
import sys
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from ..extras import require
from .dataset import Dataset
from .datasets import ImageDataset
from .loader import default_collate

# The files read as images, by extension (in any case); every other file is ignored.
IMG_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff")
SPLITS = ("train", "val", "test")
# Pillow's modes with one channel of grey: 1-bit, 8-bit, with alpha, 16- and 32-bit, float.
GREY_MODES = frozenset({"1", "L", "LA", "La", "I", "I;16", "I;16L", "I;16B", "I;16N", "F"})


class ImageFolderError(ValueError):
    """An image file that cannot be decoded (damaged, cut short, or not the format its
    extension says); the message names the file."""


def _pil():
    return require("PIL.Image", "reading image folders", extra="data")


class ImageFolder(Dataset):
    """The images under ``root``, one subfolder per class, as a dataset.

    Args:
        root: the folder. Each subfolder is a class (labels follow the sorted names), and
            every image file under it, at any depth, an example of that class. Hidden files
            and folders (names starting with '.') are skipped.
        transform: called with each image as a PIL image (in ``mode``; resized if
            ``image_size`` is given); its result is the example's image. Without one the
            image is a ``(C, H, W)`` float32 array in ``[0, 1]``.
        target_transform: called with each label (an int).
        image_size: ``(height, width)``, or an int for a square: every image is resized to
            it (bilinear). Without it, images of several sizes are resized to the most
            common one, said in one warning; unless there is a ``transform``: then each
            image reaches it at its own size, as in torchvision.
        mode: 'L' (grey, ``C = 1``) or 'RGB' (``C = 3``); by default 'L' if every image
            is grey, else 'RGB'.
        cache: decode every image now and keep it in memory (uint8, a quarter of the
            float32 size), so that no epoch decodes again. ``False``: decode an image each
            time it is asked for, for folders larger than memory; finding the mode and
            the size then reads only the files' headers (none at all given ``mode`` and
            ``image_size`` or a ``transform``).
        num_workers: threads that decode (Pillow lets go of the GIL while it decodes);
            0 or 1 decodes in this thread.
        on_error: 'raise' (the default): a file that cannot be decoded is an
            :class:`ImageFolderError` naming it. 'skip': such files are left out, and one
            warning counts them.
        classes: the class names in label order (e.g. the training folder's), so that
            another folder (validation) gets the same labels; each of its class folders
            must be one of them, and a class may have no folder.
        progress: show a progress bar when decoding takes more than a second; ``None``:
            only on a terminal.

    Attributes:
        classes, class_to_idx: the class names, in label order, and name -> label.
        samples: ``(path, label)`` for every image, by class, then path.
        targets: the labels, ``[label for path, label in samples]``.
        mode, image_size: what the images are read as: 'L' or 'RGB', and ``(height,
            width)`` (``None``: each at its own size, for the transform).

    Shape:
        ``folder[i]`` is ``(image: (C, H, W) float32, label: int64)`` without transforms.

    >>> import tempfile
    >>> pixels = np.linspace(0, 1, 4 * 8 * 8, dtype=np.float32).reshape(4, 1, 8, 8)
    >>> root = write_image_folder(ImageDataset(pixels, np.array([1, 0, 1, 0]), ["cat", "dog"]), tempfile.mkdtemp())
    >>> folder = ImageFolder(root)
    >>> folder.classes, folder.targets, folder.mode
    (['cat', 'dog'], [0, 0, 1, 1], 'L')
    >>> image, label = folder[0]
    >>> image.shape, image.dtype, label
    ((1, 8, 8), dtype('float32'), np.int64(0))
    """

    def __init__(self, root, transform=None, target_transform=None, image_size=None, mode=None, cache=True,
                 num_workers=2, *, on_error="raise", classes=None, progress=None):
        _check_options(mode, num_workers, on_error)
        _pil()  # a missing Pillow is said now, not as a failure of every file
        self.root = Path(root)
        self.transform, self.target_transform = transform, target_transform
        self.image_size = _size(image_size)
        self.mode = mode
        self.num_workers, self.on_error = num_workers, on_error
        self.progress = sys.stderr.isatty() if progress is None else bool(progress)

        _check_folder(self.root)
        folders, _ = self.find_classes(self.root)
        if classes is None:
            self.classes = folders
        else:
            self.classes = list(classes)
            unknown = sorted(set(folders) - set(self.classes))
            if unknown:
                raise ValueError(f"{self.root}: class folders {', '.join(unknown)} are not among the classes given "
                                 f"({', '.join(self.classes)}); help: every split needs the training folder's classes")
        self.class_to_idx = {name: label for label, name in enumerate(self.classes)}
        self.samples = self._find_samples(folders)
        self.targets = [label for _, label in self.samples]

        self._cache = None
        if cache:
            self._cache = self._decode_all()
        else:
            self._read_headers()

    def find_classes(self, directory):
        """The class names, the sorted names of ``directory``'s subfolders, and their labels,
        as torchvision's ``find_classes``: ``(classes, class_to_idx)``."""
        names = sorted(entry.name for entry in os.scandir(directory)
                       if entry.is_dir() and not entry.name.startswith("."))
        if not names:
            example = f"{Path(directory) / 'cat' / '1.png'} and {Path(directory) / 'dog' / '2.png'}"
            found = " It has image files but" if _image_files(directory, recursive=False) else " It has"
            raise FileNotFoundError(f"{directory}: no class folders.{found} no subfolder; an image folder holds one "
                                    f"subfolder per class, e.g. {example}; help: move each image into its "
                                    "class's folder")
        return names, {name: label for label, name in enumerate(names)}

    def _find_samples(self, folders):
        samples, empty = [], []
        for name in sorted(folders, key=self.class_to_idx.get):
            files = _image_files(self.root / name)
            if not files:
                empty.append(name)
            samples += [(str(path), self.class_to_idx[name]) for path in files]
        if empty:
            raise FileNotFoundError(f"{self.root}: class folder(s) {', '.join(empty)} hold no image file (looked for "
                                    f"{' '.join(IMG_EXTENSIONS)}); help: add images or remove the folder(s)")
        return samples

    # -- reading every file once ---------------------------------------------------------

    def _decode_all(self):
        """Every image as a uint8 array, (H, W) or (H, W, 3), with mode and size settled."""
        arrays = self._each_file(lambda path: _decode(path, self.mode, self.image_size), "decoding")
        if self.mode is None:  # each grey file came back grey ('L'), every other one 'RGB'
            self.mode = "L" if all(a.ndim == 2 for a in arrays) else "RGB"
            if self.mode == "RGB":  # the grey ones too, as Pillow converts them: R = G = B
                arrays = [np.repeat(a[:, :, None], 3, axis=2) if a.ndim == 2 else a for a in arrays]
        if self.image_size is None and self.transform is None:  # batches need one size
            arrays, self.image_size = _one_size(arrays, self.root)
        return arrays

    def _read_headers(self):
        """Without a cache, the mode and the size come from the files' headers (no decoding)."""
        sizes_needed = self.image_size is None and self.transform is None
        if self.mode is not None and not sizes_needed:
            return
        headers = self._each_file(_header, "reading headers of")
        if self.mode is None:
            self.mode = "L" if all(mode in GREY_MODES for mode, _ in headers) else "RGB"
        if sizes_needed:
            self.image_size = _most_common_size([size for _, size in headers], self.root)

    def _each_file(self, read, what):
        """``read(path)`` for every sample, on the threads. A file that cannot be read is
        an error, or with on_error='skip' left out (of ``samples`` and ``targets`` too)."""
        paths = [path for path, _ in self.samples]
        results = _map(_error_or(read), paths, self.num_workers, self.progress, f"{what} {self.root.name}")
        failed = [(path, result) for path, result in zip(paths, results) if isinstance(result, Exception)]
        if not failed:
            return results
        path, error = failed[0]
        if self.on_error == "raise":
            raise ImageFolderError(f"{path}: cannot read this image ({type(error).__name__}: {error}); help: delete "
                                   "or replace the file, or pass on_error='skip' to leave out the files that "
                                   "cannot be read") from error
        if len(failed) == len(paths):
            raise ImageFolderError(f"{self.root}: none of its {len(paths)} image files can be read, e.g. {path} "
                                   f"({type(error).__name__}: {error})") from error
        warnings.warn(f"{self.root}: skipped {len(failed)} of {len(paths)} image files that cannot be read, "
                      f"e.g. {path} ({type(error).__name__}: {error})", stacklevel=4)
        kept = [i for i, result in enumerate(results) if not isinstance(result, Exception)]
        self.samples = [self.samples[i] for i in kept]
        self.targets = [label for _, label in self.samples]
        return [results[i] for i in kept]

    # -- examples ------------------------------------------------------------------------

    def __len__(self):
        return len(self.samples)

    def __getitem__(self, index):
        label = self.samples[index][1]
        if self.transform is None:
            image = _to_nchw(self._array(index)[None])[0]
        else:
            image = self.transform(self._pil_image(index))
        label = np.int64(label) if self.target_transform is None else self.target_transform(label)
        return image, label

    def __getitems__(self, indices):
        """A whole batch: ``(images (B, C, H, W) float32, labels (B,) int64)`` cut from the
        cache at once; with a transform, its examples collated (as the DataLoader would)."""
        if self.transform is not None or self.target_transform is not None:
            return default_collate([self[int(i)] for i in indices])
        images = _to_nchw(np.stack([self._array(int(i)) for i in indices]))
        return images, np.array([self.targets[int(i)] for i in indices], dtype=np.int64)

    def _array(self, index):
        if self._cache is not None:
            return self._cache[index]
        return np.asarray(self._pil_image(index))

    def _pil_image(self, index):
        if self._cache is not None:
            return _pil().fromarray(self._cache[index])
        path = self.samples[index][0]
        try:
            return _open(path, self.mode, self.image_size)
        except Exception as error:  # see _error_or
            raise ImageFolderError(f"{path}: cannot read this image ({type(error).__name__}: {error})") from error

    def to_dataset(self, name=None, split=None):
        """Every image in memory as one :class:`~glassnet.data.ImageDataset` (the
        transforms are not applied), for fast in-memory training; from the cache, or
        decoded now. ``name`` defaults to the folder's name.

        Shape:
            images ``(N, C, H, W)`` float32 in ``[0, 1]``; labels ``(N,)`` int64.
        """
        if self._cache is not None:
            arrays = self._cache
        else:
            arrays = self._each_file(lambda path: _decode(path, self.mode, self.image_size), "decoding")
        if self.image_size is None:  # each at its own size, for the transform: one is needed now
            arrays, _ = _one_size(arrays, self.root)
        images = _to_nchw(np.stack(arrays))
        labels = np.array(self.targets, dtype=np.int64)
        return ImageDataset(images, labels, self.classes, name=name or self.root.name, split=split)

    def __repr__(self):
        size = "each its own size" if self.image_size is None else f"{self.image_size[0]}x{self.image_size[1]}"
        return (f"ImageFolder({str(self.root)!r}, {len(self)} images in {len(self.classes)} classes, "
                f"mode={self.mode!r}, {size}, {'cached' if self._cache is not None else 'not cached'})")


def load_image_folder(root, image_size=None, mode=None, *, on_error="raise", num_workers=2, progress=None):
    """An image folder as :class:`~glassnet.data.ImageDataset` splits in memory:
    ``{split name: dataset}``.

    If ``root`` has a ``train/`` folder, ``train/``, ``val/`` and ``test/`` (those that are
    there) are the splits, each one folder per class; the others are read with the
    training folder's classes, mode and size, so that their labels and shapes agree.
    Otherwise ``root`` itself is one folder per class and the result has one split,
    ``'train'``: the caller cuts a validation set from it.

    ``image_size``, ``mode``, ``on_error``, ``num_workers`` and ``progress`` are
    :class:`ImageFolder`'s.

    >>> import tempfile
    >>> pixels = np.random.default_rng(0).random((6, 3, 4, 4), dtype=np.float32)
    >>> train = ImageDataset(pixels[:4], np.array([0, 1, 0, 1]), ["a", "b"])
    >>> test = ImageDataset(pixels[4:], np.array([1, 0]), ["a", "b"])
    >>> splits = load_image_folder(write_image_folder({"train": train, "test": test}, tempfile.mkdtemp()))
    >>> {name: split.images.shape for name, split in splits.items()}
    {'train': (4, 3, 4, 4), 'test': (2, 3, 4, 4)}
    """
    root = Path(root)
    options = dict(on_error=on_error, num_workers=num_workers, progress=progress)
    _check_folder(root)
    if not (root / "train").is_dir():
        return {"train": ImageFolder(root, image_size=image_size, mode=mode, **options).to_dataset(split="train")}

    others = sorted(entry.name for entry in os.scandir(root)
                    if entry.is_dir() and not entry.name.startswith(".") and entry.name not in SPLITS)
    if others:
        raise ValueError(f"{root} has a train/ folder, so its folders are read as the splits train/, val/ and test/, "
                         f"but it also has {', '.join(others)}; help: put the class folders inside the splits")
    train = ImageFolder(root / "train", image_size=image_size, mode=mode, **options)
    splits = {"train": train.to_dataset(name=root.name, split="train")}
    for split in SPLITS[1:]:
        if (root / split).is_dir():
            folder = ImageFolder(root / split, image_size=train.image_size, mode=train.mode, classes=train.classes,
                                 **options)
            splits[split] = folder.to_dataset(name=root.name, split=split)
    return splits


def training_splits(root, image_size=None, mode=None, val_split=0.2, seed=0, progress=None, on_error="raise"):
    """(train, val, val_name) of an image folder, as ``glassnet train --data`` trains on it:
    the folder's own ``val/`` (or else ``test/``) split when it has one, else ``val_split`` of
    each class held out with ``seed`` (:func:`hold_out`; ``val`` is None when ``val_split``
    is 0). Given the same arguments, a saved run finds the same validation images again.
    ``on_error`` is :class:`ImageFolder`'s: 'raise' at a file Pillow cannot read, or 'skip' it.
    """
    splits = load_image_folder(root, image_size=image_size, mode=mode, progress=progress, on_error=on_error)
    for name in ("val", "test"):
        if name in splits:
            return splits["train"], splits[name], name
    if not val_split:
        return splits["train"], None, None
    return (*hold_out(splits["train"], val_split, seed), "val")


def hold_out(dataset, fraction, seed=0):
    """(train, val) :class:`~glassnet.data.ImageDataset` s: ``fraction`` of each class's images
    (rounded up) held out for validation, drawn with ``seed``, so every class keeps its share in
    both. What ``glassnet train --data`` does to a folder without ``val/`` or ``test/``.

    >>> pixels = np.zeros((10, 1, 2, 2), np.float32)
    >>> train, val = hold_out(ImageDataset(pixels, np.array([0] * 6 + [1] * 4), ["a", "b"]), 0.25)
    >>> len(train), val.labels.tolist()
    (7, [0, 0, 1])
    """
    generator = np.random.default_rng(seed)
    held = np.zeros(len(dataset), dtype=bool)
    for label in range(len(dataset.classes)):
        members = np.flatnonzero(dataset.labels == label)
        held[generator.permutation(members)[: int(np.ceil(len(members) * fraction))]] = True

    def part(keep, split):
        return ImageDataset(dataset.images[keep], dataset.labels[keep], dataset.classes, dataset.name, split)

    return part(~held, "train"), part(held, "val")


def write_image_folder(dataset, root, *, extension=".png", num_workers=4, progress=None):
    """Write an :class:`~glassnet.data.ImageDataset` as image files in the layout
    :class:`ImageFolder` reads: ``root/<class>/<index>.png``. Or write several splits,
    ``{'train': ..., 'test': ...}``, into ``root/train/<class>/...`` and so on.

    Pixels are rounded to 8 bits, which PNG keeps exactly: an MNIST-like data set reads
    back identical. Class names become folder names with '/' and '\\\\' as '_'
    (Fashion-MNIST's 'T-shirt/top' is ``T-shirt_top/``), and ImageFolder numbers the
    classes in sorted order, so classes that are not in sorted order read back with other
    labels (the same names). A class without images gets no folder. Each folder written
    must be new or empty. Returns ``root`` as a Path.

    Shape:
        ``dataset.images`` is ``(N, C, H, W)`` with ``C`` 1 (grey) or 3 (RGB), in ``[0, 1]``.
    """
    extension = extension if extension.startswith(".") else "." + extension
    if extension.lower() not in IMG_EXTENSIONS:
        raise ValueError(f"write_image_folder: extension must be one of {' '.join(IMG_EXTENSIONS)}, got {extension!r}")
    Image = _pil()
    root = Path(root)
    splits = dataset.items() if isinstance(dataset, collections.abc.Mapping) else [(None, dataset)]
    for split, data in splits:
        folder = root if split is None else root / split
        if folder.exists() and any(folder.iterdir()):
            raise FileExistsError(f"{folder} is not empty; help: write into a new folder, so that no earlier file "
                                  "mixes with these")
        pixels, labels, class_folders = _as_files(data, folder)
        width = len(str(max(len(labels) - 1, 0)))
        paths = [class_folders[label] / f"{i:0{width}d}{extension}" for i, label in enumerate(labels)]
        for label in sorted(set(labels.tolist())):
            class_folders[label].mkdir(parents=True, exist_ok=True)

        def save(i):
            Image.fromarray(pixels[i]).save(paths[i])

        _map(save, range(len(paths)), num_workers, sys.stderr.isatty() if progress is None else progress,
             f"writing {folder.name}")
    return root


def _as_files(dataset, folder):
    """The uint8 pixels (N, H, W) or (N, H, W, 3), the labels, and each class's folder."""
    images, labels = np.asarray(dataset.images), np.asarray(dataset.labels)
    if images.ndim != 4 or images.shape[1] not in (1, 3):
        raise ValueError(f"write_image_folder: images must be (N, C, H, W) with C 1 or 3, got {images.shape}")
    pixels = np.clip(np.rint(images * 255), 0, 255).astype(np.uint8)
    pixels = pixels[:, 0] if pixels.shape[1] == 1 else pixels.transpose(0, 2, 3, 1)
    names = [_folder_name(name) for name in dataset.classes]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ValueError(f"write_image_folder: two classes would share the folder {repeated[0]}; help: rename one")
    return pixels, labels, [folder / name for name in names]


def _folder_name(name):
    folder = str(name).replace("/", "_").replace("\\", "_").strip()
    if not folder or folder.startswith("."):
        raise ValueError(f"write_image_folder: the class name {name!r} cannot be a folder name (ImageFolder "
                         "skips hidden folders); help: rename the class")
    return folder


# -- one file ----------------------------------------------------------------------------


def _open(path, mode, size):
    """The image at ``path`` as a PIL image in ``mode`` ('L' or 'RGB'; None: 'L' if the file
    is grey, else 'RGB'), resized to ``size`` = (height, width) unless it is None."""
    Image = _pil()
    with Image.open(path) as image:
        image.load()  # the pixels, now, while the file is open
    if image.mode.startswith("I;16"):  # 16-bit grey: its top 8 bits (convert would clip at 255)
        image = Image.fromarray((np.asarray(image) >> 8).astype(np.uint8))
    target = mode or ("L" if image.mode in GREY_MODES else "RGB")
    if image.mode != target:
        image = image.convert(target)
    if size is not None and image.size != (size[1], size[0]):
        image = image.resize((size[1], size[0]), Image.BILINEAR)
    return image


def read_image(path, mode=None, size=None):
    """One image file as a network reads it: float32 (C, H, W) in [0, 1], in ``mode``
    ('L' or 'RGB'), resized to ``size`` = (height, width) when given, as :class:`ImageFolder`
    reads its files (what ``glassnet predict`` gives a network trained on a folder).
    A file that cannot be decoded is an :class:`ImageFolderError` naming it."""
    _check_options(mode, 0, "raise")
    _pil()  # a missing Pillow is MissingExtra, not a damaged file
    try:
        pixels = _decode(path, mode, _size(size))
    except Exception as error:  # see _error_or
        raise ImageFolderError(f"{path}: cannot read this image ({type(error).__name__}: {error})") from error
    return _to_nchw(pixels[None])[0]


def _decode(path, mode, size):
    """:func:`_open`'s image as a uint8 array: (H, W) in mode 'L', (H, W, 3) in 'RGB'."""
    return np.asarray(_open(path, mode, size))


def _header(path):
    """(mode, (height, width)) from the file's header, without decoding the pixels."""
    with _pil().open(path) as image:
        return image.mode, (image.size[1], image.size[0])


def _error_or(read):
    """``read`` that returns the exception instead of raising it, so that one bad file
    among thousands on the threads can be named (or skipped) afterwards."""

    def attempt(path):
        try:
            return read(path)
        except Exception as error:  # Pillow reports damage as OSError, SyntaxError (a bad PNG chunk), ValueError, ...
            return error

    return attempt


# -- helpers -----------------------------------------------------------------------------


def _map(function, items, workers, progress, description):
    """``[function(item) for item in items]``, on ``workers`` threads, with a progress bar
    that appears only if it takes more than a second."""
    from tqdm.auto import tqdm

    results = []
    with tqdm(total=len(items), desc=description, unit="image", delay=1.0, leave=False, disable=not progress,
              file=sys.stderr, dynamic_ncols=True) as bar:
        if workers <= 1:
            for item in items:
                results.append(function(item))
                bar.update()
        else:
            with ThreadPoolExecutor(max_workers=workers) as pool:
                for result in pool.map(function, items):
                    results.append(result)
                    bar.update()
    return results


def _image_files(folder, recursive=True):
    """The image files in ``folder`` (and below it), sorted folder by folder; hidden files
    and folders left out (macOS's ``._photo.jpg`` copies are not images)."""
    found = []
    for directory, subfolders, names in os.walk(folder, followlinks=True):
        subfolders[:] = sorted(name for name in subfolders if not name.startswith(".")) if recursive else []
        found += [Path(directory) / name for name in sorted(names)
                  if not name.startswith(".") and name.lower().endswith(IMG_EXTENSIONS)]
    return found


def _to_nchw(batch):
    """uint8 images (N, H, W) or (N, H, W, C) as float32 (N, C, H, W) in [0, 1]."""
    batch = batch[:, None] if batch.ndim == 3 else batch.transpose(0, 3, 1, 2)
    images = batch.astype(np.float32)
    images /= 255  # as MNIST's pixels are scaled: the same float for the same byte
    return images


def _one_size(arrays, root):
    """The arrays all at the most common size among them (the others resized), and it."""
    size = _most_common_size([a.shape[:2] for a in arrays], root)
    Image = _pil()
    resized = [a if a.shape[:2] == size else np.asarray(Image.fromarray(a).resize((size[1], size[0]), Image.BILINEAR))
               for a in arrays]
    return resized, size


def _most_common_size(sizes, root):
    counts = collections.Counter(tuple(size) for size in sizes)
    size, count = counts.most_common(1)[0]
    if count < len(sizes):
        warnings.warn(f"{root}: the images are not all the same size; {len(sizes) - count} of {len(sizes)} are "
                      f"resized to {size[0]}x{size[1]} (height x width), the most common size; help: pass "
                      "image_size=(height, width) to choose the size", stacklevel=4)
    return size


def _size(image_size):
    if image_size is None:
        return None
    pair = (image_size, image_size) if isinstance(image_size, (int, np.integer)) else tuple(image_size)
    if len(pair) != 2 or not all(isinstance(n, (int, np.integer)) and not isinstance(n, bool) and n > 0 for n in pair):
        raise ValueError(f"ImageFolder: image_size must be a positive int or (height, width), got {image_size!r}")
    return int(pair[0]), int(pair[1])


def _check_options(mode, num_workers, on_error):
    if mode not in (None, "L", "RGB"):
        raise ValueError(f"ImageFolder: mode must be 'L' (grey), 'RGB' or None (from the images), got {mode!r}")
    if isinstance(num_workers, bool) or not isinstance(num_workers, (int, np.integer)) or num_workers < 0:
        raise ValueError(f"ImageFolder: num_workers must be a non-negative int, got {num_workers!r}")
    if on_error not in ("raise", "skip"):
        raise ValueError(f"ImageFolder: on_error must be 'raise' or 'skip', got {on_error!r}")


def _check_folder(root):
    if not root.exists():
        raise FileNotFoundError(f"{root}: no such folder; help: give the folder that holds one subfolder per class")
    if not root.is_dir():
        raise NotADirectoryError(f"{root} is a file, not a folder of class folders")
