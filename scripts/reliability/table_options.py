"""Probes made from every lab's Config: each numeric option just beyond each end of its range, a
number that is not one, an empty or odd comma list, an unknown choice; and one quick run per lab
with its size and count options at the low end of their ranges.

The ranges are read from the Config fields' metadata (``labs.config.option``), so a lab added or
an option changed gets its probes without editing this file.
"""
from __future__ import annotations

import dataclasses
import types
import typing

from .harness import Probe

FAMILY = "lab options beyond their ranges"
ENDS = "lab options at the low end of their ranges (quick runs)"
#: options left at their value in the low-end runs (not a size or count)
NOT_SIZES = {"seed", "threads", "dilation", "kernel_size", "given_rows", "deformable_layers"}
#: what a low-end run must end with when it is not success: lab -> (status, words). Together the smallest
#: values can make a combination the lab refuses, which is right when the message names an option to change.
LOW_END_EXPECT: dict[str, tuple[int, tuple]] = {
    "bn-noise": (2, ("--width or --train-size",)),          # width 1: the only ReLU unit is dead
    "dilated-conv": (2, ("--input-size",)),                 # a 1x1 input under a dilated 3x3 kernel
    "mobilenet": (2, ("--batch-size",)),                    # BatchNorm on one value per channel
    "residual-walkthrough": (2, ("--padding",)),            # the skip needs the conv to keep the size
}


def _fields(config_cls):
    hints = typing.get_type_hints(config_cls)
    for f in dataclasses.fields(config_cls):
        if f.metadata.get("cli", True):
            tp = hints[f.name]
            if typing.get_origin(tp) in (typing.Union, types.UnionType):
                tp = [a for a in typing.get_args(tp) if a is not type(None)][0]
            yield f, tp


def _fmt(value) -> str:
    return str(value) if isinstance(value, int) else f"{value:.12g}"


def _beyond(tp, spec) -> list[tuple[str, str]]:
    """(which end, value) just outside the range of a number field."""
    out = []
    low, high = spec.get("low"), spec.get("high")
    if low is not None:
        out.append(("below", _fmt(low if spec.get("low_open") else (low - 1 if tp is int else low - 0.5))))
    if high is not None:
        out.append(("above", _fmt(high if spec.get("high_open") else (high + 1 if tp is int else high * 1.5 + 1))))
    return out


def _tuple_probes(lab, flag, elem, spec) -> list[tuple[str, str, str]]:
    """(suffix, value, word) for a comma-list field."""
    out = []
    if spec.get("min_len"):
        out.append(("empty", "", "at least"))
    if elem in (int, float):
        out.append(("not-a-number", "1,x", "'x'"))
        if spec.get("each_low") is not None:
            low = spec["each_low"]
            out.append(("entry-below", _fmt(low if spec.get("each_low_open") else low - 1), "each"))
        if spec.get("each_high") is not None:
            out.append(("entry-above", _fmt(spec["each_high"] * 2 + 1), "each"))
    if spec.get("each_choices"):
        out.append(("unknown-entry", f"{spec['each_choices'][0]},bogus", "bogus"))
    return out


def lab_option_probes(name: str, config_cls) -> list[Probe]:
    """The probes of one lab's options (each a usage error at parse time: exit 2, fast)."""
    probes = []
    first_float = first_int = None
    for f, tp in _fields(config_cls):
        flag, spec = "--" + f.name.replace("_", "-"), f.metadata

        def add(suffix, value, word, what):
            probes.append(Probe(f"{name}-{f.name.replace('_', '-')}-{suffix}", FAMILY, what,
                                argv=("lab", name, f"{flag}={value}"), status=2, words=(flag, word), fast=True))

        if tp in (int, float):
            for end, value in _beyond(tp, spec):
                add(end, value, "must be", f"`{name}` {flag} {end} its range")
            if tp is float and first_float is None:
                first_float = f
                add("nan", "nan", "must be", f"`{name}` {flag} not a number")
            if tp is int and first_int is None:
                first_int = f
                add("fraction", "1.5", "integer", f"`{name}` {flag} a fraction")
        elif typing.get_origin(tp) is tuple:
            elem = typing.get_args(tp)[0] if typing.get_args(tp) else str
            for suffix, value, word in _tuple_probes(name, flag, elem, spec):
                add(suffix, value, word, f"`{name}` {flag} {suffix.replace('-', ' ')} ({value!r})")
        elif spec.get("choices"):
            add("unknown", "bogus", "bogus", f"`{name}` {flag} not one of its choices")
    return probes


def _low_end(f, tp):
    spec = f.metadata
    if f.name in NOT_SIZES:
        return None
    if tp is int and spec.get("low") is not None:
        return str(spec["low"] + (1 if spec.get("low_open") else 0))
    if typing.get_origin(tp) is tuple and typing.get_args(tp)[:1] == (int,) and spec.get("each_low") is not None:
        return ",".join([str(spec["each_low"])] * max(1, spec.get("min_len") or 1))
    return None


def low_end_probe(name: str, config_cls) -> Probe:
    """One quick run of lab ``name`` with every size or count option at the low end of its range."""
    argv = ["lab", name, "--quick", "--quiet", "--out", "run"]
    for f, tp in _fields(config_cls):
        value = _low_end(f, tp)
        if value is not None:
            argv += ["--" + f.name.replace("_", "-"), value]
    status, words = LOW_END_EXPECT.get(name, (0, (f"{name}: wrote run/report.html",)))
    return Probe(f"{name}-low-ends", ENDS, f"`{name}` quick, every size and count at its smallest",
                 argv=tuple(argv), status=status, words=words, timeout=240)


def probes() -> list[Probe]:
    from backproplab.labs import registry

    out, ends = [], []
    for name in sorted(registry.labs()):
        config_cls = registry.load_lab(name).Config
        out += lab_option_probes(name, config_cls)
        ends.append(low_end_probe(name, config_cls))
    return out + ends
