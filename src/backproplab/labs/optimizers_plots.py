"""Figures of the optimizers lab: the loss of every step, wall times."""
from __future__ import annotations

import numpy as np

from ..report.i18n import _, num
from .plotting import epoch_axis, new_figure


def plot_steps(runs: dict[str, dict]):
    """One panel per run: the loss of every step against epochs (noisy vs smooth), log scale."""
    n = len(runs)
    cols = 3
    nrows = -(-n // cols)
    fig, axes = new_figure(nrows, cols, size=(4.3 * cols, 2.9 * nrows))
    flat = list(axes.flat)
    positive = [v for r in runs.values() for v in r["history"]["step_loss"] if v > 0]
    ymin, ymax = (min(positive), max(positive)) if positive else (1e-3, 1.0)
    for ax, (label, r) in zip(flat, runs.items()):
        sl = np.asarray(r["history"]["step_loss"], dtype=float)
        xs = np.arange(1, len(sl) + 1) / r["steps_per_epoch"]
        ax.plot(xs, np.maximum(sl, 1e-8), lw=0.5 if len(sl) > 500 else 1.0, alpha=0.8)
        ep = r["history"]["train_loss"]
        ax.plot(range(1, len(ep) + 1), ep, "k.", ms=4, label=_("epoch's training loss"))
        ax.set_yscale("log")
        ax.set_ylim(max(ymin, 1e-6), ymax * 1.5)
        ax.set_title(_("{m} ({k} steps per epoch)", m=label, k=r["steps_per_epoch"]), fontsize=9)
        epoch_axis(ax)
    for ax in flat[n:]:
        ax.axis("off")
    flat[0].legend(fontsize=7)
    fig.suptitle(_("Loss of every optimizer step (the mini-batch's loss): noisy or smooth"), y=1.0)
    fig.subplots_adjust(hspace=0.55, wspace=0.3)  # fixed spacing: tight_layout costs a second full draw
    return fig


def plot_time(rows: list[dict]):
    fig, axes = new_figure(1, 1, size=(8, 3.6))
    ax = axes[0, 0]
    labels = [r["model"] for r in rows]
    ax.barh(labels, [r["train_time_s"] for r in rows], color="tab:blue")
    for i, r in enumerate(rows):
        ax.text(r["train_time_s"], i, " " + num(r["train_time_s"], ".1f"), va="center", fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel(_("wall time of training, with the evaluation after every epoch (s)"))
    ax.set_title(_("Wall time per run"))
    return fig
