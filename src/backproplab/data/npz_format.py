"""The assignment's own data format: ``x_train.npz``, ``y_train.npz``, ``x_test.npz``, ``y_test.npz``.

Each file is what ``np.savez(path, array)`` writes: one array under the key ``arr_0``.

What we accept when reading (the seed does not pin these down, so we take the
common forms and say so):

* images ``x_*``: shape (N, 784), (N, 28, 28), (N, 1, 28, 28), or (784, N)
  (features x examples, the column-per-example convention; recognised when the
  first axis is 784 and the second is not). dtype uint8 (0..255) or float;
  float images whose maximum is <= 1 are taken as already scaled to [0, 1],
  other float images as 0..255. Values outside [0, 255] are an error.
* labels ``y_*``: shape (N,), (N, 1) or (1, N); integer or integral float.
  Without a ``classes`` key the values are Fashion-MNIST class ids
  (the seed's 2-class files hold 0 = T-shirt/top and 1 = Trouser).
  With a ``classes`` key (written by :func:`write_assignment_npz`) ``arr_0``
  holds 0..k-1 and ``classes[arr_0]`` gives the Fashion-MNIST ids, so files
  for any class pair still hold the 0/1 labels the seed's code expects.

Reading never unpickles (``allow_pickle=False``).
"""
from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from ..utils.io import atomic_savez
from .idx import DataFormatError

NPZ_FILES = ("x_train.npz", "y_train.npz", "x_test.npz", "y_test.npz")
IMAGE_SHAPE = (28, 28)
NUM_PIXELS = 784

_FIX = "regenerate it with `backproplab data to-npz OUT_DIR` or delete it"


def has_npz(folder) -> bool:
    """True when ``folder`` holds all four assignment files."""
    return all((Path(folder) / f).is_file() for f in NPZ_FILES)


def _load_npz(path: Path) -> dict[str, np.ndarray]:
    if not path.is_file():
        raise FileNotFoundError(f"npz file not found: {path}; fix: {_FIX}")
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as e:
        # ValueError also covers "Object arrays cannot be loaded when allow_pickle=False"
        raise DataFormatError(f"{path}: not a readable .npz file ({e}); fix: {_FIX}") from e
    if "arr_0" not in arrays:
        raise DataFormatError(
            f"{path}: no array under the key 'arr_0' (keys: {sorted(arrays)}); "
            f"the assignment's files are written with np.savez(path, array); fix: {_FIX}"
        )
    return arrays


def _images(x: np.ndarray, path: Path) -> tuple[np.ndarray, float]:
    """(N, 28, 28) view of ``x`` and the value that means white (255.0 or 1.0)."""
    if x.ndim == 2 and x.shape[0] == NUM_PIXELS and x.shape[1] != NUM_PIXELS:
        x = x.T  # (784, N) -> (N, 784): one column per example in the file
    if x.ndim == 2 and x.shape[1] == NUM_PIXELS:
        x = x.reshape(-1, *IMAGE_SHAPE)  # (N, 28, 28)
    elif x.ndim == 4 and x.shape[1:] == (1, *IMAGE_SHAPE):
        x = x.reshape(-1, *IMAGE_SHAPE)  # (N, 28, 28)
    elif not (x.ndim == 3 and x.shape[1:] == IMAGE_SHAPE):
        raise DataFormatError(
            f"{path}: images of shape {x.shape}; expected (N, 784), (N, 28, 28), (N, 1, 28, 28) or (784, N); fix: {_FIX}"
        )
    if x.dtype == np.uint8:
        return x, 255.0
    if x.dtype.kind not in "fiu":
        raise DataFormatError(f"{path}: images of dtype {x.dtype}; expected uint8 or float; fix: {_FIX}")
    lo, hi = (float(x.min()), float(x.max())) if x.size else (0.0, 0.0)
    if not (np.isfinite(lo) and np.isfinite(hi)) or lo < 0 or hi > 255:
        raise DataFormatError(
            f"{path}: pixel values in [{lo}, {hi}]; expected 0..255 or [0, 1] (not standardized data); fix: {_FIX}"
        )
    return x, (1.0 if hi <= 1.0 else 255.0)


def _labels(arrays: dict[str, np.ndarray], path: Path) -> np.ndarray:
    """Fashion-MNIST class ids, int64, shape (N,)."""
    y = arrays["arr_0"]
    if y.ndim == 2 and 1 in y.shape:
        y = y.reshape(-1)  # (N, 1) or (1, N) -> (N,)
    if y.ndim != 1:
        raise DataFormatError(f"{path}: labels of shape {y.shape}; expected (N,), (N, 1) or (1, N); fix: {_FIX}")
    if y.dtype.kind == "f":
        if not np.all(np.isfinite(y)) or np.any(y != np.round(y)):
            raise DataFormatError(f"{path}: labels are not whole numbers; fix: {_FIX}")
    elif y.dtype.kind not in "iub":
        raise DataFormatError(f"{path}: labels of dtype {y.dtype}; expected integers; fix: {_FIX}")
    y = y.astype(np.int64)
    if "classes" in arrays:
        classes = np.asarray(arrays["classes"]).astype(np.int64).reshape(-1)
        if y.size and (y.min() < 0 or y.max() >= len(classes)):
            raise DataFormatError(
                f"{path}: labels in [{y.min()}, {y.max()}] but the file lists {len(classes)} classes; fix: {_FIX}"
            )
        y = classes[y]
    if y.size and (y.min() < 0 or y.max() > 9):
        raise DataFormatError(f"{path}: labels in [{y.min()}, {y.max()}]; Fashion-MNIST ids are 0..9; fix: {_FIX}")
    return y


def read_npz_split(x_path, y_path) -> tuple[np.ndarray, np.ndarray, float]:
    """Read one split (train or test) of the assignment's files.

    Returns:
        images (N, 28, 28) in the file's dtype, labels (N,) int64 Fashion-MNIST ids,
        and the pixel value meaning white (255.0 for uint8 or 0..255 floats, 1.0 for [0, 1] floats).
    """
    x_path, y_path = Path(x_path), Path(y_path)
    x, white = _images(_load_npz(x_path)["arr_0"], x_path)
    y = _labels(_load_npz(y_path), y_path)
    if len(x) != len(y):
        raise DataFormatError(
            f"size mismatch: {x_path} holds {len(x)} images but {y_path} holds {len(y)} labels; "
            f"fix: regenerate both with `backproplab data to-npz OUT_DIR`"
        )
    return x, y, white


def write_assignment_npz(out_dir, x_train, y_train, x_test, y_test, classes=None) -> list[Path]:
    """Write the four assignment files into ``out_dir`` (each atomically, key ``arr_0``).

    Args:
        x_train, x_test: images, any shape the reader accepts (we write what we are given).
        y_train, y_test: labels (N,), 0..k-1.
        classes: the Fashion-MNIST id of each label value (length k); stored under the
            extra key ``classes`` in the y files so the reader can map labels back.
            ``None`` stores nothing extra (labels are then read as Fashion-MNIST ids).
    Returns:
        the four paths, in :data:`NPZ_FILES` order.
    """
    out_dir = Path(out_dir)
    extra = {} if classes is None else {"classes": np.asarray(classes, dtype=np.int64)}
    arrays = {"x_train.npz": x_train, "y_train.npz": y_train, "x_test.npz": x_test, "y_test.npz": y_test}
    paths = []
    for name in NPZ_FILES:
        more = extra if name.startswith("y_") else {}
        paths.append(atomic_savez(out_dir / name, arr_0=np.asarray(arrays[name]), **more))
    return paths
