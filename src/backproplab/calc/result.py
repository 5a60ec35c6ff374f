"""The result every calculator returns, and the argument checks they share."""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any, Sequence


@dataclass
class CalcResult:
    """A calculator's answer and its working.

    Attributes:
        name: the calculator (CLI name).
        inputs: the arguments as given (after validation).
        values: the answer(s), JSON-able.
        steps: the working, one line of text each, in the order a student would write it.
    """

    name: str
    inputs: dict[str, Any]
    values: dict[str, Any]
    steps: list[str] = field(default_factory=list)

    def __getitem__(self, key: str) -> Any:
        return self.values[key]

    def to_dict(self) -> dict:
        return {"name": self.name, "inputs": self.inputs, "values": self.values, "steps": self.steps}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    def text(self) -> str:
        return "\n".join(self.steps)


def fmt(n) -> str:
    """An int with thousands separators; a float to 6 significant digits."""
    if isinstance(n, int):
        return f"{n:,}"
    return f"{n:.6g}"


def check_int(name: str, value, minimum: int = 1) -> int:
    """``value`` as an int >= ``minimum``, else a ValueError naming ``name``."""
    if isinstance(value, bool) or isinstance(value, float) and not value.is_integer():
        raise ValueError(f"{name} must be an integer, got {value!r}")
    try:
        v = int(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be an integer, got {value!r}") from None
    if v < minimum:
        what = {1: "positive (>= 1)", 0: "non-negative (>= 0)"}.get(minimum, f">= {minimum}")
        raise ValueError(f"{name} must be {what}, got {v}")
    return v


def check_pair(name: str, value, minimum: int = 1) -> tuple[int, int]:
    """An int or an (h, w) pair, each >= ``minimum`` -> (h, w)."""
    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            raise ValueError(f"{name} must be one integer or a pair (h, w), got {value!r}")
        return check_int(f"{name}[0]", value[0], minimum), check_int(f"{name}[1]", value[1], minimum)
    v = check_int(name, value, minimum)
    return v, v


def check_float(name: str, value, minimum: float | None = None) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number, got {value!r}") from None
    if not math.isfinite(v):
        raise ValueError(f"{name} must be finite, got {v}")
    if minimum is not None and v < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {v}")
    return v


def check_list(name: str, values: Sequence, minimum: int = 1) -> list[int]:
    if values is None or len(values) == 0:
        raise ValueError(f"{name} must list at least one value")
    return [check_int(f"{name}[{i}]", v, minimum) for i, v in enumerate(values)]
