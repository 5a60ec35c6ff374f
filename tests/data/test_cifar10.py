"""CIFAR-10 loader on files written here in the official formats (the real data is not on these machines).

The python version's batches were written by Python 2's cPickle, protocol 2: dict keys
and the array's raw bytes are Python 2 ``str`` (opcodes SHORT_BINSTRING / BINSTRING),
and the array is rebuilt through ``numpy.core.multiarray._reconstruct``. ``Py2Pickler``
below writes exactly those opcodes.
"""
from __future__ import annotations

import io
import os
import pickle
import struct
import tarfile

import numpy as np
import pytest

from backproplab.data.cifar10 import (ARCHIVES, CIFAR10Error, RECORD_BYTES, RestrictedUnpickler, download_cifar10,
                                      find_cifar10, load_cifar10, read_binary_batch, read_python_batch)
from backproplab.data.download import ChecksumError


class Py2Pickler(pickle._Pickler):
    """Writes bytes as Python 2 str and NumPy's reconstruct under its Python 2 name, as cPickle did."""

    dispatch = dict(pickle._Pickler.dispatch)

    def save_py2_str(self, obj: bytes):
        if len(obj) < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([len(obj)]) + obj)
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", len(obj)) + obj)
        self.memoize(obj)

    dispatch[bytes] = save_py2_str

    def save_global(self, obj, name=None):
        if getattr(obj, "__name__", "") == "_reconstruct":
            self.write(pickle.GLOBAL + b"numpy.core.multiarray\n_reconstruct\n")
            self.memoize(obj)
            return
        super().save_global(obj, name)


def py2_dumps(obj) -> bytes:
    buf = io.BytesIO()
    Py2Pickler(buf, protocol=2).dump(obj)
    return buf.getvalue()


def make_split(rng, n):
    x = rng.integers(0, 256, size=(n, 3, 32, 32), dtype=np.uint8)
    y = rng.integers(0, 10, size=n)
    return x, y


def write_python_version(root, rng, n_per_batch=7, n_test=5):
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    parts = []
    for i in range(1, 7):
        name = f"data_batch_{i}" if i < 6 else "test_batch"
        x, y = make_split(rng, n_per_batch if i < 6 else n_test)
        d = {b"batch_label": f"training batch {i} of 5".encode(), b"labels": [int(v) for v in y],
             b"data": x.reshape(len(x), 3072), b"filenames": [f"img_{i}_{j}.png".encode() for j in range(len(x))]}
        (folder / name).write_bytes(py2_dumps(d))
        parts.append((x, y))
    meta = {b"num_cases_per_batch": n_per_batch, b"label_names": [b"airplane", b"automobile"], b"num_vis": 3072}
    (folder / "batches.meta").write_bytes(py2_dumps(meta))
    return folder, parts


def write_binary_version(root, parts):
    folder = root / "cifar-10-batches-bin"
    folder.mkdir(parents=True)
    for i, (x, y) in enumerate(parts, start=1):
        name = f"data_batch_{i}.bin" if i < 6 else "test_batch.bin"
        records = np.concatenate([y.astype(np.uint8)[:, None], x.reshape(len(x), 3072)], axis=1)  # (N, 3073)
        (folder / name).write_bytes(records.tobytes())
    (folder / "batches.meta.txt").write_text("\n".join(["airplane", "automobile"]) + "\n")
    return folder


@pytest.fixture
def cifar(tmp_path):
    rng = np.random.default_rng(0)
    folder, parts = write_python_version(tmp_path / "py", rng)
    return folder, parts


def test_the_writer_emits_python2_opcodes(cifar):
    folder, _ = cifar
    raw = (folder / "data_batch_1").read_bytes()
    assert raw[:2] == b"\x80\x02"
    assert b"cnumpy.core.multiarray\n_reconstruct\n" in raw
    assert b"_codecs" not in raw and b"X\x04\x00\x00\x00data" not in raw  # no Python 3 str/bytes opcodes
    assert pickle.SHORT_BINSTRING + b"\x04data" in raw


