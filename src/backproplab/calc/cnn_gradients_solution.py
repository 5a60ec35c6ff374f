"""The gradient formulas that document 001's solution to question 3 prints, evaluated on the same network.

Every formula is read literally with the document's 1-based indices (its forward pass uses
w, h = 1..2 and k = 1..4); a term whose index falls outside its array (index 0, or row 5 of the
4x4 P2) is dropped, the most lenient reading. Each formula is evaluated on the library's own
upstream gradients where it is one chain-rule step (so only that step is tested), and compared
with the library's backward. For a formula with several suspected faults, each fault is tested
on its own: the formula with every other fault repaired but this one; if that still fails, the
fault is a real error by itself. With all faults repaired the formula must pass.

Faults (the names used in the output):

* ``dL/dŷ dropped``: the final expressions keep ŷ(1 - ŷ) but not the factor dL/dŷ.
* ``fc index ⌈m/2⌉+⌈n/2⌉-2``: P2_{m,n} is pooled into P3_{⌈m/2⌉,⌈n/2⌉} = h_{2⌈m/2⌉+⌈n/2⌉-2}; the
  printed index lacks the factor 2 (it is 0 for m = n = 1 and maps two pool cells to one weight).
* ``conv direction m ∈ {i, i+1}, W2_{m-i}``: P1_{i,j} feeds P2_{m,n} for m ∈ {i-1, i} through
  W2_{i-m+1}; the printed ranges point the other way.
* ``no Σ over (i, j)``: a shared 1x1 weight collects a term from every position.
* ``P1 channel k``: P1's channel is the filter t, not the input channel k of X.
* ``P1_{m+i,n+j} (off by one)``: P2_{m,n} reads P1_{m+i-1,n+j-1} through W2_{i,j}.
"""
from __future__ import annotations

import math

import numpy as np

from .cnn_gradients import PASS_TOL, rel_norm_error as rel_error


def _get(a: np.ndarray, *idx1: int) -> float | None:
    """a at the 1-based index ``idx1``; None when it lies outside the array."""
    if any(i < 1 or i > n for i, n in zip(idx1, a.shape)):
        return None
    return float(a[tuple(i - 1 for i in idx1)])


def _fc_index(m: int, n: int, fixed: bool) -> int:
    return (2 if fixed else 1) * math.ceil(m / 2) + math.ceil(n / 2) - 2


def _conv_terms(i: int, j: int, fixed: bool):
    """(m, n, w, h) pairs linking P1_{i,j} to P2_{m,n} through W2_{w,h}."""
    if fixed:
        return [(m, n, i - m + 1, j - n + 1) for m in (i - 1, i) for n in (j - 1, j)]
    return [(m, n, m - i, n - j) for m in (i, i + 1) for n in (j, j + 1)]


def _sum(terms) -> float:
    return float(sum(t for t in terms if t is not None))


def _prod(*factors):
    return None if any(f is None for f in factors) else math.prod(factors)


def dp1_final(v: dict, factor: bool, fc: bool, direction: bool) -> np.ndarray:
    """Printed Q3(a)ii result ¼·ŷ(1-ŷ)·Σ_{m=i}^{i+1} Σ_{n=j}^{j+1} Wfc_{⌈m/2⌉+⌈n/2⌉-2} W2_{m-i,n-j,k},
    with the chosen faults repaired."""
    scale = 0.25 * v["y_hat"] * (1 - v["y_hat"]) * (v["dL_dyhat"] if factor else 1.0)
    out = np.zeros((5, 5, 4))
    for i, j, k in np.ndindex(5, 5, 4):
        i, j, k = i + 1, j + 1, k + 1
        terms = [_prod(_get(v["Wfc"], _fc_index(m, n, fc)) if _get(v["P2"], m, n) is not None else None,
                       _get(v["W2"], w, h, k)) for m, n, w, h in _conv_terms(i, j, direction)]
        out[i - 1, j - 1, k - 1] = scale * _sum(terms)
    return out


