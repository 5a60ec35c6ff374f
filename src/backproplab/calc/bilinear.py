"""Bilinear interpolation at a fractional point, as deformable convolution samples x(p0 + p_n + Δp_n).

x(p) = Σ_q G(q, p)·x(q) over the integer grid points q, with
G(q, p) = g(q_y, p_y)·g(q_x, p_x) and g(a, b) = max(0, 1 - |a - b|): a product of two linear
"hat" weights, one per axis (hence *bi-linear*). Only the 4 grid points around p have
G > 0, and their weights sum to 1. (Nothing binomial is involved.)

The value is checked against ``scipy.ndimage.map_coordinates(order=1)`` on a feature map drawn
from ``seed``.

Reference: Dai et al. 2017, "Deformable convolutional networks", eq. (3)-(4).
"""
from __future__ import annotations

import math

import numpy as np

from .result import CalcResult, check_float, check_int


def hat(a: float, b: float) -> float:
    """g(a, b) = max(0, 1 - |a - b|)."""
    return max(0.0, 1.0 - abs(a - b))


def bilinear(py, px, size=5, seed=0) -> CalcResult:
    """The 4 weights G(q, p) at p = (py, px) on a ``size`` x ``size`` map, and the interpolated value.

    Returns values ``neighbours`` [{q: [qy, qx], weight}], ``weight_sum``, ``value``, ``scipy_value``, ``abs_diff``.
    """
    n = check_int("size", size, minimum=2)
    y, x = check_float("py", py), check_float("px", px)
    if not (0 <= y <= n - 1 and 0 <= x <= n - 1):
        raise ValueError(f"point ({y:g}, {x:g}) lies outside the {n}x{n} map; use coordinates in [0, {n - 1}]")
    s = check_int("seed", seed, minimum=0)
    fmap = np.random.default_rng(s).normal(size=(n, n))
    y0, x0 = min(math.floor(y), n - 2), min(math.floor(x), n - 2)
    steps = [f"p = ({y:g}, {x:g}) on a {n}x{n} map (seed {s}); G(q, p) = g(q_y, p_y)·g(q_x, p_x), "
             f"g(a, b) = max(0, 1 - |a - b|)"]
    neighbours, value = [], 0.0
    for qy in (y0, y0 + 1):
        for qx in (x0, x0 + 1):
            gy, gx = hat(qy, y), hat(qx, x)
            w = gy * gx
            value += w * fmap[qy, qx]
            neighbours.append({"q": [qy, qx], "weight": w, "x_q": float(fmap[qy, qx])})
            steps.append(f"q = ({qy}, {qx}): G = {gy:.4g}·{gx:.4g} = {w:.4g}, x(q) = {fmap[qy, qx]:.4g}")
    total = sum(nb["weight"] for nb in neighbours)
    from scipy.ndimage import map_coordinates

    ref = float(map_coordinates(fmap, [[y], [x]], order=1)[0])
    steps.append(f"Σ G = {total:.6g}; x(p) = Σ G·x(q) = {value:.6g}; scipy map_coordinates(order=1) = {ref:.6g}")
    return CalcResult(name="bilinear", inputs={"py": y, "px": x, "size": n, "seed": s},
                      values={"neighbours": neighbours, "weight_sum": total, "value": value,
                              "scipy_value": ref, "abs_diff": abs(value - ref)},
                      steps=steps)
