"""Lab: gradient descent and Newton's method on a quadratic f(w) = wᵀHw.

The question (document 003, question 5): for which learning rates does gradient descent
converge on a quadratic bowl, why does Newton's method need one step, and what do both do
where the curvature is zero or negative?

    f(w) = wᵀ H w,   ∇f = 2 H w,   GD: w ← w - lr·2Hw = (I - 2·lr·H) w

Along eigenvector i the coordinate is multiplied by (1 - 2·lr·λ_i) every step. With every
λ_i > 0, GD converges iff |1 - 2·lr·λ_i| < 1 for all i, i.e. 0 < lr < 1/λ_max (at lr = 1/λ_max
the top direction flips sign with factor -1 forever). Newton: w ← w - (2H)⁻¹·2Hw = 0 in one step.

Zero curvature (λ_i = 0, H positive semi-definite): that coordinate never moves under GD
(factor 1), and every point of the valley is a minimum; H is singular, so Newton's step is
undefined (the pseudo-inverse step removes the curved part only and lands in the valley).
Negative curvature (λ_i < 0, H indefinite): f has no minimum; GD's factor 1 + 2·lr·|λ_i| > 1
moves w away from the saddle at 0 and f falls without bound, while Newton's step jumps straight
to the saddle point (where ∇f = 0): Newton finds stationary points, not minima.

The GD runs use the library's :class:`backproplab.optim.SGD` on a Parameter whose gradient is
set to 2Hw each step.

Reference: Goodfellow, Bengio & Courville, Deep Learning (2016), §4.3 and §8.6.1; Dauphin et
al. (2014), "Identifying and attacking the saddle point problem".
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..report.i18n import N_, _, join
from .config import LabConfig, option, quick
from .quadratic_plots import plot_curvature, plot_main

NAME = "quadratic"
TITLE = N_("Gradient descent on `wᵀHw`: the `1/λ_max` bound, Newton's one step, zero and negative curvature")
SUMMARY = N_("GD on a quadratic converges iff lr < 1/λ_max; Newton in one step; valleys and saddles")
QUESTIONS = ("003/Q5",)

#: per-step factors within this distance of 1 count as "constant amplitude"
FACTOR_TOL = 1e-6
#: |w| beyond which a run counts as diverged and stops (before floats overflow)
ESCAPE = 1e150


@dataclass(frozen=True)
class Config(LabConfig):
    eigenvalues: tuple[float, ...] = option((1.0, 10.0), "eigenvalues λ of H (any real numbers; 2 are drawn in 2-D)",
                                            min_len=1, each_low=-1e6, each_high=1e6)
    rotation_deg: float = option(30.0, "H = R diag(λ) Rᵀ, R a rotation of the first two axes by this angle",
                                 low=-360, high=360)
    w0: tuple[float, ...] = option((1.0, 1.0), "starting point (one entry per eigenvalue)", min_len=1,
                                   each_low=-1e6, each_high=1e6)
    lr_factors: tuple[float, ...] = option((0.2, 0.5, 0.9, 1.0, 1.1), "learning rates, as multiples of 1/λ_max",
                                           min_len=1, each_low=0, each_low_open=True, each_high=100)
    num_steps: int = option(60, "GD steps per learning rate", low=1, high=100000)
    curvature_cases: bool = option(True, "also run H with its smallest eigenvalue set to 0 and made negative")

    def check(self) -> None:
        from .config import ConfigError

        if len(self.w0) != len(self.eigenvalues):
            raise ConfigError(f"--w0 has {len(self.w0)} entries but --eigenvalues has {len(self.eigenvalues)}; "
                              "give one starting coordinate per eigenvalue")
        if max(abs(v) for v in self.eigenvalues) == 0:
            raise ConfigError("--eigenvalues are all 0: H = 0 has no curvature to study")

    def quick(self) -> "Config":
        return quick(self, num_steps=min(self.num_steps, 25))


def make_h(eigenvalues, rotation_deg: float) -> np.ndarray:
    """H = R diag(λ) Rᵀ (symmetric, eigenvalues λ); R rotates the first two axes."""
    lam = np.asarray(eigenvalues, dtype=np.float64)
    if lam.ndim != 1 or len(lam) < 1 or not np.all(np.isfinite(lam)):
        raise ValueError(f"eigenvalues must be finite numbers, got {tuple(eigenvalues)}")
    r = np.eye(len(lam))
    if len(lam) >= 2:
        a = math.radians(rotation_deg)
        r[:2, :2] = [[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]]
    return r @ np.diag(lam) @ r.T


def curvature_kind(eigenvalues, tol: float = 1e-12) -> str:
    """"bowl" (all λ > 0), "valley" (some λ = 0, none < 0) or "saddle" (some λ < 0)."""
    lam = np.asarray(eigenvalues, dtype=np.float64)
    scale = max(float(np.abs(lam).max()), 1e-300)
    if np.any(lam < -tol * scale):
        return "saddle"
    if np.any(np.abs(lam) <= tol * scale):
        return "valley"
    return "bowl"


def gd_trajectory(h: np.ndarray, w0: np.ndarray, lr: float, num_steps: int) -> np.ndarray:
    """Points w_0..w_T of gradient descent on wᵀHw, stepped by the library's SGD. Shape (T+1, d)."""
    from ..nn import Parameter
    from ..optim import SGD

    w = Parameter(np.array(w0, dtype=np.float64))
    opt = SGD([w], lr=lr)
    path = [w.data.copy()]
    for _step in range(num_steps):
        opt.zero_grad()
        w.grad += 2.0 * h @ w.data  # ∇(wᵀHw) = 2Hw for symmetric H
        opt.step()
        path.append(w.data.copy())
        if not np.all(np.isfinite(w.data)) or np.abs(w.data).max() > ESCAPE:
            break  # diverged far enough; stop before overflow
    return np.array(path)


