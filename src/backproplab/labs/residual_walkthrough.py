"""Lab: a residual block by hand -- every intermediate matrix of conv, ReLU, skip, ReLU, pool, GAP.

The question: what exactly comes out of each step of a tiny residual block on the
assignment's 5x5 input and 3x3 filter, and how does the pooling convention (floor vs
ceil) change the result?

    Z   = W ⋆ X            (stride 1, padding 1: 5x5 -> 5x5; ⋆ = cross-correlation)
    A   = ReLU(Z)
    S   = A + X            (the skip connection: identity shortcut)
    H   = ReLU(S)
    P   = MaxPool2d(2, stride 2)(H)     floor mode -> 2x2, ceil mode -> 3x3
    g   = GlobalAvgPool(P)              one number

Every step is the library's own layer (Conv2d, ReLU, MaxPool2d, AdaptiveAvgPool2d).
Conventions: deep-learning "convolution" is cross-correlation (the kernel is not
flipped), as in PyTorch's ``nn.Conv2d``; pooling output size is
floor((H + 2p - k)/s) + 1, or ceil(...) + 1 with ``ceil_mode=True`` (the last,
partial window is kept).

Reference: He et al. 2016, "Deep residual learning for image recognition";
https://pytorch.org/docs/stable/generated/torch.nn.MaxPool2d.html
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .common import LabRun, markdown_table
from .heatmap import format_matrix, heatmap_grid, matrix_block, parse_matrix

NAME = "residual-walkthrough"
TITLE = "Residual block walkthrough: conv, ReLU, skip, ReLU, max-pool (floor/ceil), global average pool"

#: the assignment's fixed input and filter
DEFAULT_X = "100,150,200,50,30;80,120,180,255,90;40,70,110,230,200;30,60,100,150,120;20,50,80,100,90"
DEFAULT_W = "0.1,-0.2,0.1;-0.1,0.4,0.1;0.2,-0.1,0.1"


@dataclass(frozen=True)
class Config:
    seed: int = 0                 # unused (nothing random); kept for the common lab interface
    quick: bool = False           # the lab is instant either way
    x: str = DEFAULT_X            # input image, rows split by ';' (square or not)
    weight: str = DEFAULT_W       # conv filter, rows split by ';'
    padding: int = 1              # conv zero padding (stride is 1)
    pool: int = 2                 # max-pool kernel size = stride
    echo: bool = True             # print every matrix to stdout

    def __post_init__(self):
        x = np.atleast_2d(parse_matrix(self.x, "--x"))  # malformed input is a usage error, before any work
        w = np.atleast_2d(parse_matrix(self.weight, "--weight"))
        if self.padding < 0 or self.pool < 1:
            raise ValueError(f"padding must be >= 0 and pool >= 1, got padding={self.padding}, pool={self.pool}")
        out = tuple(n + 2 * self.padding - k + 1 for n, k in zip(x.shape, w.shape))
        if out != x.shape:
            raise ValueError(f"the skip connection adds the input {x.shape} to the conv output {out} (kernel "
                             f"{w.shape}, padding {self.padding}): they must match, so use an odd kernel and "
                             "padding = (kernel_size - 1) / 2")


def _layers(weight: np.ndarray, padding: int, pool: int):
    from ..nn import ReLU
    from ..nn.conv import Conv2d
    from ..nn.pooling import AdaptiveAvgPool2d, MaxPool2d

    kh, kw = weight.shape
    conv = Conv2d(1, 1, kernel_size=(kh, kw), stride=1, padding=padding, bias=False,
                  rng=np.random.default_rng(0), dtype=np.float64)
    conv.weight.data[...] = weight.reshape(1, 1, kh, kw)  # (out, in, kh, kw)
    return dict(conv=conv, relu1=ReLU(), relu2=ReLU(),
                pool_floor=MaxPool2d(pool, stride=pool, ceil_mode=False),
                pool_ceil=MaxPool2d(pool, stride=pool, ceil_mode=True),
                gap=AdaptiveAvgPool2d(1))


def walkthrough(x: np.ndarray, weight: np.ndarray, padding: int = 1, pool: int = 2) -> dict[str, np.ndarray]:
    """Every intermediate of the block as 2-D arrays (float64), keyed by step name."""
    if x.ndim != 2 or weight.ndim != 2:
        raise ValueError(f"x and weight must be 2-D matrices, got shapes {x.shape} and {weight.shape}")
    L = _layers(weight, padding, pool)
    x4 = x.reshape(1, 1, *x.shape)  # (N=1, C=1, H, W)
    z = L["conv"].forward(x4)
    if z.shape != x4.shape:
        raise ValueError(f"the skip connection adds the input {x.shape} to the conv output {z.shape[2:]}: "
                         f"they must match (use padding = (kernel_size - 1) / 2 with an odd kernel)")
    a = L["relu1"].forward(z)
    s = a + x4
    # the same S through the library's Residual block (identity shortcut) must agree
    from ..nn import Sequential
    from ..nn.residual import Residual

    s_block = Residual(Sequential(L["conv"], type(L["relu1"])())).forward(x4)
    if not np.allclose(s_block, s, rtol=0, atol=1e-9):
        raise AssertionError("Residual block and the step-by-step skip connection disagree")
    h = L["relu2"].forward(s)
    p_floor = L["pool_floor"].forward(h)
    p_ceil = L["pool_ceil"].forward(h)
    g_floor = L["gap"].forward(p_floor)
    g_ceil = L["gap"].forward(p_ceil)
    return {"X": x, "W": weight, "Z = conv(X)": z[0, 0], "A = ReLU(Z)": a[0, 0], "S = A + X": s[0, 0],
            "H = ReLU(S)": h[0, 0], "P floor": p_floor[0, 0], "P ceil": p_ceil[0, 0],
            "GAP floor": g_floor[0, 0], "GAP ceil": g_ceil[0, 0]}


def _pool_windows(n: int, k: int, ceil: bool) -> list[tuple[int, int]]:
    """Row (or column) ranges [start, stop) of each pooling window, for the report's text."""
    out = (-(-(n - k) // k) if ceil else (n - k) // k) + 1
    if ceil and (out - 1) * k >= n:  # PyTorch: the last window must start inside the input
        out -= 1
    return [(i * k, min(i * k + k, n)) for i in range(out)]


def run(config: Config, out_dir: Path) -> dict:
    lab = LabRun(out_dir, config)
    x = np.atleast_2d(parse_matrix(config.x, "--x"))
    weight = np.atleast_2d(parse_matrix(config.weight, "--weight"))
    m = walkthrough(x, weight, config.padding, config.pool)

    # -- numbers for the observations ------------------------------------------------------
    z, a, s, h = m["Z = conv(X)"], m["A = ReLU(Z)"], m["S = A + X"], m["H = ReLU(S)"]
    ci, cj = x.shape[0] // 2, x.shape[1] // 2
    kh, kw = weight.shape
    pad = np.pad(x, config.padding)
    patch = pad[ci:ci + kh, cj:cj + kw]
    products = patch * weight
    relu1_zeroed = int(np.sum(z < 0))
    relu2_zeroed = int(np.sum(s < 0))
    windows_floor = _pool_windows(x.shape[0], config.pool, False)
    windows_ceil = _pool_windows(x.shape[0], config.pool, True)
    g_floor, g_ceil = float(m["GAP floor"].squeeze()), float(m["GAP ceil"].squeeze())

    metrics = {name: np.asarray(v).tolist() for name, v in m.items()}
    metrics.update(center=[ci, cj], center_products=products.tolist(), relu1_zeroed=relu1_zeroed,
                   relu2_zeroed=relu2_zeroed, gap_floor=g_floor, gap_ceil=g_ceil)
    lab.save_metrics("matrices", metrics)
    rows = [{"step": k, "shape": "x".join(map(str, np.shape(v))) or "1", "min": float(np.min(v)),
             "max": float(np.max(v)), "mean": float(np.mean(v))} for k, v in m.items()]
    lab.save_metrics("steps", rows)

    if config.echo:
        for name, v in m.items():
            print(f"{name} {np.shape(v)}:\n{format_matrix(v, '.6g')}\n")

    items = [(k, np.atleast_2d(v)) for k, v in m.items() if not k.startswith("GAP")]
    lab.savefig(heatmap_grid(items, ncols=4, fmt=".4g"), "matrices")

    # -- report ----------------------------------------------------------------------------
    rep = [f"# {TITLE}\n",
           "Conventions: the convolution is **cross-correlation** (Y[i,j] = Σ_{u,v} W[u,v]·X_pad[i+u, j+v], "
           "kernel not flipped, as in PyTorch's `nn.Conv2d`), stride 1, zero padding "
           f"{config.padding}. Max-pooling uses a {config.pool}x{config.pool} window with stride {config.pool}: "
           "floor mode drops a partial last window, ceil mode keeps it (PyTorch `ceil_mode=True`).\n",
           "![matrices](matrices.png)\n", markdown_table(rows, floatfmt=".6g"), "\n## Every matrix\n"]
    rep += [matrix_block(k, v, ".6g") for k, v in m.items()]
    terms = " + ".join(f"{p:g}·{w:g}" for p, w in zip(patch.ravel(), weight.ravel()))
    rep.append("\n## Observations (computed from this run)\n")
    rep.append(f"- Centre output Z[{ci},{cj}] = {terms} = {float(products.sum()):.6g} "
               f"(row sums of the products: {', '.join(f'{v:.6g}' for v in products.sum(axis=1))}); "
               f"the layer gives {float(z[ci, cj]):.6g}.")
    rep.append(f"- The first ReLU set {relu1_zeroed} of {z.size} conv outputs to zero"
               + (" -- every conv output was already non-negative, so A = Z." if relu1_zeroed == 0 else "."))
    rep.append(f"- After the skip connection {relu2_zeroed} entries of S are negative"
               + (" (the input is non-negative and A >= 0, so S >= 0 and the second ReLU is the identity)."
                  if relu2_zeroed == 0 else "; the second ReLU zeroes them."))
    rep.append(f"- The skip connection raises the mean from {float(a.mean()):.6g} (A) to {float(s.mean()):.6g} "
               f"(S): it adds the input's mean {float(x.mean()):.6g}.")
    rep.append(f"- Floor mode: windows over rows/cols {windows_floor} -> {m['P floor'].shape[0]}x"
               f"{m['P floor'].shape[1]}; the last row and column of H are ignored. Ceil mode: windows "
               f"{windows_ceil} -> {m['P ceil'].shape[0]}x{m['P ceil'].shape[1]}.")
    rep.append(f"- Global average pool: {g_floor:.6g} (floor) vs {g_ceil:.6g} (ceil): the convention changes "
               f"the block's single output by {g_ceil - g_floor:+.6g}"
               + (f" ({(g_ceil - g_floor) / g_floor:+.1%} of the floor value)." if g_floor != 0 else "."))
    lab.write_report("\n".join(rep))
    summary = (f"Z centre {float(z[ci, cj]):.6g}; GAP floor {g_floor:.6g} (pool {m['P floor'].shape}), "
               f"ceil {g_ceil:.6g} (pool {m['P ceil'].shape})")
    return {"summary": summary, "gap_floor": g_floor, "gap_ceil": g_ceil,
            "matrices": {k: np.asarray(v).tolist() for k, v in m.items()}, "files": lab.files}
