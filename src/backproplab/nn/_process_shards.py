"""The worker processes behind ``DataParallel(..., backend="process")``.

Why processes: with threads, each shard's NumPy calls are short, and every call
takes and gives back the interpreter lock (GIL). Two threads then wait on each
other dozens of times per step. On the benchmark CNN (session 4) one 32-image
shard takes 4.8 ms alone; a 64-image step split over two threads takes 6.1 ms,
over two processes 5.5 ms (the rest is the serial loss and optimizer step).
Processes have one lock each, so the shards run side by side undisturbed.

Layout (the calling process is rank 0 and runs shard 0 on the module itself):

* worker k (k = 1 .. shards-1) is a ``fork()`` of the calling process, made
  when the first batch arrives: it holds a copy of the module and runs shard k;
* parameters and buffers live in one shared memory block (an anonymous
  ``MAP_SHARED`` mapping made before the fork). The module's arrays are views
  of it, so an optimizer's in-place update is seen by every worker; an array
  that was *replaced* (an optimizer or a BatchNorm update may rebind it) is
  copied back into the block before the next batch;
* each worker writes its gradients into a shared block of its own; rank 0 adds
  them into the module's ``.grad``;
* inputs, outputs and upstream gradients go through a pipe: a small JSON
  header, then the raw bytes of each array (no pickle);
* BatchNorm's all-reduce: each rank writes its sums into one row of a shared
  float64 array, then a process barrier; every rank adds the rows in the same
  order, so the numbers equal the thread backend's bit for bit.

If a worker dies, a watchdog thread releases rank 0 from any barrier it waits
in, the call raises, and the next call starts new workers.
"""
from __future__ import annotations

import builtins
import json
import mmap
import multiprocessing
import os
import signal
import threading
import traceback
from multiprocessing.connection import wait

import numpy as np

from ..utils.cores import _blas_libraries
from .batchnorm import _BatchNorm
from .module import Module

_ALIGN = 64  # bytes: every shared array starts on a cache line


