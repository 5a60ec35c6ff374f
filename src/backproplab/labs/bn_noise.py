"""Lab: the noise of batch statistics -- Var(μ_B) = σ²/M and Var(σ_B) ≈ σ²(κ-1)/(4M) on real activations.

The question (document 003, question 1.2): does batch normalization inject noise into the hidden
activations during training? It divides by the batch's own mean and standard deviation, which are
random: for M values drawn independently from a distribution with variance σ² and kurtosis
κ = E[(x-μ)⁴]/σ⁴ (3 for a Gaussian)

    Var(μ_B) = σ²/M                        (exact)
    Var(σ_B) ≈ σ²(κ - 1)/(4M)              (delta method: Var(s²) ≈ σ⁴(κ-1)/M, σ_B = √s²)

The lab trains a small MLP (the library's Linear-ReLU-Linear, one epoch of SGD with the Trainer) on
Fashion-MNIST, takes the first layer's activations on the training images, before the ReLU (z) and
after it (a), as the population of each hidden unit, draws many batches of size M from it and
compares the empirical variances with the formulas, unit by unit (the median ratio over units, and
one example unit in full). A Gaussian population with σ = 2 checks the formulas where κ = 3 exactly,
beside the forms the document's solution gives (σ/M, and (ρ + 2)/(4M) with ρ the excess kurtosis).

What you should see: Var(μ_B)·M/σ² ≈ 1 at every M; the σ_B formula is accurate for large M and off at
small M (it is a large-M approximation, and σ_B is a biased estimator there); ReLU outputs, with many
exact zeros, have a larger κ and so a noisier σ_B than the pre-activations.

Exercises: (1) from the table, what batch size keeps the relative noise of σ_B below 5% for the ReLU
outputs? (2) why does BatchNorm's noise act as a regularizer, and why does it hurt at M = 2?

Reference: Ioffe & Szegedy 2015, "Batch normalization"; the variance of the sample variance: Kenney &
Keeping, Mathematics of Statistics (1951), §7.7; Luo et al. 2019, "Towards understanding
regularization in batch normalization".
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..errors import UsageError
from ..report.i18n import N_, _, _n, join
from .bn_noise_plots import plot_noise
from .config import option, quick
from ..train.diagnostics import diagnose
from .training import TrainingConfig, data_facts, data_sentence
from .training_problems import findings_bullets

NAME = "bn-noise"
TITLE = N_("Batch statistics noise: `Var(μ_B) = σ²/M` and `Var(σ_B) ≈ σ²(κ-1)/(4M)` on Fashion-MNIST activations")
SUMMARY = N_("BatchNorm's batch mean and standard deviation are random: their variances against σ²/M and "
             "σ²(κ-1)/(4M) on real activations")
QUESTIONS = ("003/Q1.2",)

#: the two signals: key, name in the report
SIGNALS = {"pre_relu": N_("before the ReLU, `z`"), "relu": N_("after the ReLU, `a = ReLU(z)`")}
#: the two signals in figure legends
SYMBOLS = {"pre_relu": "z", "relu": "a = ReLU(z)"}
#: a ratio empirical/formula is consistent with 1 within this many relative standard errors
Z_LIMIT = 3.0
#: standard deviation of the Gaussian reference population
GAUSS_SIGMA = 2.0


@dataclass(frozen=True)
class Config(TrainingConfig):
    classes: str = option("all", "Fashion-MNIST class ids (comma list) or 'all'")
    # 2 images give every unit kurtosis 1, where the σ_B formula predicts no noise at all
    train_size: int | None = option(None, "training images whose activations form the population; None = all",
                                    low=3)
    test_size: int | None = option(None, "unused: the lab needs no test images", cli=False)
    width: int = option(64, "units of the hidden layer (the units studied)", low=1, high=100000)
    num_batches: int = option(2000, "batches drawn per batch size", low=10, high=10000000)
    batch_sizes: tuple[int, ...] = option((2, 4, 8, 16, 32, 64, 128, 256), "batch sizes M", min_len=1, each_low=2,
                                          each_high=100000)

    def quick(self) -> "Config":
        return quick(self, train_size=3000, num_batches=400, batch_sizes=(4, 16, 64))


def population_activations(x, y, width: int, rng: np.random.Generator):
    """Train Linear-ReLU-Linear for one epoch; the first layer's z and ReLU(z) on ``x`` (each (N, width)),
    and the training history."""
    from ..nn import Linear, ReLU, Sequential, make_loss
    from ..optim import make_optimizer
    from ..train import Trainer
    from . import progress

    model = Sequential(Linear(x.shape[1], width, rng=rng, init="he"), ReLU(),
                       Linear(width, int(y.max()) + 1, rng=rng))
    history = Trainer(model, make_loss("cross_entropy"), make_optimizer("sgd", model.parameters(), lr=0.1),
                      batch_size=64, num_epochs=1, rng=rng,
                      callbacks=[progress.current().training("population")]).fit(x, y)
    model.eval()
    z = model[0].forward(x).astype(np.float64)  # (N, width) pre-activations
    return {"pre_relu": z, "relu": np.maximum(z, 0.0)}, history


def batch_stats(values: np.ndarray, batch_size: int, num_batches: int, rng: np.random.Generator):
    """μ_B and σ_B (biased, as BatchNorm uses) of ``num_batches`` batches drawn i.i.d. Each (num_batches, units)."""
    mus, sigmas = [], []
    for start in range(0, num_batches, 200):  # chunks bound the (b, M, units) array
        b = min(200, num_batches - start)
        idx = rng.integers(0, len(values), size=(b, batch_size))
        v = values[idx]  # (b, M, units)
        mus.append(v.mean(axis=1))
        sigmas.append(v.std(axis=1))
    return np.concatenate(mus), np.concatenate(sigmas)


def compare(values: np.ndarray, batch_sizes, num_batches: int, rng: np.random.Generator, unit: int):
    """Empirical vs formula variances of μ_B and σ_B, per batch size (median ratio over live units + one unit)."""
    var = values.var(axis=0)  # population σ² per unit
    live = var > 1e-10 * max(var.max(), 1e-300)  # dead ReLU units have no spread
    if not live.any():
        raise UsageError(f"no unit of the hidden layer varies over the {len(values)} images of the population, so "
                         "there is no variance to compare; use a larger --width or --train-size")
    centred = values[:, live] - values[:, live].mean(axis=0)
    kappa = np.full(values.shape[1], np.nan)
    kappa[live] = (centred ** 4).mean(axis=0) / var[live] ** 2
    # κ = 1 (two values, equally often: always so for 2 images) predicts Var(σ_B) = 0: no ratio to take
    spread = live & (kappa > 1.0 + 1e-9)
    if not spread.any():
        raise UsageError(f"every unit takes two values equally often over the {len(values)} images (kurtosis 1), "
                         "where σ²(κ-1)/(4M) is 0; use a larger --train-size")
    rows = []
    for m in batch_sizes:
        mu_b, sigma_b = batch_stats(values, m, num_batches, rng)
        v_mu, v_sigma = mu_b.var(axis=0, ddof=1), sigma_b.var(axis=0, ddof=1)
        th_mu = var / m
        th_sigma = var * (kappa - 1.0) / (4.0 * m)
        rows.append({
            "M": m,
            "median_ratio_mu": float(np.median(v_mu[live] / th_mu[live])),
            "median_ratio_sigma": float(np.median(v_sigma[spread] / th_sigma[spread])),
            "unit_var_mu": float(v_mu[unit]), "unit_theory_mu": float(th_mu[unit]),
            "unit_var_sigma": float(v_sigma[unit]), "unit_theory_sigma": float(th_sigma[unit]),
            "unit_rel_noise_sigma": float(np.sqrt(v_sigma[unit]) / np.sqrt(var[unit])),
        })
    return rows, {"var": var, "kappa": kappa, "live": live}


def gaussian_check(batch_sizes, num_batches: int, rng: np.random.Generator, sigma: float = GAUSS_SIGMA) -> list[dict]:
    """Batches drawn straight from N(0, σ²) (κ = 3): the measured variances against the formulas and the
    document's forms σ/M and (ρ + 2)/(4M) with ρ = κ - 3 = 0."""
    rows = []
    for m in batch_sizes:
        v = rng.normal(0.0, sigma, size=(num_batches, m))
        mu_b, sigma_b = v.mean(axis=1), v.std(axis=1)
        rows.append({"M": m, "var_mu": float(mu_b.var(ddof=1)), "theory_mu": sigma ** 2 / m,
                     "document_mu": sigma / m, "var_sigma": float(sigma_b.var(ddof=1)),
                     "theory_sigma": sigma ** 2 * (3.0 - 1.0) / (4.0 * m), "document_sigma": (0.0 + 2.0) / (4.0 * m)})
    return rows


