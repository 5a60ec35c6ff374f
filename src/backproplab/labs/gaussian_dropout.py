"""Lab: Gaussian dropout on a linear model is a data-dependent L2 penalty (Monte Carlo check).

The question: a linear model ŷ = Σ_k w_k x_k with squared loss gets multiplicative
Gaussian noise on its weights, w_k → w_k + δ_k with δ_k ~ N(0, α w_k²) drawn
afresh for every example. What is the expected loss?

    E_δ[½(y - Σ_k (w_k+δ_k) x_k)²] = ½(y - ŷ)² + ½ α Σ_k w_k² x_k²

(the noise term has mean 0 and variance α Σ_k w_k² x_k²). Averaged over the data:
E[J] = J0 + ½ α Σ_k w_k² mean_i(x_ik²), an L2 penalty whose strength per weight
is the feature's second moment, and E[∇_w J] = ∇J0 + α w ⊙ mean_i(x_i²).

Because (w_k + δ_k) x_k = w_k (1 + ε_k) x_k with ε_k ~ N(0, α), the same noise is
the library's :class:`~backproplab.nn.GaussianDropout` (ξ ~ N(1, α), α = p/(1-p))
applied to the inputs of a bias-free :class:`~backproplab.nn.Linear`; the loss is
the library's :class:`~backproplab.nn.MSELoss` (1/(2m) Σ(ŷ - y)²). The lab
averages R noisy forward/backward passes and compares with the formula.

What you should see: the Monte Carlo mean of the loss and of the gradient agree
with the formula within their standard errors; the plain L2 penalty ½ α Σ w_k²
(ignoring the data) does not, because the features have different scales.

Exercises: (1) standardize the features: when do the two penalties coincide?
(2) what does the penalty do to a weight whose feature is always 0?

Reference: Srivastava et al. 2014, "Dropout", JMLR 15, §9-10 (linear regression
with dropout marginalizes to ridge regression with a data-dependent penalty);
Wager, Wang & Liang 2013, "Dropout training as adaptive regularization".
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .common import LabRun, markdown_table, new_figure

NAME = "gaussian-dropout"
TITLE = "Gaussian dropout on a linear model = data-dependent L2 (Monte Carlo vs formula)"


@dataclass(frozen=True)
class Config:
    seed: int = 0                                   # data, weights and noise
    quick: bool = False                             # fewer Monte Carlo repeats
    num_examples: int = 200                         # data set size m
    num_features: int = 5                           # d
    repeats: int = 4000                             # Monte Carlo repeats R (noise draws of the whole set)
    drop_p: tuple[float, ...] = (0.1, 0.3, 0.5, 0.7)  # dropout p; α = p/(1-p)


def make_problem(rng: np.random.Generator, m: int, d: int):
    """Regression data with features of very different scales, and weights away from the optimum."""
    scales = np.geomspace(0.3, 3.0, d)  # per-feature std: the penalty weighs w_k² by mean(x_k²)
    x = rng.standard_normal((m, d)) * scales + 0.5  # (m, d), nonzero mean too
    w_true = rng.standard_normal(d)
    y = x @ w_true + 0.1 * rng.standard_normal(m)
    w = w_true + 0.3 * rng.standard_normal(d)  # evaluate at a point that is not the optimum
    return x, y[:, None], w  # y (m, 1) to match the model output


def monte_carlo(x, y, w, p: float, repeats: int, rng: np.random.Generator) -> dict:
    """Mean and standard error of the noisy loss and weight gradient over ``repeats`` draws (library layers)."""
    from ..nn import GaussianDropout, Linear, MSELoss, Sequential

    d = x.shape[1]
    model = Sequential(GaussianDropout(p, rng=rng), Linear(d, 1, bias=False, rng=rng, dtype=np.float64))
    model[1].weight.data[...] = w[None, :]  # (1, d): weight layout (out, in)
    loss_fn = MSELoss()
    model.train()
    losses, grads = np.empty(repeats), np.empty((repeats, d))
    for r in range(repeats):
        model.zero_grad()
        losses[r] = loss_fn(model.forward(x), y)
        model.backward(loss_fn.backward())
        grads[r] = model[1].weight.grad[0]
    se = lambda a: a.std(axis=0, ddof=1) / np.sqrt(len(a))  # noqa: E731
    return {"loss": losses.mean(), "loss_se": se(losses), "grad": grads.mean(axis=0), "grad_se": se(grads)}


def closed_form(x, y, w, alpha: float) -> dict:
    """J0, the penalty ½αΣw_k² mean(x_k²), and the expected gradient, by the formula."""
    m = len(x)
    resid = x @ w - y[:, 0]  # (m,)
    j0 = 0.5 * np.mean(resid ** 2)
    second = np.mean(x ** 2, axis=0)  # (d,) mean_i x_ik²
    penalty = 0.5 * alpha * np.sum(w ** 2 * second)
    grad = x.T @ resid / m + alpha * w * second
    return {"j0": j0, "penalty": penalty, "expected": j0 + penalty, "grad": grad,
            "plain_l2": 0.5 * alpha * np.sum(w ** 2)}


def run(config: Config, out_dir: Path) -> dict:
    lab = LabRun(out_dir, config)
    if config.num_examples < 2 or config.num_features < 1 or config.repeats < 2:
        raise ValueError("num_examples >= 2, num_features >= 1 and repeats >= 2 are needed")
    rng = np.random.default_rng(config.seed)
    x, y, w = make_problem(rng, config.num_examples, config.num_features)
    repeats = min(config.repeats, 400) if config.quick else config.repeats
    rows, mcs = [], {}
    for i, p in enumerate(config.drop_p):
        alpha = p / (1.0 - p)
        # one generator per p, seeded from (seed, i): a resumed run (cached steps) draws the same noise
        noise_rng = np.random.default_rng([config.seed, i])
        mc = mcs[p] = lab.step(f"mc-p{p}", lambda: monte_carlo(x, y, w, p, repeats, noise_rng))
        cf = closed_form(x, y, w, alpha)
        grad_z = np.abs(np.asarray(mc["grad"]) - cf["grad"]) / np.asarray(mc["grad_se"])
        rows.append({
            "p": p, "alpha": alpha, "mc_loss": mc["loss"], "mc_se": mc["loss_se"], "j0": cf["j0"],
            "formula": cf["expected"], "z_formula": (mc["loss"] - cf["expected"]) / mc["loss_se"],
            "plain_l2_total": cf["j0"] + cf["plain_l2"],
            "z_plain_l2": (mc["loss"] - cf["j0"] - cf["plain_l2"]) / mc["loss_se"],
            "grad_max_z": float(grad_z.max()),
            "grad_max_abs_err": float(np.max(np.abs(np.asarray(mc["grad"]) - cf["grad"]))),
        })
    lab.save_metrics("monte_carlo", rows)

    fig, axes = new_figure(1, 2, size=(11, 4))
    ax = axes[0][0]
    al = np.array([r["alpha"] for r in rows])
    ax.errorbar(al, [r["mc_loss"] for r in rows], yerr=[2 * r["mc_se"] for r in rows], fmt="o",
                label=f"Monte Carlo (±2 SE, R = {repeats})")
    grid = np.linspace(0, al.max() * 1.05, 100)
    cf1 = closed_form(x, y, w, 1.0)
    ax.plot(grid, cf1["j0"] + grid * cf1["penalty"], label="J0 + ½αΣ w_k² mean(x_k²)")
    ax.plot(grid, cf1["j0"] + grid * cf1["plain_l2"], "--", label="J0 + ½αΣ w_k² (plain L2)")
    ax.set_xlabel("α = p/(1-p)")
    ax.set_ylabel("expected loss")
    ax.legend(fontsize=8)
    ax.set_title("loss under Gaussian weight noise")
    ax = axes[0][1]
    last = rows[-1]
    mc_last = mcs[last["p"]]
    k = np.arange(config.num_features)
    ax.bar(k - 0.2, mc_last["grad"], 0.4, yerr=2 * np.asarray(mc_last["grad_se"]), label="Monte Carlo mean")
    ax.bar(k + 0.2, closed_form(x, y, w, last["alpha"])["grad"], 0.4, label="∇J0 + α w ⊙ mean(x²)")
    ax.set_xlabel("weight k")
    ax.set_title(f"expected gradient, α = {last['alpha']:.3g}")
    ax.legend(fontsize=8)
    lab.savefig(fig, "gaussian_dropout")

    max_z = max(abs(r["z_formula"]) for r in rows)
    min_z_l2 = min(abs(r["z_plain_l2"]) for r in rows)
    max_gz = max(r["grad_max_z"] for r in rows)
    scales = np.sqrt(np.mean(x ** 2, axis=0))
    summary = (f"Monte Carlo vs J0 + ½αΣw²x²: largest |z| = {max_z:.2f} over {len(rows)} α's; plain L2 off by "
               f"at least {min_z_l2:.1f} standard errors; gradient largest |z| = {max_gz:.2f}.")
    report = [f"# {TITLE}\n",
              f"m = {config.num_examples} examples, d = {config.num_features} features with RMS "
              f"{np.round(scales, 3).tolist()}, R = {repeats} noise draws per α (library GaussianDropout + Linear "
              "+ MSELoss).\n", markdown_table(rows), "\n## Observations (from the numbers)\n",
              f"- The Monte Carlo loss lies within {max_z:.2f} standard errors of J0 + ½αΣ w_k² mean(x_k²) for every "
              f"α ({'consistent' if max_z < 4 else 'NOT consistent'} with the formula at 4 SE).",
              f"- The plain L2 ½αΣ w_k² is at least {min_z_l2:.1f} standard errors away "
              f"({'rejected' if min_z_l2 > 4 else 'not rejected'} at 4 SE): the penalty depends on the data.",
              f"- Expected gradient: largest deviation {max_gz:.2f} SE from ∇J0 + α w ⊙ mean(x²).",
              "\n![gaussian dropout](gaussian_dropout.png)\n"]
    lab.write_report("\n".join(report))
    return {"summary": summary, "rows": rows, "max_z": max_z, "min_z_plain_l2": min_z_l2, "max_grad_z": max_gz}
