"""The cores of this process: how many, a thread pool over them, BLAS held to one thread, and
work split into one block per core."""
from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from functools import lru_cache

import numpy as np


def available_cores() -> int:
    """CPU cores this process may run on (its affinity mask, else the machine's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def thread_pool(workers: int) -> ThreadPoolExecutor:
    """One process-wide pool per size, shared by every DataParallel (threads are started once)."""
    return _pool_of_process(workers, os.getpid())


@lru_cache(maxsize=None)
def _pool_of_process(workers: int, pid: int) -> ThreadPoolExecutor:
    # keyed by the process id: a child made by fork() inherits the pool object but not its threads
    return ThreadPoolExecutor(workers, thread_name_prefix="backproplab-shard")


@lru_cache(maxsize=1)
def blas_libraries() -> list:
    """threadpoolctl's controllers of every BLAS loaded in this process (``num_threads``, ``set_num_threads``)."""
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController().select(user_api="blas").lib_controllers


@contextmanager
def single_threaded_blas():
    """Limit every loaded BLAS to one thread inside the block; restore the old limits after it."""
    libs = blas_libraries()
    before = [lib.num_threads for lib in libs]
    for lib in libs:
        lib.set_num_threads(1)
    try:
        yield
    finally:
        for lib, n in zip(libs, before):
            lib.set_num_threads(n)


def even_bounds(n: int, k: int) -> list[tuple[int, int]]:
    """(lo, hi) of k contiguous blocks covering range(n), sizes differing by at most one."""
    edges = [n * i // k for i in range(k + 1)]
    return list(zip(edges[:-1], edges[1:]))


def per_core_blocks(fn, n: int, *arrays, axis: int = 0, min_block: int = 256):
    """``fn(*arrays)`` computed as ``fn`` of contiguous blocks along ``axis`` (of length n), one
    block per core in the shared thread pool, concatenated along ``axis``.

    For functions that treat the entries along ``axis`` independently and release the GIL
    (NumPy ufuncs, SciPy's ndimage filters and interpolation): the result equals ``fn(*arrays)``
    bit for bit, on any number of cores. Fewer than ``min_block`` entries per core: one call.
    """
    k = max(1, min(available_cores(), n // min_block))
    if k == 1:
        return fn(*arrays)
    index = (slice(None),) * axis

    def block(bounds):
        part = index + (slice(*bounds),)
        return fn(*(a[part] for a in arrays))

    return np.concatenate(list(thread_pool(k).map(block, even_bounds(n, k))), axis=axis)
