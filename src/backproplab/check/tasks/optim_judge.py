"""Judging the optimizer tasks: the reference trajectory from ``backproplab.optim``, and the
trajectories typical mistakes give (tested as hypotheses for the hints).

The mistakes are simulated by :func:`simulate`, the update formulas with one thing changed;
with no change, it reproduces the library's optimizers (tested in tests/check).
"""
from __future__ import annotations

import numpy as np

from ..judging import Check, compare

STEPS = 5
HYPER = {
    "sgd": {"lr": 0.1},
    "momentum": {"lr": 0.1, "beta": 0.9},
    "rmsprop": {"lr": 0.01, "beta": 0.9, "eps": 1e-8},
    "adam": {"lr": 0.01, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8},
}


def _params_and_grads(arrays):
    p0 = [arrays["p0"], arrays["p1"]]
    grads = [[arrays[f"g{t}_{i}"] for i in range(2)] for t in range(STEPS)]
    return p0, grads


def reference(kind: str, arrays) -> np.ndarray:
    """(STEPS, n) parameters after each step, from backproplab's own optimizer."""
    from ...nn.module import Parameter
    from ...optim import RMSprop, SGD, Adam, Momentum

    h = HYPER[kind]
    p0, grads = _params_and_grads(arrays)
    params = [Parameter(a.copy()) for a in p0]
    opt = {"sgd": lambda: SGD(params, lr=h["lr"]),
           "momentum": lambda: Momentum(params, lr=h["lr"], beta=h["beta"]),
           "rmsprop": lambda: RMSprop(params, lr=h["lr"], alpha=h["beta"], eps=h["eps"]),
           "adam": lambda: Adam(params, lr=h["lr"], betas=(h["beta1"], h["beta2"]), eps=h["eps"])}[kind]()
    out = []
    for g in grads:
        for p, gi in zip(params, g):
            p.grad = gi.copy()
        opt.step()
        out.append(np.concatenate([p.data.ravel() for p in params]))
    return np.array(out)


def simulate(kind: str, arrays, sign=1.0, momentum="ema", sqrt=True, swap_beta=False, t_offset=0,
             correct=(True, True), s_from_v=False) -> np.ndarray:
    """The update formulas with one change (defaults: the reference); returns (STEPS, n) parameters."""
    h = HYPER[kind]
    p0, grads = _params_and_grads(arrays)
    theta = [a.copy() for a in p0]
    v = [np.zeros_like(a) for a in p0]
    s = [np.zeros_like(a) for a in p0]
    out = []
    for t, g in enumerate(grads, start=1):
        for i, gi in enumerate(g):
            with np.errstate(invalid="ignore", divide="ignore"):  # a mistake may take √ of a negative
                step = _step(kind, h, gi, i, t, v, s, momentum, sqrt, swap_beta, t_offset, correct, s_from_v)
            theta[i] = theta[i] - sign * h["lr"] * step
        out.append(np.concatenate([a.ravel() for a in theta]))
    return np.array(out)


def _step(kind, h, gi, i, t, v, s, momentum, sqrt, swap_beta, t_offset, correct, s_from_v):
    """One parameter's step direction (before lr), updating its state v[i], s[i] in place."""
    if kind == "sgd":
        return gi
    if kind == "momentum":
        b = h["beta"]
        if momentum == "pytorch" and t == 1:
            v[i] = gi.copy()
        else:
            v[i] = b * v[i] + (gi if momentum == "heavy" else (1 - b) * gi)
        return v[i]
    if kind == "rmsprop":
        b = 1 - h["beta"] if swap_beta else h["beta"]
        s[i] = b * s[i] + (1 - b) * gi**2
        return gi / ((np.sqrt(s[i]) if sqrt else s[i]) + h["eps"])
    b1, b2, tt = h["beta1"], h["beta2"], t + t_offset
    v[i] = b1 * v[i] + (1 - b1) * gi
    s[i] = b2 * (v[i] if s_from_v else s[i]) + (1 - b2) * gi**2
    vh = v[i] / (1 - b1**tt) if correct[0] else v[i]
    sh = s[i] / (1 - b2**tt) if correct[1] else s[i]
    return vh / (np.sqrt(sh) + h["eps"])


def _hypotheses(kind: str, arrays) -> list[tuple[str, dict]]:
    sign = [("wrong sign: the update must step against the gradient, θ ← θ − lr·(…)", {"sign": -1.0})]
    return sign + {
        "sgd": [],
        "momentum": [
            ("V = βV + g (heavy-ball / PyTorch form) instead of the assignment's EMA V = βV + (1−β)g",
             {"momentum": "heavy"}),
            ("V starts at g on the first step (PyTorch's SGD); the assignment's V starts at 0 with V = βV + (1−β)g",
             {"momentum": "pytorch"}),
        ],
        "rmsprop": [
            ("divides by S instead of √S: θ ← θ − lr·g/√S", {"sqrt": False}),
            ("β and 1−β swapped: S = βS + (1−β)g²", {"swap_beta": True}),
        ],
        "adam": [
            ("bias correction off by one step: it used 1 − βᵗ⁺¹; t must be 1 at the first update (start t at 0 and "
             "increment it before the correction)", {"t_offset": 1}),
            ("bias correction missing: divide V by 1 − β₁ᵗ and S by 1 − β₂ᵗ", {"correct": (False, False)}),
            ("only S is bias-corrected: V̂ = V / (1 − β₁ᵗ) too", {"correct": (False, True)}),
            ("only V is bias-corrected: Ŝ = S / (1 − β₂ᵗ) too", {"correct": (True, False)}),
            ("S is computed from V (as a typo in the assignment's Algorithm 3 writes): S = β₂S + (1−β₂)g²",
             {"s_from_v": True}),
        ],
    }[kind]


def _errors(out) -> str:
    """Why no trajectory came back, per calling style tried."""
    styles = {"list": "params as lists", "dict": "params as dicts", "each": "once per parameter"}
    return "; ".join(f"{text}: {out.error(f'traj@{style}')}" for style, text in styles.items()
                     if out.error(f"traj@{style}")) or "no trajectory came back"


def judge(kind: str):
    def run(arrays, settings, out) -> list[Check]:
        p0 = np.concatenate([arrays["p0"].ravel(), arrays["p1"].ravel()])
        ref = reference(kind, arrays) - p0  # displacement θ_t − θ_0: what the optimizer did
        student = out.arr("traj")
        hyps = [(hint, simulate(kind, arrays, **change) - p0) for hint, change in _hypotheses(kind, arrays)]
        hyps.append(("the parameters did not change: update them in place or return the new values",
                     np.zeros_like(ref)))
        h = ", ".join(f"{k}={v:g}" for k, v in HYPER[kind].items())
        check, _ = compare(kind, f"{kind}: θ_t − θ_0 over {STEPS} steps", None if student is None else student - p0,
                           ref, 1e-6, hypotheses=hyps, note=f"{out.note('traj')}; hyperparameters {h}".lstrip("; "),
                           missing=out.error("traj") or _errors(out))
        if kind == "adam" and not check.hint and student is not None and not np.all(np.isfinite(student[0])):
            check.hint = ("division by zero at the first step: the bias correction used t = 0 (1 − β⁰ = 0); t must be "
                          "1 at the first update")
        return [check]
    return run
