"""Small matrices of the convolution labs: parsed from the command line, written as text, drawn as
annotated heat maps with a colour bar.

A walkthrough lab shows each matrix twice: as aligned text in the report (:func:`format_matrix`)
and as a heat map with the value written in each cell (:func:`heatmap_grid`). Titles and colour-bar
labels come from the lab (translated messages); this module has no text of its own.
"""
from __future__ import annotations

import numpy as np

from .plotting import colorbar, new_figure


def format_matrix(matrix, fmt: str = ".4g") -> str:
    """A 2-D (or 1-D) array as aligned text rows, e.g. for a code block of the report."""
    m = np.atleast_2d(np.asarray(matrix, dtype=np.float64))
    cells = [[format(float(v) + 0.0, fmt) for v in row] for row in m]  # + 0.0: print -0.0 as 0
    width = max(len(c) for row in cells for c in row)
    return "\n".join("[" + "  ".join(c.rjust(width) for c in row) + "]" for row in cells)


def draw_heatmap(fig, ax, matrix, title="", fmt: str = ".3g", cmap: str = "viridis", symmetric: bool = False,
                 annotate: bool = True, label=None):
    """Draw ``matrix`` (2-D) on ``ax`` with each value written in its cell and a colour bar; return the image.

    ``symmetric=True`` centres a diverging colour map on 0 (gradients, signed kernels). The text
    colour flips to stay readable on dark and light cells.
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
    ax.grid(False)
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
    colorbar(fig, im, ax, label)
    return im


def heatmap_grid(items: list[tuple[object, np.ndarray]], ncols: int = 4, fmt: str = ".3g",
                 symmetric: bool = False, cell: float = 3.4, label=None):
    """One figure with an annotated heat map and colour bar per ``(title, matrix)``; returns the figure."""
    n = len(items)
    ncols = max(1, min(ncols, n))
    nrows = (n + ncols - 1) // ncols
    fig, axes = new_figure(nrows, ncols, size=(cell * ncols, cell * nrows))
    for k, ax in enumerate(axes.flat):
        if k < n:
            title, m = items[k]
            draw_heatmap(fig, ax, m, title, fmt=fmt, symmetric=symmetric, label=label)
        else:
            ax.axis("off")
    fig.tight_layout()
    return fig


def parse_matrix(text: str, name: str = "matrix") -> np.ndarray:
    """'1,2;3,4' -> [[1., 2.], [3., 4.]] (rows split by ';', entries by ','), float64.

    A single row ('1,2,3') gives a 1-D array. Ragged rows or non-numbers raise a ValueError
    that names the option and the offending row.
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


def matrix_option(text: str, name: str) -> np.ndarray:
    """:func:`parse_matrix` for a Config field: a bad matrix is a ConfigError (a one-line usage error)."""
    from .config import ConfigError

    try:
        return parse_matrix(text, name)
    except ValueError as e:
        raise ConfigError(str(e)) from None

