"""The figure of the bn-noise lab (drawn from its result, in the report's language)."""
from __future__ import annotations

import numpy as np

from ..report.i18n import _
from .plotting import new_figure


def plot_noise(result: dict, sigma_b: dict):
    """Var(μ_B) and Var(σ_B) of the example unit against M (log-log), and histograms of its σ_B."""
    from .bn_noise import SYMBOLS

    unit = result["unit"]
    ms = np.array(result["batch_sizes"], dtype=float)
    fig, axes = new_figure(1, 3, size=(16, 4.3))
    for key, rows in result["tables"].items():
        name = SYMBOLS[key]
        axes[0][0].loglog(ms, [r["unit_var_mu"] for r in rows], "o", label=_("{s}: measured", s=name))
        axes[0][0].loglog(ms, [r["unit_theory_mu"] for r in rows], "-", label=f"{name}: σ²/M")
        axes[0][1].loglog(ms, [r["unit_var_sigma"] for r in rows], "o", label=_("{s}: measured", s=name))
        axes[0][1].loglog(ms, [r["unit_theory_sigma"] for r in rows], "-", label=f"{name}: σ²(κ-1)/(4M)")
    axes[0][0].set_title(_("Var(μ_B), unit {u}", u=unit))
    axes[0][1].set_title(_("Var(σ_B), unit {u}", u=unit))
    for ax in axes[0][:2]:
        ax.set_xlabel(_("batch size M"))
        ax.set_xticks(ms, [str(int(m)) for m in ms], minor=False)
        ax.minorticks_off()
        ax.legend(fontsize=7)
    ax = axes[0][2]
    for m in result["histogram_batch_sizes"]:
        ax.hist(sigma_b[f"m{m}"], bins=40, alpha=0.5, density=True, label=f"σ_B, M = {m}")
    ax.axvline(np.sqrt(result["units"]["relu"]["unit_sigma2"]), color="k", ls="--", label=_("population σ"))
    ax.set_title(_("σ_B of ReLU unit {u}", u=unit))
    ax.set_ylabel(_("density"))
    ax.legend(fontsize=7)
    return fig
