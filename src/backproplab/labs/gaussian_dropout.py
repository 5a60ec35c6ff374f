"""Lab: Gaussian dropout on a linear model is a data-dependent L2 penalty (Monte Carlo check).

The question (document 003, question 6): a linear model ŷ = Σ_k w_k x_k with squared loss gets
multiplicative Gaussian noise on its weights, w_k → w_k + δ_k with δ_k ~ N(0, α w_k²) drawn afresh
for every example. What is the expected gradient (6.1), and is this a regularizer (6.2)?

    E_δ[½(y - Σ_k (w_k+δ_k) x_k)²] = ½(y - ŷ)² + ½ α Σ_k w_k² x_k²

(the noise term has mean 0 and variance α Σ_k w_k² x_k²). Averaged over the data:
E[J] = J0 + ½ α Σ_k w_k² mean_i(x_ik²), an L2 penalty whose strength per weight is the
feature's second moment, and E[∇_w J] = ∇J0 + α w ⊙ mean_i(x_i²).

Because (w_k + δ_k) x_k = w_k (1 + ε_k) x_k with ε_k ~ N(0, α), the same noise is the library's
:class:`~backproplab.nn.GaussianDropout` (ξ ~ N(1, α), α = p/(1-p)) applied to the inputs of a
bias-free :class:`~backproplab.nn.Linear`; the loss is the library's
:class:`~backproplab.nn.MSELoss` (1/(2m) Σ(ŷ - y)²). The lab averages R noisy forward/backward
passes per dropout probability p (each p a task with its own generator) and compares with the formula.

What you should see: the Monte Carlo mean of the loss and of the gradient agree with the formula
within their standard errors; the plain L2 penalty ½ α Σ w_k² (ignoring the data) does not,
because the features have different scales.

Exercises: (1) standardize the features: when do the two penalties coincide? (2) what does the
penalty do to a weight whose feature is always 0?

Reference: Srivastava et al. 2014, "Dropout", JMLR 15, §9-10 (linear regression with dropout
marginalizes to ridge regression with a data-dependent penalty); Wager, Wang & Liang 2013,
"Dropout training as adaptive regularization".
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from ..report.i18n import N_, _, join
from .config import ConfigError, LabConfig, option, quick
from .plotting import new_figure

NAME = "gaussian-dropout"
TITLE = N_("Gaussian dropout on a linear model is a data-dependent L2 penalty (Monte Carlo against the formula)")
SUMMARY = N_("E[J] = J0 + ½αΣ w_k² mean(x_k²) and its gradient, checked by Monte Carlo with the library's "
             "GaussianDropout; the plain L2 penalty is rejected")
QUESTIONS = ("003/Q6.1", "003/Q6.2")

#: a Monte Carlo mean is consistent with a formula within this many standard errors
Z_LIMIT = 4.0


@dataclass(frozen=True)
class Config(LabConfig):
    num_examples: int = option(200, "examples m of the regression data set", low=2, high=1000000)
    num_features: int = option(5, "features d (their scales run from 0.3 to 3)", low=1, high=1000)
    repeats: int = option(4000, "Monte Carlo repeats R (noise draws of the whole set) per p", low=2, high=10000000)
    dropout: tuple[float, ...] = option((0.1, 0.3, 0.5, 0.7), "dropout probabilities p; α = p/(1-p)", min_len=1,
                                        each_low=0, each_high=0.99)

    def check(self) -> None:
        if len(set(self.dropout)) != len(self.dropout):
            raise ConfigError(f"--dropout lists a value twice ({','.join(map(str, self.dropout))}); give each once")

    def quick(self) -> "Config":
        return quick(self, repeats=min(self.repeats, 400))


def make_problem(rng: np.random.Generator, m: int, d: int):
    """Regression data with features of very different scales, and weights away from the optimum."""
    scales = np.geomspace(0.3, 3.0, d)  # per-feature std: the penalty weighs w_k² by mean(x_k²)
    x = rng.standard_normal((m, d)) * scales + 0.5  # (m, d), nonzero mean too
    w_true = rng.standard_normal(d)
    y = x @ w_true + 0.1 * rng.standard_normal(m)
    w = w_true + 0.3 * rng.standard_normal(d)  # evaluate at a point that is not the optimum
    return x, y[:, None], w  # y (m, 1) to match the model output


def problem_of(config: Config):
    """The lab's data and weights: a function of the seed only, so every task rebuilds the same."""
    return make_problem(np.random.default_rng(config.seed), config.num_examples, config.num_features)


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


