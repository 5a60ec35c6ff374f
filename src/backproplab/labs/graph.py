"""Lab: the computational graph of a regularized one-neuron model, every partial derivative, one step.

The question (document 003, question 3.1): draw the graph of

    u = w·x,  z = u + b,  y = σ(z),  d = y - t,  L = ½d²,  R = ½w²,  L_reg = L + λR

(leaves w, x, b, t, λ) and derive the partial derivative of L_reg with respect to every variable.
Question 3.3: take one gradient-descent step on w and b from a point of your choice.

Local derivatives, one per edge of the graph:

    ∂u/∂w = x   ∂u/∂x = w   ∂z/∂u = 1   ∂z/∂b = 1   ∂y/∂z = y(1 - y)   ∂d/∂y = 1   ∂d/∂t = -1
    ∂L/∂d = d   ∂R/∂w = w   ∂L_reg/∂L = 1   ∂L_reg/∂R = λ   ∂L_reg/∂λ = R

Backpropagation multiplies them along every path from L_reg to a variable and adds the paths
(w reaches L_reg twice: through u and through R):

    ∂L_reg/∂y = y - t                    ∂L_reg/∂z = ∂L_reg/∂u = (y - t)·y(1 - y)
    ∂L_reg/∂w = (y - t)·y(1 - y)·x + λw  ∂L_reg/∂b = (y - t)·y(1 - y)
    ∂L_reg/∂x = (y - t)·y(1 - y)·w       ∂L_reg/∂t = -(y - t)       ∂L_reg/∂λ = ½w²

The lab computes every partial three ways: the library's layers (``Linear`` for z = wx + b,
``Sigmoid``, ``MSELoss`` with one example, i.e. ½(y - t)²) run backward and chained through the
local derivatives of the nodes they do not cover (d, R, λ); the closed forms above; and
central differences of the forward pass, where a node is perturbed with everything upstream of
it held fixed. The step is the library's SGD with ``weight_decay = λ`` on w only: its update
w ← w - lr·(∂L/∂w + λw) is exactly gradient descent on L_reg.

Exercises: (1) at which z is ∂y/∂z largest, and what is its value? (2) with t = 1 and w = 10,
x = 1, b = 0, why is the step tiny although the loss is not 0?

Reference: Goodfellow, Bengio & Courville, Deep Learning (2016), §6.5 (computational graphs).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..report.document import CodeText
from ..report.i18n import N_, _
from .config import LabConfig, option, quick
from .graph_plots import plot_graph

NAME = "graph"
TITLE = N_("Computational graph of `L_reg = ½(σ(wx + b) - t)² + λ·½w²`: every partial derivative and one "
           "gradient step")
SUMMARY = N_("every partial derivative of L_reg (leaves w, x, b, t, λ and every inner node) by backpropagation, "
             "checked by central differences; one gradient-descent step")
QUESTIONS = ("003/Q3.1", "003/Q3.3")

LEAVES = ("w", "x", "b", "t", "lam")
NODES = ("u", "z", "y", "d", "L", "R", "L_reg")
#: step of the central differences (float64; the truncation error is about h², the rounding about 1e-16/h)
H = 1e-6
#: two computations of a derivative agree when they differ by at most this × max(1, |value|)
AGREE_TOL = 1e-7
#: the two paths of ∂L_reg/∂w "nearly cancel" when their sum is below this fraction of the larger one
CANCEL = 0.1

#: closed form of every partial derivative of L_reg (shown in the report)
FORMULAS = {"w": "(y - t)·y(1 - y)·x + λw", "x": "(y - t)·y(1 - y)·w", "b": "(y - t)·y(1 - y)",
            "t": "-(y - t)", "lam": "R = ½w²", "u": "(y - t)·y(1 - y)", "z": "(y - t)·y(1 - y)",
            "y": "y - t", "d": "d = y - t", "L": "1", "R": "λ", "L_reg": "1"}
#: how a name is written in formulas
SYMBOL = {"lam": "λ"}


@dataclass(frozen=True)
class Config(LabConfig):
    w: float = option(0.8, "weight w", low=-100, high=100)
    x: float = option(1.5, "input x", low=-100, high=100)
    b: float = option(-0.2, "bias b", low=-100, high=100)
    t: float = option(1.0, "target t", low=-100, high=100)
    lam: float = option(0.1, "λ, the strength of the penalty R = ½w²", low=0, high=100)
    lr: float = option(0.5, "learning rate of the one gradient step", low=0, low_open=True, high=100)

    def quick(self) -> "Config":
        return quick(self)  # nothing to shorten: the lab takes milliseconds

    def leaves(self) -> dict[str, float]:
        return {"w": self.w, "x": self.x, "b": self.b, "t": self.t, "lam": self.lam}


def sigmoid(z: float) -> float:
    """σ(z) without overflow for large |z|."""
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


def forward(leaves: dict[str, float], fixed: dict[str, float] | None = None) -> dict[str, float]:
    """Every node's value, in graph order; a name in ``fixed`` takes the given value instead.

    Fixing an inner node (say z) cuts it from what is upstream of it, so a central difference
    in it is the partial derivative with respect to that node.
    """
    fixed = fixed or {}
    v = {name: fixed.get(name, value) for name, value in leaves.items()}

    def node(name, value):
        v[name] = fixed.get(name, value)

    node("u", v["w"] * v["x"])
    node("z", v["u"] + v["b"])
    node("y", sigmoid(v["z"]))
    node("d", v["y"] - v["t"])
    node("L", 0.5 * v["d"] ** 2)
    node("R", 0.5 * v["w"] ** 2)
    node("L_reg", v["L"] + v["lam"] * v["R"])
    return v


def local_derivatives(v: dict[str, float]) -> list[dict]:
    """One row per edge (child ← parent): the local derivative ∂child/∂parent, its formula and value."""
    edges = [("u", "w", "x", v["x"]), ("u", "x", "w", v["w"]), ("z", "u", "1", 1.0), ("z", "b", "1", 1.0),
             ("y", "z", "y(1 - y)", v["y"] * (1.0 - v["y"])), ("d", "y", "1", 1.0), ("d", "t", "-1", -1.0),
             ("L", "d", "d", v["d"]), ("R", "w", "w", v["w"]), ("L_reg", "L", "1", 1.0),
             ("L_reg", "R", "λ", v["lam"]), ("L_reg", "lam", "R", v["R"])]
    return [{"child": c, "parent": p, "formula": f, "value": val} for c, p, f, val in edges]


def closed_form(v: dict[str, float]) -> dict[str, float]:
    """∂L_reg/∂(every name) by the formulas of the module docstring."""
    y, t, w, x, lam = v["y"], v["t"], v["w"], v["x"], v["lam"]
    dz = (y - t) * y * (1.0 - y)
    return {"w": dz * x + lam * w, "x": dz * w, "b": dz, "t": -(y - t), "lam": 0.5 * w * w, "u": dz, "z": dz,
            "y": y - t, "d": y - t, "L": 1.0, "R": lam, "L_reg": 1.0}


def _backward(leaves: dict[str, float]):
    """The library's Linear → Sigmoid → MSELoss (float64, one example) at ``leaves``, run forward and
    backward: (the Linear layer with ∂L/∂w, ∂L/∂b in its .grad, ∂L/∂y, ∂L/∂z, ∂L/∂x)."""
    from ..nn import Linear, MSELoss, Sigmoid

    lin = Linear(1, 1, rng=np.random.default_rng(0), dtype=np.float64)
    lin.weight.data[...] = leaves["w"]
    lin.bias.data[...] = leaves["b"]
    sig, loss_fn = Sigmoid(), MSELoss()
    loss_fn(sig.forward(lin.forward(np.array([[leaves["x"]]]))), np.array([[leaves["t"]]]))  # m = 1: ½(y - t)²
    dy = loss_fn.backward()
    dz = sig.backward(dy)
    dx = lin.backward(dz)
    return lin, float(dy[0, 0]), float(dz[0, 0]), float(dx[0, 0])


def library_partials(leaves: dict[str, float]) -> dict:
    """∂L_reg/∂(every name) by the library's backward, chained through the local derivatives of the
    nodes its layers do not cover (d, R, λ), and the two path values of ∂L_reg/∂w."""
    lin, dy, dz, dx = _backward(leaves)
    w, lam = leaves["w"], leaves["lam"]
    g = {"L_reg": 1.0, "L": 1.0, "R": lam, "lam": 0.5 * w * w}  # ∂L_reg/∂L = 1, ∂L_reg/∂R = λ, ∂L_reg/∂λ = R
    g["y"] = g["d"] = dy   # MSELoss's ∂L/∂y = ∂L/∂d · ∂d/∂y with ∂d/∂y = 1 (and ∂L_reg/∂L = 1)
    g["t"] = -g["d"]       # ∂d/∂t = -1
    g["z"] = g["u"] = dz   # ∂z/∂u = 1 (Linear forms u = wx and z = u + b in one step)
    g["x"], g["b"] = dx, float(lin.bias.grad[0])
    through_u, through_r = float(lin.weight.grad[0, 0]), g["R"] * w  # the two paths from w to L_reg, added
    g["w"] = through_u + through_r
    return {"partials": g, "paths_w": {"through_u": through_u, "through_R": through_r}}


def central_differences(leaves: dict[str, float], h: float = H) -> dict[str, float]:
    """∂L_reg/∂(every name) as (L_reg(v + h) - L_reg(v - h)) / 2h, the name's value set and everything
    upstream of it held fixed."""
    base = forward(leaves)
    out = {}
    for name in LEAVES + NODES:
        hi = forward(leaves, {name: base[name] + h})["L_reg"]
        lo = forward(leaves, {name: base[name] - h})["L_reg"]
        out[name] = (hi - lo) / (2.0 * h)
    return out


def sgd_step(leaves: dict[str, float], lr: float) -> dict:
    """One step of the library's SGD on w and b: weight_decay = λ on w adds λw, the gradient of λR."""
    from ..optim import SGD

    lin = _backward(leaves)[0]
    opt = SGD([{"params": [lin.weight], "weight_decay": leaves["lam"]},
               {"params": [lin.bias], "weight_decay": 0.0}], lr=lr)
    opt.step()
    w_new, b_new = float(lin.weight.data[0, 0]), float(lin.bias.data[0])
    return {"w_new": w_new, "b_new": b_new, "L_reg_after": forward({**leaves, "w": w_new, "b": b_new})["L_reg"]}


