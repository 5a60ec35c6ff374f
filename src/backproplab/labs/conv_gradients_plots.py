"""Figures of the conv-gradients lab (drawn from its result, in the report's language)."""
from __future__ import annotations

import numpy as np

from ..report.i18n import _
from .heatmap import heatmap_grid

#: terms of dL/dW drawn one by one; a larger dL/dY is summarized (the report lists every term)
MAX_TERMS_DRAWN = 8


def plot_gradients(r: dict):
    """X, W, Y and the three gradients as annotated heat maps (signed colour map centred on 0)."""
    items = [("X", r["X"]), ("W", r["W"]), ("Y = W ⋆ X", r["Y"]), ("dL/dY", r["dY"]), ("dL/dW", r["dW"]),
             ("dL/dX", r["dX"])]
    return heatmap_grid(items, ncols=3, symmetric=True, label=_("value"))


def plot_dw_terms(result: dict):
    """The first terms dL/dY[i,j]·patch(i,j) and dL/dW, their sum."""
    terms = result["dW_terms"]
    shown = terms[:MAX_TERMS_DRAWN]
    dy = np.asarray(result["dY"])
    items = [(f"dY[{t['i']},{t['j']}]={dy[t['i'], t['j']]:g} · patch({t['i']},{t['j']})", np.asarray(t["term"]))
             for t in shown]
    title = "Σ = dL/dW" if len(shown) == len(terms) else _("dL/dW (sum of all {n} terms)", n=len(terms))
    items.append((title, np.asarray(result["dW"])))
    return heatmap_grid(items, ncols=min(5, len(items)), symmetric=True, label=_("value"))


def plot_dx_full_conv(r: dict):
    """The zero-padded upstream gradient, the rotated kernel, and dL/dX, their correlation."""
    items = [("pad(dL/dY)", r["dY_padded"]), ("rot180(W)", r["rot180_W"]), ("dL/dX", r["dX"])]
    return heatmap_grid(items, ncols=3, symmetric=True, label=_("value"))
