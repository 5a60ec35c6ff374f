"""Lab: gradient descent on a quadratic f(w) = wᵀHw -- the step-size bound 1/λ_max, and Newton in one step.

The question: for which learning rates does gradient descent converge on a
quadratic bowl, and why does Newton's method need only one step?

    f(w) = wᵀ H w,   ∇f = 2 H w,   GD: w ← w - lr·2Hw = (I - 2·lr·H) w

Along eigenvector i the error is multiplied by (1 - 2·lr·λ_i) each step, so GD
converges iff |1 - 2·lr·λ_i| < 1 for all i, i.e. 0 < lr < 1/λ_max (strict: at
lr = 1/λ_max the top direction flips sign with factor -1 forever). Newton:
w ← w - (∇²f)⁻¹∇f = w - (2H)⁻¹·2Hw = 0, the minimum, in one step.

The GD runs use the library's :class:`backproplab.optim.SGD` on a Parameter whose
gradient is set to 2Hw each step.

What you should see: rates below 1/λ_max converge (fastest near 1/(λ_max+λ_min)),
the rate at 1/λ_max oscillates with constant amplitude, rates above it diverge.

Exercises: (1) make H badly conditioned (eigenvalues 1, 100): how many steps does
the best fixed rate need? (2) why is the bound 1/λ_max here and 2/λ_max for
f = ½wᵀHw?

Reference: Goodfellow, Bengio & Courville, Deep Learning (2016), §4.3.1 and §8.6.1.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .common import LabRun, markdown_table, new_figure

NAME = "quadratic"
TITLE = "Gradient descent on wᵀHw: the 1/λ_max bound, and Newton's one step"


@dataclass(frozen=True)
class Config:
    seed: int = 0                                  # unused (nothing random); common lab interface
    quick: bool = False                            # fewer steps (the lab is fast either way)
    eigenvalues: tuple[float, ...] = (1.0, 10.0)   # λ of H (positive: a bowl); 2 values are plotted in 2-D
    rotation_deg: float = 30.0                     # H = R diag(λ) Rᵀ, R a rotation by this angle (2-D only)
    w0: tuple[float, ...] = (1.0, 1.0)             # starting point
    lr_factors: tuple[float, ...] = (0.2, 0.5, 0.9, 1.0, 1.1)  # learning rates, as multiples of 1/λ_max
    num_steps: int = 60                            # GD steps per learning rate


def make_h(eigenvalues, rotation_deg: float) -> np.ndarray:
    """H = R diag(λ) Rᵀ (symmetric, eigenvalues λ); R rotates the first two axes."""
    lam = np.asarray(eigenvalues, dtype=np.float64)
    if lam.ndim != 1 or len(lam) < 1 or np.any(lam <= 0):
        raise ValueError(f"eigenvalues must be positive numbers (a convex bowl), got {tuple(eigenvalues)}")
    r = np.eye(len(lam))
    if len(lam) >= 2:
        a = math.radians(rotation_deg)
        r[:2, :2] = [[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]]
    return r @ np.diag(lam) @ r.T


def gd_trajectory(h: np.ndarray, w0: np.ndarray, lr: float, num_steps: int) -> np.ndarray:
    """Points w_0..w_T of gradient descent on wᵀHw, stepped by the library's SGD. Shape (T+1, d)."""
    from ..nn import Parameter
    from ..optim import SGD

    w = Parameter(np.array(w0, dtype=np.float64))
    opt = SGD([w], lr=lr)
    path = [w.data.copy()]
    for _ in range(num_steps):
        opt.zero_grad()
        w.grad += 2.0 * h @ w.data  # ∇(wᵀHw) = 2Hw for symmetric H
        opt.step()
        path.append(w.data.copy())
        if not np.all(np.isfinite(w.data)) or np.abs(w.data).max() > 1e150:
            break  # diverged far enough; stop before overflow
    return np.array(path)


