"""What travels between rank 0 and a worker process, and the memory they share.

Each worker has one socket pair with rank 0 (``multiprocessing.connection`` frames). On it:

* a call or a reply: a JSON header frame (it starts with ``{``), then one frame of raw bytes
  per array the header lists (no pickle: a worker only ever receives numbers and arrays);
* a token, one byte: ``ARRIVE`` (worker -> rank 0: it reached the all-reduce barrier),
  ``RELEASE`` / ``ABORT`` (rank 0 -> worker: every shard arrived / a shard failed), ``CLOSE``
  (rank 0 -> worker: exit).

A worker that dies closes its end: rank 0 reads end-of-file at once, whatever it was waiting
for, and the same holds the other way round. No lock is shared between the processes.
"""
from __future__ import annotations

import builtins
import json
import mmap
import threading
import traceback

import numpy as np

ARRIVE, RELEASE, ABORT, CLOSE = b"a", b"r", b"x", b"q"
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


def send(conn, header: dict, arrays=()) -> None:
    """A JSON header, then the bytes of each array."""
    arrays = [np.ascontiguousarray(a) for a in arrays]
    header["arrays"] = [[a.dtype.str, list(a.shape)] for a in arrays]
    conn.send_bytes(json.dumps(header).encode())
    for a in arrays:
        conn.send_bytes(a.reshape(-1).view(np.uint8))


def recv(conn, first: bytes) -> tuple[dict, list[np.ndarray]]:
    """The message whose header frame ``first`` was just read: (header, arrays)."""
    header = json.loads(first)
    arrays = []
    for dtype, shape in header.pop("arrays"):
        a = np.empty(shape, np.dtype(dtype))
        if a.nbytes:
            conn.recv_bytes_into(a.reshape(-1).view(np.uint8))
        else:
            conn.recv_bytes()
        arrays.append(a)
    return header, arrays


def is_header(frame: bytes) -> bool:
    return frame[:1] == b"{"


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