def newton_step(h: np.ndarray, w: np.ndarray) -> np.ndarray:
    """w - (∇²f)⁻¹ ∇f with ∇f = 2Hw, ∇²f = 2H (solve, not invert); LinAlgError if H is singular."""
    return w - np.linalg.solve(2.0 * h, 2.0 * h @ w)


def pinv_newton_step(h: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Newton's step with the pseudo-inverse of the Hessian: the step along the curved directions only."""
    return w - np.linalg.pinv(2.0 * h) @ (2.0 * h @ w)


def measured_factor(path: np.ndarray, h: np.ndarray, window: int = 10) -> float:
    """Largest per-step factor |c_T / c_{T-k}|^(1/k) of the path's coordinates along H's eigenvectors.

    Each coordinate of GD on wᵀHw evolves on its own, c ← (1 - 2·lr·λ_i)·c, so this measures the
    spectral radius max|1 - 2·lr·λ_i| from the path (directions w0 does not touch are skipped).
    """
    _lam, vecs = np.linalg.eigh(h)
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


def behaviour(factor: float, tol: float = FACTOR_TOL) -> str:
    """"converges" / "constant amplitude" / "diverges" from a measured per-step factor."""
    if factor < 1.0 - tol:
        return "converges"
    if factor > 1.0 + tol:
        return "diverges"
    return "constant amplitude"


def lr_scale(lam: np.ndarray) -> float:
    """λ_max that sets the step-size bound: the largest positive eigenvalue (the largest |λ| if none is)."""
    pos = lam[lam > 0]
    return float(pos.max()) if pos.size else float(np.abs(lam).max())


def _sweep(h, lam, w0, factors, num_steps) -> tuple[list[dict], dict]:
    bound = 1.0 / lr_scale(lam)
    rows, paths = [], {}
    for factor in factors:
        lr = factor * bound
        path = gd_trajectory(h, w0, lr, num_steps)
        fv = np.array([float(w @ h @ w) for w in path])
        radius = float(np.max(np.abs(1.0 - 2.0 * lr * lam)))  # per-step factor of the slowest direction
        measured = measured_factor(path, h)
        rows.append({"lr_factor": factor, "lr": lr, "spectral_radius": radius, "measured_factor": measured,
                     "f0": fv[0], "f_final": fv[-1], "steps": len(path) - 1, "behaviour": behaviour(measured)})
        paths[str(factor)] = {"w": path.tolist(), "f": fv.tolist()}
    return rows, paths


def _newton(h: np.ndarray, w0: np.ndarray) -> dict:
    """Newton's step from w0, what it lands on, and what kind of point that is."""
    try:
        w1 = newton_step(h, w0)
        exact = True
    except np.linalg.LinAlgError:
        w1 = pinv_newton_step(h, w0)
        exact = False
    grad = 2.0 * h @ w1
    return {"solvable": exact, "w1": w1.tolist(), "f1": float(w1 @ h @ w1),
            "distance_to_origin": float(np.linalg.norm(w1)), "grad_norm": float(np.linalg.norm(grad))}


#: learning rate of the curvature cases, as a multiple of 1/λ_max (every positive direction converges)
CASE_LR_FACTOR = 0.4


def _curvature_case(kind_lam, config) -> dict:
    """GD at lr = CASE_LR_FACTOR/λ_max and Newton's step on H with eigenvalues ``kind_lam``."""
    h = make_h(kind_lam, config.rotation_deg)
    w0 = np.asarray(config.w0, dtype=np.float64)
    _computed, vecs = np.linalg.eigh(h)
    lam = np.sort(np.asarray(kind_lam, dtype=np.float64))  # eigh's order; the given values, not their rounding
    lr = CASE_LR_FACTOR / lr_scale(lam)
    path = gd_trajectory(h, w0, lr, config.num_steps)
    coords = path @ vecs
    return {"eigenvalues": lam.tolist(), "kind": curvature_kind(lam), "lr": lr,
            "f": [float(w @ h @ w) for w in path], "coords": coords.tolist(),
            "factors": (1.0 - 2.0 * lr * lam).tolist(), "newton": _newton(h, w0)}


def curvature_variants(eigenvalues) -> dict[str, tuple[float, ...]]:
    """The given spectrum with its smallest |λ| set to 0 (a valley) and made negative (a saddle)."""
    lam = list(eigenvalues)
    i = int(np.argmin(np.abs(lam)))
    big = max(abs(v) for v in lam)
    small = abs(lam[i]) if abs(lam[i]) > 0 else big / 10
    valley, saddle = lam.copy(), lam.copy()
    valley[i], saddle[i] = 0.0, -small
    if len(lam) == 1:  # one dimension: the saddle is a hill
        saddle[0] = -big
    return {"valley": tuple(valley), "saddle": tuple(saddle)}


def run(config: Config, out) -> dict:
    h = make_h(config.eigenvalues, config.rotation_deg)
    w0 = np.asarray(config.w0, dtype=np.float64)
    lam = np.linalg.eigvalsh(h)
    rows, paths = _sweep(h, lam, w0, config.lr_factors, config.num_steps)
    newton = _newton(h, w0)
    out.save_metrics("runs", rows)
    out.save_metrics("newton", newton)
    cases = {}
    if config.curvature_cases:
        cases = {"given": _curvature_case(config.eigenvalues, config)}
        cases.update({k: _curvature_case(v, config) for k, v in curvature_variants(config.eigenvalues).items()})
        out.save_metrics("curvature", {k: {kk: vv for kk, vv in c.items() if kk not in ("coords", "f")}
                                       for k, c in cases.items()})
    lam_max, lam_min = float(lam.max()), float(lam.min())
    conv = [r["lr_factor"] for r in rows if r["behaviour"] == "converges"]
    div = [r["lr_factor"] for r in rows if r["behaviour"] == "diverges"]
    summary = (f"λ = {lam_min:g}..{lam_max:g} ({curvature_kind(lam)}), bound 1/λ_max = {1 / lr_scale(lam):.4g}; "
               f"converged: {conv}; diverged: {div}; Newton's step lands at distance "
               f"{newton['distance_to_origin']:.2e} from 0")
    return {"summary": summary, "h": h.tolist(), "eigenvalues": lam.tolist(), "kind": curvature_kind(lam),
            "bound": 1.0 / lr_scale(lam), "lambda_max": lam_max, "lambda_min": lam_min,
            "best_lr": 1.0 / (lam_max + lam_min) if curvature_kind(lam) == "bowl" else None,
            "runs": rows, "paths": paths, "newton": newton, "newton_distance": newton["distance_to_origin"],
            "curvature": cases, "num_steps": config.num_steps}


# -- report ---------------------------------------------------------------------------------------
BEHAVIOUR = {"converges": N_("converges"), "constant amplitude": N_("constant amplitude"),
             "diverges": N_("diverges")}


def newton_sentence(newton: dict, kind: str):
    """What Newton's step did, in words that depend on the kind of stationary point it reached."""
    where = {"d": newton["distance_to_origin"], "f": newton["f1"], "g": newton["grad_norm"]}
    if not newton["solvable"]:
        return _("H is singular, so Newton's step `(2H)⁻¹∇f` is undefined; the pseudo-inverse step moves "
                 "along the curved directions only and lands at distance {d:.3g} from 0 with `f` = {f:.3g} and "
                 "`|∇f|` = {g:.2e}: a point of the valley of minima.", **where)
    if kind == "saddle":
        return _("Newton's step lands at distance {d:.2e} from the saddle point 0 (`|∇f|` = {g:.2e}): it solved "
                 "`∇f = 0` and found the stationary point, which is not a minimum, since H has a negative "
                 "eigenvalue and f falls without bound along it.", **where)
    if newton["distance_to_origin"] < 1e-9:
        return _("Newton's step lands on the minimum 0 in one step (distance {d:.2e}, `f` = {f:.2e}).", **where)
    return _("Newton's step lands at distance {d:.3g} from the minimum 0 (`f` = {f:.3g}); a bowl's minimum is "
             "reached in one exact step, so this distance is rounding.", **where)


def curvature_lines(cases: dict) -> list:
    """One sentence per curvature case: what GD does along each eigenvector, and what Newton does."""
    lines = []
    for name, c in cases.items():
        lam, factors = c["eigenvalues"], c["factors"]
        parts = []
        for l, f in zip(lam, factors):
            if l == 0:
                parts.append(_("along `λ` = {l:g} (zero curvature) the factor is exactly {f:g}: that coordinate "
                               "never moves", l=l, f=f))
            elif l < 0:
                parts.append(_("along `λ` = {l:g} (negative curvature) the factor is {f:.3g}, above 1: GD moves away "
                               "from the saddle and `f` falls without bound", l=l, f=f))
            else:
                parts.append(_("along `λ` = {l:g} the factor is {f:.3g}", l=l, f=f))
        lines.append(_("**{kind}** (`λ` = {lams}), GD at `lr` = {lr:.3g}: {parts}. {newton}",
                       kind=_(KIND_NAMES[c["kind"]]), lams=join(lam), lr=c["lr"], parts=join(parts),
                       newton=newton_sentence(c["newton"], c["kind"])))
    return lines


KIND_NAMES = {"bowl": N_("Bowl (H positive definite)"), "valley": N_("Valley (H positive semi-definite)"),
              "saddle": N_("Saddle (H indefinite)")}


def report(result: dict, config: Config, doc) -> None:
    rows = result["runs"]
    by_kind = {k: [r["lr_factor"] for r in rows if r["behaviour"] == k] for k in BEHAVIOUR}
    doc.para(_("H has eigenvalues {lams} ({kind}); `w0` = {w0}; {steps} GD steps per learning rate.",
               lams=join(np.round(result["eigenvalues"], 6).tolist()), kind=_(KIND_NAMES[result["kind"]]),
               w0=join(config.w0), steps=result["num_steps"]))
    doc.para(_("The gradient is `2Hw`, so GD multiplies the coordinate along eigenvector i by "
               "$1 - 2\\,lr\\,\\lambda_i$ each step and converges iff `lr < 1/λ_max` = {bound:.6g}.",
               bound=result["bound"]))
    doc.heading(_("Runs"))
    doc.table([("lr_factor", "`lr / (1/λ_max)`", "g"), ("lr", _("learning rate"), ".4g"),
               ("spectral_radius", _("`max|1 - 2·lr·λ|` (theory)"), ".6g"),
               ("measured_factor", _("measured factor"), ".6g"), ("f0", "`f(w₀)`", ".4g"),
               ("f_final", _("f at the end"), ".3e"), ("steps", _("steps"), "d"), ("behaviour", _("behaviour"), "")],
              [{**r, "behaviour": _(BEHAVIOUR[r["behaviour"]])} for r in rows])
    doc.heading(_("Observations (computed from this run)"))
    finite = [abs(r["measured_factor"] - r["spectral_radius"]) for r in rows
              if r["measured_factor"] is not None and math.isfinite(r["measured_factor"])]
    none = _("none")
    doc.bullets([
        _("Converged (largest measured per-step factor below 1): {f} × `1/λ_max`.", f=join(by_kind["converges"]) if
          by_kind["converges"] else none),
        _("Constant amplitude (factor within {tol:g} of 1): {f}.", tol=FACTOR_TOL,
          f=join(by_kind["constant amplitude"]) if by_kind["constant amplitude"] else none),
        _("Diverged: {f}.", f=join(by_kind["diverges"]) if by_kind["diverges"] else none),
        _("Measured factors against the theory `max|1 - 2·lr·λ_i|`: largest difference {d:.2e}.",
          d=max(finite)) if finite else None,
        newton_sentence(result["newton"], result["kind"]),
    ])
    doc.plot(plot_main(result, config), "quadratic",
             _("Left: the first GD steps on the contours of `f`. Middle: `f(w_t)` on a log scale (runs that diverge "
               "leave the panel). Right: the per-step factor along each eigenvector against the learning rate."))
    if result["curvature"]:
        doc.heading(_("Zero and negative curvature"))
        doc.para(_("The same `w0` and rotation, with the smallest eigenvalue of H set to 0 (a valley) and made "
                   "negative (a saddle); GD runs at `lr` = {f:g}`/λ_max`.", f=CASE_LR_FACTOR))
        doc.bullets(curvature_lines(result["curvature"]))
        doc.plot(plot_curvature(result["curvature"]), "quadratic_curvature",
                 _("Each row is one H. Left: |coordinate| of `w` along each eigenvector per GD step (log scale). "
                   "Right: `f(w_t)`; in the saddle `f` falls below 0 without bound."))
