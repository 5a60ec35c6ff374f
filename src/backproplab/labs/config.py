"""A lab's settings: a frozen dataclass whose fields are the lab's command-line options.

Every field is declared with :func:`option`, which carries the help text and the valid range;
the range is checked when the Config is built (so at parse time on the command line), and
shown in ``--help``::

    @dataclass(frozen=True)
    class Config(LabConfig):
        lr: float = option(1e-3, "Adam learning rate", low=0, low_open=True)
        hidden: tuple[int, ...] = option((128,), "hidden widths", each_low=1, min_len=1)

        def quick(self) -> "Config":              # seconds, for tests: dataclasses.replace,
            return quick(self, num_epochs=2)      # so a misspelled field raises

Every lab has ``seed`` (from :class:`LabConfig`); ``is_quick`` records that :meth:`quick` made it
(the report then says so on top). Fields use one name per concept across labs (``num_epochs``,
``batch_size``, ``lr``, ``train_size``, ``test_size``, ``classes``, ``data_dir``, ``threads``).
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import types
import typing
from dataclasses import dataclass, field

from ..errors import UsageError


class ConfigError(UsageError):
    """An option has a value outside its documented range."""


def option(default, help: str, *, low=None, high=None, low_open: bool = False, high_open: bool = False,
           choices=None, min_len: int | None = None, each_low=None, each_high=None, each_low_open: bool = False,
           each_choices=None, cli: bool = True):
    """A Config field with its help text and valid range.

    Args:
        low, high: bounds of a number (inclusive; ``low_open``/``high_open`` make them strict).
        choices: allowed values of a string.
        min_len: fewest entries of a tuple.
        each_low, each_high, each_low_open, each_choices: the same for every entry of a tuple.
        cli: False for a field that is no command-line option.
    """
    spec = {"help": help, "low": low, "high": high, "low_open": low_open, "high_open": high_open,
            "choices": tuple(choices) if choices is not None else None, "min_len": min_len,
            "each_low": each_low, "each_high": each_high, "each_low_open": each_low_open,
            "each_choices": tuple(each_choices) if each_choices is not None else None, "cli": cli}
    if isinstance(default, list):
        raise TypeError("use a tuple, not a list, as the default of a Config field (Configs are frozen)")
    return field(default=default, metadata=spec)


def flag_name(name: str) -> str:
    return "--" + name.replace("_", "-")


def _interval(low, high, low_open, high_open) -> str:
    if low is not None and high is not None:
        return f"{'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
    if low is not None:
        return f"{'>' if low_open else '>='} {low:g}"
    if high is not None:
        return f"{'<' if high_open else '<='} {high:g}"
    return ""


def range_text(spec: dict) -> str:
    """The valid range of a field, in words, for ``--help`` and error messages."""
    parts = []
    interval = _interval(spec.get("low"), spec.get("high"), spec.get("low_open"), spec.get("high_open"))
    if interval:
        parts.append(interval)
    if spec.get("choices"):
        parts.append("one of " + ", ".join(map(str, spec["choices"])))
    if spec.get("min_len"):
        parts.append(f"at least {spec['min_len']} entr{'y' if spec['min_len'] == 1 else 'ies'}")
    each = _interval(spec.get("each_low"), spec.get("each_high"), spec.get("each_low_open"), False)
    if each:
        parts.append(f"each {each}")
    if spec.get("each_choices"):
        parts.append("each one of " + ", ".join(map(str, spec["each_choices"])))
    return "; ".join(parts)


def _outside(value, low, high, low_open, high_open) -> bool:
    if isinstance(value, float) and not math.isfinite(value):
        return True
    if low is not None and (value < low or (low_open and value == low)):
        return True
    return high is not None and (value > high or (high_open and value == high))


def _check_type(name: str, value, tp) -> None:
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return
        inner = [a for a in args if a is not type(None)]
        return _check_type(name, value, inner[0])
    if origin is tuple:
        if not isinstance(value, tuple):
            raise ConfigError(f"{flag_name(name)} must be a tuple, got {value!r}")
        for v in value:
            _check_type(name, v, args[0] if args else object)
        return
    if tp is float and isinstance(value, int) and not isinstance(value, bool):
        return
    if tp in (int, float, str, bool) and not isinstance(value, tp) or (tp is int and isinstance(value, bool)):
        raise ConfigError(f"{flag_name(name)} must be {tp.__name__}, got {value!r}")


def validate(config) -> None:
    """Raise :class:`ConfigError` naming the first field outside its range, the range and the value."""
    hints = typing.get_type_hints(type(config))
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        _check_type(f.name, value, hints[f.name])
        spec = f.metadata
        if not spec or value is None:
            continue
        problem = None
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if _outside(value, spec.get("low"), spec.get("high"), spec.get("low_open"), spec.get("high_open")):
                problem = True
        if spec.get("choices") and value not in spec["choices"]:
            problem = True
        if isinstance(value, tuple):
            if spec.get("min_len") and len(value) < spec["min_len"]:
                problem = True
            for v in value:
                if isinstance(v, (int, float)) and not isinstance(v, bool) and _outside(
                        v, spec.get("each_low"), spec.get("each_high"), spec.get("each_low_open"), False):
                    problem = True
                if spec.get("each_choices") and v not in spec["each_choices"]:
                    problem = True
        if problem:
            shown = ",".join(map(str, value)) if isinstance(value, tuple) else value
            raise ConfigError(f"{flag_name(f.name)} must be {range_text(spec)} ({spec.get('help', '')}); "
                              f"got {shown!r}")


@dataclass(frozen=True)
class LabConfig:
    """Fields every lab has. Subclasses add their own with :func:`option` and override :meth:`quick`."""

    seed: int = option(0, "seed of every random choice of the run", low=0)
    is_quick: bool = option(False, "set by --quick (a run of seconds, not the lab's answer)", cli=False)

    def __post_init__(self) -> None:
        validate(self)
        self.check()

    def check(self) -> None:
        """Checks that involve several fields; raise :class:`ConfigError`. Override where needed."""

    def quick(self) -> "LabConfig":
        """The settings of a quick run (seconds). Labs override it with :func:`quick`."""
        return quick(self)

    def to_dict(self) -> dict:
        from ..utils.io import to_jsonable

        return to_jsonable(dataclasses.asdict(self))

    def fingerprint(self) -> str:
        """A short hash of every field: what a cached result or checkpoint is tied to."""
        text = json.dumps(self.to_dict(), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def differences(self, other: dict) -> dict:
        """``{field: (other's value, this value)}`` for the fields that differ from a saved config dict."""
        mine = self.to_dict()
        keys = sorted(set(mine) | set(other))
        return {k: (other.get(k), mine.get(k)) for k in keys if other.get(k) != mine.get(k)}


def quick(config, **changes):
    """``dataclasses.replace(config, is_quick=True, **changes)``: a misspelled field raises TypeError."""
    return dataclasses.replace(config, is_quick=True, **changes)
