"""IDX reader/writer: round trips (gzip and raw, every dtype) and every way a file can be broken."""
import gzip

import numpy as np
import pytest

from backproplab.data import DataFormatError, parse_idx, read_idx, write_idx
from backproplab.data.idx import encode_idx

CASES = [  # (dtype, shape)
    (np.uint8, (7, 28, 28)),
    (np.uint8, (13,)),
    (np.int8, (3, 4)),
    (np.int16, (2, 3, 5)),
    (np.int32, (6,)),
    (np.float32, (4, 2)),
    (np.float64, (2, 2, 2, 3)),
]


def _random(dtype, shape, rng):
    if np.issubdtype(dtype, np.floating):
        return rng.standard_normal(shape).astype(dtype)
    info = np.iinfo(dtype)
    return rng.integers(info.min, info.max, size=shape, endpoint=True).astype(dtype)


@pytest.mark.parametrize("compress", [True, False])
@pytest.mark.parametrize("dtype,shape", CASES)
def test_round_trip(tmp_path, dtype, shape, compress):
    rng = np.random.default_rng(len(shape) * 100 + np.dtype(dtype).num)  # fixed per case
    a = _random(dtype, shape, rng)
    path = tmp_path / ("a.idx.gz" if compress else "a.idx")
    write_idx(path, a)
    assert (path.read_bytes()[:2] == b"\x1f\x8b") == compress
    b = read_idx(path)
    assert b.dtype == a.dtype and b.shape == a.shape
    np.testing.assert_array_equal(a, b)


def test_header_layout_matches_mnist():
    # 0x00000803 then big-endian dims: what the MNIST page specifies for image files
    data = encode_idx(np.zeros((2, 28, 28), np.uint8))
    assert data[:16] == bytes.fromhex("00000803" "00000002" "0000001c" "0000001c")
    assert len(data) == 16 + 2 * 28 * 28


def test_compression_detected_from_content_not_name(tmp_path):
    a = np.arange(10, dtype=np.uint8)
    path = tmp_path / "no-suffix"
    write_idx(path, a, compress=True)
    np.testing.assert_array_equal(read_idx(path), a)


def _bad(tmp_path, data: bytes, name="bad-idx3-ubyte", compress=False):
    path = tmp_path / name
    path.write_bytes(gzip.compress(data) if compress else data)
    with pytest.raises(DataFormatError) as info:
        read_idx(path)
    assert str(path) in str(info.value), "the message must name the file"
    return str(info.value)


GOOD = encode_idx(np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4))


@pytest.mark.parametrize("compress", [True, False])
def test_wrong_magic(tmp_path, compress):
    msg = _bad(tmp_path, b"\x01\x02" + GOOD[2:], compress=compress)
    assert "magic" in msg and "0x0102" in msg


def test_unknown_type_code(tmp_path):
    assert "magic" in _bad(tmp_path, GOOD[:2] + b"\x07" + GOOD[3:])


@pytest.mark.parametrize("compress", [True, False])
def test_truncated_data(tmp_path, compress):
    assert "truncated" in _bad(tmp_path, GOOD[:-5], compress=compress)


def test_truncated_header(tmp_path):
    assert "header" in _bad(tmp_path, GOOD[:9])  # 3 dims need 16 header bytes
    assert "too short" in _bad(tmp_path, GOOD[:3])


def test_trailing_bytes(tmp_path):
    assert "unexpected bytes" in _bad(tmp_path, GOOD + b"\x00" * 3)


def test_truncated_gzip_stream(tmp_path):
    gz = gzip.compress(GOOD + bytes(5000))
    path = tmp_path / "cut.gz"
    path.write_bytes(gz[: len(gz) // 2])
    with pytest.raises(DataFormatError, match="gzip") as info:
        read_idx(path)
    assert str(path) in str(info.value)


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothere"):
        read_idx(tmp_path / "nothere")


def test_uint8_is_zero_copy_and_read_only():
    a = parse_idx(GOOD)
    assert not a.flags.writeable  # a view of the bytes: callers copy before writing


def test_write_rejects_unknown_dtype(tmp_path):
    with pytest.raises(ValueError, match="uint64"):
        write_idx(tmp_path / "x", np.zeros(3, np.uint64))
