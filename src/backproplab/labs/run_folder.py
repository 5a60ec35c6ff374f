"""The run folder of one lab run: its settings, cached steps, metrics, arrays, result and lock.

    runs/cnn/
      config.json        the lab, every Config field and their fingerprint (written first)
      .lock              held (flock) while a run writes the folder
      .steps/KEY.json    one finished sub-experiment each (a killed run resumes after the last)
      NAME.json/.csv     metrics;  NAME.npz  arrays (no pickle)
      result.json        the result of ``run``, written when it finished
      report.md/.html    the report (report.fa.md/.html in Persian; figures NAME.png / NAME.fa.png)

A folder belongs to one configuration. Opening it with another raises :class:`RunConflict`,
which names the differing options and the three ways out (repeat the settings to resume, another
``--out``, or ``--overwrite``), so a result is never reported under settings that did not make it.
Every file is written atomically (:mod:`backproplab.utils.io`).
"""
from __future__ import annotations

import csv
import fcntl
import io
import json
import os
import shutil
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ..errors import UsageError
from ..utils.io import atomic_savez, atomic_write_bytes, atomic_write_json, atomic_write_text, load_npz, to_jsonable
from .config import flag_name


class RunConflict(UsageError):
    """The run folder holds a run made with other settings."""


class RunLocked(RuntimeError):
    """Another process is writing the run folder."""


def _version() -> str:
    from .. import __version__

    return __version__


