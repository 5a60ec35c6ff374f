"""The process runner: shards 1, 2, ... in ``fork()``ed worker processes.

Why processes: with threads, each shard's NumPy calls are short, and every call takes and gives
back the interpreter lock (GIL); two threads then wait on each other dozens of times per step.
Processes have one lock each, so the shards run side by side undisturbed (docs/conv.md).

Layout (the calling process is rank 0 and runs shard 0 on the module itself):

* worker k (k = 1 .. size-1) is a ``fork()`` of rank 0 made at the first forward
  (:mod:`.worker`): it holds a copy of the module and runs shard k;
* parameters and buffers live in one shared memory block (an anonymous ``MAP_SHARED``
  mapping made before the fork). The module's arrays are views of it, so an optimizer's
  in-place update is seen by every worker; an array that was *replaced* (an optimizer or a
  BatchNorm update may rebind it) is copied back into the block by ``sync()``;
* each worker writes its gradients into a shared block of its own; DataParallel adds them up;
* inputs, outputs and upstream gradients go through each worker's socket (:mod:`.wire`);
* BatchNorm's all-reduce is :class:`~.group.ShardGroup` over a shared float64 array, with a
  barrier made of the sockets: each worker sends ARRIVE, rank 0 reads every worker's, then
  sends RELEASE to each.

Rank 0 only ever blocks reading or writing a worker's socket, and a dead worker's socket reads
end-of-file at once: rank 0 then raises :class:`~.group.ShardWorkerDied` and stops the other
workers (they are waiting on their sockets too, and exit on ``CLOSE``). The next forward starts
new workers.
"""
from __future__ import annotations

import os
import threading
import time
import weakref

import numpy as np

from ...utils.cores import single_threaded_blas
from ..module import Module
from .group import OUT_OF_STEP, ShardGroup, ShardsOutOfStep, ShardWorkerDied, batchnorms, raise_first, slots_shape
from .runner import ShardCall, ShardResults, ShardRunner, call_shard
from .wire import ABORT, ARRIVE, CLOSE, RELEASE, SharedArrays, is_header, pack_args, rebuild_error, recv, send
from .worker import start_worker

_CLOSE_GRACE_S = 0.5  # a worker that has not exited this long after CLOSE is killed


def state_slots(module: Module) -> list[tuple[object, str]]:
    """(owner, attribute) of every parameter's ``data`` and every array buffer, in a fixed order."""
    slots: list[tuple[object, str]] = [(p, "data") for p in module.parameters()]
    for m in module.modules():
        for name in m._buffers:
            if isinstance(getattr(m, name), np.ndarray):
                slots.append((m, name))
    return slots


class RootBarrier:
    """Rank 0's side of the barrier of one call: read ARRIVE from every worker, then RELEASE each.

    A worker that replies instead of arriving has failed (rank 0 raises BrokenBarrierError; its
    error comes with the replies) or has run fewer all-reduces (ShardsOutOfStep). ``abort()``
    sends ABORT to every worker, so none waits for rank 0 after it failed.
    """

    def __init__(self, workers: "WorkerSet", shards: int, op: str):
        self._workers, self._ranks, self._op = workers, range(1, shards), op
        self.aborted = False
        self.early: dict[int, tuple[dict, list]] = {}  # replies read while waiting here

    def wait(self) -> None:
        if self.aborted:
            raise threading.BrokenBarrierError("DataParallel: a shard of this batch failed")
        for rank in self._ranks:
            frame = self._workers.recv_frame(rank, self._op)
            if frame != ARRIVE:
                self.early[rank] = header, _ = self._workers.recv_rest(rank, frame, self._op)
                self.abort()
                if header["op"] == "error":
                    raise threading.BrokenBarrierError(f"DataParallel: worker process {rank} failed")
                raise ShardsOutOfStep(OUT_OF_STEP)
        for rank in self._ranks:
            self._workers.send_token(rank, RELEASE, self._op)

    def abort(self) -> None:
        if not self.aborted:
            self.aborted = True
            for rank in self._ranks:
                try:
                    self._workers.conns[rank - 1].send_bytes(ABORT)
                except OSError:  # a dead worker: found when its reply is read
                    pass