def dp1_step(v: dict, d_p2: np.ndarray, direction: bool) -> np.ndarray:
    """Printed chain step dL/dP1_{i,j,k} = Σ_{m,n} dL/dP2_{m,n} · W2_{m-i,n-j,k}·I(m ∈ {i,i+1}, n ∈ {j,j+1})."""
    out = np.zeros((5, 5, 4))
    for i, j, k in np.ndindex(5, 5, 4):
        terms = [_prod(_get(d_p2, m, n), _get(v["W2"], w, h, k + 1))
                 for m, n, w, h in _conv_terms(i + 1, j + 1, direction)]
        out[i, j, k] = _sum(terms)
    return out


def dp2_step(d_p3: np.ndarray) -> np.ndarray:
    """Printed pool step dL/dP2_{m,n} = Σ_{p,q} dL/dP3_{p,q} · ¼·I((m = 2p ∨ m = 2p-1) ∧ (n = 2q ∨ n = 2q-1))."""
    out = np.zeros((4, 4))
    for m, n in np.ndindex(4, 4):
        out[m, n] = sum(0.25 * d_p3[p - 1, q - 1] for p in (1, 2) for q in (1, 2)
                        if m + 1 in (2 * p, 2 * p - 1) and n + 1 in (2 * q, 2 * q - 1))
    return out


def dp3_printed(v: dict) -> np.ndarray:
    """Printed Q3(a)i result dL/dŷ·ŷ(1-ŷ)·Wfc_{2i+j-2}."""
    g = v["dL_dyhat"] * v["y_hat"] * (1 - v["y_hat"])
    return np.array([[g * v["Wfc"][2 * i + j - 3] for j in (1, 2)] for i in (1, 2)])


def dw1_step(v: dict, d_p1: np.ndarray, summed: bool, channel: bool) -> np.ndarray:
    """Printed Q3(b) dL/dW1_{1,1,k} = dL/dP1_{i,j,k}·X_{i,j,k}, as a (k, t) array.

    Without the sum the right side keeps free indices i, j: the best single (i, j) is taken."""
    def value(i, j, k, t):
        return _prod(_get(d_p1, i, j, t if channel else k), _get(v["X"], i, j, k)) or 0.0

    if summed:
        return np.array([[[sum(value(i, j, k, t) for i in range(1, 6) for j in range(1, 6)) for t in range(1, 5)]
                          for k in range(1, 9)]])  # (1, 8, 4): one candidate
    return np.stack([np.array([[value(i, j, k, t) for t in range(1, 5)] for k in range(1, 9)])
                     for i in range(1, 6) for j in range(1, 6)])


def dw2_step(v: dict, d_p2: np.ndarray, shift: bool) -> np.ndarray:
    """Printed Q3(c) middle step: ∂P2_{m,n}/∂W2_{i,j,k} = P1_{m+i,n+j,k} (0 outside), summed with dL/dP2."""
    off = 1 if shift else 0
    out = np.zeros((2, 2, 4))
    for i, j, k in np.ndindex(2, 2, 4):
        out[i, j, k] = _sum(_prod(d_p2[m - 1, n - 1], _get(v["P1"], m + i + 1 - off, n + j + 1 - off, k + 1))
                            for m in range(1, 5) for n in range(1, 5))
    return out


def dw2_final(v: dict, factor: bool, fc: bool) -> np.ndarray:
    """Printed Q3(c) result ¼·ŷ(1-ŷ)·Σ_{m,n=1}^{4} Wfc_{⌈m/2⌉+⌈n/2⌉-2} P1_{m+i-1,n+j-1,k}."""
    scale = 0.25 * v["y_hat"] * (1 - v["y_hat"]) * (v["dL_dyhat"] if factor else 1.0)
    out = np.zeros((2, 2, 4))
    for i, j, k in np.ndindex(2, 2, 4):
        out[i, j, k] = scale * _sum(_prod(_get(v["Wfc"], _fc_index(m, n, fc)), v["P1"][m + i - 1, n + j - 1, k])
                                    for m in range(1, 5) for n in range(1, 5))
    return out