class SharedArrays:
    """Arrays of the given (shape, dtype) laid out in one anonymous shared mapping (kept across fork())."""

    def __init__(self, specs):
        offsets, size = [], 0
        for shape, dtype in specs:
            offsets.append(size)
            nbytes = int(np.prod(shape, dtype=np.int64)) * np.dtype(dtype).itemsize
            size += -(-nbytes // _ALIGN) * _ALIGN
        self._map = mmap.mmap(-1, max(size, _ALIGN), flags=mmap.MAP_SHARED)
        self.arrays = [np.ndarray(shape, dtype, buffer=self._map, offset=off)
                       for (shape, dtype), off in zip(specs, offsets)]


def state_slots(module: Module) -> list[tuple[object, str]]:
    """(owner, attribute) of every parameter's ``data`` and every array buffer, in a fixed order."""
    slots: list[tuple[object, str]] = [(p, "data") for p in module.parameters()]
    for m in module.modules():
        for name in m._buffers:
            if isinstance(getattr(m, name), np.ndarray):
                slots.append((m, name))
    return slots


def random_layers(module: Module) -> list[tuple[Module, str]]:
    """(layer, attribute) of every ``np.random.Generator`` a layer of ``module`` draws from."""
    return [(m, name) for m in module.modules() for name, value in vars(m).items()
            if isinstance(value, np.random.Generator)]


# -- messages: a JSON header, then the bytes of each array ------------------------
def send(conn, header: dict, arrays=()) -> None:
    arrays = [np.ascontiguousarray(a) for a in arrays]
    header["arrays"] = [[a.dtype.str, list(a.shape)] for a in arrays]
    conn.send_bytes(json.dumps(header).encode())
    for a in arrays:
        conn.send_bytes(a.reshape(-1).view(np.uint8))


def recv(conn) -> tuple[dict, list[np.ndarray]]:
    header = json.loads(conn.recv_bytes())
    arrays = []
    for dtype, shape in header.pop("arrays"):
        a = np.empty(shape, np.dtype(dtype))
        if a.nbytes:
            conn.recv_bytes_into(a.reshape(-1).view(np.uint8))
        else:
            conn.recv_bytes()
        arrays.append(a)
    return header, arrays


def pack_args(values) -> tuple[list, list[np.ndarray]]:
    """Arguments -> (JSON spec, arrays): arrays travel as bytes, plain numbers and strings in the spec."""
    spec, arrays = [], []
    for v in values:
        if isinstance(v, np.ndarray):
            if v.dtype.hasobject:
                raise TypeError("DataParallel(backend='process') cannot send arrays of Python objects to a worker")
            spec.append({"array": len(arrays)})
            arrays.append(v)
        elif isinstance(v, np.generic):
            spec.append({"value": v.item()})
        elif v is None or isinstance(v, (bool, int, float, str)):
            spec.append({"value": v})
        else:
            raise TypeError(f"DataParallel(backend='process') passes arrays, numbers and strings to the workers, "
                            f"got {type(v).__name__}; use backend='thread' for other arguments")
    return spec, arrays


def unpack_args(spec: list, arrays: list[np.ndarray]) -> list:
    return [arrays[s["array"]] if "array" in s else s["value"] for s in spec]


def error_header(e: BaseException) -> dict:
    return {"op": "error", "type": type(e).__name__, "module": type(e).__module__, "message": str(e),
            "traceback": "".join(traceback.format_exception(e))}


def rebuild_error(header: dict, rank: int) -> BaseException:
    """The worker's exception as the same built-in type (else RuntimeError), its traceback as a note."""
    cls = {"BrokenBarrierError": threading.BrokenBarrierError}.get(header["type"])
    if cls is None and header["module"] == "builtins":
        cls = getattr(builtins, header["type"], None)
    e = None
    if isinstance(cls, type) and issubclass(cls, Exception):
        try:
            e = cls(header["message"])
        except Exception:  # a built-in whose constructor wants other arguments (UnicodeDecodeError)
            e = None
    if e is None:
        e = RuntimeError(f"{header['type']}: {header['message']}")
    e.add_note(f"(raised in DataParallel worker process {rank}; its traceback:)\n{header['traceback']}")
    return e


class ProcessGroup:
    """The shards of one call across processes: ``allreduce`` sums an array over them."""

    def __init__(self, barrier, slots: np.ndarray, size: int):
        self._barrier, self._slots, self.size = barrier, slots, size

    def allreduce(self, rank: int, a: np.ndarray) -> np.ndarray:
        flat = np.asarray(a).reshape(-1)
        if flat.size > self._slots.shape[1]:
            raise ValueError(f"DataParallel: an all-reduce of {flat.size} numbers does not fit the "
                             f"{self._slots.shape[1]} reserved per shard")
        length = flat.size
        self._slots[rank, :length] = flat
        self._barrier.wait()
        # every rank adds the rows in the same order (float64): all get identical numbers
        total = self._slots[0, :length].copy()
        for r in range(1, self.size):
            total = total + self._slots[r, :length]
        self._barrier.wait()  # no rank overwrites its row before all have read it
        return total.reshape(np.shape(a))

    def abort(self) -> None:
        self._barrier.abort()


def _worker_main(rank: int, pipes, module: Module, grads: list[np.ndarray], slots: np.ndarray, barriers) -> None:
    """Loop of worker ``rank``: run forward/backward of its shard on each message until the pipe closes."""
    conn = pipes[rank - 1][1]
    for i, (parent_end, child_end) in enumerate(pipes):  # keep only our own end (EOF must reach us)
        parent_end.close()
        if i != rank - 1:
            child_end.close()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the calling process's to handle
    for lib in _blas_libraries():
        lib.set_num_threads(1)  # this process is one of the shards: one core
    params = module.parameters()
    for p, g in zip(params, grads):
        p.grad = g
    modules = list(module.modules())
    norms = [m for m in modules if isinstance(m, _BatchNorm)]
    randoms = random_layers(module)
    while True:
        try:
            header, arrays = recv(conn)
        except (EOFError, OSError):
            break
        if header["op"] == "close":
            break
        shards = header["shards"]
        group = ProcessGroup(barriers[shards], slots, shards)
        for m in norms:
            m._shard = (group, rank)
        try:
            if header["op"] == "forward":
                for m, training in zip(modules, header["training"]):
                    m.training = training
                if module.needs_input_grad != header["input_grad"]:
                    module.needs_input_grad = header["input_grad"]
                for (m, name), seed in zip(randoms, header["seeds"]):
                    setattr(m, name, np.random.default_rng(seed))
                args = unpack_args(header["args"], arrays)
                kwargs = dict(zip(header["kwargs"], unpack_args(header["kwarg_values"], arrays)))
                out = module.forward(arrays[0], *args, **kwargs)
                if not isinstance(out, np.ndarray):
                    raise TypeError(f"DataParallel needs a module that returns one array, got {type(out).__name__}")
                send(conn, {"op": "ok"}, [out])
            else:  # backward
                for p in params:
                    p.zero_grad()
                dx = module.backward(arrays[0])
                reached = [p.has_grad for p in params]
                send(conn, {"op": "ok", "reached": reached}, [] if dx is None else [dx])
        except BaseException as e:  # report it; rank 0 decides
            barriers[shards].abort()  # rank 0 may wait for us in an all-reduce
            send(conn, error_header(e))
        finally:
            for m in norms:
                m._shard = None


class ProcessShards:
    """Worker processes 1..workers for a module, its shared state, and the calls that drive them."""

    def __init__(self, module: Module, workers: int):
        self.module, self.workers, self.pid = module, workers, os.getpid()
        self.broken = False
        self._slots = state_slots(module)
        current = [getattr(owner, name) for owner, name in self._slots]
        self._state = SharedArrays([(a.shape, a.dtype) for a in current])
        for (owner, name), view, a in zip(self._slots, self._state.arrays, current):
            view[...] = a
            setattr(owner, name, view)
        self.params = module.parameters()
        self.grads = [SharedArrays([(p.data.shape, p.data.dtype) for p in self.params]).arrays
                      for _ in range(workers)]
        width = max([m.running_mean.size for m in module.modules() if isinstance(m, _BatchNorm)] + [1])
        self.slots = SharedArrays([((workers + 1, width), np.float64)]).arrays[0]
        ctx = multiprocessing.get_context("fork")
        self.barriers = {s: ctx.Barrier(s) for s in range(2, workers + 2)}
        pipes = [ctx.Pipe() for _ in range(workers)]
        self.conns = [parent_end for parent_end, _ in pipes]
        self.procs = []
        for k in range(1, workers + 1):
            proc = ctx.Process(target=_worker_main, args=(k, pipes, module, self.grads[k - 1], self.slots,
                                                          self.barriers),
                               name=f"backproplab-shard-{k}", daemon=True)
            proc.start()
            self.procs.append(proc)
        for _, child_end in pipes:
            child_end.close()
        self._stop_r, self._stop_w = os.pipe()
        threading.Thread(target=self._watch, name="backproplab-shard-watchdog", daemon=True).start()

    def _watch(self) -> None:
        """Release rank 0 from any barrier if a worker exits (else it would wait forever)."""
        ready = wait([p.sentinel for p in self.procs] + [self._stop_r])
        if self._stop_r not in ready:
            for barrier in self.barriers.values():
                barrier.abort()
        os.close(self._stop_r)

    def usable(self) -> bool:
        """Every worker alive, in this process, and the module's arrays still have the shared layout."""
        if self.broken or self.pid != os.getpid() or not all(p.is_alive() for p in self.procs):
            return False
        for (owner, name), view in zip(self._slots, self._state.arrays):
            a = getattr(owner, name)
            if a is not view and (np.shape(a) != view.shape or np.asarray(a).dtype != view.dtype):
                return False
        return True

    def sync(self) -> None:
        """Copy every array that was replaced since the last call into the shared block, and use the view."""
        for (owner, name), view in zip(self._slots, self._state.arrays):
            a = getattr(owner, name)
            if a is not view:
                view[...] = a
                setattr(owner, name, view)

    def group(self, shards: int) -> ProcessGroup:
        return ProcessGroup(self.barriers[shards], self.slots, shards)

    def post(self, rank: int, header: dict, arrays) -> None:
        try:
            send(self.conns[rank - 1], header, arrays)
        except OSError:
            self.broken = True
            proc = self.procs[rank - 1]
            raise RuntimeError(f"DataParallel worker process {rank} (pid {proc.pid}) is gone (exit code "
                               f"{proc.exitcode}); the next call starts new workers") from None

    def collect(self, ranks) -> tuple[dict, list[BaseException]]:
        """Replies of the given workers: ({rank: (header, arrays)}, errors)."""
        replies, errors = {}, []
        for rank in ranks:
            try:
                header, arrays = recv(self.conns[rank - 1])
            except (EOFError, OSError):
                proc = self.procs[rank - 1]
                proc.join(1)
                self.broken = True
                errors.append(RuntimeError(
                    f"DataParallel worker process {rank} (pid {proc.pid}) died with exit code {proc.exitcode} "
                    "(killed, or out of memory?); the next call starts new workers"))
                continue
            if header["op"] == "error":
                errors.append(rebuild_error(header, rank))
            else:
                replies[rank] = (header, arrays)
        if self.broken:
            self.close()
        elif errors or any(b.broken for b in self.barriers.values()):
            for barrier in self.barriers.values():
                barrier.reset()  # every worker has answered: nobody waits in it
        return replies, errors

    def close(self) -> None:
        """Stop the workers (they exit when their pipe closes) and the watchdog."""
        if self.pid != os.getpid():
            return  # a fork()ed child does not own its parent's workers
        for conn in self.conns:
            try:
                send(conn, {"op": "close"})
            except OSError:
                pass
            conn.close()
        for proc in self.procs:
            proc.join(5)
            if proc.is_alive():
                proc.kill()
                proc.join()
        if self._stop_w is not None:
            try:
                os.write(self._stop_w, b"x")
            except OSError:  # the watchdog has already ended (a worker died)
                pass
            os.close(self._stop_w)
            self._stop_w = None
        self.broken = True
