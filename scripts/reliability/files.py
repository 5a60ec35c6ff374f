"""Small data files and run folders for the probes, sound or damaged in one named way.

Each builder writes into the probe's temporary folder and takes a fixed seed, so a probe's
message is the same on every run. Sound files are tiny (tens of images, a few trees), so a
probe that reads them takes well under a second.
"""
from __future__ import annotations

import gzip
import json
import pickle
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np

IDX_NAMES = {"train_images": "train-images-idx3-ubyte.gz", "train_labels": "train-labels-idx1-ubyte.gz",
             "test_images": "t10k-images-idx3-ubyte.gz", "test_labels": "t10k-labels-idx1-ubyte.gz"}


def _idx(array: np.ndarray) -> bytes:
    header = bytes([0, 0, 8, array.ndim]) + np.asarray(array.shape, dtype=">u4").tobytes()
    return header + np.ascontiguousarray(array, dtype=np.uint8).tobytes()


def fashion(folder: Path, n_train: int = 40, n_test: int = 20, **raw: bytes) -> Path:
    """Four gzipped IDX files of random images, labels cycling 0..9; ``raw`` replaces a file's
    uncompressed bytes (``train_labels=b"..."``)."""
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True, exist_ok=True)
    arrays = {"train_images": rng.integers(0, 256, (n_train, 28, 28)), "train_labels": np.arange(n_train) % 10,
              "test_images": rng.integers(0, 256, (n_test, 28, 28)), "test_labels": np.arange(n_test) % 10}
    for key, name in IDX_NAMES.items():
        data = raw.get(key, _idx(arrays[key]))
        (folder / name).write_bytes(gzip.compress(data, mtime=0))
    return folder


def truncate(path: Path, keep: float = 0.5) -> None:
    data = path.read_bytes()
    path.write_bytes(data[:int(len(data) * keep)])


def flip_byte(path: Path, at: float = 0.5) -> None:
    data = bytearray(path.read_bytes())
    data[int(len(data) * at)] ^= 0xFF
    path.write_bytes(bytes(data))


def npz_set(folder: Path, n: int = 20, **arrays) -> Path:
    """The assignment's four npz files (x (N, 784) uint8, y 0/1); ``arrays`` replaces one (``x_train=...``)."""
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True, exist_ok=True)
    base = {"x_train": rng.integers(0, 256, (n, 784), dtype=np.uint8), "y_train": np.arange(n) % 2,
            "x_test": rng.integers(0, 256, (n, 784), dtype=np.uint8), "y_test": np.arange(n) % 2}
    base.update(arrays)
    for key, value in base.items():
        if isinstance(value, bytes):
            (folder / f"{key}.npz").write_bytes(value)
        else:
            np.savez(folder / f"{key}.npz", value)
    return folder


TREES = ["(3 (2 It) (4 (2 is) (4 (3 a) (4 lovely))))", "(1 (2 A) (1 (1 dull) (2 film)))",
         "(4 (2 Truly) (4 great))", "(0 (2 So) (0 bad))", "(2 (2 It) (2 exists))"]


def sst(folder: Path, **texts) -> Path:
    """train.txt, dev.txt, test.txt of a few trees each; ``texts`` replaces one split's bytes or text."""
    folder.mkdir(parents=True, exist_ok=True)
    for split in ("train", "dev", "test"):
        content = texts.get(split, "\n".join(TREES * 4) + "\n")
        path = folder / f"{split}.txt"
        path.write_bytes(content) if isinstance(content, bytes) else path.write_text(content)
    return folder


def cifar(folder: Path, n: int = 10, protocol: int = 2, **raw) -> Path:
    """``cifar-10-batches-py/`` of tiny batches (str keys, as Python 3 re-saves them); ``raw`` replaces a
    file's bytes (``test_batch=b"..."``)."""
    rng = np.random.default_rng(0)
    batches = folder / "cifar-10-batches-py"
    batches.mkdir(parents=True, exist_ok=True)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        batch = {"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8), "labels": list(range(n)),
                 "batch_label": name, "filenames": [f"{i}.png" for i in range(n)]}
        data = raw.get(name, pickle.dumps(batch, protocol=protocol))
        (batches / name).write_bytes(data)
    return batches


def run_folder(folder: Path, lab: str, config: dict, fingerprint: str = "0" * 16, text: str | None = None) -> Path:
    """A run folder with only config.json (``text`` replaces its content)."""
    folder.mkdir(parents=True, exist_ok=True)
    body = text if text is not None else json.dumps({"lab": lab, "fingerprint": fingerprint, "version": "0",
                                                      "config": config})
    (folder / "config.json").write_text(body)
    return folder


class FinishedRuns:
    """Finished quick runs made once per probe session and copied into each probe that damages one."""

    def __init__(self, cache: Path):
        self.cache = cache
        self._lock = threading.Lock()
        self._made: dict[tuple, Path] = {}

    def get(self, argv: tuple) -> Path:
        with self._lock:
            if argv not in self._made:
                out = self.cache / f"run{len(self._made)}"
                subprocess.run([sys.executable, "-m", "backproplab", "lab", *argv, "--quiet", "--out", str(out)],
                               check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=300)
                self._made[argv] = out
            return self._made[argv]

    def copy(self, argv: tuple, dest: Path) -> Path:
        shutil.copytree(self.get(argv), dest, ignore=shutil.ignore_patterns(".lock"))
        return dest
