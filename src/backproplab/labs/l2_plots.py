"""Figures of the L2 lab: without vs with L2 on one plot, Σ W² per epoch, the γ sweep."""
from __future__ import annotations

import numpy as np

from ..report.i18n import _
from .plotting import epoch_axis, new_figure
from .training import curve


def plot_pair(pair: dict[str, dict]):
    """Training (solid) and test (dashed) loss, and accuracy, of the runs without and with L2."""
    fig, axes = new_figure(1, 2, size=(11, 4))
    for color, (label, r) in zip(("tab:blue", "tab:red"), pair.items()):
        for key, ls, name in (("train_loss", "-", _("{m} training loss", m=label)),
                              ("test_loss", "--", _("{m} test loss", m=label))):
            ys = curve(r, key)
            axes[0, 0].plot(range(len(ys)), ys, ls, color=color, label=name)
        ys = curve(r, "test_acc")
        axes[0, 1].plot(range(len(ys)), ys, color=color, label=_("{m} test accuracy", m=label))
        ys = curve(r, "train_acc")
        axes[0, 1].plot(range(len(ys)), ys, ":", color=color, label=_("{m} training accuracy", m=label))
    axes[0, 0].set_yscale("log")
    axes[0, 0].set_title(_("training (solid) and test (dashed) loss, data term only"))
    axes[0, 1].set_title(_("accuracy"))
    for ax in axes[0]:
        epoch_axis(ax)
        ax.legend(fontsize=7)
    lowest = min((min(curve(r, "test_acc")[1:] or [0]) for r in pair.values()), default=0)
    axes[0, 1].set_ylim(max(0.0, lowest - 0.01), 1.0005)
    fig.suptitle(_("Without and with L2"), y=1.0)
    fig.subplots_adjust(hspace=0.45, wspace=0.3)  # fixed spacing: tight_layout costs a second full draw
    return fig


def plot_weight_norm(runs: dict[str, dict]):
    fig, axes = new_figure(1, 1, size=(6.5, 4))
    ax = axes[0, 0]
    for label, r in runs.items():
        wn = r["history"]["weight_norm"]
        ax.plot(range(1, len(wn) + 1), wn, marker="o", ms=3, label=label)
    ax.set_yscale("log")
    epoch_axis(ax)
    ax.set_ylabel(_("Σ W² over the weights"))
    ax.set_title(_("Weight norm during training"))
    ax.legend(fontsize=8)
    return fig


def plot_sweep(rows: list[dict]):
    fig, axes = new_figure(1, 2, size=(11, 4))
    done = sorted((r for r in rows if r["final_test_acc"] is not None), key=lambda r: r["gamma"])
    xs = np.arange(len(done))
    names = [f"{r['gamma']:g}" for r in done]
    axes[0, 0].plot(xs, [r["final_test_acc"] for r in done], "o-", label=_("test, last epoch"))
    axes[0, 0].plot(xs, [r["best_test_acc"] for r in done], "s--", label=_("test, best epoch"))
    axes[0, 0].plot(xs, [r["final_train_acc"] for r in done], "^:", label=_("training, last epoch"))
    axes[0, 0].set_ylabel(_("accuracy"))
    axes[0, 0].set_title(_("accuracy against γ"))
    axes[0, 1].plot(xs, [r["final_weight_norm"] for r in done], "o-")
    axes[0, 1].set_yscale("log")
    axes[0, 1].set_ylabel(_("Σ W² at the last epoch"))
    axes[0, 1].set_title(_("weight norm against γ"))
    for ax in axes[0]:
        ax.set_xticks(xs, names)
        ax.set_xlabel("γ")
    axes[0, 0].legend(fontsize=8)
    fig.subplots_adjust(hspace=0.45, wspace=0.3)  # fixed spacing: tight_layout costs a second full draw
    return fig
