"""One plot style for every lab, and the axis helpers the reports share.

Labels are drawn in the report's language: pass :func:`~backproplab.report.i18n._` messages
(matplotlib turns them into text with ``str()``, in the active language). matplotlib draws
Persian joined and right to left with DejaVu Sans, the style's font.
"""
from __future__ import annotations

import math

import numpy as np

from ..report.i18n import _

#: matplotlib settings of every lab figure
STYLE = {
    "font.family": "DejaVu Sans",
    "font.size": 9.5,
    "axes.titlesize": 10.5,
    "axes.labelsize": 9.5,
    "legend.fontsize": 8,
    "xtick.labelsize": 8.5,
    "ytick.labelsize": 8.5,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "lines.linewidth": 1.5,
    "lines.markersize": 3.5,
    "figure.dpi": 110,
    "image.cmap": "viridis",
}


def new_figure(nrows: int = 1, ncols: int = 1, size: tuple[float, float] | None = None):
    """(figure, 2-D array of axes) on the non-interactive Agg backend, in the labs' style."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update(STYLE)
    size = size or (5.0 * ncols, 3.6 * nrows)
    fig, axes = plt.subplots(nrows, ncols, figsize=size, squeeze=False)
    return fig, axes


def epoch_axis(ax, label=None) -> None:
    """Whole-number ticks on the x axis (epochs fall on integers, never at 0.5) and its label."""
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel(label if label is not None else _("epoch"))


def colorbar(fig, image, ax, label=None):
    """A colour bar beside ``ax`` for ``image`` (a heat map or an overlay), with its label."""
    bar = fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    if label is not None:
        bar.set_label(label)
    return bar


def readable_log_range(values, decades: float = 12.0, floor: float = 1e-300) -> tuple[float, float]:
    """y-limits for a log axis that show the interesting part of ``values``.

    A diverging run can reach 1e150 while the converging ones fall to 1e-30, and one axis over
    all of it squashes every curve. The range keeps at most ``decades`` decades, anchored on the
    finite values' median, so the curves that matter stay readable; values beyond it leave the
    panel (and the report says which runs diverged).
    """
    v = np.asarray([x for x in np.ravel(values) if x is not None and np.isfinite(x) and x > floor], dtype=float)
    if v.size == 0:
        return 1e-3, 1.0
    lo, hi = math.log10(v.min()), math.log10(v.max())
    if hi - lo <= decades:
        return 10 ** (lo - 0.3), 10 ** (hi + 0.3)
    mid = float(np.median(np.log10(v)))
    lo = max(lo, mid - decades / 2)
    return 10 ** (lo - 0.3), 10 ** (lo + decades + 0.3)
