"""Figures of the quadratic lab (drawn from its result, in the report's language)."""
from __future__ import annotations

import numpy as np

from ..report.i18n import N_, _
from .plotting import new_figure, readable_log_range


def _contours(ax, h, w0, paths, newton) -> None:
    span = 1.6 * np.abs(w0).max()
    g = np.linspace(-span, span, 200)
    xx, yy = np.meshgrid(g, g)
    zz = h[0, 0] * xx ** 2 + 2 * h[0, 1] * xx * yy + h[1, 1] * yy ** 2
    levels = np.linspace(zz.min(), zz.max(), 14) if zz.min() < 0 else np.geomspace(
        max(zz.max(), 1e-12) * 1e-4, zz.max(), 12)
    ax.contour(xx, yy, zz, levels=levels, colors="0.8")
    for factor, p in paths.items():
        shown = np.asarray(p["w"])[:15]  # the first steps are the informative ones
        ax.plot(shown[:, 0], shown[:, 1], "o-", ms=3, label=f"lr = {float(factor):g}/λ_max")
    w1 = newton["w1"]
    ax.plot([w0[0], w1[0]], [w0[1], w1[1]], "k--", lw=2, label=_("Newton (1 step)"))
    ax.set_xlim(-span, span)
    ax.set_ylim(-span, span)
    ax.set_aspect("equal")
    ax.legend(fontsize=7)
    ax.set_title(_("first 15 steps on the contours of wᵀHw"))


def plot_main(result: dict, config):
    """Trajectories (2-D), f(w_t) on a readable log range, and the per-step factors."""
    h = np.asarray(result["h"])
    w0 = np.asarray(config.w0, dtype=float)
    lam = np.asarray(result["eigenvalues"])
    bound = result["bound"]
    fig, axes = new_figure(1, 3, size=(16, 4.6))
    ax = axes[0][0]
    if len(w0) == 2:
        _contours(ax, h, w0, result["paths"], result["newton"])
    else:
        ax.text(0.5, 0.5, _("d = {d}: trajectories are drawn only for d = 2", d=len(w0)), ha="center")
        ax.axis("off")
    ax = axes[0][1]
    curves = {factor: np.abs(np.asarray(p["f"], dtype=float)) for factor, p in result["paths"].items()}
    lo, hi = readable_log_range([v for c in curves.values() for v in c], decades=16)
    for factor, fv in curves.items():
        ax.semilogy(np.maximum(fv, 1e-300), label=f"{float(factor):g}/λ_max")
    ax.set_ylim(lo, hi)
    ax.set_xlabel(_("step"))
    ax.set_ylabel("|f(w)|")
    ax.legend(fontsize=7)
    ax.set_title("f(w_t)")
    ax = axes[0][2]
    lrs = np.linspace(0, 1.4 * bound, 400)
    for i, lam_i in enumerate(lam):
        ax.plot(lrs, np.abs(1 - 2 * lrs * lam_i), label=f"|1-2·lr·λ{i + 1}|, λ={lam_i:g}")
    ax.axhline(1.0, color="k", lw=0.8)
    ax.axvspan(0, bound, color="tab:green", alpha=0.12, label="0 < lr < 1/λ_max")
    if result.get("best_lr"):
        ax.axvline(result["best_lr"], color="tab:green", ls=":",
                   label=f"lr* = 1/(λ_max+λ_min) = {result['best_lr']:.3g}")
    ax.set_ylim(0, 2)
    ax.set_xlabel(_("learning rate"))
    ax.legend(fontsize=7)
    ax.set_title(_("per-step factor along each eigenvector"))
    return fig


def plot_curvature(cases: dict):
    """Per case (bowl, valley, saddle): |coordinates| along the eigenvectors and f(w_t)."""
    fig, axes = new_figure(len(cases), 2, size=(11, 3.2 * len(cases)))
    for row, (name, c) in enumerate(cases.items()):
        coords = np.abs(np.asarray(c["coords"], dtype=float))
        ax = axes[row][0]
        for i, lam_i in enumerate(c["eigenvalues"]):
            ax.semilogy(np.maximum(coords[:, i], 1e-300), label=f"λ = {lam_i:g}")
        lo, hi = readable_log_range(coords[coords > 0], decades=16)
        ax.set_ylim(lo, hi)
        ax.set_xlabel(_("step"))
        ax.set_title(_("{kind}: |coordinate| along each eigenvector", kind=_(KIND_SHORT[c["kind"]])))
        ax.legend(fontsize=7)
        ax = axes[row][1]
        ax.plot(c["f"])
        ax.axhline(0, color="k", lw=0.8)
        ax.set_xlabel(_("step"))
        ax.set_title(_("{kind}: f(w_t)", kind=_(KIND_SHORT[c["kind"]])))
    fig.subplots_adjust(hspace=0.55, wspace=0.3)
    return fig


KIND_SHORT = {"bowl": N_("bowl"), "valley": N_("valley"), "saddle": N_("saddle")}
