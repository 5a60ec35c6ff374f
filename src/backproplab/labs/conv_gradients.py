"""Lab: the gradients of a convolution, by hand, step by step, checked against the layer and autograd.

For Y = W ⋆ X (cross-correlation, stride 1, no padding; X (H, W), kernel (kh, kw),
Y (H-kh+1, W-kw+1)) and an upstream gradient dL/dY:

    Y[i,j]   = Σ_{u,v} W[u,v] X[i+u, j+v]
    dL/dW    = Σ_{i,j} dL/dY[i,j] · patch(i,j)        patch(i,j) = X[i:i+kh, j:j+kw]
    dL/dX    = full convolution of dL/dY with W       = (dL/dY zero-padded by kh-1, kw-1) ⋆ rot180(W)

and in 1-D, Z_i = Σ_j W_j X_{i+j}:  dL/dW_j = Σ_i dL/dZ_i X_{i+j},  dL/dX_k = Σ_i dL/dZ_i W_{k-i}.

Each result is compared with the library's Conv2d/Conv1d backward and, when PyTorch is
installed, with torch autograd (float64).

Reference: CS231n, "Convolutional networks"; Dumoulin & Visin 2016,
"A guide to convolution arithmetic for deep learning" (transposed convolution).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..analysis.gradcheck import rel_error
from .common import LabRun, markdown_table
from .heatmap import format_matrix, heatmap_grid, matrix_block, parse_matrix

NAME = "conv-gradients"
TITLE = "Convolution gradients by hand: dL/dW as a sum of patches, dL/dX as a full convolution"


@dataclass(frozen=True)
class Config:
    seed: int = 0                                    # unused (the matrices are given); common interface
    quick: bool = False                              # the lab is instant either way
    x: str = "1,2,1,0;2,1,0,1;1,0,2,1;0,1,2,1"       # input X, rows split by ';' (the assignment's 4x4)
    weight: str = "1,-1,0;0,1,-1;-1,0,1"             # kernel W (3x3)
    dy: str = "1,-1;-1,1"                            # upstream gradient dL/dY, shape of Y
    x1d: str = "1,2,-1,3,0,2"                        # 1-D input X
    weight1d: str = "1,-2,1"                         # 1-D kernel W
    dy1d: str = "1,0,-1,2"                           # 1-D upstream gradient dL/dZ (len X - len W + 1)
    torch_check: bool = True                         # also compare with torch autograd (skipped if absent)
    echo: bool = True                                # print every matrix to stdout

    def __post_init__(self):
        # bad matrices fail when the Config is built, so the CLI shows a one-line usage error
        _parse_all(self)


def _parse_all(config: "Config") -> tuple[np.ndarray, ...]:
    """The six matrices of ``config``, parsed and shape-checked."""
    x = np.atleast_2d(parse_matrix(config.x, "--x"))
    w = np.atleast_2d(parse_matrix(config.weight, "--weight"))
    dy = np.atleast_2d(parse_matrix(config.dy, "--dy"))
    validate_shapes(x, w, dy)
    x1 = np.atleast_1d(parse_matrix(config.x1d, "--x1d")).ravel()
    w1 = np.atleast_1d(parse_matrix(config.weight1d, "--weight1d")).ravel()
    dz1 = np.atleast_1d(parse_matrix(config.dy1d, "--dy1d")).ravel()
    validate_shapes(x1, w1, dz1, ("--x1d", "--weight1d", "--dy1d"))
    return x, w, dy, x1, w1, dz1


# -- the hand computations (plain loops over the few output positions: this is the walkthrough) ----
def conv2d_valid(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Y[i,j] = Σ W ⊙ patch(i,j): cross-correlation, stride 1, no padding."""
    kh, kw = w.shape
    out = np.zeros((x.shape[0] - kh + 1, x.shape[1] - kw + 1))
    for i, j in np.ndindex(*out.shape):
        out[i, j] = np.sum(w * x[i:i + kh, j:j + kw])
    return out


