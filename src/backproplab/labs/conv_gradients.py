"""Lab: the gradients of a convolution, by hand, step by step, checked against the layer and autograd.

The questions (documents 000 and 002, theory question 2; document 001, question 2): given X, W and
dL/dY of a valid stride-1 convolution, what are dL/dW and dL/dX, and in 1-D, why is dL/dW itself
a convolution? For Y = W ⋆ X (cross-correlation, stride 1, no padding; X (H, W), kernel (kh, kw),
Y (H-kh+1, W-kw+1)) and an upstream gradient dL/dY:

    Y[i,j]   = Σ_{u,v} W[u,v] X[i+u, j+v]
    dL/dW    = Σ_{i,j} dL/dY[i,j] · patch(i,j)        patch(i,j) = X[i:i+kh, j:j+kw]
    dL/dX    = full convolution of dL/dY with W       = (dL/dY zero-padded by kh-1, kw-1) ⋆ rot180(W)

and in 1-D, Z_i = Σ_j W_j X_{i+j}:  dL/dW_j = Σ_{i=0}^{N-K} dL/dZ_i X_{i+j},  dL/dX_k = Σ_i dL/dZ_i W_{k-i}.

Each result is compared with the library's Conv2d/Conv1d backward and, when PyTorch is
installed, with torch autograd (float64).

Reference: CS231n, "Convolutional networks"; Dumoulin & Visin 2016,
"A guide to convolution arithmetic for deep learning" (transposed convolution).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..analysis.gradcheck import rel_error
from ..report.document import CodeText
from ..report.i18n import N_, _, _n
from .config import ConfigError, LabConfig, option, quick
from .conv_gradients_plots import plot_dw_terms, plot_dx_full_conv, plot_gradients
from .heatmap import format_matrix, matrix_option

NAME = "conv-gradients"
TITLE = N_("Convolution gradients by hand: `dL/dW` as a sum of patches, `dL/dX` as a full convolution")
SUMMARY = N_("dL/dW and dL/dX of a small convolution step by step, and the 1-D rule, checked against the "
             "layers and autograd")
QUESTIONS = ("000/Q2.a", "000/Q2.b", "002/Q2.a", "002/Q2.b", "001/Q2")

#: hand computation and a check agree when their relative error is below this
AGREE_TOL = 1e-12
QUANTITIES = ("Y", "dW", "dX")


@dataclass(frozen=True)
class Config(LabConfig):
    x: str = option("1,2,1,0;2,1,0,1;1,0,2,1;0,1,2,1", "input X: rows split by ';', entries by ',' "
                                                      "(default: the assignment's 4x4)")
    weight: str = option("1,-1,0;0,1,-1;-1,0,1", "kernel W, rows split by ';' (default: the assignment's 3x3)")
    dy: str = option("1,-1;-1,1", "upstream gradient dL/dY, the shape of Y = W ⋆ X")
    x1d: str = option("1,2,-1,3,0,2", "1-D input X (comma list)")
    weight1d: str = option("1,-2,1", "1-D kernel W (comma list)")
    dy1d: str = option("1,0,-1,2", "1-D upstream gradient dL/dZ (length: len(X) - len(W) + 1)")
    torch_check: bool = option(True, "also compare with torch autograd (skipped when PyTorch is not installed)")

    def check(self) -> None:
        parse_all(self)  # a bad matrix or shape is a one-line usage error when the Config is built

    def quick(self) -> "Config":
        return quick(self)  # the lab takes a fraction of a second either way


def parse_all(config: Config) -> tuple[np.ndarray, ...]:
    """The six matrices of ``config``, parsed and shape-checked (ConfigError otherwise)."""
    x = np.atleast_2d(matrix_option(config.x, "--x"))
    w = np.atleast_2d(matrix_option(config.weight, "--weight"))
    dy = np.atleast_2d(matrix_option(config.dy, "--dy"))
    x1 = np.atleast_1d(matrix_option(config.x1d, "--x1d")).ravel()
    w1 = np.atleast_1d(matrix_option(config.weight1d, "--weight1d")).ravel()
    dz1 = np.atleast_1d(matrix_option(config.dy1d, "--dy1d")).ravel()
    try:
        validate_shapes(x, w, dy)
        validate_shapes(x1, w1, dz1, ("--x1d", "--weight1d", "--dy1d"))
    except ValueError as e:
        raise ConfigError(str(e)) from None
    return x, w, dy, x1, w1, dz1


# -- the hand computations (plain loops over the few output positions: this is the walkthrough) ----
def conv2d_valid(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Y[i,j] = Σ W ⊙ patch(i,j): cross-correlation, stride 1, no padding."""
    kh, kw = w.shape
    out = np.zeros((x.shape[0] - kh + 1, x.shape[1] - kw + 1))
    for i, j in np.ndindex(*out.shape):
        out[i, j] = np.sum(w * x[i:i + kh, j:j + kw])
    return out


