"""The assignment's npz files: to-npz then load gives identical arrays; the seed's own layouts load;
broken files give errors naming the file."""
import numpy as np
import pytest

from backproplab.data import CONTENT_MD5, DEFAULT_DIR, DataFormatError, DatasetNotFoundError, load_fashion_mnist
from backproplab.data.cli import main as data_main

REAL = all((DEFAULT_DIR / f"{n}.gz").is_file() for n in CONTENT_MD5)


def assert_same(a, b):
    for field in ("x_train", "y_train", "x_test", "y_test"):
        u, v = getattr(a, field), getattr(b, field)
        assert u.dtype == v.dtype and u.shape == v.shape, field
        np.testing.assert_array_equal(u, v, err_msg=field)
    assert a.class_names == b.class_names and a.classes == b.classes


@pytest.mark.skipif(not REAL, reason=f"Fashion-MNIST not in {DEFAULT_DIR}")
def test_real_to_npz_round_trip(tmp_path):
    out = tmp_path / "assignment"
    assert data_main(["to-npz", str(out), "--data-dir", str(DEFAULT_DIR)]) == 0
    with np.load(out / "x_train.npz", allow_pickle=False) as z:
        assert z.files == ["arr_0"] and z["arr_0"].shape == (12000, 784) and z["arr_0"].dtype == np.uint8
    with np.load(out / "y_test.npz", allow_pickle=False) as z:
        assert z.files == ["arr_0", "classes"] and set(np.unique(z["arr_0"])) == {0, 1}
    from_npz = load_fashion_mnist(data_dir=out)
    assert from_npz.source.startswith("npz")
    assert_same(from_npz, load_fashion_mnist(data_dir=DEFAULT_DIR))


@pytest.mark.parametrize("classes,options", [
    ("7,2", ["--float32", "--images", "square"]),
    ("all", []),
    ("Bag,Trouser", ["--float32"]),
])
def test_fake_to_npz_round_trip(tmp_path, write_fake_fashion_mnist, classes, options):
    src, out = tmp_path / "fm", tmp_path / "npz"
    write_fake_fashion_mnist(src, np.random.default_rng(0))
    assert data_main(["to-npz", str(out), "--data-dir", str(src), "--classes", classes, *options]) == 0
    ids = None if classes == "all" else tuple(int(c) if c.isdigit() else c for c in classes.split(","))
    for kwargs in (dict(), dict(flatten=False), dict(normalize=False, dtype=np.uint8)):
        assert_same(load_fashion_mnist(ids, data_dir=out, **kwargs), load_fashion_mnist(ids, data_dir=src, **kwargs))
    with np.load(out / "y_train.npz", allow_pickle=False) as z:
        k = 10 if ids is None else len(ids)
        assert z["arr_0"].max() == k - 1  # 0..k-1 labels, as the seed's code expects


def _seed_files(folder, x_train, y_train, x_test, y_test):
    folder.mkdir(parents=True, exist_ok=True)
    for name, arr in (("x_train", x_train), ("y_train", y_train), ("x_test", x_test), ("y_test", y_test)):
        np.savez(folder / f"{name}.npz", arr)  # positional: key arr_0, as in the assignment


@pytest.mark.parametrize("layout", ["float01_rows", "uint8_columns", "float255_square"])
def test_seed_layouts_load(tmp_path, layout):
    rng = np.random.default_rng(1)
    pixels = {s: rng.integers(0, 256, size=(n, 784)).astype(np.uint8) for s, n in (("train", 30), ("test", 10))}
    labels = {s: rng.integers(0, 2, size=len(pixels[s])) for s in pixels}
    if layout == "float01_rows":      # (N, 784) floats in [0, 1], labels (N, 1) floats
        files = {s: (pixels[s] / 255.0, labels[s].astype(np.float64)[:, None]) for s in pixels}
    elif layout == "uint8_columns":   # (784, N) one column per example, labels (1, N)
        files = {s: (pixels[s].T.copy(), labels[s][None, :]) for s in pixels}
    else:                             # (N, 28, 28) floats in 0..255, labels (N,) uint8
        files = {s: (pixels[s].reshape(-1, 28, 28).astype(np.float32), labels[s].astype(np.uint8)) for s in pixels}
    folder = tmp_path / layout
    _seed_files(folder, *files["train"], *files["test"])
    ds = load_fashion_mnist(data_dir=folder)
    assert ds.class_names == ("T-shirt/top", "Trouser")
    np.testing.assert_array_equal(ds.y_train, labels["train"])
    np.testing.assert_allclose(ds.x_test, pixels["test"] / 255.0, rtol=0, atol=1e-7)
    raw = load_fashion_mnist(data_dir=folder, normalize=False, dtype=np.uint8)
    np.testing.assert_array_equal(raw.x_train, pixels["train"])


def _good(folder):
    rng = np.random.default_rng(2)
    _seed_files(folder, rng.integers(0, 256, (6, 784)).astype(np.uint8), np.arange(6) % 2,
                rng.integers(0, 256, (4, 784)).astype(np.uint8), np.arange(4) % 2)


@pytest.mark.parametrize("name,write,text", [
    ("x_train.npz", lambda p: np.savez(p, x=np.zeros((6, 784))), "arr_0"),
    ("x_train.npz", lambda p: np.savez(p, np.zeros((6, 100))), r"shape \(6, 100\)"),
    ("x_test.npz", lambda p: np.savez(p, -np.ones((4, 784))), "not standardized"),
    ("y_train.npz", lambda p: np.savez(p, np.full(6, 0.5)), "whole numbers"),
    ("y_train.npz", lambda p: np.savez(p, np.arange(6) + 5), "Fashion-MNIST ids"),
    ("y_train.npz", lambda p: np.savez(p, np.array([{"a": 1}] * 6, dtype=object)), "not a readable"),
    ("y_test.npz", lambda p: p.write_bytes(b"PK\x03\x04 this is not a zip file"), "not a readable"),
])
def test_broken_npz_names_the_file(tmp_path, name, write, text):
    folder = tmp_path / "npz"
    _good(folder)
    write(folder / name)
    with pytest.raises(DataFormatError, match=text) as info:
        load_fashion_mnist(data_dir=folder)
    assert str(folder / name) in str(info.value) and "to-npz" in str(info.value)


def test_npz_size_mismatch_names_both(tmp_path):
    folder = tmp_path / "npz"
    _good(folder)
    np.savez(folder / "y_test.npz", np.arange(3) % 2)
    with pytest.raises(DataFormatError, match="4 images but") as info:
        load_fashion_mnist(data_dir=folder)
    assert str(folder / "x_test.npz") in str(info.value) and str(folder / "y_test.npz") in str(info.value)


def test_npz_missing_one_file_and_wrong_classes(tmp_path):
    folder = tmp_path / "npz"
    _good(folder)
    with pytest.raises(ValueError, match=r"no samples of class\(es\) \[2, 3"):
        load_fashion_mnist(classes=None, data_dir=folder)  # all 10 asked, the files hold 2
    (folder / "y_test.npz").unlink()
    with pytest.raises(DatasetNotFoundError, match="missing y_test.npz"):
        load_fashion_mnist(data_dir=folder)
