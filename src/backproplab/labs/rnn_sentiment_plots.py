"""Figures of the rnn-sentiment lab (drawn from its result, in the report's language)."""
from __future__ import annotations

import numpy as np

from ..report.i18n import _
from .plotting import colorbar, epoch_axis, new_figure


def plot_curves(curves: list[dict]):
    """Sentence accuracy (train, dev, test) and the training loss per epoch; the best dev epoch marked."""
    fig, axes = new_figure(1, 2, size=(10, 3.8))
    epochs = [r["epoch"] for r in curves]
    best = max(curves, key=lambda r: r["dev_acc"])["epoch"]
    ax = axes[0, 0]
    for key, name in (("train_acc", _("training sentences")), ("dev_acc", _("dev")), ("test_acc", _("test"))):
        ax.plot(epochs, [r[key] for r in curves], marker="o", label=name)
    ax.axvline(best, color="k", ls="--", lw=0.8)
    epoch_axis(ax)
    ax.set_ylabel(_("sentence accuracy"))
    ax.set_title(_("many-to-one accuracy"))
    ax.legend()
    ax = axes[0, 1]
    ax.plot(epochs, [r["train_loss"] for r in curves], marker="o")
    epoch_axis(ax)
    ax.set_ylabel(_("cross-entropy"))
    ax.set_title(_("training loss"))
    fig.subplots_adjust(wspace=0.3)
    return fig


def plot_confusion(confusion: np.ndarray, class_names: list):
    """Counts of test sentences by true (rows) and predicted (columns) class, with a colour bar."""
    fig, axes = new_figure(1, 1, size=(5.6, 4.8))
    ax = axes[0, 0]
    im = ax.imshow(confusion, cmap="Blues")
    for (i, j), v in np.ndenumerate(confusion):
        ax.text(j, i, str(v), ha="center", va="center", color="white" if v > confusion.max() / 2 else "black")
    ticks = range(len(class_names))
    ax.set_xticks(ticks, [str(c) for c in class_names], rotation=30, ha="right")
    ax.set_yticks(ticks, [str(c) for c in class_names])
    ax.grid(False)
    ax.set_xlabel(_("predicted class"))
    ax.set_ylabel(_("true class"))
    ax.set_title(_("test confusion matrix"))
    colorbar(fig, im, ax, _("sentences"))
    return fig


def plot_grad_profile(trained: dict, initial: dict):
    """Mean ‖∂L/∂h_t‖ against k = steps before the last word, trained and untrained, on a log scale."""
    fig, axes = new_figure(1, 1, size=(6, 4))
    ax = axes[0, 0]
    ax.semilogy(trained["k"], trained["mean_norm"], marker=".", label=_("trained (best dev epoch)"))
    ax.semilogy(initial["k"], initial["mean_norm"], marker=".", label=_("at initialisation"))
    ax.set_xlabel(_("k = steps before the last word"))
    ax.set_ylabel(_("mean ‖∂L/∂h_t‖"))
    ax.set_title(_("hidden-state gradient through time"))
    ax.legend()
    return fig
