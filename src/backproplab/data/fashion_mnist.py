"""Fashion-MNIST: find it, load a class subset as float arrays, verify it, download it.

Reference: Xiao, Rasul and Vollgraf (2017), "Fashion-MNIST: a Novel Image Dataset for
Benchmarking Machine Learning Algorithms", arXiv:1708.07747; files and checksums from
the zalandoresearch/fashion-mnist README.

The folder is, in order: the ``data_dir`` argument, else ``$BACKPROPLAB_FASHION_MNIST``,
else ``/usr/share/datasets/fashion-mnist`` (the Debian package ``dataset-fashion-mnist``).
It holds either the four official IDX files (``.gz`` or uncompressed) or the assignment's
four ``.npz`` files (see :mod:`backproplab.data.npz_format`); IDX wins if both are there.
"""
from __future__ import annotations

import hashlib
import os
import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from ..errors import UsageError
from .download import ChecksumError, Progress, download_file, md5_file
from .idx import DataFormatError, parse_idx, read_idx_bytes
from .npz_format import NPZ_FILES, read_npz_split

ENV_VAR = "BACKPROPLAB_FASHION_MNIST"
DEFAULT_DIR = Path("/usr/share/datasets/fashion-mnist")
DEBIAN_PACKAGE = "dataset-fashion-mnist"
# The README's download address first, then the copy inside the project's repository.
BASE_URLS = (
    "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
    "https://github.com/zalandoresearch/fashion-mnist/raw/master/data/fashion/",
)

CLASS_NAMES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
               "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")

# split -> (images file, labels file), official names without ".gz"
IDX_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
# MD5 of the official .gz files (README table): what a download must match.
GZ_MD5 = {
    "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
    "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
    "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
    "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310",
}
# MD5 of the decompressed content. A recompressed copy (the Debian package strips the
# name and time from the gzip header, so its .gz MD5s differ) holds these same bytes.
CONTENT_MD5 = {
    "train-images-idx3-ubyte": "f4a8712d7a061bf5bd6d2ca38dc4d50a",
    "train-labels-idx1-ubyte": "9018921c3c673c538a1fc5bad174d6f9",
    "t10k-images-idx3-ubyte": "8181f5470baa50b63fa0f6fddb340f0a",
    "t10k-labels-idx1-ubyte": "15d484375f8d13e6eb1aabb0c3f46965",
}

_INSTALL_FIX = (f"apt-get install {DEBIAN_PACKAGE}, or set {ENV_VAR}=DIR to a folder with the files, "
                f"or run `backproplab data download DIR`")


class DatasetNotFoundError(FileNotFoundError):
    """No Fashion-MNIST files where we looked."""