class RunFolder:
    """Open (and lock) ``path`` for a run of lab ``lab`` with ``config``.

    Args:
        path: the folder (created).
        lab: the lab's CLI name.
        config: its frozen Config (:class:`~backproplab.labs.config.LabConfig`).
        overwrite: start afresh: empty a folder that holds a run (of any settings) instead of resuming
            it or refusing it.
        executor: runs the tasks of :meth:`map` (default: one after the other, here).
    """

    def __init__(self, path, lab: str, config, *, overwrite: bool = False, executor=None):
        self.path = Path(path)
        self.lab, self.config = lab, config
        self.fingerprint = config.fingerprint()
        self.executor = executor
        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError):
            raise NotADirectoryError(f"cannot use {self.path} as a run folder: a file is in the way; "
                                     "pass another --out") from None
        self._lock = self._acquire_lock()
        try:
            self._claim(overwrite)
        except BaseException:
            self.close()
            raise

    # -- ownership -------------------------------------------------------------------------------
    def _acquire_lock(self):
        lock_path = self.path / ".lock"
        f = open(lock_path, "a+")
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            f.seek(0)
            holder = f.read().strip() or "another process"
            f.close()
            raise RunLocked(f"{self.path} is being written by another run ({holder}); wait for it to finish "
                            "or pass another --out") from None
        f.seek(0)
        f.truncate()
        f.write(f"pid {os.getpid()} since {time.strftime('%Y-%m-%d %H:%M:%S')}")
        f.flush()
        return f

    def close(self) -> None:
        """Release the folder's lock (also done when the process ends)."""
        if self._lock is not None:
            try:
                fcntl.flock(self._lock, fcntl.LOCK_UN)
            finally:
                self._lock.close()
                self._lock = None

    def __enter__(self) -> "RunFolder":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _claim(self, overwrite: bool) -> None:
        saved = self.saved_config()
        if saved is not None and overwrite:
            self._empty()
        elif saved is not None and (saved.get("lab") != self.lab or saved.get("fingerprint") != self.fingerprint):
            raise RunConflict(self._conflict_message(saved))
        elif saved is None and any(p.name != ".lock" for p in self.path.iterdir()):
            # never emptied, not even with --overwrite: it may be anything of the user's
            raise RunConflict(f"{self.path} holds files but no backproplab run; pass a new or empty folder "
                              "as --out")
        atomic_write_json(self.path / "config.json", {
            "lab": self.lab, "fingerprint": self.fingerprint, "version": _version(),
            "config": self.config.to_dict()})

    def saved_config(self) -> dict | None:
        """config.json of the run already in the folder, None if there is none, ``{}`` if it is unreadable."""
        try:
            saved = json.loads((self.path / "config.json").read_text())
        except FileNotFoundError:
            return None
        except (OSError, ValueError):
            return {}
        return saved if isinstance(saved, dict) else {}

    def _conflict_message(self, saved: dict) -> str:
        config_file = self.path / "config.json"
        if not saved:
            # the settings of that run are unknown: resuming it is impossible, replacing it is the way out
            return (f"{config_file} is damaged (not the JSON object a run writes), so the run in {self.path} "
                    f"cannot be resumed. Nothing was changed. To replace it, pass --overwrite; to keep it, pass "
                    f"another --out")
        if saved.get("lab") != self.lab:
            what = f"a run of lab {saved.get('lab')!r}"
        elif not isinstance(saved.get("config"), dict):
            what = "a run written by an older backproplab"
        else:
            diffs = self.config.differences(saved["config"])
            shown = "; ".join(f"{flag_name(k)} {_short(a)} -> {_short(b)}" for k, (a, b) in list(diffs.items())[:6])
            what = (f"a run with other settings ({shown})" if diffs else
                    "a run whose config.json does not match its fingerprint (edited by hand, or another version)")
        return (f"{self.path} holds {what}. Nothing was changed. To resume that run, repeat its settings "
                f"(see {self.path / 'config.json'}); to keep both, pass --out {self.path}-{self.fingerprint[:8]}; "
                "to replace it, pass --overwrite")

    def _empty(self) -> None:
        for p in self.path.iterdir():
            if p.name == ".lock":
                continue
            shutil.rmtree(p) if p.is_dir() and not p.is_symlink() else p.unlink()

    # -- results ---------------------------------------------------------------------------------
    def finished_result(self) -> Any | None:
        """The result of an earlier run with this configuration that finished, or None."""
        try:
            saved = json.loads((self.path / "result.json").read_text())
        except (OSError, ValueError):
            return None
        if not isinstance(saved, dict) or saved.get("fingerprint") != self.fingerprint:
            return None
        return saved.get("result")

    def write_result(self, result) -> None:
        atomic_write_json(self.path / "result.json", {"lab": self.lab, "fingerprint": self.fingerprint,
                                                      "result": result})

    # -- resumable steps -------------------------------------------------------------------------
    def _step_path(self, key: str) -> Path:
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in key)
        return self.path / ".steps" / f"{safe}.json"

    def cached(self, key: str):
        """(True, result) if step ``key`` finished under this configuration, else (False, None)."""
        path = self._step_path(key)
        try:
            saved = json.loads(path.read_text())
        except FileNotFoundError:
            return False, None
        except (OSError, ValueError):
            return False, None  # a damaged entry is recomputed
        if isinstance(saved, dict) and saved.get("fingerprint") == self.fingerprint and saved.get("key") == key \
                and "result" in saved:
            return True, saved["result"]
        return False, None

    def store(self, key: str, result) -> Any:
        result = to_jsonable(result)
        atomic_write_json(self._step_path(key), {"fingerprint": self.fingerprint, "key": key, "result": result})
        return result

    def step(self, key: str, fn: Callable[[], Any]) -> Any:
        """``fn()``'s JSON-able result, cached in ``.steps/KEY.json``: a resumed run skips finished steps."""
        done, result = self.cached(key)
        if done:
            return result
        return self.store(key, fn())

    def map(self, tasks: dict[str, Callable[[], Any]], label: str = "", resources: dict | None = None
            ) -> dict[str, Any]:
        """Run independent steps (``{key: fn}``) and return ``{key: result}``, each cached as :meth:`step`.

        The folder's executor decides where they run (here one after the other; on a Dask cluster
        in parallel, :mod:`backproplab.labs.cluster`): the results are the same, since every task
        seeds its own generators. ``resources`` (e.g. ``{"GPU": 1}``) is what each task needs
        from a cluster worker. Tasks must be picklable (module-level functions, functools.partial).
        """
        from .executor import SerialExecutor

        return (self.executor or SerialExecutor()).map(self, tasks, label, resources)

    # -- outputs ---------------------------------------------------------------------------------
    def file(self, name: str) -> Path:
        return self.path / name

    def checkpoint(self, name: str = "checkpoint") -> Path:
        """Where a Trainer of this run keeps its checkpoint (hidden; tied to the run's configuration)."""
        return self.path / f".{name}.npz"

    def save_metrics(self, name: str, rows) -> None:
        """``NAME.json`` (as given) and, for a list of flat dicts, ``NAME.csv``."""
        atomic_write_json(self.path / f"{name}.json", rows)
        if isinstance(rows, list) and rows and all(isinstance(r, dict) for r in rows):
            fields: list[str] = []
            for r in rows:
                fields.extend(k for k in r if k not in fields)
            buf = io.StringIO()
            writer = csv.DictWriter(buf, fieldnames=fields)
            writer.writeheader()
            for r in rows:
                writer.writerow({k: to_jsonable(r.get(k, "")) for k in fields})
            atomic_write_text(self.path / f"{name}.csv", buf.getvalue())

    def save_arrays(self, name: str, **arrays: np.ndarray) -> str:
        """``NAME.npz`` of plain arrays (read back with :meth:`load_arrays`, no pickle)."""
        atomic_savez(self.path / f"{name}.npz", **arrays)
        return f"{name}.npz"

    def load_arrays(self, name: str) -> dict[str, np.ndarray]:
        return load_npz(self.path / f"{name}.npz")

    def save_figure(self, fig, name: str, dpi: int = 110) -> str:
        """Save a matplotlib figure as ``NAME.png`` atomically, close it, return the file name."""
        import matplotlib.pyplot as plt

        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
        plt.close(fig)
        atomic_write_bytes(self.path / f"{name}.png", buf.getvalue())
        return f"{name}.png"


def _short(value) -> str:
    text = json.dumps(value) if not isinstance(value, str) else value
    return text if len(text) <= 40 else text[:37] + "..."