@pytest.mark.parametrize("version", ["python", "binary"])
def test_load_both_official_formats(cifar, tmp_path, version):
    folder, parts = cifar
    if version == "binary":
        folder = write_binary_version(tmp_path / "bin", parts)
    ds = load_cifar10(folder.parent)  # the parent folder is searched too
    x_train = np.concatenate([p[0] for p in parts[:5]])
    y_train = np.concatenate([p[1] for p in parts[:5]])
    assert ds.x_train.shape == (35, 3, 32, 32) and ds.x_train.dtype == np.float32
    np.testing.assert_array_equal(ds.x_train, x_train.astype(np.float32) / 255)
    np.testing.assert_array_equal(ds.y_train, y_train)
    np.testing.assert_array_equal(ds.x_test * 255, parts[5][0].astype(np.float32))
    np.testing.assert_array_equal(ds.y_test, parts[5][1])
    assert ds.class_names[0] == "airplane" and len(ds.class_names) == 10
    raw = load_cifar10(folder, normalize=False)
    assert raw.x_train.dtype == np.uint8
    np.testing.assert_array_equal(raw.x_train, x_train)


def test_found_by_environment_variable(cifar, monkeypatch):
    folder, _ = cifar
    monkeypatch.setenv("BACKPROPLAB_CIFAR10", str(folder))
    assert find_cifar10() == folder
    assert load_cifar10().x_test.shape == (5, 3, 32, 32)


def test_not_found_names_the_fix(tmp_path, monkeypatch):
    monkeypatch.delenv("BACKPROPLAB_CIFAR10", raising=False)
    with pytest.raises(FileNotFoundError, match="--data-dir"):
        load_cifar10(tmp_path)


def test_truncated_pickle_names_file_and_fix(cifar):
    folder, _ = cifar
    path = folder / "data_batch_3"
    path.write_bytes(path.read_bytes()[:5000])
    with pytest.raises(CIFAR10Error, match=r"data_batch_3 is truncated.*download"):
        load_cifar10(folder)


def test_truncated_binary_names_file_and_record_size(cifar, tmp_path):
    folder, parts = cifar
    bin_folder = write_binary_version(tmp_path / "bin", parts)
    path = bin_folder / "test_batch.bin"
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(CIFAR10Error, match=rf"test_batch.bin has {5 * RECORD_BYTES - 100} bytes.*3073-byte"):
        read_binary_batch(path)


def test_binary_label_out_of_range(tmp_path):
    path = tmp_path / "data_batch_1.bin"
    path.write_bytes(bytes([12]) + bytes(3072))
    with pytest.raises(CIFAR10Error, match="not a CIFAR-10 class"):
        read_binary_batch(path)


def test_wrong_array_shape_is_refused(tmp_path):
    path = tmp_path / "data_batch_1"
    path.write_bytes(py2_dumps({b"data": np.zeros((2, 100), np.uint8), b"labels": [0, 1]}))
    with pytest.raises(CIFAR10Error, match=r"\(N, 3072\)"):
        read_python_batch(path)


class Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.mkdir, (self.marker,))


class EvilSystem:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


@pytest.mark.parametrize("protocol", [2, pickle.HIGHEST_PROTOCOL])
def test_malicious_pickle_is_refused_and_runs_nothing(tmp_path, protocol):
    marker = tmp_path / "pwned"
    path = tmp_path / "data_batch_1"
    path.write_bytes(pickle.dumps({"data": Evil(str(marker)), "labels": []}, protocol=protocol))
    with pytest.raises(CIFAR10Error, match=r"refusing to load global '(posix|os)\.mkdir'"):
        read_python_batch(path)
    assert not marker.exists()
    path.write_bytes(pickle.dumps(EvilSystem(), protocol=protocol))
    with pytest.raises(CIFAR10Error, match=r"refusing to load global '(posix|os|nt)\.system'"):
        read_python_batch(path)


