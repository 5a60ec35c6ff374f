"""Figures of the dilated-conv lab (drawn from its result, in the report's language)."""
from __future__ import annotations

import numpy as np

from ..report.i18n import _, join
from .heatmap import draw_heatmap
from .plotting import colorbar, new_figure


def plot_kernels(result: dict, f: int, d: int):
    """K, K⊗A and the zero-inserted kernel as annotated heat maps."""
    fig, axes = new_figure(1, 3, size=(14, 4.2))
    zero = np.asarray(result["zero_inserted"])
    draw_heatmap(fig, axes[0, 0], result["kernel"], f"K ({f}x{f})", fmt=".2f", symmetric=True, label=_("value"))
    draw_heatmap(fig, axes[0, 1], result["kron"], _("K⊗A ({n}x{n}), A = {d}x{d} with one 1", n=f * d, d=d),
                 fmt=".2g", symmetric=True, label=_("value"))
    draw_heatmap(fig, axes[0, 2], zero, _("zero-inserted kernel ({n}x{n})", n=zero.shape[0]), fmt=".2g",
                 symmetric=True, label=_("value"))
    fig.tight_layout()
    return fig


def plot_patterns(patterns: dict, arrays: dict, checks: list[dict]):
    """Per stack: the input pixels one output unit sees, coloured by log10 of the number of paths."""
    fig, axes = new_figure(1, len(patterns), size=(5.2 * len(patterns), 4.6))
    for ax, (name, p), c in zip(axes[0], patterns.items(), checks):
        r0, r1, c0, c1 = p["box"]
        g = arrays[f"{name}_grad"][max(r0 - 1, 0):r1 + 2, max(c0 - 1, 0):c1 + 2]
        # seen pixels coloured by how many paths reach them (log), holes and outside left blank
        img = np.where(g > 0, np.log10(np.where(g > 0, g, 1.0)), np.nan)
        im = ax.imshow(img, cmap="viridis")
        ax.grid(False)
        ax.set_title(_("dilations {ds}\nspan {s}x{s}, seen {seen}, holes {h}", ds=join(c["dilations"]),
                       s=p["span"], seen=p["seen"], h=p["holes"]), fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
        colorbar(fig, im, ax, _("log10 number of paths"))
    fig.tight_layout()
    return fig
