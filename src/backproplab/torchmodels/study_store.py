"""The study's results file: one JSON, rewritten atomically after every model, shared by processes.

Layout::

    {"format": 1,
     "runs": [{"started": ..., "environment": ..., "peak": ..., "probe": ..., ...}, ...],  # one per invocation
     "models": {key: record, ...}}

A record's key names its model and seed and hashes every setting that changes what it
computes (the recipe, the data, the number of images), so a rerun skips the models
already finished with the same settings, and a changed recipe trains them again
instead of mixing results. Each update takes an exclusive ``flock`` on a lock file
named after the JSON's path, reads the file, changes it and writes it back through a temporary
file and ``os.replace`` (:mod:`backproplab.utils.io`): a killed process leaves the
last complete version, and concurrent worker processes do not lose each other's models.
"""
from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import tempfile
from pathlib import Path
from typing import Callable

from ..utils.io import atomic_write_json

FORMAT = 1


def record_key(model: str, width: float, resolution: int, seed: int, settings: dict) -> str:
    """'v2-w1.0-r32-s0-<12 hex>': readable part plus a hash of the settings that shape the result."""
    digest = hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:12]
    return f"{model}-w{width}-r{resolution}-s{seed}-{digest}"


class ResultStore:
    """``path`` (study.json) with locked read-modify-write updates."""

    def __init__(self, path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # the lock lives in the temporary folder: the output folder holds only results
        tag = hashlib.sha256(str(self.path.resolve()).encode()).hexdigest()[:16]
        self.lock_path = Path(tempfile.gettempdir()) / f"backproplab-study-{tag}.lock"

    def read(self) -> dict:
        try:
            data = json.loads(self.path.read_text())
        except FileNotFoundError:
            return {"format": FORMAT, "runs": [], "models": {}}
        except ValueError as e:
            raise ValueError(f"{self.path} is not valid JSON ({e}); fix: move it away to start the study afresh") from e
        if data.get("format") != FORMAT:
            raise ValueError(f"{self.path} has format {data.get('format')!r}, this code writes {FORMAT}; "
                             "fix: move it away to start the study afresh")
        return data

    @contextlib.contextmanager
    def _locked(self):
        with open(self.lock_path, "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def update(self, change: Callable[[dict], None]) -> dict:
        """Apply ``change(data)`` in place under the lock and write the result atomically; returns it."""
        with self._locked():
            data = self.read()
            change(data)
            atomic_write_json(self.path, data)
        return data

    def put_models(self, records: dict[str, dict]) -> None:
        self.update(lambda data: data["models"].update(records))

    def finished_keys(self) -> set[str]:
        return {k for k, r in self.read()["models"].items() if r.get("status") == "finished"}

    def merge_from(self, other_path) -> int:
        """Copy the finished records of an earlier study.json (``--resume-from``); returns how many."""
        other = ResultStore(other_path).read()["models"]
        done = {k: r for k, r in other.items() if r.get("status") == "finished"}
        self.update(lambda data: data["models"].update({k: r for k, r in done.items()
                                                        if data["models"].get(k, {}).get("status") != "finished"}))
        return len(done)