class WorkerSet:
    """Worker processes 1 .. size-1 for ``module``, the memory they share with rank 0, and the
    exchange of one call. ``processes[k-1]`` is worker k (a :class:`~.worker.WorkerProcess`)."""

    def __init__(self, module: Module, size: int):
        self.module, self.pid, self.broken = module, os.getpid(), False
        self._owners = state_slots(module)
        current = [getattr(owner, name) for owner, name in self._owners]
        self._state = SharedArrays([(a.shape, a.dtype) for a in current])
        for (owner, name), view, a in zip(self._owners, self._state.arrays, current):
            view[...] = a
            setattr(owner, name, view)
        self.params, self.norms = module.parameters(), batchnorms(module)
        self.grads = [SharedArrays([(p.data.shape, p.data.dtype) for p in self.params]).arrays
                      for _ in range(1, size)]
        self.slots = SharedArrays([(slots_shape(module, size), np.float64)]).arrays[0]
        self.processes: list = []
        self.conns: list = []
        try:
            for rank in range(1, size):
                start_worker(rank, module, self.grads[rank - 1], self.slots, self.processes, self.conns)
        except BaseException:
            self.close()
            raise

    def usable(self) -> bool:
        """Every worker alive, in this process, and the module's arrays still have the shared layout."""
        if self.broken or self.pid != os.getpid() or not all(p.is_alive() for p in self.processes):
            return False
        for (owner, name), view in zip(self._owners, self._state.arrays):
            a = getattr(owner, name)
            if a is not view and (np.shape(a) != view.shape or np.asarray(a).dtype != view.dtype):
                return False
        return True

    def sync(self) -> None:
        """Copy every array that was replaced since the last call into the shared block, and use the view."""
        for (owner, name), view in zip(self._owners, self._state.arrays):
            a = getattr(owner, name)
            if a is not view:
                view[...] = a
                setattr(owner, name, view)

    # -- one call ---------------------------------------------------------------------
    def run(self, call: ShardCall, messages: list) -> ShardResults:
        """Post ``messages[k-1]`` (header, arrays) to worker k, run shard 0 here, collect the replies."""
        shards = len(call.args)
        root = RootBarrier(self, shards, call.op)
        error = value = None
        try:
            for rank, (header, arrays) in enumerate(messages, start=1):
                self._send(rank, call.op, header, arrays)
            try:
                with single_threaded_blas():
                    value = call_shard(self.module, self.norms, ShardGroup(0, shards, self.slots, root), call.op,
                                       call.args[0], call.kwargs[0] if call.kwargs else None)
            except ShardWorkerDied:
                raise
            except Exception as e:
                error = e
                root.abort()  # no worker may wait for shard 0 in an all-reduce
            replies, errors = self._collect(root, shards, call.op)
        except BaseException:  # a dead worker, or Ctrl-C: the workers' state is unknown, stop them
            self.close()
            raise
        raise_first([error] + errors)
        values = [value] + [replies[k][1][0] if replies[k][1] else None for k in range(1, shards)]
        if call.op == "forward":
            return ShardResults(values, [])
        return ShardResults(values, [[g if reached else None for g, reached in zip(self.grads[k - 1],
                                                                                  replies[k][0]["reached"])]
                                     for k in range(1, shards)])

    def _collect(self, root: RootBarrier, shards: int, op: str) -> tuple[dict, list[BaseException]]:
        """The replies of workers 1 .. shards-1: ({rank: (header, arrays)}, errors)."""
        replies, errors = {}, []
        for rank in range(1, shards):
            reply = root.early.pop(rank, None)
            while reply is None:
                frame = self.recv_frame(rank, op)
                if is_header(frame):
                    reply = self.recv_rest(rank, frame, op)
                elif frame == ARRIVE and not root.aborted:  # it waits in an all-reduce shard 0 ran without
                    errors.append(ShardsOutOfStep(OUT_OF_STEP))
                    root.abort()
            header, _ = reply
            if header["op"] == "error":
                errors.append(rebuild_error(header, rank))
            else:
                replies[rank] = reply
        return replies, errors

    # -- the sockets: a dead worker becomes ShardWorkerDied ---------------------------
    def _died(self, rank: int, op: str) -> ShardWorkerDied:
        proc = self.processes[rank - 1]
        proc.join(1.0)  # its socket closed as it exited: the exit status follows at once
        return ShardWorkerDied(rank, proc.pid, proc.exitcode, op)

    def recv_frame(self, rank: int, op: str) -> bytes:
        try:
            return self.conns[rank - 1].recv_bytes()
        except (EOFError, OSError):
            raise self._died(rank, op) from None

    def recv_rest(self, rank: int, first: bytes, op: str) -> tuple[dict, list[np.ndarray]]:
        try:
            return recv(self.conns[rank - 1], first)
        except (EOFError, OSError):
            raise self._died(rank, op) from None

    def send_token(self, rank: int, token: bytes, op: str) -> None:
        try:
            self.conns[rank - 1].send_bytes(token)
        except OSError:
            raise self._died(rank, op) from None

    def _send(self, rank: int, op: str, header: dict, arrays) -> None:
        try:
            send(self.conns[rank - 1], header, arrays)
        except OSError:
            raise self._died(rank, op) from None

    def close(self) -> None:
        """Stop the workers: CLOSE, then end-of-file; a worker still busy after a moment is killed."""
        if self.pid != os.getpid():
            return  # a fork()ed child does not own its parent's workers
        self.broken = True
        for conn in self.conns:
            try:
                os.set_blocking(conn.fileno(), False)  # a full socket must not hold up the shutdown
                conn.send_bytes(CLOSE)
            except OSError:
                pass
            conn.close()
        deadline = time.monotonic() + _CLOSE_GRACE_S
        for proc in self.processes:
            proc.join(max(0.0, deadline - time.monotonic()))
            proc.kill()
            proc.join()


