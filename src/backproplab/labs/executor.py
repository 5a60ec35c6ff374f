"""Where the independent steps of a lab run (:meth:`RunFolder.map`) are computed.

:class:`SerialExecutor` runs them here, one after the other, skipping those already cached.
A cluster executor (:mod:`backproplab.labs.cluster`) sends the missing ones to Dask workers;
either way each finished task is written to the run folder as soon as it finishes, so a
stopped run started again computes only what is missing.
"""
from __future__ import annotations

from typing import Any, Callable

from . import progress


class SerialExecutor:
    """Run tasks in this process, in the order given."""

    def map(self, folder, tasks: dict[str, Callable[[], Any]], label: str = "", resources: dict | None = None
            ) -> dict[str, Any]:
        results = {}
        todo = [k for k in tasks if not folder.cached(k)[0]]
        total = len(tasks)
        for i, key in enumerate(tasks, start=1):
            done, value = folder.cached(key)
            if done:
                results[key] = value
                continue
            progress.current().task(i, total, key, label)
            results[key] = folder.store(key, tasks[key]())
        if not todo:
            progress.current().info(f"{label or 'steps'}: all {total} cached in {folder.path}")
        return results


class _NoCluster:
    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return False


def executor_for(address: str | None):
    """A context manager giving the executor for ``--cluster ADDRESS`` (None: run here)."""
    if not address:
        return _NoCluster()
    from .cluster import cluster_executor

    return cluster_executor(address)
