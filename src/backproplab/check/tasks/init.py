"""Task ``init``: weight initialisers judged by the statistics of what they draw (assignment 004, section 2).

Protocol: ``zeros_init``, ``small_random_init``, ``large_random_init``, ``xavier_init``, ``he_init`` (also
``init_xavier``, ``initialize_he``, ``glorot``, ``kaiming``, Ng's ``initialize_parameters_he(layers_dims)``),
called as ``f(shape)``, ``f(n_in, n_out)`` or ``f(layers_dims)``; they return the weight array
(or a tuple / dict holding it). One call draws 400 × 100 = 40,000 weights with fan_in = 400 and
fan_out = 100, so the fan a formula used shows in the variance.

Tests, with z = 5 standard errors (a false failure about once in two million checks):
|mean| <= z·σ/√n and |s² − σ²| <= z·σ²·√((κ − 1)/n), κ the sample's kurtosis (3 normal, 1.8 uniform).
Xavier: σ² = 1/fan_in (the assignment's; Glorot's 2/(fan_in + fan_out) is accepted with a note);
He: σ² = 2/fan_in; small: 0 < σ <= 0.1; large: σ >= 0.5; zeros: every entry 0.
"""
from __future__ import annotations

import numpy as np

from ..judging import Check
from ..probing import call, find, required_count
from .base import Task, names_with

FAN_IN, FAN_OUT = 400, 100
Z = 5.0
SCHEMES = {"zeros": ("zeros", "zero"), "small": ("small", "smallrandom", "randomsmall", "smallrand"),
           "large": ("large", "largerandom", "randomlarge", "largerand", "big", "bigrandom", "randombig"),
           "xavier": ("xavier", "glorot", "lecun"), "he": ("he", "kaiming")}
PATTERNS = ("{}init", "init{}", "initialize{}", "initialise{}", "{}initialization", "{}initialisation",
            "{}initializer", "{}weights", "init{}weights", "initialize{}weights", "initializeparameters{}",
            "initparameters{}", "{}weightinit", "{}")
ALIASES = {
    "shape": ("shape", "size", "dims", "dim", "weightshape", "wshape"),
    "fan_in": ("fanin", "nin", "infeatures", "inputsize", "ninputs", "ninput", "inputdim", "indim", "insize",
               "inputs", "input", "in", "nx", "nprev", "rows", "prev", "inputunits", "n"),
    "fan_out": ("fanout", "nout", "outfeatures", "outputsize", "noutputs", "noutput", "outputdim", "outdim",
                "outsize", "outputs", "output", "out", "ny", "units", "cols", "nh", "outputunits", "m"),
    "dims": ("layersdims", "layerdims", "layers", "layersizes", "sizes", "architecture", "layerssizes"),
}


def _inputs(rng):
    return {}, {}


def _weight(result):
    if isinstance(result, dict):
        result = result.get("W1", next((v for v in result.values() if np.ndim(v) == 2), None))
    if isinstance(result, (tuple, list)):
        result = next((v for v in result if np.ndim(v) == 2), None)
    return result


def probe(module, probe):
    found = []
    for scheme, bases in SCHEMES.items():
        fn = find(module, names_with(PATTERNS, bases), "function")
        if fn is None:
            continue
        found.append(scheme)
        order = ("shape",) if required_count(fn[1]) <= 1 else ("fan_in", "fan_out")

        def draw(fn=fn, order=order):
            values = {"shape": (FAN_IN, FAN_OUT), "fan_in": FAN_IN, "fan_out": FAN_OUT, "dims": [FAN_IN, FAN_OUT]}
            result, desc = call(fn[1], values, ALIASES, order)
            probe.note(f"init.{scheme}", f"called {desc}")
            return _weight(result)
        w = probe.attempt(f"init.{scheme}", draw, f"calling {fn[0]}")
        if w is not None:
            probe.put(f"init.{scheme}", np.asarray(w, dtype=np.float64))
            note = probe.notes.get(f"init.{scheme}", "")
            probe.values[f"init.{scheme}.fan"] = "shape" if "=<shape>" in note else "named"
    probe.values["found"] = found


def _kurtosis(w: np.ndarray) -> float:
    d = w - w.mean()
    return float(np.mean(d**4) / max(np.mean(d**2) ** 2, 1e-300))


