"""Ready-made image data sets: digits (bundled with scikit-learn), MNIST, Fashion-MNIST,
CIFAR-10.

Each returns an :class:`ImageDataset` with images as float32 in ``[0, 1]`` shaped
``(N, C, H, W)`` (``C`` is 1, or 3 for CIFAR-10's colour) and labels as int64, ready for
a :class:`~glassnet.data.DataLoader`.

MNIST, Fashion-MNIST and CIFAR-10 are looked for on disk first, in this order:

1. ``root=`` (the folder itself, then its ``mnist/``, ``fashion-mnist/`` or ``cifar10/``
   subfolder),
2. ``$GLASSNET_DATA`` (likewise),
3. the user cache ``$XDG_CACHE_HOME/glassnet/<name>/`` (default ``~/.cache/glassnet/<name>/``),
4. for Fashion-MNIST, ``/usr/share/datasets/fashion-mnist`` (Debian's ``dataset-fashion-mnist``).

If none has the files, they are downloaded into ``root`` (or the cache when no root is
given), and each file's SHA-256 is checked before it is kept.
"""
import dataclasses
import functools
import hashlib
import http.client
import os
import tarfile
import tempfile
import urllib.request
import zlib
from pathlib import Path, PurePosixPath

import numpy as np

from .dataset import Dataset
from .idx import read_idx

SPLITS = ("train", "test")


class ImageDataset(Dataset):
    """Labelled images held in two arrays.

    Attributes:
        images: float32 array in ``[0, 1]``, shape ``(N, C, H, W)``.
        labels: int64 array of class indices, shape ``(N,)``.
        classes: class names; ``classes[labels[i]]`` names image ``i``.
        name, split: which data set this is, e.g. ``'mnist'``, ``'train'``.

    The arrays of MNIST and Fashion-MNIST are shared between every dataset loaded from
    the same files, so they are read-only: normalize into a new array, not in place.

    Shape:
        ``dataset[i]`` is ``(image: (C, H, W) float32, label: int64)``.

    >>> ds = digits("test")
    >>> image, label = ds[0]
    >>> image.shape, label, ds.classes[label]
    ((1, 8, 8), np.int64(5), '5')
    """

    def __init__(self, images, labels, classes, name="images", split=None):
        images, labels = np.asarray(images), np.asarray(labels)
        if images.ndim != 4 or images.dtype != np.float32:
            raise ValueError(f"{name}: images must be float32 of shape (N, C, H, W), got {images.dtype} {images.shape}")
        if labels.shape != (len(images),) or labels.dtype != np.int64:
            raise ValueError(f"{name}: labels must be int64 of shape ({len(images)},), got {labels.dtype} {labels.shape}")
        self.images = images
        self.labels = labels
        self.classes = list(classes)
        self.name = name
        self.split = split

    def __len__(self):
        return len(self.images)

    def __getitem__(self, index):
        return self.images[index], self.labels[index]

    def __getitems__(self, indices):
        """A whole batch with one fancy-index per array (the DataLoader's fast path)."""
        indices = np.asarray(indices, dtype=np.int64)
        return self.images[indices], self.labels[indices]

    def __repr__(self):
        return (
            f"ImageDataset(name={self.name!r}, split={self.split!r}, "
            f"{len(self)} images of {self.images.shape[1:]}, {len(self.classes)} classes)"
        )


# -- digits ------------------------------------------------------------------------------


def digits(split="train"):
    """scikit-learn's 1797 handwritten digits, 8x8 pixels: small enough to train on in
    a second, with no download.

    The train/test split (about 80/20) is stratified, so each digit keeps its share in
    both, and fixed, so every run sees the same test set.

    Shape:
        images ``(N, 1, 8, 8)`` float32 in ``[0, 1]``; labels ``(N,)`` int64 in ``0..9``;
        ``N`` is 1438 for train and 359 for test.

    >>> train = digits("train")
    >>> train.images.shape, train.labels.dtype
    ((1438, 1, 8, 8), dtype('int64'))
    """
    _check_split(split)
    images, labels, is_test = _digits_arrays()
    keep = is_test if split == "test" else ~is_test
    return ImageDataset(images[keep], labels[keep], [str(d) for d in range(10)], name="digits", split=split)