def test_unpickler_allows_exactly_the_array_globals():
    assert RestrictedUnpickler.ALLOWED == {("numpy.core.multiarray", "_reconstruct"),
                                           ("numpy._core.multiarray", "_reconstruct"),
                                           ("numpy.core.numeric", "_frombuffer"),
                                           ("numpy._core.numeric", "_frombuffer"),
                                           ("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode")}
    for module, name in [("builtins", "eval"), ("codecs", "encode"), ("numpy", "load"),
                         ("numpy.core.multiarray", "scalar"), ("subprocess", "Popen")]:
        with pytest.raises(pickle.UnpicklingError, match="refusing"):
            RestrictedUnpickler(io.BytesIO(b"")).find_class(module, name)


def make_archive(src_folder, archive):
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(src_folder, arcname=src_folder.name)


def test_archive_checksum(cifar, tmp_path):
    from backproplab.data.download import md5_file

    folder, _ = cifar
    root = tmp_path / "download"
    root.mkdir()
    archive = root / ARCHIVES["python"][0].rsplit("/", 1)[-1]
    make_archive(folder, archive)
    # the test archive is not the official one: its MD5 differs, so it must be refused, nothing unpacked
    with pytest.raises(ChecksumError, match=rf"{archive.name}.*MD5.*delete"):
        download_cifar10(root)
    assert not (root / "cifar-10-batches-py").exists()
    # with the archive's own MD5 it is unpacked and loads
    out = download_cifar10(root, md5=md5_file(archive))
    assert out == root / "cifar-10-batches-py"
    assert load_cifar10(root).x_train.shape == (35, 3, 32, 32)


def test_batch_repickled_by_python3_with_protocol_2_loads(tmp_path):
    # Python 3 writes the bytes of a protocol-2 pickle as _codecs.encode(text, "latin1")
    rng = np.random.default_rng(3)
    data = rng.integers(0, 256, (4, 3072), dtype=np.uint8)
    batch = {b"batch_label": b"training batch 1 of 5", b"labels": [3, 1, 4, 1], b"data": data,
             b"filenames": [b"a.png", b"b.png", b"c.png", b"d.png"]}
    raw = pickle.dumps(batch, protocol=2)
    assert b"_codecs" in raw
    path = tmp_path / "data_batch_1"
    path.write_bytes(raw)
    x, y = read_python_batch(path)
    assert np.array_equal(x.reshape(4, -1), data) and y.tolist() == [3, 1, 4, 1]


@pytest.mark.parametrize("args", [("abc", "rot13"), ("abc", "utf-8"), (b"abc", "latin1"), ("abc", "latin1", "ignore")])
def test_codecs_encode_only_turns_latin1_text_into_bytes(args):
    from backproplab.data.cifar10 import _latin1_encode

    assert _latin1_encode("é\x00ÿ", "latin1") == b"\xe9\x00\xff"
    with pytest.raises(pickle.UnpicklingError, match="refusing _codecs.encode"):
        _latin1_encode(*args)


def test_batch_pickled_with_protocol_5_loads(tmp_path):
    # protocol 5 pickles an array as numpy._core.numeric._frombuffer(its bytes, dtype, shape, order)
    data = np.random.default_rng(5).integers(0, 256, (3, 3072), dtype=np.uint8)
    raw = pickle.dumps({"data": data, "labels": [0, 9, 2]}, protocol=5)
    assert b"_frombuffer" in raw
    path = tmp_path / "data_batch_1"
    path.write_bytes(raw)
    x, y = read_python_batch(path)
    assert np.array_equal(x.reshape(3, -1), data) and y.tolist() == [0, 9, 2]


def test_frombuffer_builds_plain_arrays_only():
    from backproplab.data.cifar10 import _array_from_buffer

    assert _array_from_buffer(bytearray(6), np.dtype(np.uint8), (2, 3), "C").shape == (2, 3)
    for dtype, order in [(np.dtype(object), "C"), ("u1", "C"), (np.dtype(np.uint8), "K")]:
        with pytest.raises(pickle.UnpicklingError, match="refusing _frombuffer"):
            _array_from_buffer(bytearray(6), dtype, (6,), order)
