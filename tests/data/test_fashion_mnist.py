"""load_fashion_mnist on the real files (shapes, counts, known values) and on tiny synthetic folders
(class remapping, folder resolution, and every broken-file error naming the file and the fix)."""
import gzip
import re
import shutil

import numpy as np
import pytest

import backproplab.data.fashion_mnist as fm
from backproplab.data import (CONTENT_MD5, DEFAULT_DIR, ENV_VAR, ChecksumError, DataFormatError,
                              DatasetNotFoundError, load_fashion_mnist, verify_fashion_mnist, write_idx)

REAL = all((DEFAULT_DIR / f"{n}.gz").is_file() for n in CONTENT_MD5)
needs_real = pytest.mark.skipif(not REAL,
                                reason=f"Fashion-MNIST not in {DEFAULT_DIR} (apt-get install dataset-fashion-mnist)")


# ---------------------------------------------------------------- the real dataset
@pytest.fixture(scope="module")
def all10():
    return load_fashion_mnist(classes=None, data_dir=DEFAULT_DIR, flatten=False)


@pytest.fixture(scope="module")
def two():
    return load_fashion_mnist(data_dir=DEFAULT_DIR)


@needs_real
def test_real_two_class_default(two):
    assert two.x_train.shape == (12000, 784) and two.x_test.shape == (2000, 784)
    assert two.x_train.dtype == np.float32 and two.y_train.dtype == np.int64
    assert two.class_names == ("T-shirt/top", "Trouser") and two.classes == (0, 1)
    np.testing.assert_array_equal(np.bincount(two.y_train), [6000, 6000])
    np.testing.assert_array_equal(np.bincount(two.y_test), [1000, 1000])
    assert two.x_train.min() == 0.0 and two.x_train.max() == 1.0


@needs_real
def test_real_all_classes(all10):
    assert all10.x_train.shape == (60000, 1, 28, 28) and all10.x_test.shape == (10000, 1, 28, 28)
    assert len(all10.class_names) == 10 and all10.class_names[9] == "Ankle boot"
    np.testing.assert_array_equal(np.bincount(all10.y_train), [6000] * 10)
    np.testing.assert_array_equal(np.bincount(all10.y_test), [1000] * 10)
    # first labels of each file (read from the files' bytes) and the dataset's well-known pixel mean / std
    np.testing.assert_array_equal(all10.y_train[:8], [9, 0, 0, 3, 0, 2, 7, 2])
    np.testing.assert_array_equal(all10.y_test[:8], [9, 2, 1, 1, 6, 1, 4, 6])
    assert abs(all10.x_train.mean(dtype=np.float64) - 0.2860) < 1e-4
    assert abs(all10.x_train.std(dtype=np.float64) - 0.3530) < 1e-4
    # normalized pixels are exactly k/255
    pixels = all10.x_test[:50].astype(np.float64) * 255
    np.testing.assert_allclose(pixels, np.rint(pixels), rtol=0, atol=1e-4)


@needs_real
def test_real_subset_is_rows_of_full_set_remapped(all10, two):
    sub = load_fashion_mnist(classes=(9, 5), data_dir=DEFAULT_DIR)
    assert sub.class_names == ("Ankle boot", "Sandal")
    mask = np.isin(all10.y_train, [9, 5])
    np.testing.assert_array_equal(sub.x_train, all10.x_train[mask].reshape(-1, 784))
    np.testing.assert_array_equal(sub.y_train, (all10.y_train[mask] == 5).astype(np.int64))  # 9 -> 0, 5 -> 1
    # the seed's pair equals the same rows of the full set
    mask01 = np.isin(all10.y_test, [0, 1])
    np.testing.assert_array_equal(two.x_test, all10.x_test[mask01].reshape(-1, 784))
    np.testing.assert_array_equal(two.y_test, all10.y_test[mask01])


@needs_real
def test_real_files_have_official_content():
    assert verify_fashion_mnist(DEFAULT_DIR) == CONTENT_MD5


# ---------------------------------------------------------------- synthetic folders
@pytest.fixture
def fake(tmp_path, write_fake_fashion_mnist):
    folder = tmp_path / "fm"
    return folder, write_fake_fashion_mnist(folder, np.random.default_rng(0))


