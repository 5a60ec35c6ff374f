"""Figures of the deformable-conv lab (drawn from its result and arrays, in the report's language)."""
from __future__ import annotations

import numpy as np

from ..report.i18n import _
from .plotting import colorbar, epoch_axis, new_figure

LEARNED, REGULAR, UNIT = "tab:red", "tab:cyan", "tab:green"


def _image(ax, image, title=None):
    im = ax.imshow(image, cmap="gray", vmin=0, vmax=1)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.grid(False)
    for spine in ax.spines.values():
        spine.set_visible(False)
    if title is not None:
        ax.set_title(title, fontsize=8.5)
    return im


def _points(ax, points, colour, size=9):
    """Sampling points (P, 2) as (row, column): drawn at (column, row); repeated points show darker."""
    pts = np.asarray(points)
    ax.scatter(pts[:, 1], pts[:, 0], s=size, c=colour, alpha=0.35, linewidths=0)


def _unit(ax, regular):
    centre = np.asarray(regular).mean(axis=0)
    ax.plot(centre[1], centre[0], marker="o", ms=6, mec="white", mfc=UNIT)


def _frame(ax, points, size=28):
    """Limits that show the whole image and every point, with the image's edge drawn."""
    from matplotlib.patches import Rectangle

    pts = np.concatenate([np.asarray(p).reshape(-1, 2) for p in points])
    lo = min(-1.5, float(pts.min()) - 1)
    hi = max(size + 0.5, float(pts.max()) + 1)
    ax.set_xlim(lo, hi)
    ax.set_ylim(hi, lo)
    ax.add_patch(Rectangle((-0.5, -0.5), size, size, fill=False, ec="0.6", lw=0.8))


def plot_sampling(arrays: dict):
    """Top row: the regular grid of the plain network's centre unit; bottom: the deformable network's
    learned points, on the same moved test images."""
    images = arrays["images"]
    n = len(images)
    fig, axes = new_figure(2, n, size=(2.9 * n + 0.8, 6.2))
    for col in range(n):
        for row, (key, colour, title) in enumerate((
                ("plain_points", REGULAR, _("regular grid (plain)")),
                ("deformable_points", LEARNED, _("learned points (deformable)")))):
            ax = axes[row][col]
            im = _image(ax, images[col], title)
            _points(ax, arrays[key][col], colour)
            _unit(ax, arrays["plain_points"][col])
            _frame(ax, [arrays["plain_points"], arrays["deformable_points"]])
    colorbar(fig, im, list(axes.flat), _("pixel intensity"))
    fig.suptitle(_("Where the centre unit of the last layer reads (green: its position)"), y=0.99)
    return fig


def plot_sweep_images(arrays: dict):
    """One test image rescaled by each factor of the sweep, with the deformable network's learned points."""
    from .deformable_conv_analysis import SWEEP_SCALES

    n = len(SWEEP_SCALES)
    fig, axes = new_figure(1, n, size=(2.7 * n + 0.8, 3.2))
    for col, s in enumerate(SWEEP_SCALES):
        ax = axes[0][col]
        im = _image(ax, arrays["sweep_images"][col], _("scale {s:g}", s=s))
        _points(ax, arrays["sweep_deformable"][col], LEARNED)
        _unit(ax, arrays["sweep_plain"][col])
        _frame(ax, [arrays["sweep_deformable"], arrays["sweep_plain"]])
    colorbar(fig, im, list(axes[0]), _("pixel intensity"))
    return fig


def plot_sweep(result: dict):
    """The mean spread of the points and the accuracy against the scale of the test images, both networks."""
    fig, axes = new_figure(1, 2, size=(10, 3.8))
    left, right = axes[0]
    names = {"plain": _("plain"), "deformable": _("deformable")}
    for kind, colour in (("plain", REGULAR), ("deformable", LEARNED)):
        rows = result["models"][kind]["sweep"]
        scales = [r["scale"] for r in rows]
        left.errorbar(scales, [r["spread_mean"] for r in rows], yerr=[2 * r["spread_se"] for r in rows],
                      marker="o", color=colour, label=names[kind], capsize=3)
        right.plot(scales, [r["accuracy"] for r in rows], marker="o", color=colour, label=names[kind])
    left.set_xlabel(_("scale of the test images"))
    left.set_ylabel(_("spread of the points (image pixels)"))
    left.set_title(_("mean spread ± 2 standard errors"))
    left.legend()
    right.set_xlabel(_("scale of the test images"))
    right.set_ylabel(_("test accuracy"))
    right.set_title(_("accuracy on the rescaled images"))
    right.legend()
    fig.subplots_adjust(wspace=0.3)
    return fig


def plot_spread_scatter(arrays: dict, regular: float):
    """Spread of the learned points of each moved test image against its scale and its rotation."""
    fig, axes = new_figure(1, 2, size=(10, 3.9))
    for ax, key, label in ((axes[0][0], "scale", _("scale of the moved image")),
                           (axes[0][1], "rotation", _("|rotation| of the moved image (degrees)"))):
        x = np.abs(arrays[key]) if key == "rotation" else arrays[key]
        ax.scatter(x, arrays["spread"], s=8, alpha=0.5, color=LEARNED, label=_("deformable"))
        ax.axhline(regular, color=REGULAR, lw=1.5, label=_("regular grid"))
        ax.set_xlabel(label)
        ax.set_ylabel(_("spread of the points (image pixels)"))
        ax.legend()
    fig.subplots_adjust(wspace=0.3)
    return fig


def plot_training(result: dict):
    """Test accuracy on the moved images per epoch, and the training loss of every step (smoothed)."""
    fig, axes = new_figure(1, 2, size=(10, 3.8))
    names = {"plain": _("plain"), "deformable": _("deformable")}
    for kind, colour in (("plain", REGULAR), ("deformable", LEARNED)):
        h = result["models"][kind]["history"]
        acc = [np.nan if a is None else a for a in h["test_acc"]]
        axes[0][0].plot(range(1, len(acc) + 1), acc, marker="o", color=colour, label=names[kind])
        steps = np.asarray(h["step_loss"], dtype=float)
        if steps.size:
            k = max(1, min(25, steps.size // 10))
            smooth = np.convolve(steps, np.ones(k) / k, mode="valid")
            axes[0][1].plot(np.arange(k, steps.size + 1), smooth, color=colour, label=names[kind])
    epoch_axis(axes[0][0])
    axes[0][0].set_ylabel(_("test accuracy (moved images)"))
    axes[0][0].legend()
    axes[0][1].set_xlabel(_("step"))
    axes[0][1].set_ylabel(_("training loss (running mean)"))
    axes[0][1].legend()
    fig.subplots_adjust(wspace=0.3)
    return fig
