"""Read and write IDX files, the format MNIST and Fashion-MNIST are published in.

An IDX file is a header followed by the raw array, all big-endian::

    byte 0-1   0x00 0x00                 (every IDX file starts with two zero bytes)
    byte 2     dtype code                (0x08 uint8, 0x09 int8, 0x0B int16,
                                          0x0C int32, 0x0D float32, 0x0E float64)
    byte 3     ndim                      (3 for images: count, rows, columns)
    next       ndim x uint32             (the size of each dimension)
    rest       prod(dims) x itemsize     (the values, row-major)

Files are often gzip'd; a name ending in ``.gz`` is read and written through gzip.
Reading checks every part of the header and that the data is exactly as long as the
dimensions say, so a truncated download fails loudly instead of giving half an array.
"""
import gzip
import os
import zlib

import numpy as np

# dtype code -> big-endian NumPy dtype, as the format defines them.
DTYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_CODES = {dtype.newbyteorder("="): code for code, dtype in DTYPES.items()}


class IDXError(ValueError):
    """An IDX file that cannot be read: bad magic number, bad header, or wrong length."""


def read_idx(path):
    """Read an IDX file (``.gz`` or raw) into a NumPy array in native byte order.

    Raises :class:`IDXError`, naming the file and the problem, if the file is not IDX,
    is truncated, or has bytes left over after the data.

    Shape:
        the dimensions stored in the header, e.g. ``(60000, 28, 28)`` for MNIST images.

    >>> import tempfile, os, numpy as np
    >>> path = os.path.join(tempfile.mkdtemp(), "x-idx2-ubyte.gz")
    >>> write_idx(path, np.arange(6, dtype=np.uint8).reshape(2, 3))
    >>> read_idx(path)
    array([[0, 1, 2],
           [3, 4, 5]], dtype=uint8)
    """
    path = os.fspath(path)
    raw = _read_bytes(path)
    return _parse(raw, path)


def write_idx(path, array):
    """Write ``array`` as an IDX file, gzip'd if ``path`` ends in ``.gz``.

    ``array`` must have one of the IDX dtypes (uint8, int8, int16, int32, float32,
    float64) and at least one dimension.

    >>> import tempfile, os, numpy as np
    >>> path = os.path.join(tempfile.mkdtemp(), "labels-idx1-ubyte")
    >>> write_idx(path, np.array([3, 1, 4], dtype=np.uint8))
    >>> read_idx(path).tolist()
    [3, 1, 4]
    """
    path = os.fspath(path)
    array = np.asarray(array)
    native = array.dtype.newbyteorder("=")
    if native not in _CODES:
        supported = ", ".join(str(d.newbyteorder("=")) for d in DTYPES.values())
        raise ValueError(f"write_idx: IDX cannot store dtype {array.dtype}; help: convert to one of {supported}")
    if array.ndim == 0:
        raise ValueError("write_idx: IDX needs at least one dimension; help: use array.reshape(1)")
    header = bytes([0, 0, _CODES[native], array.ndim]) + np.array(array.shape, dtype=">u4").tobytes()
    body = np.ascontiguousarray(array, dtype=DTYPES[_CODES[native]]).tobytes()
    if path.endswith(".gz"):
        # No stored name or time (as `gzip -n`): the same array always gives the same
        # bytes, hence the same checksum.
        with open(path, "wb") as raw, gzip.GzipFile(filename="", fileobj=raw, mode="wb", mtime=0) as f:
            f.write(header + body)
    else:
        with open(path, "wb") as f:
            f.write(header + body)


def _read_bytes(path):
    if not path.endswith(".gz"):
        with open(path, "rb") as f:
            return f.read()
    try:
        with gzip.open(path, "rb") as f:
            return f.read()
    except EOFError as e:
        raise IDXError(f"{path}: gzip stream is truncated ({e}); help: delete the file and download it again") from e
    except (gzip.BadGzipFile, zlib.error) as e:
        raise IDXError(f"{path}: not a valid gzip file ({e}); help: delete the file and download it again") from e


def _parse(raw, path):
    if len(raw) < 4:
        raise IDXError(f"{path}: only {len(raw)} bytes, too short for the 4-byte IDX magic number")
    zero, code, ndim = raw[0:2], raw[2], raw[3]
    magic = int.from_bytes(raw[:4], "big")
    if zero != b"\x00\x00":
        raise IDXError(
            f"{path}: bad magic number 0x{magic:08X}: an IDX file starts with two zero bytes "
            "(is it still gzip'd without a .gz name, or not IDX at all?)"
        )
    if code not in DTYPES:
        known = ", ".join(f"0x{c:02X}" for c in DTYPES)
        raise IDXError(f"{path}: bad magic number 0x{magic:08X}: unknown dtype code 0x{code:02X} (known: {known})")
    if ndim == 0:
        raise IDXError(f"{path}: bad magic number 0x{magic:08X}: zero dimensions")

    header_size = 4 + 4 * ndim
    if len(raw) < header_size:
        raise IDXError(
            f"{path}: truncated header: {ndim} dimensions need {header_size} header bytes, the file has {len(raw)}"
        )
    shape = tuple(int(n) for n in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    dtype = DTYPES[code]
    expected = header_size + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(raw) < expected:
        raise IDXError(
            f"{path}: truncated: a {shape} array of {dtype.newbyteorder('=')} needs {expected} bytes, "
            f"the file has {len(raw)} ({expected - len(raw)} missing); help: delete it and download it again"
        )
    if len(raw) > expected:
        raise IDXError(
            f"{path}: wrong length: a {shape} array of {dtype.newbyteorder('=')} needs {expected} bytes, "
            f"the file has {len(raw)} ({len(raw) - expected} extra)"
        )
    data = np.frombuffer(raw, dtype=dtype, offset=header_size).reshape(shape)
    # astype copies into a writeable array in the machine's byte order.
    return data.astype(dtype.newbyteorder("="))
