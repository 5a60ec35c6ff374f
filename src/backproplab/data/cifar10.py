"""CIFAR-10 from the official files, python (pickled) or binary version, without trusting pickle.

The official archives (https://www.cs.toronto.edu/~kriz/cifar.html) unpack to

* ``cifar-10-batches-py/``: ``data_batch_1..5``, ``test_batch``, ``batches.meta``; each
  batch a Python-2 pickle (protocol 2) of a dict with ``b'data'`` (uint8 array
  (10000, 3072): 1024 red, then green, then blue values of a 32x32 image, row-major),
  ``b'labels'`` (list of 10000 ints in 0..9), ``b'batch_label'`` and ``b'filenames'``.
* ``cifar-10-batches-bin/``: ``data_batch_1..5.bin``, ``test_batch.bin``,
  ``batches.meta.txt``; each batch 10000 records of 1 label byte + 3072 pixel bytes.

Pickles are read with :class:`RestrictedUnpickler`, which refuses every global except
the three that rebuild a NumPy array, so a doctored file cannot run code.

The folder is found from ``data_dir``, else the environment variable
``BACKPROPLAB_CIFAR10``; :func:`download_cifar10` fetches and MD5-checks the archive.
"""
from __future__ import annotations

import importlib
import io
import os
import pickle
import tarfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ENV_VAR = "BACKPROPLAB_CIFAR10"
CLASS_NAMES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
RECORD_BYTES = 1 + 3 * 32 * 32  # binary version: 1 label byte + 3072 pixel bytes

#: folder name -> (train files, test file)
LAYOUTS = {
    "cifar-10-batches-py": ([f"data_batch_{i}" for i in range(1, 6)], "test_batch"),
    "cifar-10-batches-bin": ([f"data_batch_{i}.bin" for i in range(1, 6)], "test_batch.bin"),
}
#: format -> (archive URL, archive MD5, folder it unpacks to)
ARCHIVES = {
    "python": ("https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz", "c58f30108f718f92721af3b95e74349a",
               "cifar-10-batches-py"),
    "binary": ("https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz", "c32a1d4ab5d03f1284b67883e8d87530",
               "cifar-10-batches-bin"),
}


class CIFAR10Error(ValueError):
    """A CIFAR-10 file is missing, damaged or not in the official format (the message names it and the fix)."""


class RestrictedUnpickler(pickle.Unpickler):
    """An Unpickler that resolves only NumPy's array-rebuilding globals and refuses everything else.

    The official batches contain dicts, lists, ints, (byte) strings and one uint8
    array; the array is the only object that needs a global to rebuild
    (``numpy.core.multiarray._reconstruct``, ``numpy.ndarray``, ``numpy.dtype``;
    NumPy 2 writes ``numpy._core.multiarray._reconstruct``; with pickle protocol 5 an array is
    ``numpy._core.numeric._frombuffer`` of its bytes instead). A batch re-pickled by Python 3 with
    protocol 2 writes its byte strings as ``_codecs.encode(text, "latin1")``: that global resolves
    to :func:`_latin1_encode`, which does exactly that conversion and refuses any other argument.
    Any other global -- ``os.system``, ``builtins.eval`` -- raises ``UnpicklingError``.
    """

    ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("_codecs", "encode"),
        ("numpy.core.numeric", "_frombuffer"),
        ("numpy._core.numeric", "_frombuffer"),
    }

    def find_class(self, module: str, name: str):
        if (module, name) == ("_codecs", "encode"):
            return _latin1_encode
        if name == "_frombuffer" and (module, name) in self.ALLOWED:
            return _array_from_buffer
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(
                f"refusing to load global '{module}.{name}': a CIFAR-10 batch holds only dicts, lists, "
                "ints, strings and a NumPy array")
        if name == "_reconstruct":
            # numpy.core was renamed numpy._core in NumPy 2; take whichever this NumPy has
            core = getattr(np, "_core", None) or importlib.import_module("numpy.core")
            return core.multiarray._reconstruct
        return getattr(np, name)

    def persistent_load(self, pid):
        raise pickle.UnpicklingError("refusing persistent ids: not part of a CIFAR-10 batch")


