"""Data exchanged between the checker and its sandboxed child, without pickle.

A folder holds ``manifest.json`` (JSON values, notes, errors and the file name of each array)
and one ``.npy`` file per array, read back with ``allow_pickle=False``: nothing the child
writes can execute code in the parent. The parent writes the task's inputs this way, the child
its outputs.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from .probing import as_array, describe_error

MANIFEST = "manifest.json"


def _plain(value):
    """JSON-safe copy of ``value`` (NumPy scalars to Python, non-finite floats to strings)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return repr(value)[:200]


def write_folder(folder: Path, arrays: dict, extra: dict) -> None:
    """Save ``arrays`` (key -> ndarray) as .npy files and ``extra`` plus the index as the manifest."""
    folder.mkdir(parents=True, exist_ok=True)
    index = {}
    for i, (key, arr) in enumerate(arrays.items()):
        name = f"a{i:04d}.npy"
        np.save(folder / name, np.ascontiguousarray(arr), allow_pickle=False)
        index[key] = name
    (folder / MANIFEST).write_text(json.dumps({"arrays": index, **_plain(extra)}))


def read_folder(folder: Path) -> tuple[dict, dict]:
    """(arrays, manifest) written by :func:`write_folder`; arrays are loaded without pickle."""
    manifest = json.loads((folder / MANIFEST).read_text())
    arrays = {}
    for key, name in manifest.pop("arrays", {}).items():
        if "/" in name or name.startswith("."):  # never leave the folder
            continue
        arrays[key] = np.load(folder / name, allow_pickle=False)
    return arrays, manifest


class Probe:
    """What the child records while it calls a submission: arrays, values, notes and errors by key.

    ``attempt(key, thunk)`` calls the student's code and keeps its exception as the error of
    ``key`` (type, message, the submission's line), so one failing call fails one check only.
    """

    def __init__(self, inputs: dict, settings: dict, path: str, memory_limit: int | None = None,
                 progress: Path | None = None):
        self.inputs, self.settings, self.path = inputs, settings, path
        self.memory_limit, self._progress = memory_limit, progress
        self.arrays: dict[str, np.ndarray] = {}
        self.values: dict[str, object] = {}
        self.notes: dict[str, str] = {}
        self.errors: dict[str, dict] = {}

    def put(self, key: str, value) -> None:
        arr = as_array(value)
        if arr is not None and arr.ndim > 0:
            self.arrays[key] = arr
        elif arr is not None:
            self.values[key] = arr.item()
        else:
            self.values[key] = value

    def note(self, key: str, text: str) -> None:
        self.notes[key] = f"{self.notes[key]}; {text}" if key in self.notes else text

    def fail(self, key: str, text: str) -> None:
        self.errors[key] = {"type": "Protocol", "message": text, "line": None, "text": text}

    def attempt(self, key: str, thunk, doing: str = ""):
        """``thunk()``, or None with the exception recorded as the error of ``key``."""
        self.progress(doing or key)
        try:
            return thunk()
        except KeyboardInterrupt:
            raise
        except BaseException as e:  # SystemExit too: a submission that calls exit() fails that check
            self.errors[key] = describe_error(e, self.path, self.memory_limit)
            return None

    def progress(self, doing: str) -> None:
        """Tell the parent what runs now, so a timeout can say where it happened."""
        if self._progress is not None:
            self._progress.write_text(doing)

    def save(self, folder: Path) -> None:
        write_folder(folder, self.arrays, {"values": self.values, "notes": self.notes, "errors": self.errors})


class Outputs:
    """The parent's view of a child's :class:`Probe` (or of nothing, when the child died)."""

    def __init__(self, arrays: dict | None = None, manifest: dict | None = None):
        manifest = manifest or {}
        self.arrays = arrays or {}
        self.values = manifest.get("values", {})
        self.notes = manifest.get("notes", {})
        self.errors = manifest.get("errors", {})

    def arr(self, key: str):
        if key in self.arrays:
            return np.asarray(self.arrays[key], dtype=np.float64) if self.arrays[key].dtype != bool else \
                self.arrays[key].astype(np.float64)
        v = self.values.get(key)
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            return np.asarray(float(v))
        if isinstance(v, str) and v in ("nan", "inf", "-inf"):
            return np.asarray(float(v))
        return None

    def has(self, key: str) -> bool:
        return key in self.arrays or key in self.values

    def value(self, key: str, default=None):
        return self.values.get(key, default)

    def error(self, key: str) -> str:
        e = self.errors.get(key)
        return e["text"] if e else ""

    def note(self, key: str) -> str:
        return self.notes.get(key, "")

    def dtype(self, key: str) -> str:
        a = self.arrays.get(key)
        return str(a.dtype) if a is not None else "float64"
