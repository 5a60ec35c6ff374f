"""The all-reduce behind synchronized BatchNorm, the barrier of the thread runner, and the errors
of a group of shards.

Every shard of a call computes a per-channel partial sum; ``ShardGroup.allreduce`` returns the
sum over the shards, computed the same way by every shard:

    slots[b, rank, :L] = partial                           (float64; b = all-reduce count mod 2)
    barrier
    total = slots[b, 0, :L] + slots[b, 1, :L] + ... + slots[b, size-1, :L]   (in rank order)

Every shard adds the same float64 numbers in the same order, so every shard, and both runners,
get identical sums. The two buffers alternate: a shard writes buffer b again only after the
next all-reduce's barrier, which every shard reaches only after it has read buffer b. One
barrier per all-reduce therefore suffices.

A runner supplies only the storage (an ordinary array for threads, shared memory for worker
processes) and the barrier (:class:`ThreadBarrier` here, the pipe barrier of
:mod:`~backproplab.nn.shards.process` for processes). Either barrier breaks instead of waiting
forever when a shard fails, or when one shard finishes its call while another still waits in an
all-reduce: the shards then ran different layers.

Reference: https://pytorch.org/docs/stable/generated/torch.nn.SyncBatchNorm.html
"""
from __future__ import annotations

import threading

import numpy as np

from ..batchnorm import _BatchNorm
from ..module import Module


class ShardWorkerDied(RuntimeError):
    """A worker process of ``DataParallel(backend="process")`` died during a call (killed,
    out of memory, a crash in native code). The call is lost; the next call starts new workers."""

    def __init__(self, rank: int, pid: int, exitcode: int | None, during: str):
        if exitcode is None:
            how = "stopped answering"
        elif exitcode < 0:
            how = f"died with exit code {exitcode} (killed by signal {-exitcode}: kill, or out of memory?)"
        else:
            how = f"died with exit code {exitcode}"
        super().__init__(f"DataParallel worker process {rank} (pid {pid}) {how} during {during}; the step "
                         "is lost. The next call starts new workers: rerun the step, or resume the training "
                         "from its last checkpoint")
        self.rank, self.pid, self.exitcode = rank, pid, exitcode


class ShardsOutOfStep(RuntimeError):
    """The shards of one batch ran, or would run, different layers (the module changed after
    ``DataParallel`` wrapped it, or a layer decides per shard whether to run a BatchNorm)."""


OUT_OF_STEP = ("DataParallel: the shards of one batch ran different BatchNorm all-reduces (one shard "
               "finished while another waited for it in an all-reduce). Was the module changed after "
               "wrapping, or does a layer decide per shard whether to run? Wrap the finished model in a "
               "new DataParallel")


def batchnorms(module: Module) -> list[_BatchNorm]:
    """The BatchNorm layers of ``module``: the layers a shard group synchronizes."""
    return [m for m in module.modules() if isinstance(m, _BatchNorm)]


def slots_shape(module: Module, size: int) -> tuple[int, int, int]:
    """(2 buffers, size shards, widest all-reduce): the storage of a group over ``module``."""
    return 2, size, max([m.running_mean.size for m in batchnorms(module)] + [1])


class ShardGroup:
    """Shard ``rank``'s handle on the ``size`` shards of one call (``BatchNorm.sync_group``).

    Args:
        rank: this shard (0 runs on the wrapped module and updates the running statistics).
        size: shards in the call.
        slots: float64 storage of shape (2, >= size, width) every shard of the call can read.
        barrier: ``wait()`` returns once every shard of the call has called it.
    """

    def __init__(self, rank: int, size: int, slots: np.ndarray, barrier):
        self.rank, self.size = rank, size
        self._slots, self._barrier, self._calls = slots, barrier, 0

    def allreduce(self, a: np.ndarray) -> np.ndarray:
        """Σ over the shards of ``a`` (every shard must call it with the same shape): float64, shape of ``a``."""
        flat = np.asarray(a).reshape(-1)
        length = flat.size
        if length > self._slots.shape[2]:
            raise ValueError(f"DataParallel: an all-reduce of {length} numbers does not fit the "
                             f"{self._slots.shape[2]} reserved per shard")
        rows = self._slots[self._calls % 2]  # (shards, width)
        self._calls += 1
        rows[self.rank, :length] = flat
        self._barrier.wait()
        total = rows[0, :length].copy()
        for r in range(1, self.size):
            total += rows[r, :length]
        return total.reshape(np.shape(a))


class ThreadBarrier:
    """A barrier for the shards of one call run by threads of this process.

    ``abort()`` (a shard failed) releases every waiter with ``BrokenBarrierError``;
    ``finish()`` (a shard ended its call) breaks the barrier with :class:`ShardsOutOfStep`
    if another shard waits in it or comes to wait later: with the same layers on every shard,
    a shard that has finished has passed every barrier the others will reach.
    """

    def __init__(self, size: int):
        self._size = size
        self._cond = threading.Condition()
        self._waiting = self._generation = 0
        self._finished = False
        self._broken: tuple[type, str] | None = None

    def wait(self) -> None:
        with self._cond:
            if self._finished and self._broken is None:
                self._broken = (ShardsOutOfStep, OUT_OF_STEP)
            if self._broken is None:
                generation = self._generation
                self._waiting += 1
                if self._waiting == self._size:
                    self._waiting, self._generation = 0, generation + 1
                    self._cond.notify_all()
                    return
                self._cond.wait_for(lambda: self._generation != generation or self._broken is not None)
                if self._generation != generation:
                    return
            cls, message = self._broken
            raise cls(message)  # a new exception in each thread

    def abort(self) -> None:
        self._break(threading.BrokenBarrierError, "DataParallel: another shard of this batch failed")

    def finish(self) -> None:
        with self._cond:
            self._finished = True
            if self._waiting:
                self._break(ShardsOutOfStep, OUT_OF_STEP)

    def _break(self, cls: type, message: str) -> None:
        with self._cond:  # re-entrant use from finish() is fine: Condition wraps an RLock
            if self._broken is None:
                self._broken = (cls, message)
            self._cond.notify_all()


def raise_first(errors: list) -> None:
    """Raise the error that broke a group of shards (None entries are shards that succeeded),
    not the BrokenBarrierError it caused in the shards waiting for it."""
    for e in sorted((e for e in errors if e is not None), key=lambda e: isinstance(e, threading.BrokenBarrierError)):
        raise e
