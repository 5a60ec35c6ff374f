"""One worker process of the process runner: how it is started, its loop, its side of the barrier.

A worker is a ``fork()`` of the calling process (rank 0): it holds a copy of the module and
runs shard ``rank`` of every call it receives (:mod:`.wire` describes the messages). It
never outlives rank 0 and never prints a traceback for a shutdown:

* it ignores SIGINT (Ctrl-C is rank 0's to handle; SIGINT is blocked across the fork, so
  there is no window in which it could arrive first);
* on Linux it asks the kernel to kill it when rank 0 exits (``PR_SET_PDEATHSIG``). The
  kernel ties that to the *thread* that forked it, so workers started from a thread that
  then ends are killed too; the next call sees them gone and starts new ones;
* it exits quietly when its socket reaches end-of-file or says ``CLOSE``, wherever it waits.
"""
from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading
import time
import traceback
from multiprocessing import Pipe

import numpy as np

from ...utils.cores import blas_libraries
from ..module import Module
from .group import ShardGroup, batchnorms
from .runner import call_shard, random_layers, seed_random_layers
from .wire import ABORT, ARRIVE, CLOSE, RELEASE, error_header, is_header, recv, send, unpack_args

_PR_SET_PDEATHSIG = 1


def _find_prctl():
    try:  # resolved before any fork: the child only calls it
        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):  # not Linux: the worker still exits when its socket closes
        return None


_PRCTL = _find_prctl()


class WorkerProcess:
    """Rank 0's handle on one forked worker: ``pid``, ``exitcode`` (None while it runs; -N if
    killed by signal N), ``is_alive()``, ``join(timeout)``, ``kill()``."""

    def __init__(self, pid: int):
        self.pid, self.exitcode = pid, None

    def _poll(self, flags: int) -> None:
        if self.exitcode is None:
            try:
                pid, status = os.waitpid(self.pid, flags)
            except ChildProcessError:  # reaped elsewhere: gone, status unknown
                self.exitcode = -signal.SIGKILL
                return
            if pid:
                self.exitcode = os.waitstatus_to_exitcode(status)

    def is_alive(self) -> bool:
        self._poll(os.WNOHANG)
        return self.exitcode is None

    def join(self, timeout: float | None = None) -> None:
        """Wait until the worker has exited (at most ``timeout`` seconds)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.is_alive() and (deadline is None or time.monotonic() < deadline):
            time.sleep(0.001)

    def kill(self) -> None:
        if self.is_alive():
            try:
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def start_worker(rank: int, module: Module, grads: list[np.ndarray], slots: np.ndarray,
                 processes: list, conns: list) -> None:
    """Fork worker ``rank``; append its handle to ``processes`` and rank 0's end of its socket to ``conns``."""
    parent_end, child_end = Pipe()
    parent_pid, pid = os.getpid(), -1
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        _handle_pending_signals()  # a Ctrl-C caught just before the block is raised here, not inherited
        pid = os.fork()
        if pid == 0:
            _worker_process(rank, parent_pid, mask, conns + [parent_end], child_end, module, grads, slots)
        processes.append(WorkerProcess(pid))
        conns.append(parent_end)
        child_end.close()
    finally:
        if pid == 0:  # the worker never returns into the caller's code
            os._exit(1)
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)


def _handle_pending_signals() -> None:
    """Nothing: entering a Python function lets the interpreter run the handlers of signals that
    have arrived (here: raise KeyboardInterrupt for a Ctrl-C caught before SIGINT was blocked)."""


def _worker_process(rank: int, parent_pid: int, mask, not_ours: list, conn, module: Module,
                    grads: list[np.ndarray], slots: np.ndarray) -> None:
    """The forked worker, from its first instruction to ``os._exit``."""
    code = 1
    try:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        if _PRCTL is not None:
            _PRCTL(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() == parent_pid:  # else rank 0 died before prctl
            for other in not_ours:  # keep only our own end: EOF must reach rank 0
                other.close()
            code = _serve(rank, conn, module, grads, slots)
        else:
            code = 0
    except KeyboardInterrupt:  # a Ctrl-C rank 0 had caught but not handled when it forked: rank 0's to handle
        code = 0
    except BaseException:  # a bug in this loop, not in a shard (those are sent to rank 0)
        traceback.print_exc()
        sys.stderr.flush()
    finally:
        os._exit(code)


class _Stop(BaseException):
    """Rank 0 is gone or said CLOSE: end the worker (a BaseException: a layer's ``except Exception`` lets it pass)."""


class WorkerBarrier:
    """A worker's side of the barrier: send ARRIVE, wait for rank 0's RELEASE (or ABORT)."""

    def __init__(self, conn):
        self._conn = conn

    def wait(self) -> None:
        try:
            self._conn.send_bytes(ARRIVE)
            frame = self._conn.recv_bytes()
        except (EOFError, OSError):
            raise _Stop from None
        if frame == ABORT:
            raise threading.BrokenBarrierError("DataParallel: another shard of this batch failed")
        if frame != RELEASE:
            raise _Stop


def _next_call(conn) -> tuple[dict, list[np.ndarray]]:
    """The next call's (header, arrays), skipping ABORT tokens a finished call left behind."""
    while True:
        frame = conn.recv_bytes()
        if frame == CLOSE:
            raise _Stop
        if is_header(frame):
            return recv(conn, frame)


def _serve(rank: int, conn, module: Module, grads: list[np.ndarray], slots: np.ndarray) -> int:
    """Run shard ``rank`` of each call on ``module`` until rank 0 closes the socket; the exit code."""
    for lib in blas_libraries():
        lib.set_num_threads(1)  # this process is one of the shards: one core
    params = module.parameters()
    for p, g in zip(params, grads):
        p.grad = g
    layers, norms, randoms = list(module.modules()), batchnorms(module), random_layers(module)
    barrier = WorkerBarrier(conn)
    try:
        while True:
            header, arrays = _next_call(conn)
            group = ShardGroup(rank, header["shards"], slots, barrier)
            try:
                if header["op"] == "forward":
                    for m, training in zip(layers, header["training"]):
                        m.training = training
                    if module.needs_input_grad != header["input_grad"]:
                        module.needs_input_grad = header["input_grad"]
                    seed_random_layers(randoms, header["seeds"])
                    args = unpack_args(header["args"], arrays)
                    kwargs = dict(zip(header["kwargs"], unpack_args(header["kwarg_values"], arrays)))
                    out = call_shard(module, norms, group, "forward", [arrays[0], *args], kwargs)
                    if not isinstance(out, np.ndarray):
                        raise TypeError(f"DataParallel needs a module that returns one array, got {type(out).__name__}")
                    reply = {"op": "ok"}, [out]
                else:
                    for p in params:
                        p.zero_grad()
                    dx = call_shard(module, norms, group, "backward", arrays)
                    reply = {"op": "ok", "reached": [p.has_grad for p in params]}, [] if dx is None else [dx]
            except _Stop:
                raise
            except BaseException as e:  # report it; rank 0 decides
                reply = error_header(e), []
            send(conn, *reply)
    except (_Stop, EOFError, OSError):  # rank 0 closed the socket or went away
        return 0
