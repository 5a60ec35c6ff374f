"""The vanishing-gradient bound ||δ_i|| ≤ ||δ_L||·σ^(L-i), and a numeric check of it.

Backpropagation gives δ_{k-1} = δ_k·W_k·D_{k-1} (row vectors, D_{k-1} = diag f'(z_{k-1})),
so δ_i = δ_L·Π_{k=i+1}^{L} W_k·D_{k-1}. Each factor is bounded by submultiplicativity of the
spectral norm, ||δ_k W_k D|| ≤ ||δ_k||·||W_k||₂·||D||₂ (not the triangle inequality, which
bounds a norm of a sum), with ||W_k||₂ = σ_max(W_k) ≤ σ and ||D||₂ = max|f'| ≤ 1 for ReLU.
By induction ||δ_i|| ≤ σ^(L-i)·||δ_L||: with σ < 1 the bound shrinks geometrically with depth;
σ ≥ 1 only caps growth.

Layer numbering: ``index_base=1`` numbers the layers 1..L (i in [1, L]); ``index_base=0``
numbers them 0..L as document 001, question 6(a) does (its product starts at f'_0(z_0), and it
asks for i = 0). The exponent is L - i either way.

Reference: Pascanu, Mikolov & Bengio 2013, "On the difficulty of training recurrent
neural networks"; Goodfellow et al., Deep Learning (2016), §8.2.5.
"""
from __future__ import annotations

import math

import numpy as np

from .result import CalcResult, check_float, check_int


def _random_chain_norms(sigma: float, num_layers: int, layer: int, width: int, seed: int, delta_norm: float):
    """||δ_i|| for two random chains: random weights (top singular value σ) with random ReLU masks,
    and the tight case W_k = σ·(orthogonal), every unit active (the bound is then an equality)."""
    rng = np.random.default_rng(seed)
    delta = rng.normal(size=width)
    delta *= delta_norm / np.linalg.norm(delta)
    loose, tight = delta.copy(), delta.copy()
    for _ in range(num_layers - layer):
        w = rng.normal(size=(width, width))
        w *= sigma / np.linalg.norm(w, 2)                     # σ_max(W) = σ exactly
        mask = (rng.random(width) < 0.5).astype(np.float64)   # ReLU: f' is 0 or 1
        loose = (loose @ w) * mask
        q, _ = np.linalg.qr(rng.normal(size=(width, width)))
        tight = tight @ (sigma * q)
    return float(np.linalg.norm(loose)), float(np.linalg.norm(tight))


def vanishing_bound(sigma, num_layers, layer, delta_norm=1.0, index_base=1, width=None, seed=0) -> CalcResult:
    """The bound on ||δ_layer|| given ||δ_L|| = ``delta_norm``.

    Args:
        sigma: σ >= 0, the bound on every σ_max(W_k) (times max|f'|).
        num_layers: L >= 1 (the index of the last layer).
        layer: i in [index_base, L].
        delta_norm: ||δ_L|| >= 0.
        index_base: 1 (layers 1..L) or 0 (layers 0..L, the numbering of document 001 Q6).
        width: if given, also propagate a random δ_L through random chains of this width
            (ReLU masks, σ_max(W_k) = σ) and an orthogonal tight chain, and report their norms.
        seed: seed of that numeric check.

    Returns values ``bound``, ``factor`` = σ^(L-i), ``exponent`` = L-i, ``per_layer`` (bound for
    j = L down to index_base), ``layers_to_1e-6`` (layers back until the factor falls below 1e-6;
    None if σ >= 1 or σ = 0), and with ``width``: ``random_norm``, ``tight_norm``, ``bound_holds``.
    """
    s = check_float("sigma", sigma, minimum=0.0)
    base = check_int("index_base", index_base, minimum=0)
    if base not in (0, 1):
        raise ValueError(f"index_base must be 0 (layers 0..L) or 1 (layers 1..L), got {base}")
    n = check_int("num_layers", num_layers)
    i = check_int("layer", layer, minimum=0)
    if not base <= i <= n:
        hint = "; pass --index-base 0 to number the layers 0..L" if i == 0 else ""
        raise ValueError(f"layer must be between {base} and num_layers={n}, got {i}{hint}")
    d = check_float("delta_norm", delta_norm, minimum=0.0)
    e = n - i
    try:
        factor = s ** e  # the largest power taken below (σ >= 1) or at most 1 (σ < 1)
    except OverflowError:
        raise ValueError(f"sigma^(L-i) = {s:g}^{e} overflows a float (largest about 1.8e308); use a smaller sigma "
                         "or fewer layers") from None
    bound = d * factor
    steps = [
        f"layers numbered {base}..L; δ_i = δ_L·Π_(k=i+1..L) W_k·diag f'(z_(k-1))",
        "each factor: ||δ_k W_k D|| ≤ ||δ_k||·σ_max(W_k)·max|f'| (submultiplicativity of the spectral norm)",
        f"||δ_i|| ≤ ||δ_L||·σ^(L-i) with σ = {s:g}, L = {n}, i = {i}",
        f"L - i = {n} - {i} = {e};  σ^{e} = {s:g}^{e} = {factor:.6g}",
        f"bound = {d:g}·{factor:.6g} = {bound:.6g}",
    ]
    reach = None
    if 0.0 < s < 1.0:
        reach = math.ceil(math.log(1e-6) / math.log(s) - 1e-12)
        steps.append(f"σ < 1: the factor falls below 1e-6 after ceil(log(1e-6)/log σ) = {reach} layers")
    elif s >= 1.0:
        steps.append("σ ≥ 1: the bound does not shrink with depth (no vanishing guaranteed; it only caps growth)")
    values = {"bound": bound, "factor": factor, "exponent": e,
              "per_layer": [{"layer": j, "bound": d * s ** (n - j)} for j in range(n, base - 1, -1)],
              "layers_to_1e-6": reach}
    if width is not None:
        wdt = check_int("width", width)
        seed = check_int("seed", seed, minimum=0)
        loose, tight = _random_chain_norms(s, n, i, wdt, seed, d)
        holds = loose <= bound * (1 + 1e-9) and tight <= bound * (1 + 1e-9)
        values.update({"random_norm": loose, "tight_norm": tight, "bound_holds": holds})
        steps.append(f"check (width {wdt}, seed {seed}): random W_k with σ_max = σ and random ReLU masks give "
                     f"||δ_i|| = {loose:.6g}; W_k = σ·orthogonal, all units active give {tight:.6g} "
                     f"(= the bound up to rounding); bound {'holds' if holds else 'VIOLATED'}")
    return CalcResult(name="vanishing-bound",
                      inputs={"sigma": s, "num_layers": n, "layer": i, "delta_norm": d, "index_base": base,
                              "width": width, "seed": seed},
                      values=values, steps=steps)