def _best_rel_error(candidates: np.ndarray, truth: np.ndarray) -> float:
    """Smallest relative error of any candidate along axis 0 (a formula with free indices)."""
    return min(rel_error(c, truth) for c in candidates)


def _item(id_, printed, evaluate, truth, faults, best=False):
    """Evaluate ``evaluate(**fixes)`` as printed, with all fixes, and with all fixes but one."""
    err = (lambda fixes: _best_rel_error(evaluate(**fixes), truth)) if best else \
        (lambda fixes: rel_error(evaluate(**fixes), truth))
    names = [f[0] for f in faults]
    printed_err = err({k: False for k in names})
    out = {"id": id_, "printed": printed, "rel_err": printed_err, "pass": printed_err < PASS_TOL, "faults": []}
    if faults:
        out["rel_err_fixed"] = err({k: True for k in names})
        for key, label in faults:
            e = err({k: k != key for k in names})
            out["faults"].append({"fault": label, "rel_err": e, "real_error": e >= PASS_TOL})
    return out


def check_solution(v: dict, lib: dict) -> list[dict]:
    """Every printed formula of 001 Q3 against the library's gradients (see the module docstring)."""
    return [
        _item("Q3(a)i", "dL/dP3_{i,j} = dL/dŷ·ŷ(1-ŷ)·Wfc_{2i+j-2}", lambda: dp3_printed(v), lib["P3"], []),
        _item("Q3(a)ii pool step", "dL/dP2_{m,n} = Σ_{p,q} dL/dP3_{p,q}·¼·I(m∈{2p-1,2p}, n∈{2q-1,2q})",
              lambda: dp2_step(lib["P3"]), lib["P2"], []),
        _item("Q3(a)ii conv step", "∂P2_{m,n}/∂P1_{i,j,k} = W2_{m-i,n-j,k}·I(m∈{i,i+1}, n∈{j,j+1})",
              lambda direction: dp1_step(v, lib["P2"], direction), lib["P1"],
              [("direction", "conv direction m ∈ {i, i+1}, W2_{m-i}")]),
        _item("Q3(a)ii", "dL/dP1_{i,j,k} = ¼·ŷ(1-ŷ)·Σ_{m=i}^{i+1} Σ_{n=j}^{j+1} Wfc_{⌈m/2⌉+⌈n/2⌉-2}·W2_{m-i,n-j,k}",
              lambda factor, fc, direction: dp1_final(v, factor, fc, direction), lib["P1"],
              [("factor", "dL/dŷ dropped"), ("fc", "fc index ⌈m/2⌉+⌈n/2⌉-2"),
               ("direction", "conv direction m ∈ {i, i+1}, W2_{m-i}")]),
        _item("Q3(b)", "dL/dW1_{1,1,k} = dL/dP1_{i,j,k}·X_{i,j,k}",
              lambda summed, channel: dw1_step(v, lib["P1"], summed, channel), lib["W1"],
              [("summed", "no Σ over (i, j)"), ("channel", "P1 channel k")], best=True),
        _item("Q3(c) middle step", "∂P2_{m,n}/∂W2_{i,j,k} = P1_{m+i,n+j,k} (0 outside)",
              lambda shift: dw2_step(v, lib["P2"], shift), lib["W2"],
              [("shift", "P1_{m+i,n+j} (off by one)")]),
        _item("Q3(c)", "dL/dW2_{i,j,k} = ¼·ŷ(1-ŷ)·Σ_{m,n=1}^{4} Wfc_{⌈m/2⌉+⌈n/2⌉-2}·P1_{m+i-1,n+j-1,k}",
              lambda factor, fc: dw2_final(v, factor, fc), lib["W2"],
              [("factor", "dL/dŷ dropped"), ("fc", "fc index ⌈m/2⌉+⌈n/2⌉-2")]),
    ]
