"""Gradients of the small CNN of document 001, question 3, derived by hand and checked three ways.

The network, read off the solution's own layer equations (indices 1-based, layout H, W, C):

    X        (5, 5, 8)   input
    P1_{i,j,t} = Σ_{k=1}^{8} W1_{1,1,k,t} X_{i,j,k}                      1x1 conv, 4 filters -> (5, 5, 4)
    P2_{m,n}   = Σ_{k=1}^{4} Σ_{w=1}^{2} Σ_{h=1}^{2} W2_{w,h,k} P1_{m+w-1,n+h-1,k}   one 2x2x4 filter -> (4, 4)
    P3_{p,q}   = 1/4 Σ_{m=2p-1}^{2p} Σ_{n=2q-1}^{2q} P2_{m,n}            2x2 average pool, stride 2 -> (2, 2)
    h_{2p+q-2} = P3_{p,q}                                                 flatten (row-major) -> (4,)
    ŷ = σ(z),  z = Σ_{k=1}^{4} Wfc_k h_k                                   no biases

(P2 is 4x4 because the pool reads rows 1..4 of it; P1 is 5x5 because P2_{m,n} reads rows m and m+1.)
The loss is L = ½(ŷ - y)², so dL/dŷ = ŷ - y is not 1 and a formula that drops it fails the check.

Own derivation (chain rule, g = dL/dŷ · ŷ(1 - ŷ) = dL/dz):

    dL/dWfc_k      = g h_k
    dL/dP3_{p,q}   = g Wfc_{2p+q-2}
    dL/dP2_{m,n}   = 1/4 dL/dP3_{⌈m/2⌉,⌈n/2⌉}
    dL/dW2_{w,h,k} = Σ_{m=1}^{4} Σ_{n=1}^{4} dL/dP2_{m,n} P1_{m+w-1,n+h-1,k}
    dL/dP1_{i,j,k} = Σ_{m=max(1,i-1)}^{min(4,i)} Σ_{n=max(1,j-1)}^{min(4,j)} dL/dP2_{m,n} W2_{i-m+1,j-n+1,k}
    dL/dW1_{1,1,k,t} = Σ_{i=1}^{5} Σ_{j=1}^{5} dL/dP1_{i,j,t} X_{i,j,k}

Each is computed with explicit loops over these index ranges and compared with the library's
backward (the same network built from backproplab.nn layers, float64) and with float64 central
differences of the loss. The formulas the document's solution prints are evaluated by
:mod:`backproplab.calc.cnn_gradients_solution`.

Reference: CS231n, "Convolutional networks" (backpropagation through conv and pooling layers).
"""
from __future__ import annotations

import math

import numpy as np

from ..analysis.gradcheck import numerical_grad
from .result import CalcResult, check_float, check_int

#: a formula "passes" when it agrees with the library's backward to this relative error
PASS_TOL = 1e-6


def rel_norm_error(a, b) -> float:
    """‖a - b‖ / max(‖a‖, ‖b‖) (Frobenius norms; 0 when both are zero)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"shapes differ: {a.shape} vs {b.shape}")
    scale = max(np.linalg.norm(a), np.linalg.norm(b))
    return 0.0 if scale == 0 else float(np.linalg.norm(a - b) / scale)


def build_network(seed: int):
    """The question's network from library layers (float64) and its input, drawn from ``seed``.

    Returns (layers, x): layers = [conv1, conv2, pool, flatten, fc, sigmoid]; x (1, 8, 5, 5).
    """
    from .. import nn

    rng = np.random.default_rng(seed)
    f64 = np.float64
    layers = [nn.Conv2d(8, 4, 1, bias=False, rng=rng, dtype=f64),
              nn.Conv2d(4, 1, 2, bias=False, rng=rng, dtype=f64),
              nn.AvgPool2d(2, 2), nn.Flatten(),
              nn.Linear(4, 1, bias=False, rng=rng, dtype=f64), nn.Sigmoid()]
    # N(0, 1/fan_in) conv weights keep P1 and P2 of order 1, and N(0, 1) fc weights keep z of order 1,
    # so σ does not saturate and every gradient entry is of a size central differences resolve
    for layer, fan_in in ((layers[0], 8), (layers[1], 16), (layers[4], 1)):
        layer.weight.data[...] = rng.normal(0.0, 1.0 / np.sqrt(fan_in), layer.weight.data.shape)
    x = rng.normal(0.0, 1.0, (1, 8, 5, 5))
    return layers, x


def _forward(layers, x):
    outs = [x]
    for layer in layers:
        outs.append(np.ascontiguousarray(layer.forward(outs[-1])))
    return outs  # x, P1, P2, P3, h, z, ŷ


def _loss(layers, x, target) -> float:
    y_hat = _forward(layers, x)[-1]
    return float(0.5 * (y_hat[0, 0] - target) ** 2)


def library_gradients(layers, x, target) -> dict[str, np.ndarray]:
    """Backward through the library layers; every array returned in the document's layout (0-based)."""
    for layer in layers:
        layer.zero_grad()
    outs = _forward(layers, x)
    dy = np.array([[outs[-1][0, 0] - target]])  # dL/dŷ of L = ½(ŷ - y)²
    grads_in = []
    for layer in reversed(layers):
        dy = layer.backward(dy)
        grads_in.append(dy)
    # grads_in[k] = dL/d(input of the k-th layer from the end): 2 flatten's = dL/dP3, 3 pool's = dL/dP2,
    # 4 conv2's = dL/dP1
    d_p3, d_p2, d_p1 = grads_in[2], grads_in[3], grads_in[4]
    return {"Wfc": layers[4].weight.grad[0].copy(),
            "P3": d_p3[0, 0].copy(),
            "P2": d_p2[0, 0].copy(),
            "W2": layers[1].weight.grad[0].transpose(1, 2, 0).copy(),   # (w, h, k)
            "P1": d_p1[0].transpose(1, 2, 0).copy(),                     # (i, j, t)
            "W1": layers[0].weight.grad[:, :, 0, 0].T.copy()}             # (k, t)


