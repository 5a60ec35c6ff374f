"""The vanishing-gradient bound ||δ_i|| ≤ ||δ_L||·σ^(L-i).

Backpropagation gives δ_i = diag(f'(z_i))·W_{i+1}ᵀ·δ_{i+1}; if every factor has
norm at most σ (e.g. σ = max|f'|·max||W|| = ||W||/4 for the sigmoid), then by
induction ||δ_i|| ≤ σ^(L-i)·||δ_L||. With σ < 1 the bound shrinks geometrically
with depth (vanishing gradients); σ > 1 only bounds from above, it does not force
explosion.

Reference: Pascanu, Mikolov & Bengio 2013, "On the difficulty of training recurrent
neural networks"; Goodfellow et al., Deep Learning (2016), §8.2.5.
"""
from __future__ import annotations

import math

from .result import CalcResult, check_float, check_int


def vanishing_bound(sigma, num_layers, layer, delta_norm=1.0) -> CalcResult:
    """The bound on ||δ_layer|| given ||δ_L|| = ``delta_norm``.

    Args:
        sigma: σ >= 0, the bound on each layer's backward factor.
        num_layers: L >= 1. layer: i in [1, L].
        delta_norm: ||δ_L|| >= 0.

    Returns values ``bound``, ``factor`` = σ^(L-i), ``exponent`` = L-i, ``per_layer`` (bound for j = L..1),
    ``layers_to_1e-6`` (how many layers back until the factor falls below 1e-6; None if σ >= 1).
    """
    s = check_float("sigma", sigma, minimum=0.0)
    n = check_int("num_layers", num_layers)
    i = check_int("layer", layer)
    if i > n:
        raise ValueError(f"layer must be between 1 and num_layers={n}, got {i}")
    d = check_float("delta_norm", delta_norm, minimum=0.0)
    e = n - i
    factor = s ** e
    bound = d * factor
    steps = [
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
    per_layer = [{"layer": j, "bound": d * s ** (n - j)} for j in range(n, 0, -1)]
    return CalcResult(name="vanishing-bound",
                      inputs={"sigma": s, "num_layers": n, "layer": i, "delta_norm": d},
                      values={"bound": bound, "factor": factor, "exponent": e, "per_layer": per_layer,
                              "layers_to_1e-6": reach},
                      steps=steps)
