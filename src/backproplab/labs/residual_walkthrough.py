"""Lab: a residual block by hand -- every intermediate matrix of conv, ReLU, skip, ReLU, pool, GAP.

The question (document 002, practical question 1): what exactly comes out of each step of a tiny
residual block on the assignment's 5x5 input and 3x3 filter, and how does the pooling convention
(floor vs ceil) change the result?

    Z   = W ⋆ X            (stride 1, padding 1: 5x5 -> 5x5; ⋆ = cross-correlation)
    A   = ReLU(Z)
    S   = A + X            (the skip connection: identity shortcut)
    H   = ReLU(S)
    P   = MaxPool2d(2, stride 2)(H)     floor mode -> 2x2, ceil mode -> 3x3
    g   = GlobalAvgPool(P)              one number

Every step is the library's own layer (Conv2d, ReLU, MaxPool2d, AdaptiveAvgPool2d), and S is
checked against the library's ``Residual`` block. Conventions: deep-learning "convolution" is
cross-correlation (the kernel is not flipped), as in PyTorch's ``nn.Conv2d``; the pooled size is
floor((H - k)/s) + 1, or ceil(...) + 1 with ``ceil_mode=True`` (the last, partial window is kept).

Reference: He et al. 2016, "Deep residual learning for image recognition";
https://pytorch.org/docs/stable/generated/torch.nn.MaxPool2d.html
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..report.document import CodeText
from ..report.i18n import N_, _, join
from .config import ConfigError, LabConfig, option, quick
from .heatmap import format_matrix, heatmap_grid, matrix_option

NAME = "residual-walkthrough"
TITLE = N_("Residual block by hand: conv, ReLU, skip, ReLU, max-pool (floor and ceil), global average pool")
SUMMARY = N_("every matrix of a small residual block on the assignment's 5x5 input; floor vs ceil pooling")
QUESTIONS = ("002/P1.1", "002/P1.2", "002/P1.3", "002/P1.4", "002/P1.5")

#: the assignment's fixed input and filter (document 002, practical question 1)
DEFAULT_X = "100,150,200,50,30;80,120,180,255,90;40,70,110,230,200;30,60,100,150,120;20,50,80,100,90"
DEFAULT_W = "0.1,-0.2,0.1;-0.1,0.4,0.1;0.2,-0.1,0.1"
#: the steps in order: result key and the name shown (also the key of matrices.json)
STEPS = {"X": "X", "W": "W", "Z": "Z = conv(X)", "A": "A = ReLU(Z)", "S": "S = A + X", "H": "H = ReLU(S)",
         "P_floor": "P floor", "P_ceil": "P ceil"}
#: hand and layer results closer than this (relative to the value) agree
AGREE_TOL = 1e-9


@dataclass(frozen=True)
class Config(LabConfig):
    x: str = option(DEFAULT_X, "input image X: rows split by ';', entries by ','")
    weight: str = option(DEFAULT_W, "conv filter W (odd size): rows split by ';', entries by ','")
    padding: int = option(1, "zero padding of the convolution (stride 1); the skip needs (kernel_size - 1) / 2",
                          low=0, high=50)
    pool: int = option(2, "max-pool kernel size = stride", low=1, high=100)

    def check(self) -> None:
        x, w = matrices(self)
        out = tuple(n + 2 * self.padding - k + 1 for n, k in zip(x.shape, w.shape))
        if out != x.shape:
            raise ConfigError(f"the skip connection adds the input {x.shape} to the conv output {out} (kernel "
                              f"{w.shape}, --padding {self.padding}): they must match, so use an odd kernel and "
                              "--padding (kernel_size - 1) / 2")
        if self.pool > min(x.shape):
            raise ConfigError(f"--pool {self.pool} is larger than the {x.shape[0]}x{x.shape[1]} input; "
                              f"use --pool {min(x.shape)} or less")

    def quick(self) -> "Config":
        return quick(self)  # the lab takes a fraction of a second either way


def matrices(config: Config) -> tuple[np.ndarray, np.ndarray]:
    """(X, W) of ``config`` as 2-D float64 arrays (a bad matrix is a ConfigError)."""
    return (np.atleast_2d(matrix_option(config.x, "--x")), np.atleast_2d(matrix_option(config.weight, "--weight")))


def walkthrough(x: np.ndarray, weight: np.ndarray, padding: int = 1, pool: int = 2) -> dict[str, np.ndarray]:
    """Every intermediate of the block (2-D float64 arrays keyed as :data:`STEPS`), the two global
    average pools (``gap_floor``, ``gap_ceil``) and the largest difference between S and the library's
    ``Residual`` block (``residual_block_diff``)."""
    from ..nn import ReLU, Sequential
    from ..nn.conv import Conv2d
    from ..nn.pooling import AdaptiveAvgPool2d, MaxPool2d
    from ..nn.residual import Residual

    if x.ndim != 2 or weight.ndim != 2:
        raise ValueError(f"x and weight must be 2-D matrices, got shapes {x.shape} and {weight.shape}")
    kh, kw = weight.shape
    conv = Conv2d(1, 1, kernel_size=(kh, kw), stride=1, padding=padding, bias=False,
                  rng=np.random.default_rng(0), dtype=np.float64)
    conv.weight.data[...] = weight.reshape(1, 1, kh, kw)  # (out, in, kh, kw)
    x4 = x.reshape(1, 1, *x.shape)  # (N=1, C=1, H, W)
    z = conv.forward(x4)
    if z.shape != x4.shape:
        raise ValueError(f"the skip connection adds the input {x.shape} to the conv output {z.shape[2:]}: "
                         "they must match (use padding = (kernel_size - 1) / 2 with an odd kernel)")
    a = ReLU().forward(z)
    s = a + x4
    s_block = Residual(Sequential(conv, ReLU())).forward(x4)  # the same S through the library's block
    h = ReLU().forward(s)
    p_floor = MaxPool2d(pool, stride=pool, ceil_mode=False).forward(h)
    p_ceil = MaxPool2d(pool, stride=pool, ceil_mode=True).forward(h)
    gap = AdaptiveAvgPool2d(1)
    return {"X": x, "W": weight, "Z": z[0, 0], "A": a[0, 0], "S": s[0, 0], "H": h[0, 0], "P_floor": p_floor[0, 0],
            "P_ceil": p_ceil[0, 0], "gap_floor": float(gap.forward(p_floor).squeeze()),
            "gap_ceil": float(gap.forward(p_ceil).squeeze()),
            "residual_block_diff": float(np.max(np.abs(s_block - s)))}


def pool_windows(n: int, k: int, ceil: bool) -> list[list[int]]:
    """Ranges [start, stop) of the pooling windows along one axis of length n (kernel = stride = k)."""
    out = (-(-(n - k) // k) if ceil else (n - k) // k) + 1
    if ceil and (out - 1) * k >= n:  # PyTorch: the last window must start inside the input
        out -= 1
    return [[i * k, min(i * k + k, n)] for i in range(out)]


def centre_terms(x: np.ndarray, weight: np.ndarray, padding: int) -> dict:
    """The centre output as its kh·kw products, written out: what Z[i, j] is made of."""
    ci, cj = x.shape[0] // 2, x.shape[1] // 2
    kh, kw = weight.shape
    patch = np.pad(x, padding)[ci:ci + kh, cj:cj + kw]
    products = patch * weight
    terms = " + ".join(f"{p:g}·{w:g}" if w >= 0 else f"{p:g}·({w:g})" for p, w in zip(patch.ravel(), weight.ravel()))
    return {"i": ci, "j": cj, "terms": terms, "row_sums": products.sum(axis=1).tolist(),
            "hand": float(products.sum())}


def run(config: Config, out) -> dict:
    x, weight = matrices(config)
    m = walkthrough(x, weight, config.padding, config.pool)
    steps = {k: m[k] for k in STEPS}
    centre = centre_terms(x, weight, config.padding)
    centre["layer"] = float(m["Z"][centre["i"], centre["j"]])
    rows = [{"step": STEPS[k], "shape": "x".join(map(str, v.shape)), "min": float(v.min()), "max": float(v.max()),
             "mean": float(v.mean())} for k, v in steps.items()]
    out.save_metrics("steps", rows)
    # the names of matrices.json are those the course map's hints quote
    out.save_metrics("matrices", {**{STEPS[k]: v for k, v in steps.items()}, "gap_floor": m["gap_floor"],
                                  "gap_ceil": m["gap_ceil"], "center": [centre["i"], centre["j"]]})
    windows = {f"{mode}_{axis}": pool_windows(n, config.pool, mode == "ceil")
               for mode in ("floor", "ceil") for axis, n in (("rows", x.shape[0]), ("cols", x.shape[1]))}
    summary = (f"Z centre {centre['layer']:.6g}; GAP floor {m['gap_floor']:.6g} (pool "
               f"{'x'.join(map(str, m['P_floor'].shape))}), ceil {m['gap_ceil']:.6g} "
               f"(pool {'x'.join(map(str, m['P_ceil'].shape))})")
    return {"summary": summary, "steps": {k: v.tolist() for k, v in steps.items()},
            "gap_floor": m["gap_floor"], "gap_ceil": m["gap_ceil"], "residual_block_diff": m["residual_block_diff"],
            "centre": centre, "relu1_zeroed": int(np.sum(m["Z"] < 0)), "relu2_zeroed": int(np.sum(m["S"] < 0)),
            "input_nonnegative": bool(np.all(x >= 0)), "windows": windows, "rows": rows}


# -- report ---------------------------------------------------------------------------------------
def agree_sentence(centre: dict, tol: float = AGREE_TOL):
    """The centre output written out as its products, and whether the layer gives the same number."""
    hand, layer = centre["hand"], centre["layer"]
    parts = dict(i=centre["i"], j=centre["j"], terms=centre["terms"], hand=hand, layer=layer,
                 rows=", ".join(f"{v:.6g}" for v in centre["row_sums"]))
    if abs(hand - layer) <= tol * max(1.0, abs(hand)):
        return _("Centre output `Z[{i},{j}] = {terms}` = {hand:.6g} (row sums `{rows}`); the library's `Conv2d` "
                 "gives the same {layer:.6g}.", **parts)
    return _("Centre output `Z[{i},{j}] = {terms}` = {hand:.6g} (row sums `{rows}`), but the library's `Conv2d` "
             "gives {layer:.6g}: **they disagree**.", **parts)


def relu1_sentence(zeroed: int, total: int):
    if zeroed == 0:
        return _("The first ReLU set none of the {n} conv outputs to zero: every conv output was already "
                 "non-negative, so `A = Z`.", n=total)
    return _("The first ReLU set {k} of the {n} conv outputs to zero (the negative ones).", k=zeroed, n=total)


def relu2_sentence(negative: int, input_nonnegative: bool):
    if negative:
        return _("After the skip connection {k} entries of `S` are negative; the second ReLU sets them to zero.",
                 k=negative)
    if input_nonnegative:
        return _("After the skip connection no entry of `S` is negative: the input is non-negative and `A ≥ 0`, "
                 "so `S ≥ 0` and the second ReLU changes nothing.")
    return _("After the skip connection no entry of `S` is negative, so the second ReLU changes nothing.")


def pool_sentence(windows: dict, p_floor, p_ceil):
    """Which rows and columns each pooling mode covers, and what floor mode leaves out."""
    def shape(p):
        return "x".join(map(str, np.shape(p)))

    covered_rows, covered_cols = windows["floor_rows"][-1][1], windows["floor_cols"][-1][1]
    n_rows, n_cols = windows["ceil_rows"][-1][1], windows["ceil_cols"][-1][1]
    parts = dict(fr=str(windows["floor_rows"]), fc=str(windows["floor_cols"]), cr=str(windows["ceil_rows"]),
                 cc=str(windows["ceil_cols"]), sf=shape(p_floor), sc=shape(p_ceil))
    if covered_rows == n_rows and covered_cols == n_cols:
        return _("The windows tile `H` exactly (rows `{fr}`, columns `{fc}`): floor and ceil mode agree, "
                 "`{sf}`.", **parts)
    left_out = [_("row {i}", i=i) for i in range(covered_rows, n_rows)]
    left_out += [_("column {j}", j=j) for j in range(covered_cols, n_cols)]
    return _("Floor mode: windows over rows `{fr}` and columns `{fc}` give `{sf}`; it never looks at {left} of `H`. "
             "Ceil mode keeps the partial last windows (rows `{cr}`, columns `{cc}`) and gives `{sc}`.",
             left=join(left_out), **parts)


def gap_sentence(g_floor: float, g_ceil: float):
    if g_ceil == g_floor:
        return _("Global average pool: {f:.6g} in both modes; the pooling convention does not change the block's "
                 "output here.", f=g_floor)
    if g_floor == 0:
        return _("Global average pool: {f:.6g} (floor) against {c:.6g} (ceil): the convention changes the block's "
                 "single output by {d:+.6g}.", f=g_floor, c=g_ceil, d=g_ceil - g_floor)
    return _("Global average pool: {f:.6g} (floor) against {c:.6g} (ceil): the convention changes the block's "
             "single output by {d:+.6g} ({r:+.1%} of the floor value).", f=g_floor, c=g_ceil, d=g_ceil - g_floor,
             r=(g_ceil - g_floor) / g_floor)


def residual_sentence(diff: float, tol: float = AGREE_TOL):
    if diff <= tol:
        return _("The library's `Residual(Sequential(conv, ReLU()))` gives the same `S` (largest difference "
                 "{d:.2g}).", d=diff)
    return _("The library's `Residual(Sequential(conv, ReLU()))` gives another `S` (largest difference {d:.3g}): "
             "**the block and the step-by-step sum disagree**.", d=diff)


def report(result: dict, config: Config, doc) -> None:
    steps = {k: np.asarray(v) for k, v in result["steps"].items()}
    doc.para(_("**Question.** What comes out of each step of a residual block (conv, ReLU, skip connection, "
               "ReLU, max-pool, global average pool) on the assignment's input, and how does the pooling "
               "convention change the result?"))
    doc.para(_("Conventions: the convolution is cross-correlation, `Y[i,j] = Σ_u,v W[u,v]·X_pad[i+u, j+v]` (the "
               "kernel is not flipped, as in PyTorch's `nn.Conv2d`), stride 1, zero padding {p}. Max-pooling uses "
               "a {k}x{k} window with stride {k}: floor mode drops a partial last window, ceil mode keeps it "
               "(PyTorch's `ceil_mode=True`).", p=config.padding, k=config.pool))
    doc.table([("step", _("step"), ""), ("shape", _("shape"), ""), ("min", _("min"), ".6g"),
               ("max", _("max"), ".6g"), ("mean", _("mean"), ".6g")],
              [{**r, "step": CodeText(r["step"])} for r in result["rows"]])
    doc.plot(heatmap_grid([(name, steps[k]) for k, name in STEPS.items()], ncols=4, fmt=".4g", label=_("value")),
             "matrices", _("Every matrix of the block, with its values."))
    doc.heading(_("Every matrix"))
    for k, name in STEPS.items():
        doc.para(_("`{name}`, shape {shape}:", name=name, shape="x".join(map(str, steps[k].shape))))
        doc.code(format_matrix(steps[k], ".6g"))
    doc.heading(_("Observations (computed from this run)"))
    doc.bullets([
        agree_sentence(result["centre"]),
        relu1_sentence(result["relu1_zeroed"], steps["Z"].size),
        relu2_sentence(result["relu2_zeroed"], result["input_nonnegative"]),
        _("The skip connection moves the mean from {a:.6g} (`A`) to {s:.6g} (`S`): it adds the input's mean "
          "{x:.6g}.", a=float(steps["A"].mean()), s=float(steps["S"].mean()), x=float(steps["X"].mean())),
        residual_sentence(result["residual_block_diff"]),
        pool_sentence(result["windows"], steps["P_floor"], steps["P_ceil"]),
        gap_sentence(result["gap_floor"], result["gap_ceil"]),
    ])