class ProcessRunner(ShardRunner):
    """Shards 1 .. size-1 in worker processes, started at the first forward and replaced after
    one dies. ``workers`` is the current :class:`WorkerSet` (None before the first forward)."""

    def __init__(self, module: Module, size: int):
        self.module, self.size = module, size
        self._layers = list(module.modules())  # walked once: their modes travel with every forward
        # the workers live in a holder the finalizer can reach without keeping self alive
        self._holder: list[WorkerSet | None] = [None]
        self._last: WorkerSet | None = None  # the workers of the last forward: its backward needs them
        weakref.finalize(self, _close_workers, self._holder)

    @property
    def workers(self) -> WorkerSet | None:
        return self._holder[0]

    def sync(self) -> None:
        """Copy replaced arrays into the shared block; drop workers that are dead, belong to the
        parent of a fork()ed child, or whose shared layout no longer fits (a new dtype)."""
        workers = self._holder[0]
        if workers is not None and workers.usable():
            workers.sync()
        elif workers is not None:
            _close_workers(self._holder)

    def run(self, call: ShardCall) -> ShardResults:
        shards = len(call.args)
        if call.op == "backward":
            workers = self._last
            if workers is None or workers.broken:
                raise RuntimeError("DataParallel.backward: the worker processes of the last forward are gone; "
                                   "run forward again")
            return workers.run(call, [({"op": "backward", "shards": shards}, list(a)) for a in call.args[1:]])
        if self._holder[0] is None or self._holder[0].broken:
            _close_workers(self._holder)
            self._holder[0] = WorkerSet(self.module, self.size)
        self._last = self._holder[0]
        return self._last.run(call, self._forward_messages(call))

    def _forward_messages(self, call: ShardCall) -> list[tuple[dict, list[np.ndarray]]]:
        shards = len(call.args)
        keys = list(call.kwargs[0]) if call.kwargs else []
        training = [m.training for m in self._layers]
        messages = []
        for k in range(1, shards):
            positional = list(call.args[k])
            spec, arrays = pack_args(positional + [call.kwargs[k][key] for key in keys])
            header = {"op": "forward", "shards": shards, "seeds": call.seeds[k - 1],
                      "input_grad": self.module.needs_input_grad, "training": training,
                      "args": spec[1:len(positional)], "kwargs": keys, "kwarg_values": spec[len(positional):]}
            messages.append((header, arrays))
        return messages

    def close(self) -> None:
        """Stop the worker processes (the next forward starts new ones)."""
        _close_workers(self._holder)

    def __getstate__(self) -> dict:
        # a copy (deepcopy, pickle) starts workers of its own: processes and shared memory do not travel
        state = dict(vars(self))
        state["_holder"], state["_last"] = [None], None
        return state

    def __setstate__(self, state: dict) -> None:
        vars(self).update(state)
        weakref.finalize(self, _close_workers, self._holder)


def _close_workers(holder: list) -> None:
    workers, holder[0] = holder[0], None
    if workers is not None:
        workers.close()