def _scaled_diff(a: float, b: float) -> float:
    return abs(a - b) / max(1.0, abs(a), abs(b))


def run(config: Config, out) -> dict:
    leaves = config.leaves()
    values = forward(leaves)
    lib = library_partials(leaves)
    partials, formula, central = lib["partials"], closed_form(values), central_differences(leaves)
    names = list(LEAVES + NODES)
    rows = [{"name": n, "formula": FORMULAS[n], "library": partials[n], "closed_form": formula[n],
             "central_difference": central[n], "diff_closed_form": _scaled_diff(partials[n], formula[n]),
             "diff_central": _scaled_diff(partials[n], central[n])} for n in names]
    worst_f = max(rows, key=lambda r: r["diff_closed_form"])
    worst_c = max(rows, key=lambda r: r["diff_central"])
    step = {"lr": config.lr, "w": config.w, "b": config.b, "dw": partials["w"], "db": partials["b"],
            "w_new_closed_form": config.w - config.lr * formula["w"],
            "b_new_closed_form": config.b - config.lr * formula["b"], "L_reg_before": values["L_reg"],
            **sgd_step(leaves, config.lr)}
    local = local_derivatives(values)
    out.save_metrics("partials", rows)
    out.save_metrics("local_derivatives", local)
    out.save_metrics("step", step)
    summary = (f"∂L_reg/∂w = {partials['w']:.10g}, ∂b = {partials['b']:.10g}, ∂x = {partials['x']:.10g}, "
               f"∂t = {partials['t']:.10g}, ∂λ = {partials['lam']:.10g}; library vs closed form "
               f"{worst_f['diff_closed_form']:.1e}, vs central differences {worst_c['diff_central']:.1e}; "
               f"one step (lr = {config.lr:g}): w {config.w:g} → {step['w_new']:.10g}, b {config.b:g} → "
               f"{step['b_new']:.10g}, L_reg {values['L_reg']:.6g} → {step['L_reg_after']:.6g}")
    return {"summary": summary, "values": values, "partials": partials, "closed_form": formula,
            "central_differences": central, "paths_w": lib["paths_w"], "local_derivatives": local, "rows": rows,
            "max_diff_closed_form": worst_f["diff_closed_form"], "worst_closed_form": worst_f["name"],
            "max_diff_central": worst_c["diff_central"], "worst_central": worst_c["name"], "step": step}