@pytest.mark.parametrize("compress", [True, False])
def test_fake_remap_in_given_order(tmp_path, write_fake_fashion_mnist, compress):
    folder = tmp_path / "fm"
    raw = write_fake_fashion_mnist(folder, np.random.default_rng(1), compress=compress)
    ds = load_fashion_mnist(classes=(7, 2, 4), data_dir=folder)
    for split, x, y in (("train", ds.x_train, ds.y_train), ("test", ds.x_test, ds.y_test)):
        images, labels = raw[split]
        mask = np.isin(labels, [7, 2, 4])
        np.testing.assert_array_equal(x, images[mask].reshape(-1, 784).astype(np.float32) / np.float32(255))
        kept = labels[mask]
        np.testing.assert_array_equal(y, np.select([kept == 7, kept == 2, kept == 4], [0, 1, 2], -1))
    assert ds.class_names == ("Sneaker", "Pullover", "Coat") and ds.classes == (7, 2, 4)


def test_fake_options(fake):
    folder, raw = fake
    ds = load_fashion_mnist(classes=("trouser", "Bag"), data_dir=folder, flatten=False, normalize=False,
                            dtype=np.uint8)
    images, labels = raw["train"]
    mask = np.isin(labels, [1, 8])
    assert ds.classes == (1, 8) and ds.x_train.shape == (mask.sum(), 1, 28, 28)
    np.testing.assert_array_equal(ds.x_train[:, 0], images[mask])
    ds64 = load_fashion_mnist(classes=None, data_dir=folder, dtype=np.float64)
    assert ds64.x_test.dtype == np.float64 and ds64.x_test.shape == (20, 784)
    np.testing.assert_array_equal(ds64.y_test, raw["test"][1])
    with pytest.raises(ValueError, match="float dtype"):
        load_fashion_mnist(data_dir=folder, dtype=np.uint8)  # normalize=True needs floats


@pytest.mark.parametrize("classes,error,text", [
    ((0, 10), ValueError, "unknown Fashion-MNIST class 10"),
    ((-1,), ValueError, "unknown"),
    (("Shoe",), ValueError, "'Shoe'"),
    ((True, 1), ValueError, "unknown"),
    ((0, 0), ValueError, "distinct"),
    ((), ValueError, "non-empty"),
    (3, TypeError, "sequence"),
    ("0,1", TypeError, "sequence"),
])
def test_bad_classes(fake, classes, error, text):
    with pytest.raises(error, match=text):
        load_fashion_mnist(classes=classes, data_dir=fake[0])


def test_class_absent_from_files(tmp_path, write_fake_fashion_mnist):
    folder = tmp_path / "fm"
    write_fake_fashion_mnist(folder, np.random.default_rng(2), num_classes=5)  # ids 0..4 only
    with pytest.raises(ValueError, match=r"no samples of class\(es\) \[7\]") as info:
        load_fashion_mnist(classes=(0, 7), data_dir=folder)
    assert "train-labels-idx1-ubyte.gz" in str(info.value)


def test_env_var_and_argument_precedence(fake, monkeypatch, tmp_path):
    folder, _ = fake
    monkeypatch.setenv(ENV_VAR, str(folder))
    assert str(folder) in load_fashion_mnist().source
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "nowhere"))
    assert str(folder) in load_fashion_mnist(data_dir=folder).source  # the argument wins
    with pytest.raises(DatasetNotFoundError, match=ENV_VAR) as info:
        load_fashion_mnist()
    assert str(tmp_path / "nowhere") in str(info.value)


def test_missing_default_folder_says_how_to_install(monkeypatch, tmp_path):
    monkeypatch.delenv(ENV_VAR, raising=False)
    monkeypatch.setattr(fm, "DEFAULT_DIR", tmp_path / "not-installed")
    with pytest.raises(FileNotFoundError) as info:  # DatasetNotFoundError is a FileNotFoundError
        load_fashion_mnist()
    msg = str(info.value)
    assert "not-installed" in msg and "apt-get install dataset-fashion-mnist" in msg and ENV_VAR in msg