def numeric_gradients(layers, x, target) -> dict[str, np.ndarray]:
    """Central differences of L for the three weights (document layout)."""
    f = lambda: _loss(layers, x, target)  # noqa: E731
    return {"Wfc": numerical_grad(f, layers[4].weight.data)[0],
            "W2": numerical_grad(f, layers[1].weight.data)[0].transpose(1, 2, 0),
            "W1": numerical_grad(f, layers[0].weight.data)[:, :, 0, 0].T}


def network_values(layers, x, target) -> dict:
    """Every quantity of the forward pass in the document's layout (arrays 0-based)."""
    outs = _forward(layers, x)
    y_hat = float(outs[-1][0, 0])
    return {"X": x[0].transpose(1, 2, 0), "P1": outs[1][0].transpose(1, 2, 0), "P2": outs[2][0, 0],
            "P3": outs[3][0, 0], "h": outs[4][0], "y_hat": y_hat, "dL_dyhat": y_hat - target,
            "W1": layers[0].weight.data[:, :, 0, 0].T, "W2": layers[1].weight.data[0].transpose(1, 2, 0),
            "Wfc": layers[4].weight.data[0]}


def own_formulas(v: dict) -> dict[str, np.ndarray]:
    """The hand-derived gradients, by explicit loops over the 1-based index ranges of the derivation."""
    X, P1, W2, Wfc, h = v["X"], v["P1"], v["W2"], v["Wfc"], v["h"]
    g = v["dL_dyhat"] * v["y_hat"] * (1.0 - v["y_hat"])
    d_wfc = np.array([g * h[k - 1] for k in range(1, 5)])
    d_p3 = np.zeros((2, 2))
    for p in range(1, 3):
        for q in range(1, 3):
            d_p3[p - 1, q - 1] = g * Wfc[2 * p + q - 2 - 1]
    d_p2 = np.zeros((4, 4))
    for m in range(1, 5):
        for n in range(1, 5):
            d_p2[m - 1, n - 1] = 0.25 * d_p3[math.ceil(m / 2) - 1, math.ceil(n / 2) - 1]
    d_w2 = np.zeros((2, 2, 4))
    for w in range(1, 3):
        for hh in range(1, 3):
            for k in range(1, 5):
                d_w2[w - 1, hh - 1, k - 1] = sum(d_p2[m - 1, n - 1] * P1[m + w - 2, n + hh - 2, k - 1]
                                                 for m in range(1, 5) for n in range(1, 5))
    d_p1 = np.zeros((5, 5, 4))
    for i in range(1, 6):
        for j in range(1, 6):
            for k in range(1, 5):
                d_p1[i - 1, j - 1, k - 1] = sum(d_p2[m - 1, n - 1] * W2[i - m, j - n, k - 1]
                                                for m in range(max(1, i - 1), min(4, i) + 1)
                                                for n in range(max(1, j - 1), min(4, j) + 1))
    d_w1 = np.zeros((8, 4))
    for k in range(1, 9):
        for t in range(1, 5):
            d_w1[k - 1, t - 1] = sum(d_p1[i - 1, j - 1, t - 1] * X[i - 1, j - 1, k - 1]
                                     for i in range(1, 6) for j in range(1, 6))
    return {"Wfc": d_wfc, "P3": d_p3, "P2": d_p2, "W2": d_w2, "P1": d_p1, "W1": d_w1}