def _variance_check(scheme, w, fan_how) -> Check:
    n, var, mean = w.size, float(w.var()), float(w.mean())
    kurt = _kurtosis(w)
    looks = f"kurtosis {kurt:.2f}: " + ("normal" if abs(kurt - 3) < 0.3 else "uniform" if abs(kurt - 1.8) < 0.2
                                          else "neither normal nor uniform")
    stats = f"mean {mean:.3g}, variance {var:.4g} over {n} draws ({looks})"
    gain = {"xavier": 1.0, "he": 2.0}[scheme]
    fans = [(FAN_IN, "")]
    if fan_how == "shape":  # f(shape): shape[0] is fan_in for the assignment's (in, out); shape[1] for (out, in)
        fans.append((FAN_OUT, "n taken from shape[1]: right if your weights are (out, in), wrong for the "
                              "assignment's (in, out) layout"))
    targets = [(gain / f, note) for f, note in fans]
    if scheme == "xavier":
        targets.append((2.0 / (FAN_IN + FAN_OUT), "Glorot's 2/(fan_in + fan_out) (the original paper); the "
                                                  "assignment's Xavier is 1/fan_in"))
    se = np.sqrt(max(kurt - 1, 0.5) / n)
    tol = Z * se
    for target, note in targets:
        err = abs(var - target) / target
        if err <= tol and abs(mean) <= Z * np.sqrt(var / n):
            return Check("init", f"{scheme}: variance {gain:g}/fan_in", "pass", err, tol, note=f"{stats}; {note}".strip("; "))
    err = abs(var - gain / FAN_IN) / (gain / FAN_IN)
    hyps = [(1.0 / FAN_OUT * gain, f"n = fan_out = {FAN_OUT}: use the number of inputs, fan_in = {FAN_IN}"),
            ((2.0 if scheme == "xavier" else 1.0) / FAN_IN, "He's 2/fan_in and Xavier's 1/fan_in swapped"),
            (gain**2 / FAN_IN**2, "scaled by 1/n instead of √(1/n): the standard deviation is √(variance)"),
            (gain / FAN_IN**2, "scaled by √(1/n)/√n: the standard deviation must be √(gain/n)"),
            (1.0, "not scaled at all: variance 1 (np.random.randn alone)")]
    hint = next((h for v, h in hyps if abs(var - v) / v <= tol), "")
    if abs(mean) > Z * np.sqrt(var / n):
        hint = hint or f"the mean {mean:.3g} is not 0: draw from a distribution centred on 0"
    return Check("init", f"{scheme}: variance {gain:g}/fan_in", "fail", err, tol, hint=hint, note=stats)


def _judge_one(scheme, w, fan_how) -> Check:
    if w.shape not in ((FAN_IN, FAN_OUT), (FAN_OUT, FAN_IN)):
        return Check("init", scheme, "fail", message=f"shape {w.shape}; expected ({FAN_IN}, {FAN_OUT}) or "
                                                     f"({FAN_OUT}, {FAN_IN})")
    std, mean = float(w.std()), float(w.mean())
    if scheme == "zeros":
        ok = not np.any(w)
        return Check("init", "zeros: all zero", "pass" if ok else "fail",
                     message="" if ok else f"{np.count_nonzero(w)} of {w.size} entries are not 0")
    if std == 0:
        return Check("init", scheme, "fail", hint=f"every weight equals {mean:g}: a constant initialisation "
                                                  "cannot break the symmetry between units")
    if scheme in ("xavier", "he"):
        return _variance_check(scheme, w, fan_how)
    centred = abs(mean) <= Z * std / np.sqrt(w.size)
    ok = centred and (std <= 0.1 if scheme == "small" else std >= 0.5)
    rule = "0 < σ <= 0.1" if scheme == "small" else "σ >= 0.5"
    return Check("init", f"{scheme}: {rule}", "pass" if ok else "fail", note=f"σ = {std:.3g}, mean = {mean:.3g}",
                 hint="" if ok else (f"σ = {std:.3g} breaks {rule}" if centred else f"the mean {mean:.3g} is not 0"))


def judge(arrays, settings, out):
    checks = []
    for scheme in out.value("found", []):
        w = out.arr(f"init.{scheme}")
        if w is None:
            checks.append(Check("init", scheme, "error", message=out.error(f"init.{scheme}") or "nothing came back"))
            continue
        c = _judge_one(scheme, w, out.value(f"init.{scheme}.fan", "named"))
        c.note = "; ".join(p for p in (c.note, out.note(f"init.{scheme}")) if p)
        checks.append(c)
    return checks or [Check("init", "entry points", "error", message="no initialiser found (see docs/check.md)")]


TASK = Task("init", "zeros, small, large, Xavier and He initialisers, by the statistics of 40,000 draws",
            names_with(PATTERNS[:-1], tuple(b for bases in SCHEMES.values() for b in bases)), _inputs, probe, judge)
