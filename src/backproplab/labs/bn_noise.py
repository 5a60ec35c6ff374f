"""Lab: the noise of batch statistics -- Var(μ_B) = σ²/M and Var(σ_B) ≈ σ²(κ-1)/(4M) on real activations.

The question: batch normalization divides by the batch's own mean and standard
deviation. How noisy are they for a batch of M examples?

For M values drawn independently from a distribution with variance σ² and
kurtosis κ = E[(x-μ)⁴]/σ⁴ (3 for a Gaussian):

    Var(μ_B) = σ²/M                        (exact)
    Var(σ_B) ≈ σ²(κ - 1)/(4M)              (delta method: Var(s²) ≈ σ⁴(κ-1)/M, σ_B = √s²)

The lab trains a small MLP (the library's Linear-ReLU-Linear, one epoch of SGD
with the Trainer) on Fashion-MNIST, takes the first layer's activations on the
training images, before the ReLU (z) and after it (a), as the population of each
hidden unit, draws many batches of size M from it and compares the empirical
variances with the formulas, unit by unit (a table of the median ratio over
units, and one example unit in full).

What you should see: Var(μ_B)·M/σ² ≈ 1 at every M; the σ_B formula is accurate
for large M and off at small M (it is a large-M approximation, and σ_B is a
biased estimator there); ReLU outputs, with many exact zeros, have a larger κ and
so a noisier σ_B than the pre-activations.

Exercises: (1) from the table, what batch size keeps the relative noise of σ_B
below 5% for the ReLU outputs? (2) why does BatchNorm's noise act as a
regularizer, and why does it hurt at M = 2?

Reference: Ioffe & Szegedy 2015, "Batch normalization"; the variance of the
sample variance: Kenney & Keeping, Mathematics of Statistics (1951), §7.7;
Luo et al. 2019, "Towards understanding regularization in batch normalization".
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .common import LabRun, markdown_table, new_figure, parse_classes, replace_known

NAME = "bn-noise"
TITLE = "Batch statistics noise: Var(μ_B) = σ²/M and Var(σ_B) ≈ σ²(κ-1)/(4M) on Fashion-MNIST activations"


@dataclass(frozen=True)
class Config:
    seed: int = 0                     # weights, training order, batch draws
    quick: bool = False               # smaller population, fewer batches: seconds
    data_dir: str | None = None       # Fashion-MNIST folder (None: the default location)
    classes: str = "all"              # class ids, e.g. "0,1", or "all"
    hidden: int = 64                  # hidden units of the MLP (the units studied)
    population: int = 60000           # training images whose activations form the population
    num_batches: int = 2000           # batches drawn per batch size
    batch_sizes: tuple[int, ...] = (2, 4, 8, 16, 32, 64, 128, 256)


QUICK = dict(population=3000, num_batches=400, batch_sizes=(4, 16, 64))


def population_activations(x, y, hidden: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Train Linear-ReLU-Linear for one epoch; return the first layer's z and ReLU(z) on ``x``. Each (N, hidden)."""
    from ..nn import CrossEntropyLoss, Linear, ReLU, Sequential
    from ..optim import SGD
    from ..train.trainer import Trainer

    model = Sequential(Linear(x.shape[1], hidden, rng=rng, init="he"), ReLU(),
                       Linear(hidden, int(y.max()) + 1, rng=rng))
    Trainer(model, CrossEntropyLoss(), SGD(model.parameters(), lr=0.1), batch_size=64, num_epochs=1,
            rng=rng).fit(x, y)
    model.eval()
    z = model[0].forward(x).astype(np.float64)  # (N, hidden) pre-activations
    return {"z (pre-ReLU)": z, "a = ReLU(z)": np.maximum(z, 0.0)}


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