def load_population(config: Config):
    """The training images of the population, in a random order drawn from the lab's generator."""
    from ..data import load_fashion_mnist, parse_classes

    ds = load_fashion_mnist(classes=parse_classes(config.classes), data_dir=config.data_dir)
    rng = np.random.default_rng(config.seed)
    # a permutation even for the whole set: the one-epoch model is trained in this order
    return ds.subset(config.train_size or len(ds.x_train), rng), rng


def run(config: Config, out) -> dict:
    ds, rng = load_population(config)
    acts, history = population_activations(ds.x_train, ds.y_train, config.width, rng)
    # the example unit: the ReLU unit active closest to half the time (its output mixes zeros and values)
    active = (acts["relu"] > 0).mean(axis=0)
    unit = int(np.argmin(np.abs(active - 0.5)))
    tables, units = {}, {}
    for key, values in acts.items():
        rows, st = compare(values, config.batch_sizes, config.num_batches, rng, unit)
        tables[key] = rows
        units[key] = {"live_units": int(st["live"].sum()), "median_kappa": float(np.nanmedian(st["kappa"])),
                      "unit_sigma2": float(st["var"][unit]), "unit_kappa": float(st["kappa"][unit])}
    shown = sorted({min(config.batch_sizes), config.batch_sizes[len(config.batch_sizes) // 2],
                    max(config.batch_sizes)})
    out.save_arrays("sigma_b", **{f"m{m}": batch_stats(acts["relu"][:, unit:unit + 1], m, config.num_batches,
                                                       rng)[1][:, 0] for m in shown})
    gauss = gaussian_check(config.batch_sizes, config.num_batches, np.random.default_rng([config.seed, 1]))
    out.save_metrics("bn_noise", [{"signal": k, **r} for k, rows in tables.items() for r in rows])
    out.save_metrics("units", [{"signal": k, "unit": unit, "unit_active_fraction": float(active[unit]), **u}
                               for k, u in units.items()])
    out.save_metrics("gaussian", gauss)
    ratio_mu = {k: [r["median_ratio_mu"] for r in rows] for k, rows in tables.items()}
    ratio_sigma = {k: [r["median_ratio_sigma"] for r in rows] for k, rows in tables.items()}
    all_mu = [v for vs in ratio_mu.values() for v in vs]
    summary = (f"Var(μ_B)·M/σ² median ratio in [{min(all_mu):.3f}, {max(all_mu):.3f}]; Var(σ_B) ratio at "
               f"M={config.batch_sizes[-1]}: " + ", ".join(f"{k} {v[-1]:.3f}" for k, v in ratio_sigma.items())
               + f"; at M={config.batch_sizes[0]}: " + ", ".join(f"{k} {v[0]:.3f}"
                                                                 for k, v in ratio_sigma.items()))
    return {"summary": summary, "data": data_facts(ds, config), "batch_sizes": list(config.batch_sizes),
            "num_batches": config.num_batches, "tables": tables, "units": units, "unit": unit,
            "unit_active_fraction": float(active[unit]), "ratio_mu": ratio_mu, "ratio_sigma": ratio_sigma,
            "median_kappa": {k: u["median_kappa"] for k, u in units.items()}, "gaussian": gauss,
            "histogram_batch_sizes": shown,
            "population_findings": [f.to_dict() for f in diagnose(history, ds.chance)],
            "population_train_acc": history.train_acc[-1]}


# -- report ---------------------------------------------------------------------------------------
def relative_se(num_batches: int) -> float:
    """Relative standard error of a variance estimated from ``num_batches`` roughly normal draws: √(2/(n-1))."""
    return math.sqrt(2.0 / (num_batches - 1))


def mu_sentence(ratios: list[float], num_batches: int, limit: float = Z_LIMIT):
    """Whether every median ratio Var(μ_B)·M/σ² is within ``limit`` relative standard errors of 1."""
    se = relative_se(num_batches)
    lo, hi = min(ratios), max(ratios)
    if max(abs(lo - 1), abs(hi - 1)) <= limit * se:
        return _("`Var(μ_B)·M/σ²`: the median over units lies between {lo:.3f} and {hi:.3f} at every M for both "
                 "signals, within {k:g} relative standard errors ({se:.3f} each, from {n} batches) of 1: "
                 "`Var(μ_B) = σ²/M` holds.", lo=lo, hi=hi, k=limit, se=se, n=num_batches)
    return _("`Var(μ_B)·M/σ²`: the median over units ranges from {lo:.3f} to {hi:.3f}, more than {k:g} relative "
             "standard errors ({se:.3f} each, from {n} batches) from 1 somewhere: NOT consistent with `σ²/M`.",
             lo=lo, hi=hi, k=limit, se=se, n=num_batches)


def sigma_sentence(name: str, batch_sizes: list[int], ratios: list[float], num_batches: int,
                   limit: float = Z_LIMIT):
    """For one signal: the batch sizes where Var(σ_B) departs from σ²(κ-1)/(4M) by more than sampling noise,
    and whether they are the smallest ones (where the large-M approximation is expected to fail)."""
    se = relative_se(num_batches)
    off = [(m, r) for m, r in zip(batch_sizes, ratios) if abs(r - 1) > limit * se]
    if not off:
        return _("**{s}**: `Var(σ_B)` matches `σ²(κ-1)/(4M)` at every M (median ratios {lo:.3f} to {hi:.3f}, within "
                 "{k:g} relative standard errors).", s=name, lo=min(ratios), hi=max(ratios), k=limit)
    params = dict(s=name, k=limit, ms=join([m for m, _r in off]), rs=join([float(f"{r:.3f}") for _m, r in off]))
    fine = [m for m, r in zip(batch_sizes, ratios) if abs(r - 1) <= limit * se]
    if fine and max(m for m, _r in off) < min(fine):
        return _n("**{s}**: `Var(σ_B)` departs from `σ²(κ-1)/(4M)` by more than {k:g} relative standard errors only at "
                  "the smallest batch size, M = {ms} (median ratio {rs}), and matches it from M = {good} on: the "
                  "formula is a large-M approximation.",
                  "**{s}**: `Var(σ_B)` departs from `σ²(κ-1)/(4M)` by more than {k:g} relative standard errors only at "
                  "the smallest batch sizes, M = {ms} (median ratios {rs}), and matches it from M = {good} on: the "
                  "formula is a large-M approximation.", len(off), good=min(fine), **params)
    return _n("**{s}**: `Var(σ_B)` departs from `σ²(κ-1)/(4M)` by more than {k:g} relative standard errors at M = {ms} "
              "(median ratio {rs}), which is not only the small-M end where the approximation is expected to fail.",
              "**{s}**: `Var(σ_B)` departs from `σ²(κ-1)/(4M)` by more than {k:g} relative standard errors at M = {ms} "
              "(median ratios {rs}), which is not only the small-M end where the approximation is expected to fail.",
              len(off), **params)


def kurtosis_sentence(k_pre: float, k_relu: float):
    if k_relu > k_pre:
        return _("Median kurtosis `κ`: {a:.2f} before the ReLU, {b:.2f} after it: heavier tails after the ReLU, so "
                 "by `σ²(κ-1)/(4M)` its `σ_B` is noisier relative to `σ²`.", a=k_pre, b=k_relu)
    return _("Median kurtosis `κ`: {a:.2f} before the ReLU, {b:.2f} after it: NOT heavier after the ReLU in this "
             "run, so its `σ_B` is not noisier relative to `σ²`.", a=k_pre, b=k_relu)


def gaussian_sentence(row: dict):
    """At one M of the Gaussian check: is the lab's formula or the document's closer to the measurement?"""
    ours, doc_form = abs(row["theory_sigma"] - row["var_sigma"]), abs(row["document_sigma"] - row["var_sigma"])
    params = dict(m=row["M"], s=GAUSS_SIGMA, v=row["var_sigma"], t=row["theory_sigma"], d=row["document_sigma"],
                  vm=row["var_mu"], tm=row["theory_mu"], dm=row["document_mu"])
    if ours < doc_form:
        return _("Gaussian population, `σ` = {s:g}, M = {m}: measured `Var(μ_B)` = {vm:.4g} against `σ²/M` = "
                 "{tm:.4g} (the document's `σ/M` = {dm:.4g}); measured `Var(σ_B)` = {v:.4g} against "
                 "`σ²(κ-1)/(4M)` = {t:.4g} (the document's `(ρ+2)/(4M)` = {d:.4g}, lacking the factor `σ²`).",
                 **params)
    return _("Gaussian population, `σ` = {s:g}, M = {m}: measured `Var(σ_B)` = {v:.4g} is NOT closer to "
             "`σ²(κ-1)/(4M)` = {t:.4g} than to the document's `(ρ+2)/(4M)` = {d:.4g}; `Var(μ_B)` = {vm:.4g}, "
             "`σ²/M` = {tm:.4g}.", **params)


def report(result: dict, config: Config, doc) -> None:
    unit, ms, n = result["unit"], result["batch_sizes"], result["num_batches"]
    doc.para(_("**Question** (document 003, question 1.2). Does a BatchNorm layer inject noise into the hidden "
               "activations during training? Its `μ_B` and `σ_B` are computed from a random batch, so they are "
               "random; how large is their spread for a batch of M examples?"))
    doc.bullets([
        data_sentence(result["data"]),
        _("Population: the first-layer activations of a 784-{w}-{k} MLP trained one epoch (plain `SGD`, `lr` = 0.1, "
          "batch 64, seed {s}), before the ReLU (`z`) and after it (`a`). {n} batches per M drawn with replacement; "
          "ratios are empirical/formula, median over the live units.", w=config.width,
          k=result["data"]["num_classes"], s=config.seed, n=n),
        _("The population model reached {a:.2%} training accuracy in its epoch.", a=result["population_train_acc"]),
        _("Example unit {u}: active on {f:.1%} of the images; `σ²` = {v:.4g} and `κ` = {kz:.3g} before the ReLU, "
          "`σ²` = {va:.4g} and `κ` = {ka:.3g} after it.", u=unit, f=result["unit_active_fraction"],
          v=result["units"]["pre_relu"]["unit_sigma2"], kz=result["units"]["pre_relu"]["unit_kappa"],
          va=result["units"]["relu"]["unit_sigma2"], ka=result["units"]["relu"]["unit_kappa"]),
    ])
    cols = [("M", "M", "d"), ("median_ratio_mu", _("median `Var(μ_B)·M/σ²`"), ".4f"),
            ("median_ratio_sigma", _("median `Var(σ_B)/(σ²(κ-1)/(4M))`"), ".4f"),
            ("unit_var_mu", _("unit: `Var(μ_B)`"), ".4g"), ("unit_theory_mu", _("unit: `σ²/M`"), ".4g"),
            ("unit_var_sigma", _("unit: `Var(σ_B)`"), ".4g"), ("unit_theory_sigma", _("unit: `σ²(κ-1)/(4M)`"), ".4g"),
            ("unit_rel_noise_sigma", _("unit: `sd(σ_B)/σ`"), ".3f")]
    for key, rows in result["tables"].items():
        doc.heading(_(SIGNALS[key]), level=3)
        doc.table(cols, rows)
    doc.heading(_("Gaussian population"), level=3)
    doc.table([("M", "M", "d"), ("var_mu", _("measured `Var(μ_B)`"), ".4g"), ("theory_mu", "`σ²/M`", ".4g"),
               ("document_mu", _("document: `σ/M`"), ".4g"), ("var_sigma", _("measured `Var(σ_B)`"), ".4g"),
               ("theory_sigma", "`σ²(κ-1)/(4M)`", ".4g"), ("document_sigma", _("document: `(ρ+2)/(4M)`"), ".4g")],
              result["gaussian"], caption=_("Batches drawn from `N(0, {s:g}²)`, where `κ` = 3 and the excess kurtosis "
                                            "`ρ` = 0.", s=GAUSS_SIGMA))
    doc.heading(_("Observations (computed from this run)"))
    doc.bullets([mu_sentence([v for vs in result["ratio_mu"].values() for v in vs], n)]
                + [sigma_sentence(_(SIGNALS[k]), ms, v, n) for k, v in result["ratio_sigma"].items()]
                + [kurtosis_sentence(result["median_kappa"]["pre_relu"], result["median_kappa"]["relu"]),
                   gaussian_sentence(result["gaussian"][-1])])
    doc.heading(_("Training of the population model"))
    doc.bullets(findings_bullets({"population": result["population_findings"]}))
    doc.plot(plot_noise(result, doc.folder.load_arrays("sigma_b")), "bn_noise",
             _("Left and middle: the example unit's `Var(μ_B)` and `Var(σ_B)` against M (dots measured, lines the "
               "formulas). Right: the distribution of `σ_B` of the ReLU unit for three batch sizes."))
