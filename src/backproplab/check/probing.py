"""Helpers for the sandboxed child: find a submission's entry points, call them whatever their
parameters are called, record what they return or where they fail, and differentiate them numerically.

Everything here runs *inside* the child process that imported the student's file; the parent never
imports this file's callers' results except as JSON and ``.npy`` arrays.
"""
from __future__ import annotations

import inspect
import linecache
import re
import traceback
from typing import Callable

import numpy as np

#: modules whose functions never count as a student's own entry point (``tanh = np.tanh`` is not an answer)
_LIBRARY_MODULES = ("numpy", "scipy", "math", "builtins", "torch", "backproplab")


def norm(name: str) -> str:
    """Name as matched by the protocol: lower case, letters and digits only (``leaky_ReLU`` -> ``leakyrelu``)."""
    return re.sub(r"[^a-z0-9]", "", name.lower())


def _own(obj) -> bool:
    module = getattr(obj, "__module__", None) or ""
    return not module.split(".")[0] in _LIBRARY_MODULES


def find(namespace, names, kind: str = "any"):
    """(attribute name, object) of the first of ``names`` (normalized) that ``namespace`` defines, or None.

    kind: "function" (callable, not a class), "class", or "any". Objects from NumPy, SciPy, math and
    PyTorch are skipped: an entry point must be the submission's own code.
    """
    table = {}
    for attr in dir(namespace):
        if attr.startswith("__") and attr != "__call__":
            continue
        try:
            obj = getattr(namespace, attr)
        except Exception:  # a property that raises: not an entry point
            continue
        if not callable(obj) or not _own(obj):
            continue
        is_class = inspect.isclass(obj)
        if (kind == "class" and not is_class) or (kind == "function" and is_class):
            continue
        table.setdefault(norm(attr), (attr, obj))
    for name in names:
        if name in table:
            return table[name]
    return None


class Unbindable(TypeError):
    """A required parameter whose meaning the protocol cannot tell from its name or position."""


def _parameters(fn):
    try:
        return list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):  # a builtin or ufunc: positional arguments only
        return None


def required_count(fn) -> int:
    """Number of parameters without a default (positional or keyword)."""
    params = _parameters(fn)
    if params is None:
        return 1
    return sum(p.default is p.empty and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD) for p in params)


def parameter_names(fn) -> list[str]:
    params = _parameters(fn)
    return [] if params is None else [p.name for p in params]


def bind(fn, values: dict, aliases: dict[str, tuple[str, ...]], order: tuple[str, ...]):
    """Arguments for ``fn``: each parameter gets the role its name says, the others the remaining roles in order.

    Args:
        values: role -> value to pass (roles absent here are never passed).
        aliases: role -> normalized parameter names meaning that role.
        order: roles given, in this order, to required parameters whose names say nothing.

    Returns:
        (args, kwargs, description) where description reads like ``f(x=<x>, W=<weight>)``.
    """
    params = _parameters(fn)
    if params is None:
        roles = [r for r in order if r in values][:1]
        return [values[r] for r in roles], {}, f"{_name(fn)}({', '.join(roles)})"
    lookup: dict[str, str] = {}
    for role, names in aliases.items():  # a name listed under two roles means the first
        for a in names:
            lookup.setdefault(a, role)
    chosen: dict[str, str] = {}
    for p in params:
        role = lookup.get(norm(p.name))
        if role in values and role not in chosen.values():
            chosen[p.name] = role
    remaining = [r for r in order if r in values and r not in chosen.values()]
    for p in params:
        if p.name in chosen or p.default is not p.empty or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        if not remaining:
            raise Unbindable(f"cannot tell what to pass as parameter {p.name!r} of {_name(fn)}; "
                             "see docs/check.md for the parameter names the checker understands")
        chosen[p.name] = remaining.pop(0)
    args, kwargs = [], {}
    for p in params:
        if p.name not in chosen:
            continue
        if p.kind == p.POSITIONAL_ONLY:
            args.append(values[chosen[p.name]])
        else:
            kwargs[p.name] = values[chosen[p.name]]
    desc = ", ".join(f"{name}=<{role}>" for name, role in chosen.items())
    return args, kwargs, f"{_name(fn)}({desc})"


def call(fn, values: dict, aliases: dict, order: tuple[str, ...]):
    """``fn`` called with :func:`bind`'s arguments; returns (result, description)."""
    args, kwargs, desc = bind(fn, values, aliases, order)
    return fn(*args, **kwargs), desc


def _name(fn) -> str:
    return getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None) or type(fn).__name__


def describe_error(exc: BaseException, path: str, memory_limit: int | None = None) -> dict:
    """Type, message and the submission's line where ``exc`` was raised (innermost frame in ``path``)."""
    line, code = None, ""
    for frame in traceback.extract_tb(exc.__traceback__):
        if frame.filename == path:
            line, code = frame.lineno, (frame.line or linecache.getline(path, frame.lineno)).strip()
    kind = type(exc).__name__
    message = str(exc).splitlines()[0][:300] if str(exc) else ""
    if isinstance(exc, MemoryError) and memory_limit:
        text = f"used more than {format_bytes(memory_limit)} of memory"
    elif isinstance(exc, Unbindable):
        text = message
    else:
        text = f"{kind}: {message}" if message else kind
    if line is not None:
        text += f" (line {line}: {code})" if code else f" (line {line})"
    return {"type": kind, "message": message, "line": line, "text": text}


def format_bytes(n: int) -> str:
    for unit, size in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= size:
            return f"{n / size:g} {unit}"
    return f"{n} bytes"


def as_array(value):
    """A float64 array from whatever a student function returned (scalar, list, 0-d array), or None."""
    if value is None:
        return None
    try:
        arr = np.asarray(value)
    except Exception:
        return None
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        return None
    return arr


def pick_indices(size: int, limit: int, rng: np.random.Generator) -> np.ndarray:
    """Every flat index if ``size <= limit``, else ``limit`` distinct ones drawn at random (a sparse check)."""
    if size <= limit:
        return np.arange(size)
    return np.sort(rng.choice(size, limit, replace=False))


def step_size(arr: np.ndarray) -> float:
    """Central-difference step: 1e-6 in float64; 1e-3 for float32 arrays (a smaller step drowns in rounding)."""
    return 1e-3 if arr.dtype == np.float32 else 1e-6


def numerical_grad_at(loss: Callable[[], float], arr: np.ndarray, flat_idx: np.ndarray) -> np.ndarray:
    """Central differences of the scalar ``loss()`` w.r.t. the entries ``flat_idx`` of ``arr`` (perturbed in place).

    Entries are addressed by their multi-index, so a non-contiguous ``arr`` is perturbed in place too.
    """
    h = step_size(arr)
    out = np.empty(len(flat_idx))
    for k, i in enumerate(flat_idx):
        pos = np.unravel_index(int(i), arr.shape)
        old = arr[pos]
        arr[pos] = old + h
        fp = float(loss())
        arr[pos] = old - h
        fm = float(loss())
        arr[pos] = old
        out[k] = (fp - fm) / (2 * h)
    return out