@dataclass(frozen=True, eq=False)
class Dataset:
    """Train and test arrays of a class subset.

    x_*: (N, 784) when flattened, else (N, 1, 28, 28); in [0, 1] when normalized.
    y_*: (N,) int64 in 0..k-1; label j is Fashion-MNIST class ``classes[j]``.
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    class_names: tuple[str, ...]   # official names, in label order
    classes: tuple[int, ...] = ()  # Fashion-MNIST id of each label value
    source: str = ""               # where the arrays came from (folder and format)

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def chance(self) -> float:
        """Accuracy of always predicting the most frequent training class."""
        return float(np.bincount(self.y_train).max() / len(self.y_train))

    def subset(self, train_size: int | None, rng: np.random.Generator, test_size: int | None = None) -> "Dataset":
        """A random ``train_size`` of the training samples and ``test_size`` of the test samples.

        ``None`` keeps a split whole, in file order, and draws nothing from ``rng``. A subset is
        a random permutation's first samples (a user's npz files may be sorted by class), drawn
        training split first, so the same generator state gives the same subset.
        """
        def pick(x, y, size, split):
            if size is None:
                return x, y
            if not isinstance(size, (int, np.integer)) or not 1 <= size <= len(x):
                # UsageError (a ValueError): the labs' option is --{split}-size, so the command line must change
                raise UsageError(f"--{split}-size (here {size!r}) must be between 1 and the {len(x)} {split} images "
                                 f"of classes {', '.join(self.class_names)} ({self.source}); pass --{split}-size "
                                 f"{len(x)} or less")
            keep = rng.permutation(len(x))[:size]
            return x[keep], y[keep]

        x_train, y_train = pick(self.x_train, self.y_train, train_size, "train")
        x_test, y_test = pick(self.x_test, self.y_test, test_size, "test")
        return dataclasses.replace(self, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)


@dataclass(frozen=True)
class Location:
    """Where the dataset was found: ``folder``, ``how`` it was chosen, ``format`` ("idx" or "npz"), ``files``."""

    folder: Path
    how: str
    format: str
    files: dict[str, Path]  # official name without .gz (or npz name) -> path


def resolve_data_dir(data_dir=None) -> tuple[Path, str]:
    """The folder to use and how it was chosen (argument, environment variable or default)."""
    if data_dir is not None:
        folder, how = Path(data_dir), "data_dir argument"
    elif os.environ.get(ENV_VAR):
        folder, how = Path(os.environ[ENV_VAR]), f"${ENV_VAR}"
    else:
        folder, how = DEFAULT_DIR, "default folder"
    if not folder.is_dir():
        raise DatasetNotFoundError(f"Fashion-MNIST folder {folder} (from the {how}) does not exist; fix: {_INSTALL_FIX}")
    return folder, how


def data_folder(data_dir=None) -> str:
    """The folder a load with ``data_dir`` reads (argument, ``$BACKPROPLAB_FASHION_MNIST`` or the default):
    a cache of loaded arrays keyed by it follows a changed environment variable."""
    return str(resolve_data_dir(data_dir)[0])


def locate_fashion_mnist(data_dir=None) -> Location:
    """Find the dataset's files; raises :class:`DatasetNotFoundError` naming what is missing."""
    folder, how = resolve_data_dir(data_dir)
    idx = {}
    for name in (n for pair in IDX_FILES.values() for n in pair):
        found = [p for p in (folder / f"{name}.gz", folder / name) if p.is_file()]
        if found:
            idx[name] = found[0]
    if len(idx) == 4:
        return Location(folder, how, "idx", idx)
    npz = {n: folder / n for n in NPZ_FILES if (folder / n).is_file()}
    if len(npz) == 4 and not idx:
        return Location(folder, how, "npz", npz)
    if idx or npz:
        missing = [f"{n}.gz" for n in CONTENT_MD5 if n not in idx] if idx else [n for n in NPZ_FILES if n not in npz]
        raise DatasetNotFoundError(f"{folder} (from the {how}) is missing {', '.join(missing)}; fix: {_INSTALL_FIX}")
    raise DatasetNotFoundError(
        f"{folder} (from the {how}) holds neither the Fashion-MNIST IDX files ({', '.join(GZ_MD5)}) "
        f"nor the assignment's {', '.join(NPZ_FILES)}; fix: {_INSTALL_FIX}"
    )


def class_ids(classes) -> tuple[int, ...]:
    """Validate ``classes`` (ids 0..9 or official names) into a tuple of distinct ids."""
    if classes is None:
        return tuple(range(len(CLASS_NAMES)))
    if isinstance(classes, (str, bytes, int, np.integer)):
        raise TypeError(f"classes must be a sequence such as (0, 1) or None, got {classes!r}")
    lower = [n.lower() for n in CLASS_NAMES]
    ids = []
    for c in classes:
        if isinstance(c, str) and c.lower() in lower:
            ids.append(lower.index(c.lower()))
        elif isinstance(c, (int, np.integer)) and not isinstance(c, bool) and 0 <= c < len(CLASS_NAMES):
            ids.append(int(c))
        else:
            known = ", ".join(f"{i}={n}" for i, n in enumerate(CLASS_NAMES))
            raise ValueError(f"unknown Fashion-MNIST class {c!r}; the classes are {known}")
    if not ids or len(set(ids)) != len(ids):
        raise ValueError(f"classes must be distinct and non-empty, got {tuple(classes)}")
    return tuple(ids)


