"""A committee's expected squared error vs its members': E_COM = E_AV/N for uncorrelated errors, E_COM ≤ E_AV always.

N members predict y(x) = h(x) + e_n(x); the committee averages them, so its error is ē = (1/N)Σ e_n.
With E_AV = (1/N)Σ E[e_n²] (the members' average error) and E_COM = E[ē²]:

* Always E_COM ≤ E_AV: (Σ e_n/N)² ≤ Σ e_n²/N for every x (Cauchy-Schwarz, or Jensen for the
  convex square), then take expectations. So the bound holds sample by sample, not only on average.
* Zero-mean, uncorrelated errors (E[e_n e_m] = 0 for n ≠ m): E_COM = E_AV/N.
* Equal variances s² and equal correlation r: E_COM = s²·(r + (1 - r)/N), which runs from
  E_AV/N (r = 0) to E_AV (r = 1, identical errors). The covariance matrix s²((1-r)I + r·11ᵀ) is
  valid for -1/(N-1) ≤ r ≤ 1; negative r gives E_COM below E_AV/N (errors that cancel).

Each case is checked by Monte Carlo: errors drawn from N(0, s²((1-r)I + r·11ᵀ)) with an explicit
seed; the estimate is reported with its standard error.

Reference: Bishop, Pattern Recognition and Machine Learning (2006), §14.2 (committees, eq. 14.14);
Ciresan et al. 2012, "Multi-column deep neural networks for image classification" (committees of nets).
"""
from __future__ import annotations

import math

import numpy as np

from .result import CalcResult, check_float, check_int


def _draw_errors(members: int, r: float, std: float, samples: int, rng: np.random.Generator) -> np.ndarray:
    """(samples, members) zero-mean normal errors with variance std² and pairwise correlation r."""
    cov = std ** 2 * ((1 - r) * np.eye(members) + r * np.ones((members, members)))
    lam, q = np.linalg.eigh(cov)                      # a square root that also works when cov is singular
    root = q * np.sqrt(np.clip(lam, 0.0, None))       # (members, members), root @ root.T = cov
    return rng.normal(size=(samples, members)) @ root.T


def _case(members: int, r: float, std: float, samples: int, rng: np.random.Generator) -> dict:
    e = _draw_errors(members, r, std, samples, rng)
    sq_av = (e ** 2).mean(axis=1)                     # per sample: (1/N) Σ e_n²
    sq_com = e.mean(axis=1) ** 2                      # per sample: ē²
    e_av, e_com = float(sq_av.mean()), float(sq_com.mean())
    se_com = float(sq_com.std(ddof=1) / math.sqrt(samples))
    exact_av = std ** 2
    exact_com = std ** 2 * (r + (1 - r) / members)
    return {"correlation": r, "E_AV": e_av, "E_COM": e_com, "E_COM_se": se_com,
            "E_AV_exact": exact_av, "E_COM_exact": exact_com, "ratio_exact": exact_com / exact_av,
            "z": (e_com - exact_com) / se_com if se_com > 0 else 0.0,
            "bound_holds_every_sample": bool(np.all(sq_com <= sq_av * (1 + 1e-12) + 1e-300))}


def committee_error(members, correlation=(0.0,), seed=0, samples=100_000, std=1.0) -> CalcResult:
    """E_COM vs E_AV for a committee of ``members`` with equally correlated zero-mean errors.

    Args:
        members: N >= 1. correlation: r, or a list of them; r = 0 is always included.
        seed: seed of the Monte Carlo draw. samples: Monte Carlo samples per r. std: each member's error std s.

    Returns values ``cases`` [{correlation, E_AV, E_COM, E_COM_se, E_AV_exact, E_COM_exact, ratio_exact, z,
    bound_holds_every_sample}] (r = 0 first), ``uncorrelated_ratio`` = 1/N.
    """
    n = check_int("members", members)
    rs = [correlation] if isinstance(correlation, (int, float)) else list(correlation)
    rs = [check_float(f"correlation[{k}]", r) for k, r in enumerate(rs)]
    low = -1.0 / (n - 1) if n > 1 else -1.0
    for r in rs:
        if not low - 1e-12 <= r <= 1.0:
            raise ValueError(f"correlation {r:g} is impossible for {n} equally correlated members; "
                             f"use a value in [{low:.4g}, 1]")
    rs = [0.0] + [r for r in rs if r != 0.0]
    s = check_int("seed", seed, minimum=0)
    m = check_int("samples", samples, minimum=2)
    sd = check_float("std", std)
    if sd <= 0:
        raise ValueError(f"std must be positive, got {sd:g}")
    rng = np.random.default_rng(s)
    steps = [f"N = {n} members, errors zero-mean with variance s² = {sd ** 2:g}; E_AV = mean of E[e_n²], "
             f"E_COM = E[(mean of e_n)²]; Monte Carlo with {m:,} samples, seed {s}",
             "E_COM ≤ E_AV: (Σe_n/N)² ≤ Σe_n²/N for every sample (Cauchy-Schwarz), hence in expectation",
             "equal correlation r: E_COM = s²·(r + (1-r)/N); r = 0 gives E_AV/N"]
    cases = []
    for r in rs:
        c = _case(n, r, sd, m, rng)
        cases.append(c)
        steps.append(f"r = {r:g}: exact E_COM = {sd ** 2:g}·({r:g} + {1 - r:g}/{n}) = {c['E_COM_exact']:.6g} "
                     f"(= {c['ratio_exact']:.4g}·E_AV); Monte Carlo E_AV = {c['E_AV']:.6g}, "
                     f"E_COM = {c['E_COM']:.6g} ± {c['E_COM_se']:.2g} ({c['z']:+.2f} s.e. from exact); "
                     f"E_COM ≤ E_AV in every sample: {'yes' if c['bound_holds_every_sample'] else 'NO'}")
    return CalcResult(name="committee-error",
                      inputs={"members": n, "correlation": rs, "seed": s, "samples": m, "std": sd},
                      values={"cases": cases, "uncorrelated_ratio": 1.0 / n},
                      steps=steps)
