"""Lab: the computational graph of a regularized one-neuron model, every partial derivative, one step.

The question: draw the graph of

    z = w·x + b,   y = σ(z),   L = ½(y - t)²,   R = ½w²,   L_reg = L + λR

and compute every local and total partial derivative, once by the chain rule
written out (closed form) and once by the library's modules (Linear → Sigmoid →
MSELoss with m = 1, backward); check they agree; then take one gradient step.

Closed form (the local derivatives on the edges of the graph):

    ∂L_reg/∂L = 1,  ∂L_reg/∂R = λ,  ∂L/∂y = y - t,  ∂y/∂z = y(1 - y),  ∂R/∂w = w,
    ∂z/∂w = x,  ∂z/∂b = 1,  ∂z/∂x = w
    ∂L_reg/∂w = (y - t)·y(1 - y)·x + λw,   ∂L_reg/∂b = (y - t)·y(1 - y)

The step uses the library's SGD with ``weight_decay = λ`` on w only: its update
w ← w - lr·(∂L/∂w + λw) is exactly the gradient of L_reg = L + λ·½w².

Exercises: (1) at which z is ∂y/∂z largest, and what is its value? (2) with
t = 1 and w = 10, x = 1, b = 0, why is the step tiny although the loss is not 0?

Reference: Goodfellow, Bengio & Courville, Deep Learning (2016), §6.5 (computational graphs).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .common import LabRun, markdown_table, new_figure

NAME = "graph"
TITLE = "Computational graph of z = wx + b, y = σ(z), L = ½(y-t)², L_reg = L + λ·½w²"


@dataclass(frozen=True)
class Config:
    seed: int = 0          # unused (nothing random); common lab interface
    quick: bool = False    # the lab is instant either way
    w: float = 0.8         # weight
    x: float = 1.5         # input
    b: float = -0.2        # bias
    t: float = 1.0         # target
    lam: float = 0.1       # λ, regularization strength
    lr: float = 0.5        # learning rate of the one gradient step


def closed_form(w: float, x: float, b: float, t: float, lam: float) -> dict:
    """Forward values and every partial derivative by the chain rule, in plain floats."""
    z = w * x + b
    y = 1.0 / (1.0 + math.exp(-z))
    loss = 0.5 * (y - t) ** 2
    r = 0.5 * w * w
    d = {"dLreg_dL": 1.0, "dLreg_dR": lam, "dL_dy": y - t, "dy_dz": y * (1.0 - y), "dR_dw": w,
         "dz_dw": x, "dz_db": 1.0, "dz_dx": w}
    d["dL_dz"] = d["dL_dy"] * d["dy_dz"]
    d["dL_dw"] = d["dL_dz"] * x
    d["dL_db"] = d["dL_dz"]
    d["dL_dx"] = d["dL_dz"] * w
    d["dLreg_dw"] = d["dL_dw"] + lam * w
    d["dLreg_db"] = d["dL_db"]
    return {"z": z, "y": y, "L": loss, "R": r, "L_reg": loss + lam * r, **d}


def library_gradients(w: float, x: float, b: float, t: float, lam: float, lr: float) -> dict:
    """The same numbers from the library's Linear, Sigmoid, MSELoss and SGD (float64)."""
    from ..nn import Linear, MSELoss, Sigmoid
    from ..optim import SGD

    lin = Linear(1, 1, rng=np.random.default_rng(0), dtype=np.float64)
    lin.weight.data[...] = w
    lin.bias.data[...] = b
    sig, loss_fn = Sigmoid(), MSELoss()
    xin, target = np.array([[x]]), np.array([[t]])  # one example: m = 1, so MSELoss = ½(y - t)²
    z = lin.forward(xin)
    y = sig.forward(z)
    loss = loss_fn(y, target)
    dy = loss_fn.backward()            # ∂L/∂y
    dz = sig.backward(dy)              # ∂L/∂z
    dx = lin.backward(dz)              # ∂L/∂x; fills ∂L/∂w, ∂L/∂b into .grad
    out = {"z": float(z[0, 0]), "y": float(y[0, 0]), "L": float(loss), "dL_dy": float(dy[0, 0]),
           "dL_dz": float(dz[0, 0]), "dL_dx": float(dx[0, 0]), "dL_dw": float(lin.weight.grad[0, 0]),
           "dL_db": float(lin.bias.grad[0])}
    # L_reg = L + λ·½w²: SGD's weight_decay adds λw to w's gradient, i.e. the gradient of λR
    opt = SGD([{"params": [lin.weight], "weight_decay": lam}, {"params": [lin.bias], "weight_decay": 0.0}], lr=lr)
    opt.step()
    out["w_new"], out["b_new"] = float(lin.weight.data[0, 0]), float(lin.bias.data[0])
    out["L_reg_new"] = closed_form(out["w_new"], x, out["b_new"], t, lam)["L_reg"]
    return out


