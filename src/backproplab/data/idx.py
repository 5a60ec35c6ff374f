"""IDX files (the MNIST / Fashion-MNIST format): read and write, gzip-compressed or raw.

Layout (big-endian), from the MNIST page (LeCun, Cortes and Burges)::

    bytes 0-1   0x00 0x00
    byte  2     type code: 0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32, 0x0D float32, 0x0E float64
    byte  3     number of dimensions d
    4*d bytes   each dimension as an unsigned 32-bit integer
    then        the values, C order, prod(dims) * itemsize bytes, nothing after

So the magic number of an image file is 0x00000803 (uint8, 3 dims: N, 28, 28) and
of a label file 0x00000801 (uint8, 1 dim: N).

Compression is detected from the content (gzip starts with 0x1f 0x8b), not the
name, so a renamed file still loads. Every problem raises :class:`DataFormatError`
(a ``ValueError``) whose message names the file.
"""
from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import numpy as np

from ..utils.io import atomic_write_bytes

GZIP_MAGIC = b"\x1f\x8b"

# type code -> big-endian dtype
IDX_DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_CODE_OF_KIND = {(dt.kind, dt.itemsize): code for code, dt in IDX_DTYPES.items()}

_FIX = "delete the file and download it again, or reinstall its package"


class DataFormatError(ValueError):
    """A data file exists but its content is wrong (magic number, size, shape, checksum of content)."""


def read_idx_bytes(path) -> bytes:
    """The decompressed bytes of an IDX file (gzip detected from the content).

    Raises:
        FileNotFoundError: ``path`` does not exist.
        DataFormatError: the gzip stream is truncated or corrupt.
    """
    path = Path(path)
    data = path.read_bytes()
    if data[:2] != GZIP_MAGIC:
        return data
    try:
        return gzip.decompress(data)
    except (EOFError, OSError, zlib.error) as e:
        # EOFError: stream cut short; BadGzipFile (an OSError) / zlib.error: damaged bytes or bad CRC
        raise DataFormatError(f"{path}: damaged or truncated gzip file ({e}); fix: {_FIX}") from e


def parse_idx(data: bytes, name: str = "<bytes>") -> np.ndarray:
    """Decode IDX bytes into an array with native byte order.

    Args:
        data: the (decompressed) file content.
        name: file name used in error messages.
    Returns:
        array of shape ``dims`` and the file's dtype (uint8 for (Fashion-)MNIST).
        For uint8 files it is a read-only view of ``data`` (no copy).
    """
    if len(data) < 4:
        raise DataFormatError(f"{name}: {len(data)} bytes, too short for an IDX header; fix: {_FIX}")
    zero, code, ndim = data[0:2], data[2], data[3]
    if zero != b"\x00\x00" or code not in IDX_DTYPES:
        raise DataFormatError(
            f"{name}: wrong magic number 0x{data[:4].hex()} (an IDX file starts with 0x0000 then a type code "
            f"in {[hex(c) for c in IDX_DTYPES]} and the number of dimensions; "
            f"Fashion-MNIST images are 0x00000803, labels 0x00000801); this is not an IDX file; fix: {_FIX}"
        )
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DataFormatError(f"{name}: truncated header ({len(data)} of {header} bytes); fix: {_FIX}")
    dims = tuple(int(d) for d in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    dtype = IDX_DTYPES[code]
    expected = int(np.prod(dims, dtype=np.int64)) * dtype.itemsize
    got = len(data) - header
    if got < expected:
        raise DataFormatError(
            f"{name}: truncated: the header promises {dims} values of {dtype.name} ({expected} bytes) "
            f"but only {got} bytes follow; fix: {_FIX}"
        )
    if got > expected:
        raise DataFormatError(
            f"{name}: {got - expected} unexpected bytes after the {dims} values the header declares; fix: {_FIX}"
        )
    arr = np.frombuffer(data, dtype=dtype, count=expected // dtype.itemsize, offset=header).reshape(dims)
    return arr if dtype.itemsize == 1 else arr.astype(dtype.newbyteorder("="))


def read_idx(path) -> np.ndarray:
    """Read an IDX file, gzip-compressed or raw. See :func:`parse_idx` for the result."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"IDX file not found: {path}")
    return parse_idx(read_idx_bytes(path), str(path))


def encode_idx(array: np.ndarray) -> bytes:
    """IDX bytes (uncompressed) of ``array``; dtype must be one IDX knows (uint8, int8, int16, int32, float32/64)."""
    array = np.asarray(array)
    key = (array.dtype.kind, array.dtype.itemsize)
    if key not in _CODE_OF_KIND or array.ndim > 255:
        raise ValueError(f"IDX cannot store dtype {array.dtype} with {array.ndim} dimensions")
    code = _CODE_OF_KIND[key]
    header = bytes([0, 0, code, array.ndim]) + np.asarray(array.shape, dtype=">u4").tobytes()
    return header + np.ascontiguousarray(array, dtype=IDX_DTYPES[code]).tobytes()


def write_idx(path, array: np.ndarray, compress: bool | None = None) -> Path:
    """Write ``array`` as an IDX file, atomically.

    Args:
        path: target file.
        array: any shape; dtype uint8, int8, int16, int32, float32 or float64.
        compress: gzip the file; ``None`` means "if the name ends in .gz".
    """
    path = Path(path)
    data = encode_idx(array)
    if compress is None:
        compress = path.suffix == ".gz"
    if compress:
        data = gzip.compress(data, mtime=0)  # mtime=0: same array, same bytes
    return atomic_write_bytes(path, data)