def monte_carlo_task(config: Config, index: int, p: float) -> dict:
    """One dropout probability: its own noise generator, seeded from (seed, index of p)."""
    x, y, w = problem_of(config)
    return monte_carlo(x, y, w, p, config.repeats, np.random.default_rng([config.seed, index]))


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


def _row(p: float, mc: dict, cf: dict) -> dict:
    alpha = p / (1.0 - p)
    grad_mc, grad_se = np.asarray(mc["grad"]), np.asarray(mc["grad_se"])
    return {"p": p, "alpha": alpha, "mc_loss": mc["loss"], "mc_se": mc["loss_se"], "j0": cf["j0"],
            "formula": cf["expected"], "z_formula": (mc["loss"] - cf["expected"]) / mc["loss_se"],
            "plain_l2_total": cf["j0"] + cf["plain_l2"],
            "z_plain_l2": (mc["loss"] - cf["j0"] - cf["plain_l2"]) / mc["loss_se"],
            "grad_max_z": float(np.max(np.abs(grad_mc - cf["grad"]) / grad_se)),
            "grad_max_abs_err": float(np.max(np.abs(grad_mc - cf["grad"])))}


def run(config: Config, out) -> dict:
    x, y, w = problem_of(config)
    tasks = {f"mc-p{p}": functools.partial(monte_carlo_task, config, i, p) for i, p in enumerate(config.dropout)}
    mcs = out.map(tasks, label=NAME)
    rows, gradients = [], []
    for p in config.dropout:
        mc, cf = mcs[f"mc-p{p}"], closed_form(x, y, w, p / (1.0 - p))
        rows.append(_row(p, mc, cf))
        gradients.append({"p": p, "mc": list(mc["grad"]), "se": list(mc["grad_se"]), "formula": cf["grad"].tolist()})
    out.save_metrics("monte_carlo", rows)
    unit = closed_form(x, y, w, 1.0)  # both penalties are linear in α: their value at α = 1 draws the lines
    max_z = max(abs(r["z_formula"]) for r in rows)
    min_z_l2 = min(abs(r["z_plain_l2"]) for r in rows)
    max_gz = max(r["grad_max_z"] for r in rows)
    summary = (f"Monte Carlo vs J0 + ½αΣw²x²: largest |z| = {max_z:.2f} over {len(rows)} α's; plain L2 off by "
               f"at least {min_z_l2:.1f} standard errors; gradient largest |z| = {max_gz:.2f}")
    return {"summary": summary, "rows": rows, "gradients": gradients, "max_z": max_z, "min_z_plain_l2": min_z_l2,
            "max_grad_z": max_gz, "feature_rms": np.sqrt(np.mean(x ** 2, axis=0)).tolist(), "j0": unit["j0"],
            "penalty_at_alpha_1": unit["penalty"], "plain_l2_at_alpha_1": unit["plain_l2"],
            "repeats": config.repeats}


# -- report ---------------------------------------------------------------------------------------
def formula_sentence(max_z: float, limit: float = Z_LIMIT):
    if max_z <= limit:
        return _("For every α the Monte Carlo loss lies within {z:.2f} standard errors of "
                 "`J0 + ½αΣ w_k² mean(x_k²)`: consistent with the formula (limit {lim:g} standard errors).",
                 z=max_z, lim=limit)
    return _("The Monte Carlo loss is {z:.2f} standard errors from `J0 + ½αΣ w_k² mean(x_k²)` for some α: NOT "
             "consistent with the formula (limit {lim:g} standard errors).", z=max_z, lim=limit)


def plain_l2_sentence(min_z: float, limit: float = Z_LIMIT):
    if min_z > limit:
        return _("The plain L2 penalty `½αΣ w_k²` is at least {z:.1f} standard errors from the Monte Carlo loss "
                 "for every α: rejected, so the penalty depends on the data.", z=min_z)
    return _("The plain L2 penalty `½αΣ w_k²` comes within {z:.2f} standard errors of the Monte Carlo loss for "
             "some α (limit {lim:g}): this run cannot tell it from the data-weighted penalty there.", z=min_z,
             lim=limit)