def _read_idx_split(location: Location, split: str) -> tuple[np.ndarray, np.ndarray]:
    """uint8 images (N, 28, 28) and labels (N,) of one split, with the checks that name the file."""
    fix = (f"delete it and run `backproplab data download {location.folder}`"
           + (f", or apt-get install --reinstall {DEBIAN_PACKAGE}" if location.folder == DEFAULT_DIR else ""))
    arrays = []
    for name, shape in zip(IDX_FILES[split], ((28, 28), ())):
        path = location.files[name]
        try:
            arr = parse_idx(read_idx_bytes(path), str(path))
        except DataFormatError as e:
            raise DataFormatError(f"{e}; for Fashion-MNIST: {fix}") from e
        if arr.dtype != np.uint8 or arr.ndim != len(shape) + 1 or arr.shape[1:] != shape:
            expected = "(N, 28, 28)" if shape else "(N,)"
            raise DataFormatError(f"{path}: holds {arr.dtype} of shape {arr.shape}, expected uint8 {expected} "
                                  f"-- a mislabelled file?; fix: {fix}")
        arrays.append(arr)
    images, labels = arrays
    if len(images) != len(labels):
        raise DataFormatError(f"size mismatch: {location.files[IDX_FILES[split][0]]} holds {len(images)} images but "
                              f"{location.files[IDX_FILES[split][1]]} holds {len(labels)} labels; fix: {fix}")
    if labels.size and labels.max() >= len(CLASS_NAMES):
        raise DataFormatError(f"{location.files[IDX_FILES[split][1]]}: label {labels.max()} outside 0..9; fix: {fix}")
    return images, labels


def _select(images, labels, white, ids, flatten, normalize, dtype, where):
    """Keep the requested classes, remap labels to 0..k-1, convert and reshape the images."""
    present = set(np.unique(labels).tolist())
    absent = [i for i in ids if i not in present]
    if absent:
        raise ValueError(f"{where} holds no samples of class(es) {absent} (it has {sorted(present)}); "
                         f"fix: ask for classes it holds, or point data_dir / ${ENV_VAR} at the full dataset")
    lut = np.full(len(CLASS_NAMES), -1, dtype=np.int64)
    lut[list(ids)] = np.arange(len(ids))
    y = lut[labels]
    keep = y >= 0
    if not keep.all():
        images, y = images[keep], y[keep]  # boolean indexing copies: only the kept samples
        fresh = True
    else:
        fresh = False  # `images` may be a read-only view of the file's bytes: never write into it
    if normalize:
        if not np.issubdtype(dtype, np.floating):
            raise ValueError(f"normalize=True needs a float dtype, got {dtype}")
        x = images.astype(dtype, copy=not fresh)
        if white != 1.0:
            x /= white  # in place: no second full-size array
    elif white == 1.0:
        x = np.rint(images * 255.0).astype(dtype)  # [0, 1] floats back to 0..255
    else:
        x = images.astype(dtype, copy=not fresh)
    n = len(x)
    x = x.reshape(n, -1) if flatten else x.reshape(n, 1, 28, 28)  # (N, 784) or (N, 1, 28, 28)
    return x, y


def parse_classes(text) -> tuple[int, ...] | None:
    """'0,1' -> (0, 1); 'all' or None -> None (all ten). At least two distinct ids in 0..9."""
    if text is None or (isinstance(text, str) and text.strip().lower() == "all"):
        return None
    parts = text if isinstance(text, (tuple, list)) else [p for p in str(text).split(",") if p.strip()]
    try:
        classes = tuple(int(p) for p in parts)
    except ValueError:
        raise ValueError(f"classes are a comma list of Fashion-MNIST ids like 0,1, or 'all'; got {text!r}") from None
    if len(classes) < 2 or len(set(classes)) != len(classes) or any(c < 0 or c > 9 for c in classes):
        raise ValueError(f"classes need at least two distinct ids in 0..9, got {text!r}")
    return classes