def compare(values: np.ndarray, batch_sizes, num_batches: int, rng: np.random.Generator, unit: int) -> list[dict]:
    """Empirical vs formula variances of μ_B and σ_B, per batch size (median ratio over live units + one unit)."""
    var = values.var(axis=0)  # population σ² per unit
    live = var > 1e-10 * max(var.max(), 1e-300)  # dead ReLU units have no spread
    centred = values[:, live] - values[:, live].mean(axis=0)
    kappa = np.full(values.shape[1], np.nan)
    kappa[live] = (centred ** 4).mean(axis=0) / var[live] ** 2
    rows = []
    for m in batch_sizes:
        mu_b, sigma_b = batch_stats(values, m, num_batches, rng)
        v_mu, v_sigma = mu_b.var(axis=0, ddof=1), sigma_b.var(axis=0, ddof=1)
        th_mu = var / m
        th_sigma = var * (kappa - 1.0) / (4.0 * m)
        rows.append({
            "M": m,
            "median_ratio_mu": float(np.median(v_mu[live] / th_mu[live])),
            "median_ratio_sigma": float(np.median(v_sigma[live] / th_sigma[live])),
            "unit_var_mu": float(v_mu[unit]), "unit_theory_mu": float(th_mu[unit]),
            "unit_var_sigma": float(v_sigma[unit]), "unit_theory_sigma": float(th_sigma[unit]),
            "unit_rel_noise_sigma": float(np.sqrt(v_sigma[unit]) / np.sqrt(var[unit])),
        })
    return rows, {"var": var, "kappa": kappa, "live": live}