# -- report ---------------------------------------------------------------------------------------
def symbol(name: str) -> str:
    return SYMBOL.get(name, name)


def agreement_sentence(method, max_diff: float, worst: str, tol: float = AGREE_TOL):
    """Whether ``method`` (a message naming the second computation) agrees with the library's backward."""
    if max_diff <= tol:
        return _("{method} agrees with the library's backward pass on all {n} partial derivatives: the largest "
                 "difference is {d:.1e} (relative to `max(1, |value|)`; tolerance {tol:.0e}).", method=method,
                 n=len(LEAVES + NODES), d=max_diff, tol=tol)
    return _("{method} does NOT agree with the library's backward pass: `∂L_reg/∂{name}` differs by {d:.2e} "
             "(relative to `max(1, |value|)`; tolerance {tol:.0e}).", method=method, name=symbol(worst), d=max_diff,
             tol=tol)


def paths_sentence(through_u: float, through_r: float, cancel: float = CANCEL):
    """What the two paths from w to L_reg contribute, and whether they nearly cancel."""
    total = through_u + through_r
    big = max(abs(through_u), abs(through_r))
    params = dict(a=through_u, b=through_r, s=total)
    if big > 0 and through_u * through_r < 0 and abs(total) < cancel * big:
        return _("`w` reaches `L_reg` along two paths: through `u` the data term gives {a:.6g}, through `R` the "
                 "penalty gives `λw` = {b:.6g}. They nearly cancel, so `∂L_reg/∂w` = {s:.6g} is small and one step "
                 "hardly moves `w`.", **params)
    return _("`w` reaches `L_reg` along two paths: through `u` the data term gives {a:.6g}, through `R` the penalty "
             "gives `λw` = {b:.6g}; their sum is `∂L_reg/∂w` = {s:.6g}.", **params)


