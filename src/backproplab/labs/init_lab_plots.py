"""Figures of the init lab: activation statistics at initialization, unit symmetry after training."""
from __future__ import annotations

import numpy as np

from ..report.i18n import _
from .plotting import new_figure

#: where an exactly-zero relative difference is drawn on the log axis
FLOOR = 1e-12


def plot_stats(init_stats: dict[str, list[dict]], layer_name):
    """Mean and std of every layer's output at initialization, one line per run (symlog axes)."""
    fig, axes = new_figure(1, 2, size=(11, 4))
    for label, stats in init_stats.items():
        xs = range(1, len(stats) + 1)
        axes[0, 0].plot(xs, [s["mean"] for s in stats], marker="o", label=label)
        axes[0, 1].plot(xs, [s["std"] for s in stats], marker="o", label=label)
    names = [str(layer_name(s["layer"])) for s in next(iter(init_stats.values()))]
    titles = (_("activation mean at initialization"), _("activation std at initialization"))
    for ax, title in zip(axes[0], titles):
        ax.set_xticks(range(1, len(names) + 1), names)
        ax.set_title(title)
        ax.set_xlabel(_("layer"))
        ax.set_yscale("symlog", linthresh=1e-3)  # zeros init gives exact 0s: a log axis would drop them
    axes[0, 1].set_ylim(bottom=0)  # a std is never negative
    axes[0, 0].legend(fontsize=7)
    fig.subplots_adjust(hspace=0.45, wspace=0.3)  # fixed spacing: tight_layout costs a second full draw
    return fig


def plot_symmetry(symmetry: dict[str, list[dict]], rtol: float):
    """Largest relative difference between a hidden unit and unit 0, per run and layer (log scale)."""
    fig, axes = new_figure(1, 1, size=(7.5, 4))
    ax = axes[0, 0]
    labels = list(symmetry)
    n_layers = len(symmetry[labels[0]])
    width = 0.8 / n_layers
    for k in range(n_layers):
        vals = [max(symmetry[m][k]["rel_param_diff"], FLOOR) for m in labels]
        ax.bar(np.arange(len(labels)) + k * width, vals, width, label=_("hidden {k}", k=k + 1))
    ax.axhline(rtol, color="k", ls="--", lw=1, label=_("{t:g}: identical below", t=rtol))
    ax.set_xticks(np.arange(len(labels)) + width * (n_layers - 1) / 2, labels, rotation=20)
    ax.set_yscale("log")
    ax.set_ylabel(_("max |unit − unit 0| / max |value|"))
    ax.set_title(_("Hidden units after training: copies of each other? ({f:g} = exactly equal)", f=FLOOR))
    ax.legend(fontsize=7, loc="center left")  # the all-zeros bars at the floor leave that corner free
    return fig
