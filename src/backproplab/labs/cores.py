"""How a lab spreads one model's training over the cores: one shard of every batch per core.

    trained, threads = on_cores(model, config.threads)   # nn.DataParallel, or the model itself

The wrapper shares the model's parameters, so the caller keeps using ``model`` itself for saving
weights and for analysis; only the Trainer gets the wrapper. On Linux the shards run in worker
processes (``backend="process"``: no shared interpreter lock, the faster one, docs/conv.md);
elsewhere, where fork() is unavailable or unsafe (macOS system libraries), in threads. Both
backends give the same numbers; the shard count decides the dropout streams, so a run repeats
exactly for a given count.
"""
from __future__ import annotations

import sys

#: where the shards of a batch run
SHARD_BACKEND = "process" if sys.platform.startswith("linux") else "thread"


def shard_count(threads: int | None) -> int:
    """The number of shards for ``--threads``: None or 0 = every core this process may use."""
    from ..utils.cores import available_cores

    if threads is not None and (not isinstance(threads, int) or isinstance(threads, bool) or threads < 0):
        raise ValueError(f"--threads must be 0 or None (every core) or a positive count, got {threads!r}")
    return threads or available_cores()


def on_cores(model, threads: int | None):
    """(model to train, shards used): ``model`` in ``nn.DataParallel`` with :func:`shard_count` shards,
    or ``model`` itself for one."""
    from ..nn import DataParallel

    shards = shard_count(threads)
    if shards == 1:
        return model, 1
    return DataParallel(model, shards, backend=SHARD_BACKEND), shards