# The digits ship inside glassnet, so the default data set needs no download and no
# scikit-learn: the 1,797 images of scikit-learn's ``load_digits`` (the UCI "Optical
# Recognition of Handwritten Digits" test set, CC BY 4.0), as gzip'd IDX files, checked
# against their SHA-256 on load.
EMBEDDED = Path(__file__).parent / "embedded"
DIGITS_FILES = {
    "digits-images-idx3-ubyte.gz": "16bf71e8bfa958f11ad68a045567f2a2f5362b27ab1e7cadd4cf9a3cbb37176e",
    "digits-labels-idx1-ubyte.gz": "22e1486adc7849d49bbac7f3e6227134ade1aea8cf5289c8dceeecd5a005d43c",
}


@functools.lru_cache(maxsize=None)
def _digits_arrays():
    for name, digest in DIGITS_FILES.items():
        if hashlib.sha256((EMBEDDED / name).read_bytes()).hexdigest() != digest:
            raise DataNotFoundError(f"{EMBEDDED / name} is damaged (its SHA-256 differs); help: reinstall glassnet")
    counts, labels = (read_idx(EMBEDDED / name) for name in DIGITS_FILES)
    images = (counts / 16).astype(np.float32)[:, None]  # pixels are counts 0..16
    labels = labels.astype(np.int64)
    # Stratified split with its own fixed generator: the same test set on every machine
    # and every run, whatever glassnet.seed says.
    rng = np.random.default_rng(0)
    is_test = np.zeros(len(labels), dtype=bool)
    for digit in range(10):
        members = rng.permutation(np.flatnonzero(labels == digit))
        is_test[members[: round(0.2 * len(members))]] = True
    return images, labels, is_test


# -- MNIST and Fashion-MNIST --------------------------------------------------------------

FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


@dataclasses.dataclass(frozen=True)
class _Source:
    title: str
    folder: str  # subfolder name under $GLASSNET_DATA and the cache
    classes: tuple
    mirrors: tuple  # base URLs, tried in order
    sha256: dict  # .gz file name -> SHA-256 of the file as the mirrors serve it
    system_dirs: tuple = ()  # (folder, what put it there)
    install_hint: str = ""


# SHA-256 of the original .gz files as published in TensorFlow Datasets' checksum lists
# (file sizes 9912422, 28881, 1648877, 4542 bytes: the files yann.lecun.com first
# published, which both mirrors serve unchanged).
_MNIST = _Source(
    title="MNIST",
    folder="mnist",
    classes=tuple(str(d) for d in range(10)),
    mirrors=(
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "https://storage.googleapis.com/cvdf-datasets/mnist/",
    ),
    sha256={
        "train-images-idx3-ubyte.gz": "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
        "train-labels-idx1-ubyte.gz": "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
        "t10k-images-idx3-ubyte.gz": "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
        "t10k-labels-idx1-ubyte.gz": "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
    },
)