def numeric_gradients(w, x, b, t, lam, h: float = 1e-6) -> dict:
    """Central differences of L_reg in w, b, x (a third, independent check)."""
    f = lambda w_, x_, b_: closed_form(w_, x_, b_, t, lam)["L_reg"]  # noqa: E731
    return {"dLreg_dw": (f(w + h, x, b) - f(w - h, x, b)) / (2 * h),
            "dLreg_db": (f(w, x, b + h) - f(w, x, b - h)) / (2 * h),
            "dLreg_dx": (f(w, x + h, b) - f(w, x - h, b)) / (2 * h)}


def draw_graph(ax, cf: dict, cfg: Config) -> None:
    """Nodes as boxes with their values; edges labelled with local derivatives."""
    pos = {"w": (0, 2.2), "x": (0, 1.2), "b": (0, 0.2), "z": (2, 1.2), "y": (4, 1.2), "t": (4, 0.2),
           "L": (6, 1.2), "R": (3, 3.0), "λ": (5.3, 3.3), "L_reg": (8, 2.0)}
    vals = {"w": cfg.w, "x": cfg.x, "b": cfg.b, "z": cf["z"], "y": cf["y"], "t": cfg.t, "L": cf["L"],
            "R": cf["R"], "λ": cfg.lam, "L_reg": cf["L_reg"]}
    ops = {"z": "wx+b", "y": "σ(z)", "L": "½(y-t)²", "R": "½w²", "L_reg": "L+λR"}
    edges = [("w", "z", f"∂z/∂w = x = {cf['dz_dw']:.3g}"), ("x", "z", f"∂z/∂x = w = {cf['dz_dx']:.3g}"),
             ("b", "z", "∂z/∂b = 1"), ("z", "y", f"∂y/∂z = y(1-y) = {cf['dy_dz']:.3g}"),
             ("y", "L", f"∂L/∂y = y-t = {cf['dL_dy']:.3g}"), ("t", "L", ""),
             ("w", "R", f"∂R/∂w = w = {cf['dR_dw']:.3g}"), ("L", "L_reg", "∂L_reg/∂L = 1"),
             ("R", "L_reg", f"∂L_reg/∂R = λ = {cfg.lam:g}"), ("λ", "L_reg", "")]
    for a, c, label in edges:
        (x0, y0), (x1, y1) = pos[a], pos[c]
        ax.annotate("", xy=(x1, y1), xytext=(x0, y0),  # shrink: start and end outside the boxes
                    arrowprops=dict(arrowstyle="-|>", color="0.35", lw=1.2, shrinkA=30, shrinkB=36))
        if label:
            ax.text((x0 + x1) / 2, (y0 + y1) / 2 + 0.12, label, fontsize=7.5, ha="center", color="tab:blue")
    for name, (px, py) in pos.items():
        leaf = name not in ops
        text = f"{name} = {vals[name]:.4g}" + ("" if leaf else f"\n{ops[name]}")
        ax.text(px, py, text, ha="center", va="center", fontsize=9,
                bbox=dict(boxstyle="round,pad=0.35", fc="#eef5ff" if leaf else "#fff3e0", ec="0.4"))
    ax.set_xlim(-0.8, 8.9)
    ax.set_ylim(-0.4, 3.8)
    ax.axis("off")
    ax.set_title(f"∂L_reg/∂w = (y-t)·y(1-y)·x + λw = {cf['dLreg_dw']:.5g},   "
                 f"∂L_reg/∂b = {cf['dLreg_db']:.5g}", fontsize=10)


