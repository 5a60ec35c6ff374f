"""Figures of the mobilenet lab, drawn from its result in the report's language."""
from __future__ import annotations

import numpy as np

from ..report.i18n import _
from .mobilenet_text import label
from .plotting import epoch_axis, new_figure

COLORS = {"cnn": "tab:gray", "v1": "tab:blue", "v2": "tab:orange"}


def _family_lines(ax, rows: list[dict], key: str, scale: float, base_w: float, base_r: int) -> None:
    """Per family: the widths at the base side (solid) and the sides at the base width (dashed), against MACs."""
    for family in COLORS:
        mine = sorted((r for r in rows if r["model"] == family), key=lambda r: r["macs"])
        widths = [r for r in mine if r["resolution"] == base_r]
        sides = [r for r in mine if r["width"] == base_w]
        if widths:
            ax.plot([r["macs"] / 1e6 for r in widths], [scale * r[key] for r in widths], "o-", color=COLORS[family],
                    label=_("{model}: widths α", model=label(family)))
            for r in widths:
                ax.annotate(f"α={r['width']:g}", (r["macs"] / 1e6, scale * r[key]), fontsize=7,
                            textcoords="offset points", xytext=(3, -9))
        if len(sides) > 1:
            ax.plot([r["macs"] / 1e6 for r in sides], [scale * r[key] for r in sides], "s--", color=COLORS[family],
                    alpha=0.6, label=_("{model}: input sides", model=label(family)))
            for r in sides:
                if r["resolution"] != base_r:
                    ax.annotate(f"{r['resolution']}px", (r["macs"] / 1e6, scale * r[key]), fontsize=7,
                                textcoords="offset points", xytext=(3, 4))
    ax.set_xscale("log")
    ax.set_xlabel(_("MACs per image (millions, log scale)"))


def plot_accuracy(rows: list[dict], histories: dict, base_w: float, base_r: int):
    """Test accuracy against MACs (left) and per epoch for the base models (right)."""
    fig, axes = new_figure(1, 2, size=(12, 4.4))
    ax = axes[0, 0]
    _family_lines(ax, rows, "test_acc", 100, base_w, base_r)
    ax.set_ylabel(_("test accuracy (%)"))
    ax.set_title(_("Accuracy against multiply-accumulates"))
    ax.legend(fontsize=7)
    ax = axes[0, 1]
    for r in rows:
        if r["width"] == base_w and r["resolution"] == base_r:
            h = histories[r["key"]]
            ax.plot(h["epoch"], [100 * a for a in h["test_acc"]], marker="o", ms=2.5, color=COLORS[r["model"]],
                    label=label(r["model"]))
    epoch_axis(ax)
    epochs = max([len(h["epoch"]) for h in histories.values()] + [1])
    ax.set_xlim(0.5, epochs + 0.5)
    ax.set_ylabel(_("test accuracy (%)"))
    ax.set_title(_("Test accuracy per epoch (width {w:g}, {side} px)", w=base_w, side=base_r))
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8)
    fig.subplots_adjust(wspace=0.3)
    return fig


def plot_cost(rows: list[dict], base_w: float, base_r: int):
    """Training seconds per epoch and batch-1 latency against MACs (log-log)."""
    fig, axes = new_figure(1, 2, size=(12, 4.2))
    for ax, key, ylabel, title in (
            (axes[0, 0], "s_per_epoch", _("seconds per epoch"), _("Training time per epoch")),
            (axes[0, 1], "latency_b1_ms", _("milliseconds"), _("Forward time of one image (eager)"))):
        _family_lines(ax, rows, key, 1, base_w, base_r)
        ax.set_yscale("log")
        ax.set_ylabel(ylabel)
        ax.set_title(title)
    axes[0, 0].legend(fontsize=7)
    fig.subplots_adjust(wspace=0.3)
    return fig


def plot_scaling(mult_rows: list[dict]):
    """MAC and parameter ratios against the width multiplier α and the resolution multiplier ρ, with x²."""
    fig, axes = new_figure(1, 2, size=(11, 4.2))
    for ax, kind, xlabel in ((axes[0, 0], "width", _("width multiplier α")),
                             (axes[0, 1], "resolution", _("resolution multiplier ρ = side / base side"))):
        pts = [r for r in mult_rows if r["multiplier"] == kind]
        grid = np.linspace(min([r["factor"] for r in pts] + [0.1]), 1.0, 100)
        ax.plot(grid, grid ** 2, "k:", lw=1, label=_("square of the multiplier"))
        for family in COLORS:
            mine = sorted((r for r in pts if r["model"] == family), key=lambda r: r["factor"])
            if mine:
                xs = [r["factor"] for r in mine] + [1.0]  # the base model itself: (1, 1)
                ax.plot(xs, [r["macs_ratio"] for r in mine] + [1.0], "o-", color=COLORS[family],
                        label=_("{model}: MACs", model=label(family)))
                ax.plot(xs, [r["params_ratio"] for r in mine] + [1.0], "^--", color=COLORS[family], alpha=0.6,
                        label=_("{model}: parameters", model=label(family)))
        ax.set_xlabel(xlabel)
        ax.set_ylabel(_("fraction of the base model"))
        ax.legend(fontsize=7)
    axes[0, 0].set_title(_("Width multiplier"))
    axes[0, 1].set_title(_("Resolution multiplier"))
    fig.subplots_adjust(wspace=0.3)
    return fig