def gradient_sentence(max_z: float, limit: float = Z_LIMIT):
    if max_z <= limit:
        return _("Expected gradient: every weight's Monte Carlo mean lies within {z:.2f} standard errors of "
                 "`∇J0 + α w ⊙ mean(x²)` (limit {lim:g}).", z=max_z, lim=limit)
    return _("Expected gradient: some weight's Monte Carlo mean is {z:.2f} standard errors from "
             "`∇J0 + α w ⊙ mean(x²)`: NOT consistent (limit {lim:g}).", z=max_z, lim=limit)


def report(result: dict, config: Config, doc) -> None:
    rows = result["rows"]
    doc.para(_("**Questions** (document 003, question 6). With weight noise `δ_k ~ N(0, α w_k²)` on a linear model "
               "with squared loss, what is the expected gradient, and is the noise a regularizer?"))
    doc.para(_("Data: m = {m} examples, d = {d} features with root mean squares {rms}. R = {r} noise draws of "
               "the whole set per α, through the library's `GaussianDropout` + `Linear(bias=False)` + `MSELoss` "
               "(seed {seed}). z = (Monte Carlo − formula) / standard error.", m=config.num_examples,
               d=config.num_features, rms=join(np.round(result["feature_rms"], 3).tolist()), r=result["repeats"],
               seed=config.seed))
    doc.table([("p", "p", "g"), ("alpha", "α", ".4g"), ("mc_loss", _("Monte Carlo loss"), ".5g"),
               ("mc_se", _("standard error"), ".3g"), ("j0", "`J0`", ".5g"),
               ("formula", "`J0 + ½αΣw²mean(x²)`", ".5g"), ("z_formula", _("z (formula)"), ".2f"),
               ("plain_l2_total", "`J0 + ½αΣw²`", ".5g"), ("z_plain_l2", _("z (plain L2)"), ".1f"),
               ("grad_max_z", _("largest gradient |z|"), ".2f")], rows)
    last = result["gradients"][-1]
    doc.table([("k", "k", "d"), ("mc", _("Monte Carlo mean"), ".5g"), ("se", _("standard error"), ".3g"),
               ("formula", "`∇J0 + α w ⊙ mean(x²)`", ".5g")],
              [{"k": k + 1, "mc": a, "se": s, "formula": f}
               for k, (a, s, f) in enumerate(zip(last["mc"], last["se"], last["formula"]))],
              caption=_("Expected gradient per weight at p = {p:g} (α = {a:.4g}).", p=last["p"],
                        a=last["p"] / (1 - last["p"])))
    doc.heading(_("Observations (computed from this run)"))
    doc.bullets([formula_sentence(result["max_z"]), plain_l2_sentence(result["min_z_plain_l2"]),
                 gradient_sentence(result["max_grad_z"])])
    doc.plot(plot_monte_carlo(result), "gaussian_dropout",
             _("Left: the Monte Carlo loss (±2 standard errors) against the data-weighted and the plain L2 "
               "penalty. Right: the expected gradient per weight at the largest α."))


def plot_monte_carlo(result: dict):
    rows, last = result["rows"], result["gradients"][-1]
    fig, axes = new_figure(1, 2, size=(11, 4))
    ax = axes[0][0]
    al = np.array([r["alpha"] for r in rows])
    ax.errorbar(al, [r["mc_loss"] for r in rows], yerr=[2 * r["mc_se"] for r in rows], fmt="o",
                label=_("Monte Carlo (±2 SE, R = {r})", r=result["repeats"]))
    grid = np.linspace(0, al.max() * 1.05, 100)
    ax.plot(grid, result["j0"] + grid * result["penalty_at_alpha_1"], label="J0 + ½αΣ w_k² mean(x_k²)")
    ax.plot(grid, result["j0"] + grid * result["plain_l2_at_alpha_1"], "--", label=_("J0 + ½αΣ w_k² (plain L2)"))
    ax.set_xlabel("α = p/(1-p)")
    ax.set_ylabel(_("expected loss"))
    ax.legend(fontsize=8)
    ax.set_title(_("loss under Gaussian weight noise"))
    ax = axes[0][1]
    k = np.arange(1, len(last["mc"]) + 1)
    ax.bar(k - 0.2, last["mc"], 0.4, yerr=2 * np.asarray(last["se"]), label=_("Monte Carlo mean"))
    ax.bar(k + 0.2, last["formula"], 0.4, label="∇J0 + α w ⊙ mean(x²)")
    ax.set_xticks(k)
    ax.set_xlabel(_("weight k"))
    ax.set_title(_("expected gradient, α = {a:.3g}", a=last["p"] / (1 - last["p"])))
    ax.legend(fontsize=8)
    return fig