def _array_from_buffer(buffer, dtype, shape, order) -> np.ndarray:
    """What NumPy's ``_frombuffer`` does for an array pickled with protocol 5: its bytes as a plain array."""
    if not isinstance(dtype, np.dtype) or dtype.hasobject or order not in ("C", "F"):
        raise pickle.UnpicklingError(f"refusing _frombuffer of dtype {dtype!r}: only plain arrays are accepted")
    return np.frombuffer(buffer, dtype=dtype).reshape(shape, order=order)


def _latin1_encode(text, encoding="latin1", errors="strict") -> bytes:
    """``_codecs.encode`` as protocol-2 pickles use it for bytes: a str in latin-1, nothing else."""
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1") or errors != "strict":
        raise pickle.UnpicklingError(f"refusing _codecs.encode({type(text).__name__}, {encoding!r}): only the "
                                     "latin-1 byte strings of a protocol-2 pickle are accepted")
    return text.encode("latin1")


def restricted_load(data: bytes):
    """Unpickle ``data`` (Python 2 strings become bytes, as for the official files) with only NumPy's globals."""
    return RestrictedUnpickler(io.BytesIO(data), encoding="bytes").load()


def _get(d: dict, key: str):
    """d[b'key'] (official Python 2 pickles) or d['key'] (re-saved by Python 3)."""
    if key.encode() in d:
        return d[key.encode()]
    return d.get(key)


def read_python_batch(path) -> tuple[np.ndarray, np.ndarray]:
    """One batch of the python version -> (x uint8 (N, 3, 32, 32), y int64 (N,))."""
    path = Path(path)
    fix = f"delete {path} and unpack or download the official archive again"
    try:
        d = restricted_load(path.read_bytes())
    except pickle.UnpicklingError as e:
        if str(e).startswith("refusing"):
            raise CIFAR10Error(f"{path}: {e}; only the official CIFAR-10 files can be loaded ({fix})") from None
        raise CIFAR10Error(f"{path} is truncated or damaged ({e}); {fix}") from None
    except (EOFError, ValueError, IndexError, TypeError, KeyError, AttributeError) as e:
        raise CIFAR10Error(f"{path} is truncated or damaged ({type(e).__name__}: {e}); {fix}") from None
    if not isinstance(d, dict):
        raise CIFAR10Error(f"{path} holds a {type(d).__name__}, not the dict of a CIFAR-10 batch; {fix}")
    data, labels = _get(d, "data"), _get(d, "labels")
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072:
        shape = getattr(data, "shape", None)
        raise CIFAR10Error(f"{path}: 'data' should be a uint8 array of shape (N, 3072), got {shape}; {fix}")
    y = np.asarray(labels, dtype=np.int64)
    if y.shape != (data.shape[0],) or (y.size and (y.min() < 0 or y.max() > 9)):
        raise CIFAR10Error(f"{path}: expected {data.shape[0]} labels in 0..9, got shape {y.shape}; {fix}")
    return data.reshape(-1, 3, 32, 32), y  # (N, 3, 32, 32): the 3072 values are channel-major


def read_binary_batch(path) -> tuple[np.ndarray, np.ndarray]:
    """One batch of the binary version -> (x uint8 (N, 3, 32, 32), y int64 (N,))."""
    path = Path(path)
    raw = np.fromfile(path, dtype=np.uint8)
    if raw.size == 0 or raw.size % RECORD_BYTES:
        raise CIFAR10Error(
            f"{path} has {raw.size} bytes, not a whole number of {RECORD_BYTES}-byte records (1 label byte + "
            f"3072 pixel bytes; an official batch is {10000 * RECORD_BYTES} bytes): the file is truncated or "
            f"not CIFAR-10 binary; delete it and unpack or download the official archive again")
    records = raw.reshape(-1, RECORD_BYTES)  # (N, 1 + 3072)
    y = records[:, 0].astype(np.int64)
    if y.max() > 9:
        raise CIFAR10Error(f"{path}: label byte {int(y.max())} is not a CIFAR-10 class (0..9); is it CIFAR-100?")
    return records[:, 1:].reshape(-1, 3, 32, 32), y


