"""Which values each normalization averages over: batch, layer, instance and group normalization.

For an activation tensor (N, C, H, W) (a fully connected layer is the case H = W = 1):

    batch norm     one mean/variance per channel c, over the N·H·W values of that channel in the batch
    layer norm     one per example n, over its C·H·W values
    instance norm  one per (n, c), over the H·W values of one map
    group norm     one per (n, group), over (C/G)·H·W values

Only batch norm mixes examples: an example's output depends on the rest of the batch, which is
why it suffers with small or unrepresentative batches and why layer, instance and group norm
(whose statistics come from one example) replace it there. The calculator checks this on the
library's BatchNorm2d (train mode): changing another example of the batch changes example 0's
output; for the per-example normalizations (computed here with NumPy) it does not.

Reference: Ioffe & Szegedy 2015 (batch); Ba, Kiros & Hinton 2016, "Layer normalization";
Ulyanov et al. 2016 (instance); Wu & He 2018, "Group normalization" (Figure 2).
"""
from __future__ import annotations

import numpy as np

from .result import CalcResult, check_int

EPS = 1e-5


def _normalize(x: np.ndarray, axes: tuple[int, ...]) -> np.ndarray:
    mu = x.mean(axis=axes, keepdims=True)
    return (x - mu) / np.sqrt(x.var(axis=axes, keepdims=True) + EPS)


def _group_norm(x: np.ndarray, groups: int) -> np.ndarray:
    n, c, h, w = x.shape
    return _normalize(x.reshape(n, groups, c // groups, h, w), (2, 3, 4)).reshape(x.shape)


def _batch_norm(x: np.ndarray) -> np.ndarray:
    from .. import nn

    bn = nn.BatchNorm2d(x.shape[1], dtype=np.float64)
    bn.train()
    return np.array(bn.forward(x))


def norm_stats(batch_size, channels, height=1, width=1, groups=1, seed=0) -> CalcResult:
    """Statistics count, values per statistic and batch dependence of batch/layer/instance/group norm.

    Returns values ``norms`` {name: {statistics, values_per_statistic, over, depends_on_batch,
    measured_change}}, where measured_change is the largest change of example 0's output when
    example 1 is redrawn.
    """
    n, c = check_int("batch_size", batch_size), check_int("channels", channels)
    h, w = check_int("height", height), check_int("width", width)
    g = check_int("groups", groups)
    if c % g:
        raise ValueError(f"groups={g} must divide channels={c}")
    if n < 2:
        raise ValueError("batch_size must be at least 2 to show what batch norm does with a batch")
    if n * h * w < 2:
        raise ValueError("batch norm needs more than one value per channel")
    rng = np.random.default_rng(check_int("seed", seed, minimum=0))
    x = rng.normal(size=(n, c, h, w))
    x2 = x.copy()
    x2[1] = rng.normal(size=(c, h, w))                 # another example changes
    table = {
        "batch": (c, n * h * w, "N·H·W of one channel", lambda a: _batch_norm(a)),
        "layer": (n, c * h * w, "C·H·W of one example", lambda a: _normalize(a, (1, 2, 3))),
        "instance": (n * c, h * w, "H·W of one map", lambda a: _normalize(a, (2, 3))),
        "group": (n * g, (c // g) * h * w, f"(C/G)·H·W, G = {g}", lambda a: _group_norm(a, g)),
    }
    steps = [f"activations (N, C, H, W) = ({n}, {c}, {h}, {w})" + ("  (a fully connected layer)" if h == w == 1
                                                                    else "")]
    norms = {}
    for name, (count, per, over, fn) in table.items():
        change = float(np.abs(fn(x)[0] - fn(x2)[0]).max())
        single = per < 2
        norms[name] = {"statistics": count, "values_per_statistic": per, "over": over,
                       "depends_on_batch": change > 1e-12, "measured_change": change,
                       "degenerate": single}
        steps.append(f"{name} norm: {count} mean/variance pairs, each over {per} values ({over}); "
                     f"redrawing example 1 moves example 0's output by {change:.3g}"
                     + ("; one value per statistic: the output is just β" if single else ""))
    return CalcResult(name="norm-stats",
                      inputs={"batch_size": n, "channels": c, "height": h, "width": w, "groups": g},
                      values={"norms": norms}, steps=steps)