def test_empty_and_partial_folders(fake, tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetNotFoundError, match="holds neither"):
        load_fashion_mnist(data_dir=tmp_path / "empty")
    folder, _ = fake
    (folder / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DatasetNotFoundError, match="missing t10k-labels-idx1-ubyte.gz"):
        load_fashion_mnist(data_dir=folder)


def _expect_format_error(folder, *names):
    with pytest.raises(DataFormatError) as info:
        load_fashion_mnist(data_dir=folder)
    msg = str(info.value)
    for name in names:
        assert str(folder / name) in msg, msg
    assert "backproplab data download" in msg, msg
    assert "\n" not in msg, msg  # the command line prints it as one line
    return msg


def test_wrong_magic(fake):
    folder, _ = fake
    path = folder / "train-images-idx3-ubyte.gz"
    data = bytearray(gzip.decompress(path.read_bytes()))
    data[2] = 0x0A  # no IDX type has code 0x0A
    path.write_bytes(gzip.compress(bytes(data)))
    assert "wrong magic number 0x00000a03" in _expect_format_error(folder, path.name)


def test_garbage_magic(fake):
    folder, _ = fake
    (folder / "t10k-images-idx3-ubyte.gz").write_bytes(gzip.compress(b"PK\x03\x04" + bytes(100)))
    assert "wrong magic number 0x504b0304" in _expect_format_error(folder, "t10k-images-idx3-ubyte.gz")


def test_truncated_gzip(fake):
    folder, _ = fake
    path = folder / "train-images-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes()[:-100])
    assert "truncated" in _expect_format_error(folder, path.name)


def test_size_mismatch_names_both_files(fake):
    folder, raw = fake
    write_idx(folder / "train-labels-idx1-ubyte.gz", raw["train"][1][:-3])
    msg = _expect_format_error(folder, "train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz")
    assert "40 images" in msg and "37 labels" in msg


def test_mislabelled_file(fake):
    folder, raw = fake
    write_idx(folder / "t10k-images-idx3-ubyte.gz", raw["test"][1])  # a labels file under the images name
    assert "mislabelled" in _expect_format_error(folder, "t10k-images-idx3-ubyte.gz")


def test_label_out_of_range(fake):
    folder, raw = fake
    write_idx(folder / "t10k-labels-idx1-ubyte.gz", np.full(20, 12, np.uint8))
    assert "outside 0..9" in _expect_format_error(folder, "t10k-labels-idx1-ubyte.gz")


def test_verify_rejects_non_official_content(fake):
    folder, _ = fake
    with pytest.raises(ChecksumError) as info:
        verify_fashion_mnist(folder)
    assert str(folder / "train-images-idx3-ubyte.gz") in str(info.value) and "download" in str(info.value)


def test_idx_label_file_with_zero_dimensions(tmp_path):
    src = "/usr/share/datasets/fashion-mnist"
    folder = tmp_path / "fm"
    folder.mkdir()
    try:
        for name in ("train-images-idx3-ubyte.gz", "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
            shutil.copy(f"{src}/{name}", folder / name)
    except FileNotFoundError:
        pytest.skip("the Fashion-MNIST package is not installed")
    write_idx(folder / "train-labels-idx1-ubyte", np.array(7, dtype=np.uint8))  # 0 dimensions
    with pytest.raises(DataFormatError,
                       match=r"train-labels-idx1-ubyte: holds uint8 of shape \(\), expected uint8 \(N,\)"):
        load_fashion_mnist(data_dir=folder)


@pytest.mark.parametrize("train_size, test_size, words", [
    (10 ** 6, None, "--train-size (here 1000000) must be between 1 and the"),
    (None, 0, "--test-size (here 0) must be between 1 and the"),
])
def test_a_subset_larger_than_the_data_is_a_usage_error_naming_the_option(fake, train_size, test_size, words):
    from backproplab.errors import UsageError

    folder, _ = fake
    ds = load_fashion_mnist(data_dir=folder)
    with pytest.raises(UsageError, match=re.escape(words)) as info:
        ds.subset(train_size, np.random.default_rng(0), test_size)
    assert "or less" in str(info.value) and str(folder) in str(info.value)