#: (key, what, formula) of the own derivation, in backward order
OWN = [
    ("Wfc", "dL/dWfc_k (fc weights)", "g·h_k, g = dL/dŷ·ŷ(1-ŷ)"),
    ("P3", "dL/dP3_{p,q} (pool output), Q3(a)i", "g·Wfc_{2p+q-2}"),
    ("W2", "dL/dW2_{w,h,k} (2nd conv), Q3(c)", "Σ_{m,n=1..4} ¼·dL/dP3_{⌈m/2⌉,⌈n/2⌉}·P1_{m+w-1,n+h-1,k}"),
    ("P1", "dL/dP1_{i,j,k} (1st conv output), Q3(a)ii",
     "Σ_{m=max(1,i-1)..min(4,i)} Σ_{n=max(1,j-1)..min(4,j)} ¼·dL/dP3_{⌈m/2⌉,⌈n/2⌉}·W2_{i-m+1,j-n+1,k}"),
    ("W1", "dL/dW1_{1,1,k,t} (1st conv), Q3(b)", "Σ_{i,j=1..5} dL/dP1_{i,j,t}·X_{i,j,k}"),
]


def cnn_gradients(seed=0, target=1.0) -> CalcResult:
    """Own gradient formulas of 001 Q3 vs the library's backward and central differences,
    and a pass/fail for each formula the document's solution prints.

    Returns values ``y_hat``, ``dL_dyhat``, ``own`` ({key: {what, formula, rel_err_library,
    rel_err_numeric (weights only), pass}}), ``solution`` (see cnn_gradients_solution.check_solution),
    ``all_own_pass``, ``solution_failures`` (ids of the printed formulas that fail).
    """
    from .cnn_gradients_solution import check_solution

    s = check_int("seed", seed, minimum=0)
    y = check_float("target", target)
    layers, x = build_network(s)
    v = network_values(layers, x, y)
    lib = library_gradients(layers, x, y)
    num = numeric_gradients(layers, x, y)
    own = own_formulas(v)
    steps = [f"network of 001 Q3 (seed {s}): X 5x5x8 -> 1x1 conv (4 filters) P1 5x5x4 -> 2x2 conv (1 filter) "
             f"P2 4x4 -> 2x2 avg-pool/2 P3 2x2 -> flatten h (4) -> z = Wfc·h -> ŷ = σ(z); L = ½(ŷ - y)², y = {y:g}",
             f"ŷ = {v['y_hat']:.6g}, dL/dŷ = ŷ - y = {v['dL_dyhat']:.6g}, "
             f"g = dL/dŷ·ŷ(1-ŷ) = {v['dL_dyhat'] * v['y_hat'] * (1 - v['y_hat']):.6g}"]
    own_out = {}
    for key, what, formula in OWN:
        e_lib = rel_norm_error(own[key], lib[key])
        e_num = rel_norm_error(own[key], num[key]) if key in num else None
        ok = e_lib < PASS_TOL and (e_num is None or e_num < PASS_TOL)
        own_out[key] = {"what": what, "formula": formula, "rel_err_library": e_lib, "rel_err_numeric": e_num,
                        "pass": ok}
        num_txt = f", vs central differences {e_num:.1e}" if e_num is not None else ""
        steps.append(f"{what} = {formula}: rel. error vs library backward {e_lib:.1e}{num_txt} -> "
                     f"{'pass' if ok else 'FAIL'}")
    solution = check_solution(v, lib)
    steps.append("formulas printed in the solution (indices read as printed; an index that falls outside "
                 "an array drops the term):")
    for item in solution:
        steps.append(f"  {item['id']} {item['printed']}: rel. error {item['rel_err']:.2g} -> "
                     f"{'pass' if item['pass'] else 'FAIL'}")
        for fault in item["faults"]:
            steps.append(f"     with every other fix but not '{fault['fault']}': rel. error {fault['rel_err']:.2g} "
                         f"-> {'a real error' if fault['real_error'] else 'harmless'}")
        if item["faults"]:
            steps.append(f"     with all fixes: rel. error {item['rel_err_fixed']:.2g}")
    failures = [item["id"] for item in solution if not item["pass"]]
    return CalcResult(name="cnn-gradients", inputs={"seed": s, "target": y},
                      values={"y_hat": v["y_hat"], "dL_dyhat": v["dL_dyhat"], "own": own_out,
                              "solution": solution, "all_own_pass": all(o["pass"] for o in own_out.values()),
                              "solution_failures": failures},
                      steps=steps)