# SHA-256 of Zalando's .gz files, also from TensorFlow Datasets' checksum lists. Debian's
# dataset-fashion-mnist cannot supply them: it re-gzips the files without their stored
# names (each is 23-24 bytes shorter), so its bytes differ though the images are the same.
_FASHION_MNIST = _Source(
    title="Fashion-MNIST",
    folder="fashion-mnist",
    classes=("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"),
    mirrors=("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
    sha256={
        "train-images-idx3-ubyte.gz": "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
        "train-labels-idx1-ubyte.gz": "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
        "t10k-images-idx3-ubyte.gz": "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
        "t10k-labels-idx1-ubyte.gz": "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
    },
    system_dirs=(("/usr/share/datasets/fashion-mnist", "Debian package dataset-fashion-mnist"),),
    install_hint="on Debian or Ubuntu, `apt-get install dataset-fashion-mnist`",
)


class DataNotFoundError(FileNotFoundError):
    """A data set's files are on none of the places glassnet looks, and could not be
    downloaded. The message lists every place and how to supply the files."""


def mnist(split="train", root=None, download=True):
    """MNIST: 70,000 handwritten digits, 28x28 grey pixels (60,000 train, 10,000 test).

    Looks for the IDX files (see the module docstring for where), downloading them with
    a checksum check if they are nowhere on disk and ``download`` is true.

    Shape:
        images ``(N, 1, 28, 28)`` float32 in ``[0, 1]``; labels ``(N,)`` int64 in ``0..9``.

    Example (needs the files)::

        train = glassnet.datasets.mnist("train")
        loader = glassnet.data.DataLoader(train, batch_size=128, shuffle=True)
    """
    return _load(_MNIST, split, root, download)


def fashion_mnist(split="train", root=None, download=True):
    """Fashion-MNIST: 70,000 28x28 grey photos of clothes in 10 classes, a harder
    drop-in for MNIST (60,000 train, 10,000 test). ``.classes`` names the labels.

    Looks for the IDX files as :func:`mnist` does, plus Debian's
    ``/usr/share/datasets/fashion-mnist``.

    Shape:
        images ``(N, 1, 28, 28)`` float32 in ``[0, 1]``; labels ``(N,)`` int64 in ``0..9``.

    Example (needs the files)::

        test = glassnet.datasets.fashion_mnist("test")
        test.classes[test.labels[0]]  # 'Ankle boot'
    """
    return _load(_FASHION_MNIST, split, root, download)


def _check_split(split):
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")


def _load(source, split, root, download):
    _check_split(split)
    stems = FILES[split]
    places = _places(source, root)
    for folder, _ in places:
        if folder is not None:
            found = [_find(folder, stem) for stem in stems]
            if all(found):
                return _dataset(source, split, *found)
    if not download:
        raise DataNotFoundError(_not_found_message(source, split, places, ["download=False"]))

    target = Path(root) if root is not None else _cache_dir(source)
    paths, failures = [], []
    for stem in stems:
        # A file an earlier, interrupted download already fetched is kept.
        path = _find(target, stem) or _download(source, stem + ".gz", target, failures)
        if path is None:
            raise DataNotFoundError(_not_found_message(source, split, places, failures))
        paths.append(path)
    return _dataset(source, split, *paths)


def _places(source, root):
    """Every folder to look in, in order, with why it is looked in (folder None: the
    environment variable is not set)."""
    places = []
    if root is not None:
        places += [(Path(root), "root="), (Path(root) / source.folder, "root=")]
    env = os.environ.get("GLASSNET_DATA")
    if env:
        places += [(Path(env), "$GLASSNET_DATA"), (Path(env) / source.folder, "$GLASSNET_DATA")]
    else:
        places.append((None, "$GLASSNET_DATA is not set"))
    places.append((_cache_dir(source), "user cache"))
    places += [(Path(folder), why) for folder, why in source.system_dirs]
    return places


def _cache_dir(source):
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "glassnet" / source.folder


def _find(folder, stem):
    """The file ``stem`` or ``stem.gz`` in ``folder`` (raw first: it reads faster), or None."""
    for name in (stem, stem + ".gz"):
        if (Path(folder) / name).is_file():
            return Path(folder) / name
    return None


def _not_found_message(source, split, places, failures, looked_for=None):
    looked_for = looked_for or " and ".join(f"{stem}[.gz]" for stem in FILES[split])
    lines = [f"{source.title} {split!r} split not found. Looked for {looked_for} in:"]
    for folder, why in places:
        lines.append(f"  - {folder}  ({why})" if folder is not None else f"  - ({why})")
    if failures:
        lines.append("and could not download it:")
        lines += [f"  - {failure}" for failure in failures]
    lines.append("help: put the files in one of these folders, set GLASSNET_DATA=/path/to/folder,")
    files = source.mirrors[0] + (next(iter(source.sha256)) if len(source.sha256) == 1 else "")  # one file: its URL
    lines.append(f"      or pass root='/path/to/folder' (files from {files})")
    if source.install_hint:
        lines.append(f"      or, {source.install_hint}")
    return "\n".join(lines)


# -- CIFAR-10 ----------------------------------------------------------------------------

# The "CIFAR-10 binary version", never the Python one: unpickling a file can run any code.
# The archive unpacks to cifar-10-batches-bin/ with five training batches, one test batch
# (10,000 records each) and batches.meta.txt, the class names one per line.
CIFAR10_ARCHIVE = "cifar-10-binary.tar.gz"
CIFAR10_FOLDER = "cifar-10-batches-bin"
CIFAR10_META = "batches.meta.txt"
CIFAR10_FILES = {
    "train": tuple(f"data_batch_{i}.bin" for i in range(1, 6)),
    "test": ("test_batch.bin",),
}
# A record: one label byte (0-9), then 3072 pixel bytes: the 32x32 red plane, then the
# green, then the blue, each row by row, so a record's pixels reshape to (3, 32, 32).
CIFAR10_RECORD = 1 + 3 * 32 * 32

# The archive is 170,052,171 bytes. Its page (https://www.cs.toronto.edu/~kriz/cifar.html)
# publishes its MD5, c32a1d4ab5d03f1284b67883e8d87530; the SHA-256 checked here is that of
# the same bytes, as other loaders publish it beside that size and MD5.
_CIFAR10 = _Source(
    title="CIFAR-10",
    folder="cifar10",
    classes=("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"),
    mirrors=("https://www.cs.toronto.edu/~kriz/",),
    sha256={CIFAR10_ARCHIVE: "c4a38c50a1bc5f3a1c5537f2155ab9d68f9f25eb1ed8d9ddda3db29a59bca1dd"},
)


def cifar10(split="train", root=None, download=True):
    """CIFAR-10: 60,000 32x32 colour photos in 10 classes (airplane, automobile, bird, cat,
    deer, dog, frog, horse, ship, truck): 50,000 train, 10,000 test. ``.classes`` names
    the labels.

    Reads the binary version: in each place (see the module docstring) the batch files
    themselves (``data_batch_1.bin`` ... ``data_batch_5.bin``, ``test_batch.bin``), or
    them in ``cifar-10-batches-bin/``, or the archive ``cifar-10-binary.tar.gz``, read as it
    is (nothing is unpacked). Downloads the archive (162 MB) if it is nowhere and
    ``download`` is true.

    Shape:
        images ``(N, 3, 32, 32)`` float32 in ``[0, 1]`` (red, green, blue); labels ``(N,)``
        int64 in ``0..9``.

    Example (needs the files)::

        train = glassnet.datasets.cifar10("train")
        train.classes[train.labels[0]]  # 'frog'
    """
    _check_split(split)
    places = _places(_CIFAR10, root)
    for folder, _ in places:
        if folder is not None:
            found = _find_cifar10(folder, split)
            if found is not None:
                return _cifar10_dataset(split, found)
    looked_for = (f"{CIFAR10_ARCHIVE} or {', '.join(CIFAR10_FILES[split])} "
                  f"(in the folder or its {CIFAR10_FOLDER}/)")
    if not download:
        raise DataNotFoundError(_not_found_message(_CIFAR10, split, places, ["download=False"], looked_for))
    failures = []
    archive = _download(_CIFAR10, CIFAR10_ARCHIVE, Path(root) if root is not None else _cache_dir(_CIFAR10), failures)
    if archive is None:
        raise DataNotFoundError(_not_found_message(_CIFAR10, split, places, failures, looked_for))
    return _cifar10_dataset(split, archive)


def _find_cifar10(folder, split):
    """The folder holding the split's batch files, else the archive, in ``folder``; or None."""
    folder = Path(folder)
    for candidate in (folder, folder / CIFAR10_FOLDER):
        if all((candidate / name).is_file() for name in CIFAR10_FILES[split]):
            return candidate
    if (folder / CIFAR10_ARCHIVE).is_file():
        return folder / CIFAR10_ARCHIVE
    return None


def _cifar10_dataset(split, where):
    files = [where] if where.is_file() else [where / name for name in CIFAR10_FILES[split]]
    key = (split, *((str(p.resolve()), p.stat().st_size, p.stat().st_mtime_ns) for p in files))
    if key not in _decoded:
        _decoded[key] = _decode_cifar10(split, where)
    images, labels, classes = _decoded[key]
    return ImageDataset(images, labels, classes, name="cifar10", split=split)


def _decode_cifar10(split, where):
    contents = _read_cifar10_archive(split, where) if where.is_file() else _read_cifar10_folder(split, where)
    classes = _CIFAR10.classes
    if CIFAR10_META in contents:
        _, meta = contents.pop(CIFAR10_META)
        classes = tuple(line.strip() for line in meta.decode("utf-8", "replace").splitlines() if line.strip())
    records = np.concatenate([_cifar10_records(*contents[name]) for name in CIFAR10_FILES[split]])

    labels = records[:, 0].astype(np.int64)
    if len(labels) and labels.max() >= len(classes):
        raise ValueError(f"{where}: label {labels.max()} out of range for the {len(classes)} classes "
                         f"of {CIFAR10_META}; help: the files are not CIFAR-10's binary version")
    pixels = records[:, 1:].reshape(-1, 3, 32, 32).astype(np.float32)
    pixels /= 255
    # Shared by every dataset made from these files, so nobody may change them in place.
    pixels.flags.writeable = False
    labels.flags.writeable = False
    return pixels, labels, classes


def _read_cifar10_folder(split, folder):
    """{file name: (its path, for errors; its bytes)} for the split's batches and the meta file."""
    names = [*CIFAR10_FILES[split], CIFAR10_META]
    return {name: (folder / name, (folder / name).read_bytes()) for name in names if (folder / name).is_file()}


def _read_cifar10_archive(split, archive):
    """The same, from the .tar.gz in one pass (a gzip stream cannot seek back cheaply)."""
    wanted = {*CIFAR10_FILES[split], CIFAR10_META}
    contents = {}
    try:
        with tarfile.open(archive, "r:gz") as tar:
            for member in tar:
                name = PurePosixPath(member.name).name
                if member.isfile() and name in wanted and name not in contents:
                    contents[name] = (f"{archive}: {member.name}", tar.extractfile(member).read())
                    if len(contents) == len(wanted):
                        break
    except (tarfile.TarError, EOFError, OSError, zlib.error) as e:  # not a tar, not gzip, cut short
        raise ValueError(f"{archive}: cannot read the archive ({e}); help: delete it to download it again") from e
    missing = [name for name in CIFAR10_FILES[split] if name not in contents]
    if missing:
        raise ValueError(f"{archive} has no {', '.join(missing)}: it is not {CIFAR10_ARCHIVE}, the CIFAR-10 "
                         "binary version; help: delete it to download it again")
    return contents


def _cifar10_records(where, raw):
    """A batch file's bytes as an array of records, one per row: (N, 3073) uint8."""
    if len(raw) == 0 or len(raw) % CIFAR10_RECORD:
        raise ValueError(
            f"{where}: {len(raw)} bytes is not a whole number of {CIFAR10_RECORD}-byte records "
            f"(1 label byte + 3072 pixel bytes); help: the file is cut short or is not from {CIFAR10_ARCHIVE} "
            "(CIFAR-100's records are 3074 bytes: two label bytes)"
        )
    return np.frombuffer(raw, dtype=np.uint8).reshape(-1, CIFAR10_RECORD)


# -- download ----------------------------------------------------------------------------


def _open_url(url):
    """Open ``url`` for reading (the one place glassnet touches the network; tests
    replace it)."""
    request = urllib.request.Request(url, headers={"User-Agent": "glassnet"})
    return urllib.request.urlopen(request, timeout=60)


def _download(source, filename, folder, failures):
    """Fetch ``filename`` from the first mirror that serves it with the right SHA-256,
    into ``folder``. Returns its path, or None after adding each mirror's failure to
    ``failures``."""
    for mirror in source.mirrors:
        url = mirror + filename
        try:
            return _fetch_verified(url, Path(folder) / filename, source.sha256[filename])
        except (OSError, http.client.HTTPException, ValueError) as e:  # network, cut-off transfer, checksum
            failures.append(f"{url}: {e}")
    return None


def _fetch_verified(url, path, sha256):
    """Download ``url`` to ``path`` only if its SHA-256 is ``sha256``.

    The bytes go to a temporary file beside ``path`` that is renamed into place after
    the check, so an interrupted or corrupted download never leaves a file that a later
    run would trust."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, partial = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".part")
    try:
        digest = hashlib.sha256()
        with os.fdopen(handle, "wb") as out, _open_url(url) as response:
            for chunk in iter(lambda: response.read(1 << 20), b""):
                digest.update(chunk)
                out.write(chunk)
        if digest.hexdigest() != sha256:
            raise ValueError(f"SHA-256 mismatch: expected {sha256}, got {digest.hexdigest()}; the file was discarded")
        os.replace(partial, path)
        return path
    except BaseException:
        if os.path.exists(partial):
            os.remove(partial)
        raise


# -- decoding ----------------------------------------------------------------------------

# Decoded arrays by file identity, so loading the same split twice reads the files once.
_decoded = {}


def _dataset(source, split, image_path, label_path):
    key = tuple((str(p.resolve()), p.stat().st_size, p.stat().st_mtime_ns) for p in (image_path, label_path))
    if key not in _decoded:
        _decoded[key] = _decode(source, image_path, label_path)
    images, labels = _decoded[key]
    return ImageDataset(images, labels, source.classes, name=source.folder, split=split)


def _decode(source, image_path, label_path):
    images, labels = read_idx(image_path), read_idx(label_path)
    if images.ndim != 3 or images.dtype != np.uint8:
        raise ValueError(f"{image_path}: expected uint8 images (N, rows, columns), got {images.dtype} {images.shape}")
    if labels.ndim != 1 or labels.dtype != np.uint8:
        raise ValueError(f"{label_path}: expected uint8 labels (N,), got {labels.dtype} {labels.shape}")
    if len(images) != len(labels):
        raise ValueError(f"{image_path} has {len(images)} images but {label_path} has {len(labels)} labels")
    if len(labels) and labels.max() >= len(source.classes):
        raise ValueError(f"{label_path}: label {labels.max()} out of range for {len(source.classes)} classes")

    pixels = images.astype(np.float32)[:, None]  # add the channel axis: (N, 1, H, W)
    pixels /= 255
    labels = labels.astype(np.int64)
    # Shared by every dataset made from these files, so nobody may change them in place.
    pixels.flags.writeable = False
    labels.flags.writeable = False
    return pixels, labels