def newton_step(h: np.ndarray, w: np.ndarray) -> np.ndarray:
    """w - (∇²f)⁻¹ ∇f with ∇f = 2Hw, ∇²f = 2H (solve, not invert)."""
    return w - np.linalg.solve(2.0 * h, 2.0 * h @ w)


def measured_factor(path: np.ndarray, h: np.ndarray, window: int = 10) -> float:
    """Largest per-step factor |c_T / c_{T-k}|^(1/k) of the trajectory's coordinates along H's eigenvectors.

    Each coordinate of GD on wᵀHw evolves on its own, c ← (1 - 2·lr·λ_i)·c, so this measures
    the spectral radius max|1 - 2·lr·λ_i| from the path (directions w0 does not touch are skipped).
    """
    _, vecs = np.linalg.eigh(h)
    coords = path @ vecs  # (T+1, d): coordinates in the eigenbasis
    k = min(window, len(path) - 1)
    scale = np.abs(coords[0]).max()
    worst = 0.0
    for i in range(coords.shape[1]):
        if abs(coords[0, i]) <= 1e-12 * scale:
            continue
        a, b = abs(coords[-1 - k, i]), abs(coords[-1, i])
        if not np.isfinite(b):
            return math.inf
        if a > 0.0:
            worst = max(worst, (b / a) ** (1.0 / k))
    return float(worst)


def behaviour(factor: float, tol: float = 1e-6) -> str:
    """'converges' / 'constant amplitude' / 'diverges' from a measured per-step factor."""
    if factor < 1.0 - tol:
        return "converges"
    if factor > 1.0 + tol:
        return "diverges"
    return "constant amplitude"


