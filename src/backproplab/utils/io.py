"""Atomic file writes: a crash or kill never leaves a half-written result.

Each writer writes a temporary file in the target's folder, flushes and fsyncs
it, then ``os.replace``s it over the target (atomic on POSIX).
"""
from __future__ import annotations

import json
import math
import os
import tempfile
from pathlib import Path

import numpy as np


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _atomic_replace(path, write, suffix: str = ".tmp") -> Path:
    """Call ``write(f)`` on a temporary file beside ``path``, fsync it, then rename it over ``path``.

    The file gets the permissions a plain ``open(path, "w")`` would give (0666 less the umask),
    not mkstemp's private 0600, so outputs in a shared folder stay shareable.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent)
    try:
        os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return path


def atomic_write_bytes(path, data: bytes) -> Path:
    return _atomic_replace(path, lambda f: f.write(data))


def atomic_write_text(path, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


def to_jsonable(value):
    """Convert NumPy scalars/arrays, Paths, tuples and non-finite floats to plain JSON values.

    NaN and ±inf become ``None`` (JSON has no such numbers).
    """
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return to_jsonable(value.tolist())
    if isinstance(value, np.generic):
        return to_jsonable(value.item())
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Path):
        return str(value)
    return value


def atomic_write_json(path, obj, indent: int = 2) -> Path:
    return atomic_write_text(path, json.dumps(to_jsonable(obj), indent=indent) + "\n")


def atomic_savez(path, **arrays) -> Path:
    """``np.savez`` to ``path`` atomically (no pickled objects: plain arrays only)."""
    # the suffix ends in .npz so np.savez does not append another one
    return _atomic_replace(path, lambda f: np.savez(f, **arrays), suffix=".tmp.npz")


def load_npz(path) -> dict[str, np.ndarray]:
    """Load every array of an ``.npz`` file, refusing pickled objects."""
    with np.load(path, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}
