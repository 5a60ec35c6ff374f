"""The figure of the graph lab: the computational graph with values, gradients and local derivatives."""
from __future__ import annotations

from ..report.i18n import num
from .plotting import new_figure

#: where each variable's box sits (x, y)
POSITIONS = {"w": (0.0, 3.0), "x": (0.0, 0.6), "u": (2.9, 1.8), "b": (2.9, -0.9), "z": (5.8, 0.9),
             "y": (9.3, 0.9), "t": (9.3, -1.5), "d": (12.1, -0.2), "L": (14.8, -0.2), "R": (6.6, 4.0),
             "lam": (12.3, 4.4), "L_reg": (17.2, 2.2)}
#: the operation of each inner node
OPS = {"u": "w·x", "z": "u + b", "y": "σ(z)", "d": "y - t", "L": "½d²", "R": "½w²", "L_reg": "L + λR"}
SYMBOL = {"lam": "λ"}


def plot_graph(result: dict):
    """Boxes: value and ∂L_reg/∂(variable); arrows: the local derivative of the edge."""
    values, partials = result["values"], result["partials"]
    fig, axes = new_figure(1, 1, size=(15, 6.2))
    ax = axes[0][0]
    for edge in result["local_derivatives"]:
        (x0, y0), (x1, y1) = POSITIONS[edge["parent"]], POSITIONS[edge["child"]]
        ax.annotate("", xy=(x1, y1), xytext=(x0, y0),  # shrink: start and end outside the boxes
                    arrowprops=dict(arrowstyle="-|>", color="0.4", lw=1.1, shrinkA=28, shrinkB=32))
        child, parent = SYMBOL.get(edge["child"], edge["child"]), SYMBOL.get(edge["parent"], edge["parent"])
        label = f"∂{child}/∂{parent} = {edge['formula']}"
        if edge["formula"] not in ("1", "-1"):
            label += f" = {num(edge['value'], '.3g')}"
        above = 0.45 if abs(y1 - y0) < 0.3 else 0.0  # a short horizontal edge: its label goes above it
        ax.text((x0 + x1) / 2, (y0 + y1) / 2 + above, label, fontsize=7, ha="center", va="center", color="tab:blue",
                bbox=dict(boxstyle="round,pad=0.15", fc="white", ec="none", alpha=0.9))
    for name, (px, py) in POSITIONS.items():
        shown = SYMBOL.get(name, name)
        head = f"{shown} = {num(values[name], '.4g')}"
        if name in OPS:
            head = f"{shown} = {OPS[name]}\n= {num(values[name], '.4g')}"
        text = f"{head}\n∂L_reg/∂{shown} = {num(partials[name], '.4g')}"
        leaf = name not in OPS
        ax.text(px, py, text, ha="center", va="center", fontsize=8,
                bbox=dict(boxstyle="round,pad=0.35", fc="#e8f1ff" if leaf else "#fff3e0", ec="0.45"))
    ax.set_xlim(-1.0, 18.2)
    ax.set_ylim(-2.1, 5.0)
    ax.axis("off")
    return fig
