"""How much gradient reaches the first block of a plain stack vs a residual stack of the same blocks.

Plain:    y_k = F_k(y_{k-1});          ∂y_B/∂y_1 = Π_k ∂F_k/∂y_{k-1}
Residual: y_k = F_k(y_{k-1}) + y_{k-1}; ∂y_B/∂y_1 = Π_k (I + ∂F_k/∂y_{k-1})

For two blocks and the weights w_1 of the first: plain ∂y_2/∂w_1 = F_2'·∂F_1/∂w_1, residual
∂y_2/∂w_1 = (I + F_2')·∂F_1/∂w_1. With sigmoid blocks, ||F'|| ≤ ||W||/4, so the plain product
shrinks geometrically with depth while the residual one keeps the identity term.

Each block F_k = sigmoid(Linear(width, width)); both stacks use the same weights (library layers,
float64), the same input and the same random upstream gradient; the norms of the first block's
weight gradient and of the input gradient are reported per depth.

Reference: He et al. 2016, "Identity mappings in deep residual networks", eq. (4)-(5).
"""
from __future__ import annotations

import numpy as np

from .result import CalcResult, check_int, check_list


def _stack(depth: int, width: int, residual: bool, seed: int):
    from .. import nn

    rng = np.random.default_rng(seed)
    blocks = []
    for _ in range(depth):
        body = nn.Sequential(nn.Linear(width, width, rng=rng, dtype=np.float64), nn.Sigmoid())
        blocks.append(nn.Residual(body) if residual else body)
    return nn.Sequential(*blocks), blocks


def _first_block_grads(depth: int, width: int, residual: bool, seed: int) -> tuple[float, float]:
    model, blocks = _stack(depth, width, residual, seed)
    rng = np.random.default_rng(seed + 1)
    x = rng.normal(size=(4, width))
    y = model.forward(x)
    model.zero_grad()
    dx = model.backward(rng.normal(size=y.shape))
    first = blocks[0].body[0] if residual else blocks[0][0]
    return float(np.linalg.norm(first.weight.grad)), float(np.linalg.norm(dx))


def residual_gradient(depths=(2, 10, 30), width=16, seed=0) -> CalcResult:
    """‖∂L/∂W_1‖ and ‖∂L/∂x‖ for plain and residual stacks of sigmoid blocks at each depth.

    Returns values ``rows`` [{depth, plain_w1, residual_w1, plain_dx, residual_dx, ratio_w1}].
    """
    ds = check_list("depths", depths)
    w = check_int("width", width)
    s = check_int("seed", seed, minimum=0)
    steps = [f"blocks F_k = sigmoid(Linear({w}, {w})), PyTorch-default init, batch of 4, seed {s}; same weights, "
             "input and upstream gradient for both stacks",
             "plain ∂y_B/∂y_1 = Π F_k'; residual Π (I + F_k'): the identity term passes the gradient through"]
    rows = []
    for d in ds:
        pw, pdx = _first_block_grads(d, w, False, s)
        rw, rdx = _first_block_grads(d, w, True, s)
        rows.append({"depth": d, "plain_w1": pw, "residual_w1": rw, "plain_dx": pdx, "residual_dx": rdx,
                     "ratio_w1": rw / pw if pw > 0 else float("inf")})
        steps.append(f"{d} blocks: ||∂L/∂W_1|| plain {pw:.3g} vs residual {rw:.3g} ({rows[-1]['ratio_w1']:.3g}x); "
                     f"||∂L/∂x|| plain {pdx:.3g} vs residual {rdx:.3g}")
    return CalcResult(name="residual-gradient", inputs={"depths": ds, "width": w, "seed": s},
                      values={"rows": rows}, steps=steps)