def load_fashion_mnist(classes=(0, 1), data_dir=None, flatten=True, normalize=True, dtype=np.float32) -> Dataset:
    """Load Fashion-MNIST (or the assignment's npz files) for a subset of classes.

    Args:
        classes: Fashion-MNIST ids (or official names) to keep, e.g. (0, 1) = T-shirt/top vs Trouser,
            the seed's task; label j of the result is ``classes[j]``. ``None``: all 10 classes.
        data_dir: folder with the files; None: ``$BACKPROPLAB_FASHION_MNIST``, else
            ``/usr/share/datasets/fashion-mnist``.
        flatten: x as (N, 784); otherwise (N, 1, 28, 28) (NCHW).
        normalize: divide pixels by 255 so x is in [0, 1]; otherwise 0..255.
        dtype: dtype of x.
    Returns:
        :class:`Dataset`; samples keep the files' order. 2 classes: 12000 train / 2000 test;
        all: 60000 / 10000.
    Raises:
        DatasetNotFoundError, DataFormatError (both name the file and the fix), ValueError (unknown class).
    """
    ids = class_ids(classes)
    dtype = np.dtype(dtype)
    location = locate_fashion_mnist(data_dir)
    out = {}
    for split in ("train", "test"):
        if location.format == "idx":
            images, labels = _read_idx_split(location, split)
            white, where = 255.0, location.files[IDX_FILES[split][1]]
        else:
            x_path, y_path = location.files[f"x_{split}.npz"], location.files[f"y_{split}.npz"]
            images, labels, white = read_npz_split(x_path, y_path)
            where = y_path
        out[split] = _select(images, labels, white, ids, flatten, normalize, dtype, where)
        del images, labels  # free the raw buffer before the next split
    return Dataset(x_train=out["train"][0], y_train=out["train"][1], x_test=out["test"][0], y_test=out["test"][1],
                   class_names=tuple(CLASS_NAMES[i] for i in ids), classes=ids,
                   source=f"{location.format} files in {location.folder}")


def verify_fashion_mnist(data_dir=None) -> dict[str, str]:
    """Check the MD5 of each IDX file's decompressed content against the official files'.

    Works for the official .gz files, recompressed copies and uncompressed files alike.
    Returns ``{file name: md5}``; raises :class:`ChecksumError` naming the file and the fix.
    The assignment's npz files have no published checksum: for them this raises ValueError.
    """
    location = locate_fashion_mnist(data_dir)
    if location.format != "idx":
        raise ValueError(f"{location.folder} holds npz files; only the official IDX files have published checksums")
    result = {}
    for name, path in location.files.items():
        got = hashlib.md5(read_idx_bytes(path)).hexdigest()
        if got != CONTENT_MD5[name]:
            raise ChecksumError(f"{path}: content MD5 {got} differs from the official {CONTENT_MD5[name]}; "
                                f"fix: delete it and run `backproplab data download {location.folder}`")
        result[name] = got
    return result


def _already_there(folder: Path, name: str, md5: str) -> bool:
    """True if ``folder`` holds ``name`` (.gz with the official MD5, or any copy with the official content)."""
    for path in (folder / f"{name}.gz", folder / name):
        if path.is_file():
            if path.suffix == ".gz" and md5_file(path) == md5:
                return True
            try:
                return hashlib.md5(read_idx_bytes(path)).hexdigest() == CONTENT_MD5[name]
            except DataFormatError:
                return False
    return False


def download_fashion_mnist(data_dir, base_urls: Iterable[str] = BASE_URLS, checksums: dict[str, str] | None = None,
                           progress: Callable[[str], Progress | None] | None = None) -> list[Path]:
    """Download the four official ``.gz`` files into ``data_dir``, MD5-checked, resumable, atomic.

    Args:
        data_dir: target folder (created).
        base_urls: addresses tried in order until one works; a file's URL is base + file name.
        checksums: ``{file.gz: md5}``; default the official :data:`GZ_MD5` (tests pass their own).
        progress: ``progress(file_name)`` returns a per-file progress callback or None.
    Returns:
        the paths of the four files (files already present and valid are not fetched again).
    """
    folder = Path(data_dir)
    checksums = dict(GZ_MD5 if checksums is None else checksums)
    paths = []
    for fname, md5 in checksums.items():
        name = fname[:-3] if fname.endswith(".gz") else fname
        if checksums == GZ_MD5 and _already_there(folder, name, md5):
            paths.append(next(p for p in (folder / fname, folder / name) if p.is_file()))
            continue
        errors = []
        for base in base_urls:
            try:
                paths.append(download_file(base.rstrip("/") + "/" + fname, folder / fname, md5,
                                           progress=progress(fname) if progress else None))
                break
            except (OSError, ChecksumError) as e:
                if (folder / fname).exists():  # an existing bad file: no mirror will fix that
                    raise
                errors.append(e)
        else:
            raise errors[-1]
    return paths