def run(config: Config, out_dir: Path) -> dict:
    lab = LabRun(out_dir, config)
    h = make_h(config.eigenvalues, config.rotation_deg)
    w0 = np.asarray(config.w0, dtype=np.float64)
    if w0.shape != (len(config.eigenvalues),):
        raise ValueError(f"w0 has {w0.size} entries but H is {len(config.eigenvalues)}x{len(config.eigenvalues)}")
    if config.num_steps < 1:
        raise ValueError(f"num_steps must be >= 1, got {config.num_steps}")
    lam = np.linalg.eigvalsh(h)
    lam_max, lam_min = float(lam.max()), float(lam.min())
    bound = 1.0 / lam_max
    num_steps = min(config.num_steps, 25) if config.quick else config.num_steps
    f = lambda w: float(w @ h @ w)  # noqa: E731

    rows, paths = [], {}
    for factor in config.lr_factors:
        lr = factor * bound
        path = gd_trajectory(h, w0, lr, num_steps)
        fv = np.array([f(w) for w in path])
        radius = float(np.max(np.abs(1.0 - 2.0 * lr * lam)))  # per-step factor of the slowest direction
        measured = measured_factor(path, h)
        rows.append({"lr_factor": factor, "lr": lr, "spectral_radius": radius, "measured_factor": measured,
                     "f0": fv[0], "f_final": fv[-1], "steps": len(path) - 1, "behaviour": behaviour(measured)})
        paths[factor] = (path, fv)
    w_newton = newton_step(h, w0)
    newton_dist = float(np.linalg.norm(w_newton))
    best_lr = 1.0 / (lam_max + lam_min)  # minimizes max|1 - 2·lr·λ| over [λ_min, λ_max]
    lab.save_metrics("runs", rows)
    lab.save_metrics("newton", {"w0": w0, "w1": w_newton, "distance_to_minimum": newton_dist,
                                "f1": f(w_newton)})

    # -- plots: trajectories (2-D), f vs step, the convergence region -------------
    fig, axes = new_figure(1, 3, size=(16, 4.6))
    ax = axes[0][0]
    if len(w0) == 2:
        span = 1.6 * np.abs(w0).max()
        g = np.linspace(-span, span, 200)
        xx, yy = np.meshgrid(g, g)
        zz = h[0, 0] * xx ** 2 + 2 * h[0, 1] * xx * yy + h[1, 1] * yy ** 2
        ax.contour(xx, yy, zz, levels=np.geomspace(max(zz.max(), 1e-12) * 1e-4, zz.max(), 12), colors="0.8")
        for factor, (path, _) in paths.items():
            shown = path[: 15]  # the first steps are the informative ones
            ax.plot(shown[:, 0], shown[:, 1], "o-", ms=3, label=f"lr = {factor:g}/λ_max")
        ax.plot([w0[0], w_newton[0]], [w0[1], w_newton[1]], "k--", lw=2, label="Newton (1 step)")
        ax.set_xlim(-span, span)
        ax.set_ylim(-span, span)
        ax.set_aspect("equal")
        ax.legend(fontsize=7)
        ax.set_title("first 15 steps on the contours of wᵀHw")
    else:
        ax.text(0.5, 0.5, f"d = {len(w0)}: trajectories shown only for d = 2", ha="center")
    ax = axes[0][1]
    for factor, (_, fv) in paths.items():
        ax.semilogy(np.maximum(fv, 1e-300), label=f"{factor:g}/λ_max")
    ax.set_xlabel("step")
    ax.set_ylabel("f(w)")
    ax.set_ylim(1e-20, 1e20)
    ax.legend(fontsize=7)
    ax.set_title("f(w_t)")
    ax = axes[0][2]
    lrs = np.linspace(0, 1.4 * bound, 400)
    for i, l in enumerate(lam):
        ax.plot(lrs, np.abs(1 - 2 * lrs * l), label=f"|1-2·lr·λ_{i + 1}|, λ={l:g}")
    ax.axhline(1.0, color="k", lw=0.8)
    ax.axvspan(0, bound, color="tab:green", alpha=0.12, label="converges: 0 < lr < 1/λ_max")
    ax.axvline(best_lr, color="tab:green", ls=":", label=f"best lr = 1/(λ_max+λ_min) = {best_lr:.3g}")
    ax.set_ylim(0, 2)
    ax.set_xlabel("learning rate")
    ax.legend(fontsize=7)
    ax.set_title("per-step factor along each eigenvector")
    lab.savefig(fig, "quadratic")

    conv = [r["lr_factor"] for r in rows if r["behaviour"] == "converges"]
    div = [r["lr_factor"] for r in rows if r["behaviour"] == "diverges"]
    osc = [r["lr_factor"] for r in rows if r["behaviour"] == "constant amplitude"]
    worst = max(abs(r["measured_factor"] - r["spectral_radius"]) for r in rows if np.isfinite(r["measured_factor"]))
    summary = (f"λ = {lam_min:g}..{lam_max:g}, bound 1/λ_max = {bound:.4g}. Converged: lr factors {conv}; "
               f"constant amplitude: {osc}; diverged: {div}. Newton: ||w_1 - w*|| = {newton_dist:.2e} after one step.")
    report = [f"# {TITLE}\n", f"H = {np.array2string(h, precision=4)}, eigenvalues {np.round(lam, 6).tolist()}, "
              f"w0 = {w0.tolist()}, {num_steps} steps.\n",
              f"Gradient 2Hw, so GD converges iff lr < 1/λ_max = {bound:.6g}.\n", "## Runs\n", markdown_table(rows),
              "\n## Observations (from the numbers above)\n",
              f"- Converged (largest measured per-step factor along an eigenvector < 1): {conv or 'none'} × 1/λ_max.",
              f"- Constant amplitude (factor 1 to 1e-6): {osc or 'none'}; diverged: {div or 'none'}.",
              f"- Measured factors vs the theory max|1 - 2·lr·λ_i|: largest difference {worst:.2e}.",
              f"- Newton's step from w0 lands at {np.array2string(w_newton, precision=3)}; distance to the "
              f"minimum {newton_dist:.3e}, f(w_1) = {f(w_newton):.3e}.",
              "\n![quadratic](quadratic.png)\n"]
    lab.write_report("\n".join(report))
    return {"summary": summary, "bound": bound, "runs": rows, "newton_distance": newton_dist,
            "lambda_max": lam_max, "lambda_min": lam_min}
