"""Figure of the batchnorm lab (drawn from its result, in the report's language)."""
from __future__ import annotations

import numpy as np

from ..report.i18n import _
from .heatmap import draw_heatmap
from .plotting import new_figure


def plot_batchnorm(result: dict, config):
    """BN1d's per-feature and BN2d's per-channel statistics, and the output change against α."""
    fig, axes = new_figure(1, 3, size=(15, 3.9))
    fc, cv = result["fc_vs_conv"]["fc"], result["fc_vs_conv"]["conv"]
    draw_heatmap(fig, axes[0, 0], np.stack([fc["mean"], fc["var"]]),
                 _("BatchNorm1d: per feature (F = {f}), over N", f=config.num_features), fmt=".2f",
                 label=_("value"))
    draw_heatmap(fig, axes[0, 1], np.stack([cv["mean"], cv["var"]]),
                 _("BatchNorm2d: per channel (C = {c}), over N·H·W", c=config.out_channels), fmt=".2f",
                 label=_("value"))
    ax = axes[0, 2]
    rows = result["scaling"]
    for what, marker in (("weights", "o"), ("inputs", "s")):
        r = [row for row in rows if row["scaled"] == what]
        a = [row["alpha"] for row in r]
        name = _("weights") if what == "weights" else _("inputs")
        ax.loglog(a, [max(row["eval_max_abs_change"], 1e-17) for row in r], marker + "-",
                  label=_("inference, {what}", what=name))
        ax.loglog(a, [max(row["train_max_abs_change"], 1e-17) for row in r], marker + "--",
                  label=_("training, {what}", what=name))
    ax.set_xlabel("α")
    ax.set_ylabel("max |y_α - y_1|")
    ax.set_title(_("scaling the weights or the inputs by α"), fontsize=9)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig
