"""Annotated heatmaps and plain-text matrices for the convolution labs.

Every walkthrough lab shows small matrices twice: printed as text (stdout and
report.md) and drawn as a heatmap with the value written in each cell.
"""
from __future__ import annotations

import numpy as np

from .common import new_figure


def format_matrix(matrix, fmt: str = ".4g") -> str:
    """A 2-D (or 1-D) array as aligned text rows, e.g. for a Markdown code block."""
    m = np.atleast_2d(np.asarray(matrix, dtype=np.float64))
    cells = [[format(float(v) + 0.0, fmt) for v in row] for row in m]  # + 0.0: print -0.0 as 0
    width = max(len(c) for row in cells for c in row)
    return "\n".join("[" + "  ".join(c.rjust(width) for c in row) + "]" for row in cells)


def matrix_block(title: str, matrix, fmt: str = ".4g") -> str:
    """``title`` and the matrix in a fenced code block (Markdown)."""
    m = np.asarray(matrix)
    return f"**{title}** {tuple(m.shape)}\n\n```\n{format_matrix(m, fmt)}\n```\n"


def draw_heatmap(ax, matrix, title: str = "", fmt: str = ".3g", cmap: str = "viridis",
                 symmetric: bool = False, annotate: bool = True) -> None:
    """Draw ``matrix`` (2-D) on ``ax`` with each value written in its cell.

    ``symmetric=True`` centres a diverging colour map on 0 (for gradients, signed kernels).
    Text colour flips to stay readable on dark and light cells.
    """
    m = np.atleast_2d(np.asarray(matrix, dtype=np.float64))
    if symmetric:
        vmax = float(np.max(np.abs(m))) or 1.0
        vmin, cmap = -vmax, ("RdBu_r" if cmap == "viridis" else cmap)
    else:
        vmin, vmax = float(m.min()), float(m.max())
        if vmin == vmax:  # a constant matrix: still a valid colour range
            vmin, vmax = vmin - 1.0, vmax + 1.0
    im = ax.imshow(m, cmap=cmap, vmin=vmin, vmax=vmax)
    ax.set_title(title, fontsize=9)
    ax.set_xticks(range(m.shape[1]))
    ax.set_yticks(range(m.shape[0]))
    ax.tick_params(labelsize=7)
    if annotate and m.size <= 400:
        for (i, j), v in np.ndenumerate(m):
            light = im.cmap(im.norm(v))
            lum = 0.299 * light[0] + 0.587 * light[1] + 0.114 * light[2]
            ax.text(j, i, format(v + 0.0, fmt), ha="center", va="center", fontsize=7 if m.shape[1] <= 6 else 5,
                    color="black" if lum > 0.5 else "white")


def heatmap_grid(items: list[tuple[str, np.ndarray]], ncols: int = 4, fmt: str = ".3g",
                 symmetric: bool = False, cell: float = 3.2):
    """One figure with an annotated heatmap per ``(title, matrix)``; returns the figure."""
    n = len(items)
    ncols = max(1, min(ncols, n))
    nrows = (n + ncols - 1) // ncols
    fig, axes = new_figure(nrows, ncols, size=(cell * ncols, cell * nrows))
    for k, ax in enumerate(axes.flat):
        if k < n:
            title, m = items[k]
            draw_heatmap(ax, m, title, fmt=fmt, symmetric=symmetric)
        else:
            ax.axis("off")
    fig.tight_layout()
    return fig


def parse_matrix(text: str, name: str = "matrix") -> np.ndarray:
    """'1,2;3,4' -> [[1., 2.], [3., 4.]] (rows split by ';', entries by ','), float64.

    A single row ('1,2,3') gives a 1-D array. Ragged rows or non-numbers raise a
    ValueError that names the option and the offending row.
    """
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"{name}: expected rows like '1,2;3,4', got {text!r}")
    rows = [r for r in text.strip().split(";") if r.strip()]
    values = []
    for i, r in enumerate(rows):
        try:
            values.append([float(v) for v in r.split(",") if v.strip()])
        except ValueError:
            raise ValueError(f"{name}: row {i} ({r.strip()!r}) is not a comma list of numbers") from None
    widths = {len(v) for v in values}
    if len(widths) != 1 or 0 in widths:
        raise ValueError(f"{name}: rows have different lengths {[len(v) for v in values]}; "
                         "every row needs the same number of entries")
    m = np.array(values, dtype=np.float64)
    if not np.all(np.isfinite(m)):
        raise ValueError(f"{name}: entries must be finite numbers")
    return m[0] if len(rows) == 1 else m