def run(config: Config, out_dir: Path) -> dict:
    lab = LabRun(out_dir, config)
    if config.lam < 0 or config.lr < 0:
        raise ValueError(f"lam and lr must be >= 0, got lam={config.lam}, lr={config.lr}")
    c = config
    cf = closed_form(c.w, c.x, c.b, c.t, c.lam)
    lib = library_gradients(c.w, c.x, c.b, c.t, c.lam, c.lr)
    num = numeric_gradients(c.w, c.x, c.b, c.t, c.lam)
    lib_reg = {"dLreg_dw": lib["dL_dw"] + c.lam * c.w, "dLreg_db": lib["dL_db"], "dLreg_dx": lib["dL_dx"]}
    rows = []
    for key, lib_key in [("z", "z"), ("y", "y"), ("L", "L"), ("dL_dy", "dL_dy"), ("dL_dz", "dL_dz"),
                         ("dL_dw", "dL_dw"), ("dL_db", "dL_db"), ("dL_dx", "dL_dx")]:
        rows.append({"quantity": key, "closed_form": cf[key], "library": lib[lib_key],
                     "abs_diff": abs(cf[key] - lib[lib_key])})
    for key in ("dLreg_dw", "dLreg_db"):
        rows.append({"quantity": key, "closed_form": cf[key], "library": lib_reg[key],
                     "abs_diff": abs(cf[key] - lib_reg[key]), "central_diff": num[key]})
    rows.append({"quantity": "dLreg_dx", "closed_form": cf["dL_dx"], "library": lib_reg["dLreg_dx"],
                 "abs_diff": abs(cf["dL_dx"] - lib_reg["dLreg_dx"]), "central_diff": num["dLreg_dx"]})
    max_diff = max(r["abs_diff"] for r in rows)
    max_num = max(abs(r["closed_form"] - r["central_diff"]) for r in rows if "central_diff" in r)
    w_new_cf = c.w - c.lr * cf["dLreg_dw"]
    b_new_cf = c.b - c.lr * cf["dLreg_db"]
    step = {"lr": c.lr, "w_new": lib["w_new"], "b_new": lib["b_new"], "w_new_closed_form": w_new_cf,
            "b_new_closed_form": b_new_cf, "L_reg_before": cf["L_reg"], "L_reg_after": lib["L_reg_new"]}
    lab.save_metrics("partials", rows)
    lab.save_metrics("step", step)

    fig, axes = new_figure(1, 1, size=(12, 5))
    draw_graph(axes[0][0], cf, c)
    lab.savefig(fig, "graph")

    decreased = lib["L_reg_new"] < cf["L_reg"]
    summary = (f"every partial: library vs closed form max |diff| = {max_diff:.1e}, closed form vs central "
               f"differences {max_num:.1e}; one step (lr={c.lr:g}): L_reg {cf['L_reg']:.6g} → {lib['L_reg_new']:.6g}.")
    local = ", ".join(f"{k} = {cf[k]:.6g}" for k in ("dLreg_dL", "dLreg_dR", "dL_dy", "dy_dz", "dR_dw",
                                                      "dz_dw", "dz_db", "dz_dx"))
    report = [f"# {TITLE}\n", f"w = {c.w}, x = {c.x}, b = {c.b}, t = {c.t}, λ = {c.lam}, lr = {c.lr}.\n",
              "![graph](graph.png)\n",
              f"Forward: z = {cf['z']:.6g}, y = σ(z) = {cf['y']:.6g}, L = {cf['L']:.6g}, R = {cf['R']:.6g}, "
              f"L_reg = {cf['L_reg']:.6g}.\n", f"Local derivatives (edges): {local}.\n",
              "## Partial derivatives: closed form vs the library's backward (and central differences)\n",
              markdown_table(rows, ["quantity", "closed_form", "library", "abs_diff", "central_diff"], floatfmt=".10g"), "\n## One gradient step (library SGD, weight_decay = λ on w)\n",
              f"w: {c.w} → {lib['w_new']:.10g} (closed form w - lr·∂L_reg/∂w = {w_new_cf:.10g}); "
              f"b: {c.b} → {lib['b_new']:.10g} (closed form {b_new_cf:.10g}).\n",
              "## Observations (from the numbers)\n",
              f"- Library and closed form agree to {max_diff:.1e} on every quantity; central differences to "
              f"{max_num:.1e}.",
              f"- The step {'decreased' if decreased else 'did NOT decrease'} L_reg: {cf['L_reg']:.8g} → "
              f"{lib['L_reg_new']:.8g}."]
    lab.write_report("\n".join(report))
    return {"summary": summary, "partials": rows, "step": step, "max_diff": max_diff, "max_numeric_diff": max_num}