def find_cifar10(data_dir=None) -> Path | None:
    """The ``cifar-10-batches-py`` or ``-bin`` folder in ``data_dir`` (or $BACKPROPLAB_CIFAR10), else None.

    ``data_dir`` may be the batches folder itself or a folder that contains it.
    """
    for base in [data_dir, os.environ.get(ENV_VAR)]:
        if not base:
            continue
        base = Path(base).expanduser()
        candidates = [base] + [base / name for name in LAYOUTS]
        for folder in candidates:
            for name, (train_files, _) in LAYOUTS.items():
                if (folder / train_files[0]).exists() and (folder.name == name or folder == base):
                    return folder
    return None


@dataclass(frozen=True)
class CIFAR10:
    """CIFAR-10 arrays: x (N, 3, 32, 32) in [0, 1] (or uint8 with ``normalize=False``), y int64 (N,)."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    class_names: tuple[str, ...]
    source: str  # the folder the data came from


def load_cifar10(data_dir=None, *, download: bool = False, normalize: bool = True,
                 dtype=np.float32) -> CIFAR10:
    """Load CIFAR-10 (50000 train / 10000 test images) from the official python or binary files.

    Args:
        data_dir: the batches folder or a folder holding it; default $BACKPROPLAB_CIFAR10.
        download: when nothing is found, download the python archive into ``data_dir``
            (or $BACKPROPLAB_CIFAR10, or ~/.cache/backproplab) and check its MD5.
        normalize: scale to [0, 1] in ``dtype``; False keeps uint8.
    """
    folder = find_cifar10(data_dir)
    if folder is None and download:
        root = Path(data_dir or os.environ.get(ENV_VAR) or Path.home() / ".cache" / "backproplab").expanduser()
        folder = download_cifar10(root)
    if folder is None:
        raise FileNotFoundError(
            f"CIFAR-10 not found (looked in data_dir={data_dir!r} and ${ENV_VAR}="
            f"{os.environ.get(ENV_VAR)!r} for cifar-10-batches-py/ or cifar-10-batches-bin/). Fix: unpack the "
            f"official archive and pass its folder with --data-dir DIR or set {ENV_VAR}=DIR, or add --download")
    layout = folder.name if folder.name in LAYOUTS else next(n for n, (t, _) in LAYOUTS.items()
                                                             if (folder / t[0]).exists())
    read = read_binary_batch if layout.endswith("bin") else read_python_batch
    train_files, test_file = LAYOUTS[layout]
    missing = [f for f in train_files + [test_file] if not (folder / f).exists()]
    if missing:
        raise CIFAR10Error(f"{folder} lacks {', '.join(missing)}; unpack the whole official archive there")
    parts = [read(folder / f) for f in train_files]
    x_train = np.concatenate([p[0] for p in parts])
    y_train = np.concatenate([p[1] for p in parts])
    x_test, y_test = read(folder / test_file)
    if normalize:
        x_train = x_train.astype(dtype) / 255
        x_test = x_test.astype(dtype) / 255
    return CIFAR10(x_train, y_train, x_test, y_test, CLASS_NAMES, str(folder))


# -- download ------------------------------------------------------------------
def download_cifar10(root, fmt: str = "python", *, url: str | None = None, md5: str | None = None) -> Path:
    """Download the official archive into ``root``, check its MD5, unpack it; return the batches folder.

    Uses :func:`backproplab.data.download.download_file` (resumable, atomic, MD5-checked).
    An archive already in ``root`` is checked, not downloaded again; a wrong checksum
    raises :class:`~backproplab.data.download.ChecksumError` and nothing is unpacked.
    ``url``/``md5`` override the official ones.
    """
    from .download import download_file

    if fmt not in ARCHIVES:
        raise ValueError(f"fmt must be one of {', '.join(ARCHIVES)}, got {fmt!r}")
    official_url, official_md5, folder_name = ARCHIVES[fmt]
    url, md5 = url or official_url, md5 or official_md5
    root = Path(root)
    archive = download_file(url, root / url.rsplit("/", 1)[-1], md5)
    with tarfile.open(archive, "r:gz") as tar:
        tar.extractall(root, filter="data")  # 'data' filter: no absolute paths, links out or devices
    folder = root / folder_name
    if not folder.is_dir():
        raise CIFAR10Error(f"{archive} did not unpack to {folder_name}/; is it the CIFAR-10 {fmt} archive?")
    return folder