def run(config: Config, out_dir: Path) -> dict:
    from ..data import load_fashion_mnist

    if config.quick:
        config = replace_known(config, **QUICK)
    lab = LabRun(out_dir, config)
    if config.hidden < 1 or config.num_batches < 10 or any(m < 2 for m in config.batch_sizes):
        raise ValueError("hidden >= 1, num_batches >= 10 and batch_sizes >= 2 are needed")
    rng = np.random.default_rng(config.seed)
    ds = load_fashion_mnist(classes=parse_classes(config.classes), data_dir=config.data_dir)
    n = min(config.population, len(ds.x_train))
    keep = rng.permutation(len(ds.x_train))[:n]
    x, y = ds.x_train[keep], ds.y_train[keep]
    acts = population_activations(x, y, config.hidden, rng)

    tables, stats, rows_all = {}, {}, []
    a = acts["a = ReLU(z)"]
    # the example unit: the ReLU unit active closest to half the time (its output mixes zeros and values)
    active = (a > 0).mean(axis=0)
    unit = int(np.argmin(np.abs(active - 0.5)))
    for name, values in acts.items():
        rows, st = compare(values, config.batch_sizes, config.num_batches, rng, unit)
        tables[name], stats[name] = rows, st
        rows_all += [{"signal": name, **r} for r in rows]
    lab.save_metrics("bn_noise", rows_all)
    units = [{"signal": name, "live_units": int(st["live"].sum()), "median_kappa": float(np.nanmedian(st["kappa"])),
              "unit": unit, "unit_active_fraction": float(active[unit]), "unit_sigma2": float(st["var"][unit]),
              "unit_kappa": float(st["kappa"][unit])}
             for name, st in stats.items()]
    lab.save_metrics("units", units)

    fig, axes = new_figure(1, 3, size=(16, 4.3))
    ms = np.array(config.batch_sizes, dtype=float)
    for name, rows in tables.items():
        axes[0][0].loglog(ms, [r["unit_var_mu"] for r in rows], "o", label=f"{name}: empirical")
        axes[0][0].loglog(ms, [r["unit_theory_mu"] for r in rows], "-", label=f"{name}: σ²/M")
        axes[0][1].loglog(ms, [r["unit_var_sigma"] for r in rows], "o", label=f"{name}: empirical")
        axes[0][1].loglog(ms, [r["unit_theory_sigma"] for r in rows], "-", label=f"{name}: σ²(κ-1)/(4M)")
    axes[0][0].set_title(f"Var(μ_B), unit {unit}")
    axes[0][1].set_title(f"Var(σ_B), unit {unit}")
    for ax in axes[0][:2]:
        ax.set_xlabel("batch size M")
        ax.set_xticks(ms, [str(int(m)) for m in ms], minor=False)
        ax.minorticks_off()
        ax.legend(fontsize=7)
    ax = axes[0][2]
    for m in sorted({int(min(config.batch_sizes)), int(np.median(config.batch_sizes)), int(max(config.batch_sizes))}):
        _, sigma_b = batch_stats(a[:, unit:unit + 1], m, config.num_batches, rng)
        ax.hist(sigma_b[:, 0], bins=40, alpha=0.5, density=True, label=f"σ_B, M = {m}")
    ax.axvline(np.sqrt(stats["a = ReLU(z)"]["var"][unit]), color="k", ls="--", label="population σ")
    ax.set_title(f"σ_B of ReLU unit {unit}")
    ax.legend(fontsize=7)
    lab.savefig(fig, "bn_noise")

    # observations computed from the tables
    mu_ratios = [r["median_ratio_mu"] for rows in tables.values() for r in rows]
    sig_large = {name: rows[-1]["median_ratio_sigma"] for name, rows in tables.items()}
    sig_small = {name: rows[0]["median_ratio_sigma"] for name, rows in tables.items()}
    kz, ka = units[0]["median_kappa"], units[1]["median_kappa"]
    m_lo, m_hi = config.batch_sizes[0], config.batch_sizes[-1]
    summary = (f"Var(μ_B)·M/σ² median ratio in [{min(mu_ratios):.3f}, {max(mu_ratios):.3f}]; Var(σ_B) ratio at "
               f"M={m_hi}: " + ", ".join(f"{k} {v:.3f}" for k, v in sig_large.items())
               + f"; at M={m_lo}: " + ", ".join(f"{k} {v:.3f}" for k, v in sig_small.items()) + ".")
    cols = ["M", "median_ratio_mu", "median_ratio_sigma", "unit_var_mu", "unit_theory_mu", "unit_var_sigma",
            "unit_theory_sigma", "unit_rel_noise_sigma"]
    report = [f"# {TITLE}\n",
              f"Population: first-layer activations of a {x.shape[1]}-{config.hidden}-{int(y.max()) + 1} MLP "
              f"trained one epoch, on {n} Fashion-MNIST training images ({ds.source}). {config.num_batches} "
              f"batches per M, drawn i.i.d. Ratios are empirical/formula; 'unit' columns are unit {unit}.\n",
              markdown_table(units)]
    for name, rows in tables.items():
        report += [f"\n## {name}\n", markdown_table(rows, cols)]
    report += ["\n## Observations (from the numbers)\n",
               f"- Var(μ_B)·M/σ²: median over units between {min(mu_ratios):.3f} and {max(mu_ratios):.3f} "
               f"across all M and both signals (formula exact for i.i.d. draws; the spread is sampling noise of "
               f"{config.num_batches} batches, relative SE ≈ {np.sqrt(2 / (config.num_batches - 1)):.3f}).",
               f"- Var(σ_B) vs σ²(κ-1)/(4M): median ratio at M = {m_hi}: "
               + ", ".join(f"{k} {v:.3f}" for k, v in sig_large.items()) + f"; at M = {m_lo}: "
               + ", ".join(f"{k} {v:.3f}" for k, v in sig_small.items()) + ".",
               f"- Median kurtosis κ: {kz:.2f} before the ReLU, {ka:.2f} after it "
               f"({'heavier' if ka > kz else 'lighter'} tails after the ReLU, so σ_B is "
               f"{'noisier' if ka > kz else 'less noisy'} relative to σ² there).",
               "\n![bn noise](bn_noise.png)\n"]
    lab.write_report("\n".join(report))
    return {"summary": summary, "tables": tables, "units": units, "unit": unit}