def grad_weight_terms(x: np.ndarray, dy: np.ndarray, kshape: tuple[int, int]) -> list[tuple[tuple[int, int], np.ndarray]]:
    """The terms dL/dY[i,j]·patch(i,j) whose sum is dL/dW."""
    kh, kw = kshape
    return [((i, j), dy[i, j] * x[i:i + kh, j:j + kw]) for i, j in np.ndindex(*dy.shape)]


def grad_input_full_conv(dy: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """dL/dX = (dL/dY padded by kernel-1 on each side) ⋆ rot180(W); returns (padded dy, rot W, dX)."""
    kh, kw = w.shape
    padded = np.pad(dy, ((kh - 1, kh - 1), (kw - 1, kw - 1)))
    rot = w[::-1, ::-1]  # rot180: flip both axes
    return padded, rot, conv2d_valid(padded, rot)


def grad_1d(x: np.ndarray, w: np.ndarray, dz: np.ndarray) -> dict[str, np.ndarray]:
    """Z, dL/dW_j = Σ_i dZ_i X_{i+j} and dL/dX_k = Σ_i dZ_i W_{k-i} for a 1-D valid cross-correlation."""
    n, k = len(x), len(w)
    z = np.array([np.dot(w, x[i:i + k]) for i in range(n - k + 1)])
    dw = np.array([sum(dz[i] * x[i + j] for i in range(len(dz))) for j in range(k)])
    dx = np.array([sum(dz[i] * w[m - i] for i in range(len(dz)) if 0 <= m - i < k) for m in range(n)])
    return {"Z": z, "dW": dw, "dX": dx}


def validate_shapes(x: np.ndarray, w: np.ndarray, dy: np.ndarray, names=("--x", "--weight", "--dy")) -> None:
    """Clear errors for a kernel larger than the input or dL/dY not the shape of Y."""
    nx, nw, ndy = names
    if x.ndim != w.ndim or x.ndim != dy.ndim:
        raise ValueError(f"{nx}, {nw} and {ndy} must have the same number of dimensions, got shapes "
                         f"{x.shape}, {w.shape}, {dy.shape}")
    if any(k > n for k, n in zip(w.shape, x.shape)):
        raise ValueError(f"{nw} of shape {w.shape} is larger than {nx} of shape {x.shape} "
                         "(no padding here): the output would be empty")
    y_shape = tuple(n - k + 1 for n, k in zip(x.shape, w.shape))
    if dy.shape != y_shape:
        raise ValueError(f"{ndy} must have the shape of Y = {nw} ⋆ {nx}: input {x.shape} and kernel {w.shape} "
                         f"give Y {y_shape}, but {ndy} has shape {dy.shape}")


# -- the two independent checks -------------------------------------------------------------------------
def library_grads(x: np.ndarray, w: np.ndarray, dy: np.ndarray) -> dict[str, np.ndarray]:
    """Y, dW, dX from the library's Conv2d (2-D inputs) or Conv1d (1-D inputs), float64."""
    from ..nn.conv import Conv1d, Conv2d

    cls = Conv2d if x.ndim == 2 else Conv1d
    layer = cls(1, 1, kernel_size=w.shape if x.ndim == 2 else w.shape[0], bias=False,
                rng=np.random.default_rng(0), dtype=np.float64)
    layer.weight.data[...] = w.reshape(1, 1, *w.shape)  # (out, in, *kernel)
    layer.zero_grad()
    y = layer.forward(x.reshape(1, 1, *x.shape))
    dx = layer.backward(dy.reshape(1, 1, *dy.shape))
    return {"Y": y[0, 0], "dW": layer.weight.grad[0, 0].copy(), "dX": dx[0, 0]}


def torch_grads(x: np.ndarray, w: np.ndarray, dy: np.ndarray) -> dict[str, np.ndarray] | None:
    """The same from torch autograd, or None when PyTorch is not installed."""
    try:
        import torch
        import torch.nn.functional as F
    except ImportError:
        return None
    xt = torch.tensor(x[None, None], dtype=torch.float64, requires_grad=True)
    wt = torch.tensor(w[None, None], dtype=torch.float64, requires_grad=True)
    yt = (F.conv2d if x.ndim == 2 else F.conv1d)(xt, wt)
    yt.backward(torch.tensor(dy[None, None], dtype=torch.float64))
    return {"Y": yt.detach().numpy()[0, 0], "dW": wt.grad.numpy()[0, 0], "dX": xt.grad.numpy()[0, 0]}


def _check_rows(case: str, mine: dict, other: dict | None, source: str) -> list[dict]:
    if other is None:
        return [{"case": case, "against": source, "quantity": q, "rel_error": None, "note": "PyTorch not installed"}
                for q in ("Y", "dW", "dX")]
    return [{"case": case, "against": source, "quantity": q, "rel_error": rel_error(mine[q], other[q]), "note": ""}
            for q in ("Y", "dW", "dX")]


def run(config: Config, out_dir: Path) -> dict:
    lab = LabRun(out_dir, config)
    x, w, dy, x1, w1, dz1 = _parse_all(config)

    # -- 2-D by hand -----------------------------------------------------------------------------------
    y = conv2d_valid(x, w)
    terms = grad_weight_terms(x, dy, w.shape)
    dw = np.sum([t for _, t in terms], axis=0)
    padded, rot, dx = grad_input_full_conv(dy, w)
    # the same dX seen as a scatter: each dL/dY[i,j] stamps a copy of W at (i, j)
    dx_scatter = np.zeros_like(x)
    for i, j in np.ndindex(*dy.shape):
        dx_scatter[i:i + w.shape[0], j:j + w.shape[1]] += dy[i, j] * w
    hand = {"Y": y, "dW": dw, "dX": dx}
    lib = library_grads(x, w, dy)
    tch = torch_grads(x, w, dy) if config.torch_check else None
    # -- 1-D by hand -----------------------------------------------------------------------------------
    hand1 = grad_1d(x1, w1, dz1)
    hand1 = {"Y": hand1["Z"], "dW": hand1["dW"], "dX": hand1["dX"]}
    lib1 = library_grads(x1, w1, dz1)
    tch1 = torch_grads(x1, w1, dz1) if config.torch_check else None

    checks = _check_rows("2-D", hand, lib, "library Conv2d")
    checks += _check_rows("1-D", hand1, lib1, "library Conv1d")
    if config.torch_check:
        checks += _check_rows("2-D", hand, tch, "torch autograd") + _check_rows("1-D", hand1, tch1, "torch autograd")
    lab.save_metrics("checks", checks)
    lab.save_metrics("matrices", {"X": x, "W": w, "dL/dY": dy, "Y": y, "dL/dW": dw, "dL/dX": dx,
                                  "dL/dY padded": padded, "rot180(W)": rot,
                                  "dW terms": {f"{i},{j}": t for (i, j), t in terms},
                                  "1d": {"X": x1, "W": w1, "dL/dZ": dz1, **{k: v for k, v in hand1.items()}}})

    shown = [("X", x), ("W", w), ("Y = W ⋆ X", y), ("dL/dY", dy), ("dL/dW", dw), ("dL/dX", dx)]
    if config.echo:
        for name, m in shown + [("dL/dY zero-padded", padded), ("rot180(W)", rot)]:
            print(f"{name} {m.shape}:\n{format_matrix(m)}\n")
        for name, v in hand1.items():
            print(f"1-D {name}: {format_matrix(v)}")
    lab.savefig(heatmap_grid(shown, ncols=3, symmetric=True), "gradients")
    shown_terms = terms[:8]  # a figure of every term of a large dL/dY would be unreadable; the report lists all
    term_items = [(f"dY[{i},{j}]={dy[i, j]:g} · patch({i},{j})", t) for (i, j), t in shown_terms]
    sum_title = "sum = dL/dW" if len(terms) == len(shown_terms) else f"dL/dW (sum of all {len(terms)} terms)"
    lab.savefig(heatmap_grid(term_items + [(sum_title, dw)], ncols=min(5, len(term_items) + 1),
                             symmetric=True), "dw_terms")
    lab.savefig(heatmap_grid([("dL/dY zero-padded", padded), ("rot180(W)", rot), ("dL/dX", dx)], ncols=3,
                             symmetric=True), "dx_full_conv")

    # -- report ----------------------------------------------------------------------------------------
    worst = max((r["rel_error"] for r in checks if r["rel_error"] is not None), default=float("nan"))
    kh, kw = w.shape
    rep = [f"# {TITLE}\n",
           "Convention: Y = W ⋆ X is cross-correlation (the kernel is not flipped), stride 1, no padding.\n",
           "![gradients](gradients.png)\n"]
    rep += [matrix_block(n, m) for n, m in shown]
    rep.append("## Step 1: dL/dW = Σ_{i,j} dL/dY[i,j] · patch(i,j)\n")
    rep.append("![terms](dw_terms.png)\n")
    for (i, j), t in terms:
        rep.append(matrix_block(f"dL/dY[{i},{j}] = {dy[i, j]:g} times X[{i}:{i + kh}, {j}:{j + kw}]", t))
    rep.append(matrix_block("sum = dL/dW", dw))
    rep.append("## Step 2: dL/dX = (dL/dY zero-padded by kernel-1) ⋆ rot180(W)  (a full convolution)\n")
    rep.append("![full conv](dx_full_conv.png)\n")
    rep += [matrix_block(f"dL/dY padded by ({kh - 1}, {kw - 1})", padded), matrix_block("rot180(W)", rot),
            matrix_block("dL/dX", dx)]
    rep.append(f"The same dL/dX as a scatter (each dL/dY[i,j] stamps dL/dY[i,j]·W at (i, j)): max difference "
               f"{float(np.max(np.abs(dx_scatter - dx))):.3g}.\n")
    rep.append("## Step 3: the 1-D case, dL/dW_j = Σ_i dL/dZ_i X_{i+j}\n")
    for j in range(len(w1)):
        parts = " + ".join(f"({dz1[i]:g})({x1[i + j]:g})" for i in range(len(dz1)))
        rep.append(f"- dL/dW_{j} = {parts} = {hand1['dW'][j]:g}")
    rep.append(f"\nZ = {format_matrix(hand1['Y'])}, dL/dX = {format_matrix(hand1['dX'])}\n")
    rep.append("## Checks\n")
    rep.append(markdown_table(checks, floatfmt=".2e"))
    rep.append("\n## Observations (computed from this run)\n")
    rep.append(f"- Largest relative error of the hand computation against the library and autograd: {worst:.2e}"
               + (" -- they agree to float64 rounding." if worst < 1e-12 else " -- **they disagree**; see the table."))
    if config.torch_check and tch is None:
        rep.append("- PyTorch is not installed: the autograd check was skipped (only the library was compared).")
    nz = int(np.sum(dy != 0))
    rep.append(f"- dL/dW is a sum of {len(terms)} patches, {nz} of them with a nonzero weight dL/dY[i,j].")
    rep.append(f"- Each input pixel collects gradient from every output it fed: X[0,0] feeds 1 output "
               f"(dL/dX[0,0] = {dx[0, 0]:g}), a centre pixel up to {min(kh, dy.shape[0]) * min(kw, dy.shape[1])}.")
    lab.write_report("\n".join(rep))
    return {"summary": f"max rel. error vs library/autograd {worst:.2e}; dL/dW = {dw.tolist()}",
            "Y": y.tolist(), "dW": dw.tolist(), "dX": dx.tolist(), "dW_1d": hand1["dW"].tolist(),
            "dX_1d": hand1["dX"].tolist(), "max_rel_error": worst, "torch_checked": tch is not None,
            "files": lab.files}