def step_sentence(before: float, after: float, dw: float, db: float, lr: float):
    """Whether the step decreased L_reg; a rise can only mean the step overshot (or a zero gradient)."""
    if after < before:
        return _("The step decreased `L_reg` from {a:.10g} to {b:.10g} (learning rate {lr:g}).", a=before, b=after,
                 lr=lr)
    if dw == 0 and db == 0:
        return _("The gradient with respect to `w` and `b` is zero: the point is stationary and the step leaves "
                 "`L_reg` at {a:.10g}.", a=before)
    return _("The step did NOT decrease `L_reg` ({a:.10g} → {b:.10g}): at learning rate {lr:g} it overshoots; "
             "a small enough step along the negative gradient always decreases it.", a=before, b=after, lr=lr)


def report(result: dict, config: Config, doc) -> None:
    v, p, step = result["values"], result["partials"], result["step"]
    doc.para(_("**Question** (document 003, questions 3.1 and 3.3). For `u = wx`, `z = u + b`, `y = σ(z)`, "
               "`d = y - t`, `L = ½d²`, `R = ½w²` and `L_reg = L + λR`, draw the computational graph, derive the "
               "partial derivative of `L_reg` with respect to every variable, and take one gradient-descent "
               "step on `w` and `b`."))
    doc.para(_("Leaves: `w` = {w:g}, `x` = {x:g}, `b` = {b:g}, `t` = {t:g}, `λ` = {lam:g}. Forward pass: `z` = "
               "{z:.6g}, `y` = {y:.6g}, `L` = {L:.6g}, `R` = {R:.6g}, `L_reg` = {Lreg:.6g}.", w=config.w,
               x=config.x, b=config.b, t=config.t, lam=config.lam, z=v["z"], y=v["y"], L=v["L"], R=v["R"],
               Lreg=v["L_reg"]))
    doc.plot(plot_graph(result), "graph",
             _("The graph. Each box gives a variable's value and, below it, `∂L_reg/∂` of it; each arrow is labelled "
               "with its local derivative. Blue boxes are the leaves."))
    doc.heading(_("Local derivatives (one per edge)"))
    doc.table([("edge", _("edge"), ""), ("formula", _("formula"), ""), ("value", _("value"), ".10g")],
              [{"edge": CodeText(f"∂{symbol(r['child'])}/∂{symbol(r['parent'])}"), "formula": CodeText(r["formula"]),
                "value": r["value"]} for r in result["local_derivatives"]])
    doc.heading(_("Every partial derivative of `L_reg`"))
    doc.para(_("Backpropagation multiplies the local derivatives along each path from `L_reg` to a variable and "
               "adds the paths. The library column runs `Linear` → `Sigmoid` → `MSELoss` backward; the central "
               "differences perturb one variable by ±{h:g} with everything upstream of it held fixed.", h=H))
    doc.table([("name", _("variable"), ""), ("formula", _("closed form"), ""),
               ("library", _("library backward"), ".12g"), ("closed_form", _("closed form value"), ".12g"),
               ("central_difference", _("central difference"), ".12g")],
              [{**r, "name": CodeText(f"∂L_reg/∂{symbol(r['name'])}"), "formula": CodeText(r["formula"])}
               for r in result["rows"]])
    doc.heading(_("Observations (computed from this run)"))
    doc.bullets([
        agreement_sentence(_("The closed form"), result["max_diff_closed_form"], result["worst_closed_form"]),
        agreement_sentence(_("The central difference"), result["max_diff_central"], result["worst_central"]),
        paths_sentence(result["paths_w"]["through_u"], result["paths_w"]["through_R"]),
        _("`∂L_reg/∂t` = {t:.6g} = `-(y - t)` and `∂L_reg/∂λ` = {lam:.6g} = `½w²`: they exist, but `t` and `λ` "
          "are data and a setting, not parameters, so gradient descent does not update them.", t=p["t"],
          lam=p["lam"]),
    ])
    doc.heading(_("One gradient-descent step"))
    doc.para(_("`w ← w - lr·∂L_reg/∂w`, `b ← b - lr·∂L_reg/∂b` with `lr` = {lr:g}, by the library's `SGD` "
               "(`weight_decay = λ` on `w` only adds `λw`, the gradient of `λR`).", lr=step["lr"]))
    doc.table([("param", _("parameter"), ""), ("before", _("before"), ".10g"), ("grad", _("gradient"), ".10g"),
               ("after", _("after (library SGD)"), ".12g"), ("formula", _("after (closed form)"), ".12g")],
              [{"param": CodeText("w"), "before": step["w"], "grad": step["dw"], "after": step["w_new"],
                "formula": step["w_new_closed_form"]},
               {"param": CodeText("b"), "before": step["b"], "grad": step["db"], "after": step["b_new"],
                "formula": step["b_new_closed_form"]}])
    doc.bullets([step_sentence(step["L_reg_before"], step["L_reg_after"], step["dw"], step["db"], step["lr"])])