def grad_weight_terms(x: np.ndarray, dy: np.ndarray, kshape) -> list[tuple[tuple[int, int], np.ndarray]]:
    """The terms dL/dY[i,j]·patch(i,j) whose sum is dL/dW."""
    kh, kw = kshape
    return [((i, j), dy[i, j] * x[i:i + kh, j:j + kw]) for i, j in np.ndindex(*dy.shape)]


def grad_input_full_conv(dy: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """dL/dX = (dL/dY padded by kernel-1 on each side) ⋆ rot180(W); returns (padded dy, rot W, dX)."""
    kh, kw = w.shape
    padded = np.pad(dy, ((kh - 1, kh - 1), (kw - 1, kw - 1)))
    rot = w[::-1, ::-1]  # rot180: flip both axes
    return padded, rot, conv2d_valid(padded, rot)


def grad_input_scatter(dy: np.ndarray, w: np.ndarray, shape) -> np.ndarray:
    """dL/dX as a scatter: each dL/dY[i,j] stamps dL/dY[i,j]·W onto its input window."""
    dx = np.zeros(shape)
    for i, j in np.ndindex(*dy.shape):
        dx[i:i + w.shape[0], j:j + w.shape[1]] += dy[i, j] * w
    return dx


def grad_1d(x: np.ndarray, w: np.ndarray, dz: np.ndarray) -> dict[str, np.ndarray]:
    """Z, dL/dW_j = Σ_i dZ_i X_{i+j} and dL/dX_k = Σ_i dZ_i W_{k-i} for a 1-D valid cross-correlation."""
    n, k = len(x), len(w)
    z = np.array([np.dot(w, x[i:i + k]) for i in range(n - k + 1)])
    dw = np.array([sum(dz[i] * x[i + j] for i in range(len(dz))) for j in range(k)])
    dx = np.array([sum(dz[i] * w[m - i] for i in range(len(dz)) if 0 <= m - i < k) for m in range(n)])
    return {"Y": z, "dW": dw, "dX": dx}


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


def check_rows(case: str, mine: dict, other: dict | None, source: str) -> list[dict]:
    """One row per quantity: the relative error of the hand computation against ``other`` (None: not run)."""
    return [{"case": case, "against": source, "quantity": q,
             "rel_error": None if other is None else rel_error(mine[q], other[q])} for q in QUANTITIES]


def fan_out(in_shape, k_shape) -> np.ndarray:
    """How many outputs each input pixel feeds in a valid stride-1 convolution (its count of dL/dX terms)."""
    y_shape = tuple(n - k + 1 for n, k in zip(in_shape, k_shape))
    return grad_input_scatter(np.ones(y_shape), np.ones(k_shape), in_shape)


def run(config: Config, out) -> dict:
    x, w, dy, x1, w1, dz1 = parse_all(config)
    terms = grad_weight_terms(x, dy, w.shape)
    hand = {"Y": conv2d_valid(x, w), "dW": np.sum([t for _, t in terms], axis=0)}
    padded, rot, hand["dX"] = grad_input_full_conv(dy, w)
    scatter = grad_input_scatter(dy, w, x.shape)
    hand1 = grad_1d(x1, w1, dz1)
    tch = torch_grads(x, w, dy) if config.torch_check else None
    tch1 = torch_grads(x1, w1, dz1) if config.torch_check else None
    checks = check_rows("2-D", hand, library_grads(x, w, dy), "library Conv2d")
    checks += check_rows("1-D", hand1, library_grads(x1, w1, dz1), "library Conv1d")
    if config.torch_check:
        checks += check_rows("2-D", hand, tch, "torch autograd") + check_rows("1-D", hand1, tch1, "torch autograd")
    out.save_metrics("checks", checks)
    # the names of matrices.json are those the course map's hints quote
    out.save_metrics("matrices", {"X": x, "W": w, "dL/dY": dy, "Y": hand["Y"], "dL/dW": hand["dW"],
                                  "dL/dX": hand["dX"], "dL/dY padded": padded, "rot180(W)": rot,
                                  "dW terms": {f"{i},{j}": t for (i, j), t in terms},
                                  "1d": {"X": x1, "W": w1, "dL/dZ": dz1, "Z": hand1["Y"], "dW": hand1["dW"],
                                         "dX": hand1["dX"]}})
    errors = [r["rel_error"] for r in checks if r["rel_error"] is not None]
    worst = max(errors) if errors else None
    fans = fan_out(x.shape, w.shape)
    summary = (f"max rel. error vs library/autograd {worst:.2e}" if worst is not None else "no check run"
               ) + f"; dL/dW = {hand['dW'].tolist()}"
    return {"summary": summary, "X": x.tolist(), "W": w.tolist(), "dY": dy.tolist(), "Y": hand["Y"].tolist(),
            "dW": hand["dW"].tolist(), "dX": hand["dX"].tolist(), "dY_padded": padded.tolist(),
            "rot180_W": rot.tolist(), "dW_terms": [{"i": i, "j": j, "term": t.tolist()} for (i, j), t in terms],
            "scatter_max_diff": float(np.max(np.abs(scatter - hand["dX"]))),
            "x1d": x1.tolist(), "weight1d": w1.tolist(), "dy1d": dz1.tolist(), "Z_1d": hand1["Y"].tolist(),
            "dW_1d": hand1["dW"].tolist(), "dX_1d": hand1["dX"].tolist(), "checks": checks,
            "max_rel_error": worst, "torch_checked": tch is not None, "torch_asked": config.torch_check,
            "fan_out_corner": int(fans[0, 0]), "fan_out_max": int(fans.max()),
            # dL/dW is itself a valid cross-correlation: of X with dL/dY as the kernel
            "dw_as_correlation_diff": float(np.max(np.abs(conv2d_valid(x, dy) - hand["dW"]))),
            "dw_1d_as_correlation_diff": float(np.max(np.abs(np.correlate(x1, dz1, "valid") - hand1["dW"])))}


# -- report ---------------------------------------------------------------------------------------
def agreement_sentence(worst: float | None, tol: float = AGREE_TOL):
    if worst is None:
        return _("No check was run.")
    if worst < tol:
        return _("Largest relative error of the hand computation against the library and autograd: {e:.2e}; "
                 "they agree to float64 rounding.", e=worst)
    return _("Largest relative error of the hand computation against the library and autograd: {e:.2e}; "
             "**they disagree** (see the table).", e=worst)


def torch_sentence(asked: bool, checked: bool):
    if not asked:
        return _("The comparison with torch autograd was turned off (`--no-torch-check`).")
    if not checked:
        return _("PyTorch is not installed: the autograd check was skipped, only the library was compared.")
    return None


def scatter_sentence(diff: float, tol: float = AGREE_TOL):
    if diff <= tol:
        return _("The same `dL/dX` as a scatter (each `dL/dY[i,j]` stamps `dL/dY[i,j]·W` onto its input window): "
                 "largest difference {d:.3g}, the same matrix.", d=diff)
    return _("The same `dL/dX` as a scatter (each `dL/dY[i,j]` stamps `dL/dY[i,j]·W` onto its input window): "
             "largest difference {d:.3g}; **the two forms disagree**.", d=diff)


def terms_sentence(n_terms: int, nonzero: int):
    return _("`dL/dW` is a sum of {n} patches, {k} of them with a nonzero weight `dL/dY[i,j]`.", n=n_terms,
             k=nonzero)


def fan_out_sentence(corner: int, most: int, dx_corner: float):
    return _n("Each input pixel collects gradient from every output it fed: `X[0,0]` feeds {n} output "
              "(`dL/dX[0,0]` = {g:g}), the most connected pixels feed {m}.",
              "Each input pixel collects gradient from every output it fed: `X[0,0]` feeds {n} outputs "
              "(`dL/dX[0,0]` = {g:g}), the most connected pixels feed {m}.", corner, g=dx_corner, m=most)


def correlation_sentence(diff_2d: float, diff_1d: float, tol: float = AGREE_TOL):
    """Whether dL/dW equals the valid cross-correlation of X with the upstream gradient (2-D and 1-D)."""
    if max(diff_2d, diff_1d) <= tol:
        return _("`dL/dW` is itself a convolution: the valid cross-correlation of `X` with `dL/dY` as the kernel "
                 "gives the same matrix (largest difference {a:.3g}), and in 1-D `X ⋆ dL/dZ` gives the same "
                 "`dL/dW_j` (largest difference {b:.3g}).", a=diff_2d, b=diff_1d)
    return _("The valid cross-correlation of `X` with the upstream gradient differs from `dL/dW` by up to {a:.3g} "
             "(2-D) and {b:.3g} (1-D): **the hand computation is wrong**.", a=diff_2d, b=diff_1d)


def one_d_lines(result: dict) -> list:
    x1, dz1, dw = result["x1d"], result["dy1d"], result["dW_1d"]
    lines = []
    for j in range(len(result["weight1d"])):
        parts = " + ".join(f"({dz1[i]:g})({x1[i + j]:g})" for i in range(len(dz1)))
        lines.append(_("`dL/dW_{j} = {parts}` = {v:g}", j=j, parts=parts, v=dw[j]))
    return lines


def _matrix(doc, name: str, m) -> None:
    doc.para(_("`{name}`, shape {shape}:", name=name, shape="x".join(map(str, np.shape(m)))))
    doc.code(format_matrix(m))


def report(result: dict, config: Config, doc) -> None:
    r = {k: np.asarray(v) for k, v in result.items() if k in ("X", "W", "dY", "Y", "dW", "dX", "dY_padded",
                                                               "rot180_W")}
    kh, kw = r["W"].shape
    doc.para(_("**Question.** For a valid stride-1 convolution with the given `X`, `W` and `dL/dY`, what are "
               "`dL/dW` and `dL/dX`, and in 1-D, why is `dL/dW` itself a convolution?"))
    doc.para(_("Convention: `Y = W ⋆ X` is cross-correlation (the kernel is not flipped), stride 1, no padding."))
    doc.plot(plot_gradients(r), "gradients", _("The input, the kernel, the output, and the three gradients."))
    for name, key in (("X", "X"), ("W", "W"), ("Y = W ⋆ X", "Y"), ("dL/dY", "dY"), ("dL/dW", "dW"), ("dL/dX", "dX")):
        _matrix(doc, name, r[key])
    doc.heading(_("Step 1: `dL/dW = Σ_i,j dL/dY[i,j] · patch(i,j)`"))
    doc.plot(plot_dw_terms(result), "dw_terms", _("Each term `dL/dY[i,j] · patch(i,j)` and their sum."))
    for t in result["dW_terms"]:
        i, j = t["i"], t["j"]
        doc.para(_("`dL/dY[{i},{j}]` = {g:g} times `X[{i}:{i2}, {j}:{j2}]`:", i=i, j=j, g=float(r["dY"][i, j]),
                   i2=i + kh, j2=j + kw))
        doc.code(format_matrix(t["term"]))
    _matrix(doc, "dL/dW", r["dW"])
    doc.heading(_("Step 2: `dL/dX` = (`dL/dY` zero-padded by the kernel size - 1) ⋆ `rot180(W)`, a full convolution"))
    doc.plot(plot_dx_full_conv(r), "dx_full_conv", _("The padded upstream gradient, the rotated kernel and `dL/dX`."))
    _matrix(doc, f"pad(dL/dY, ({kh - 1}, {kw - 1}))", r["dY_padded"])
    _matrix(doc, "rot180(W)", r["rot180_W"])
    _matrix(doc, "dL/dX", r["dX"])
    doc.para(scatter_sentence(result["scatter_max_diff"]))
    doc.heading(_("Step 3: the 1-D case, `dL/dW_j = Σ_i dL/dZ_i X_(i+j)`"))
    doc.bullets(one_d_lines(result))
    doc.para(_("`Z` = `{z}`, `dL/dX` = `{dx}`.", z=format_matrix(result["Z_1d"], ".4g"),
               dx=format_matrix(result["dX_1d"], ".4g")))
    doc.heading(_("Checks"))
    doc.table([("case", _("case"), ""), ("against", _("against"), ""), ("quantity", _("quantity"), ""),
               ("rel_error", _("relative error"), ".2e")],
              [{**c, "against": _(AGAINST[c["against"]]), "quantity": CodeText(c["quantity"]),
                "rel_error": c["rel_error"] if c["rel_error"] is not None else _("not run")}
               for c in result["checks"]])
    doc.heading(_("Observations (computed from this run)"))
    nonzero = int(np.sum(r["dY"] != 0))
    doc.bullets([agreement_sentence(result["max_rel_error"]),
                 torch_sentence(result["torch_asked"], result["torch_checked"]),
                 terms_sentence(len(result["dW_terms"]), nonzero),
                 correlation_sentence(result["dw_as_correlation_diff"], result["dw_1d_as_correlation_diff"]),
                 fan_out_sentence(result["fan_out_corner"], result["fan_out_max"], float(r["dX"][0, 0]))])


AGAINST = {"library Conv2d": N_("library `Conv2d`"), "library Conv1d": N_("library `Conv1d`"),
           "torch autograd": N_("torch autograd")}
