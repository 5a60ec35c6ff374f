"""What the mobilenet lab counts without training: MACs and parameters against the papers' tables,
the depthwise separable saving per block, and how the width and resolution multipliers scale both.

MACs are multiply-accumulates per image, counted by :func:`backproplab.torchmodels.count_macs`
(forward hooks on Conv2d and Linear; FLOPs = 2 x MACs); the models are built on PyTorch's 'meta'
device (shapes only), so counting the 224x224 configurations takes no memory.

Reference: Howard et al. (2017), "MobileNets", Tables 4, 6 and 7 and eq. 5; Sandler et al. (2018),
"MobileNetV2", Table 3 (300M mult-adds, 3.4M parameters at width 1.0, 224x224).
"""
from __future__ import annotations

#: the papers' ImageNet numbers: (family, width, side) -> (million mult-adds, million parameters).
#: V1: Howard et al. 2017, Tables 4, 6, 7 ("cnn" is Table 4's "Conv MobileNet"); V2: Sandler et al. 2018.
PAPER_TABLE = {
    ("v1", 1.0, 224): (569, 4.2), ("v1", 0.75, 224): (325, 2.6), ("v1", 0.5, 224): (149, 1.3),
    ("v1", 0.25, 224): (41, 0.5), ("v1", 1.0, 192): (418, 4.2), ("v1", 1.0, 160): (290, 4.2),
    ("v1", 1.0, 128): (186, 4.2), ("cnn", 1.0, 224): (4866, 29.3), ("v2", 1.0, 224): (300, 3.4),
}
#: agreement asked of a count: the papers print whole millions of MACs (290M at 160 px counts 290.7M:
#: truncated; Conv MobileNet's 4866M counts 4867.3M), so max(1M, 0.05%) of slack, and tenths of millions
#: of parameters; V2's 3.4M is 3.40-3.55M across the paper and its reference code (3.50M with the
#: 1280-channel head and the 1000-class classifier).
MACS_TOL_M, MACS_REL_TOL, PARAMS_TOL_M, V2_PARAMS_RANGE_M = 1.0, 5e-4, 0.05, (3.4, 3.55)
#: the side of the per-block comparison: the CIFAR-10 images'
BASE_SIDE = 32


def matches_paper(family: str, macs_m: float, params_m: float, paper_macs: float, paper_params: float) -> bool:
    """Does a count agree with the paper's printed numbers to their precision (see the tolerances above)?"""
    if abs(macs_m - paper_macs) > max(MACS_TOL_M, MACS_REL_TOL * paper_macs):
        return False
    if family == "v2":
        return V2_PARAMS_RANGE_M[0] <= params_m <= V2_PARAMS_RANGE_M[1]
    return abs(params_m - paper_params) <= PARAMS_TOL_M


def imagenet_table() -> list[dict]:
    """Every row of :data:`PAPER_TABLE`: counted MACs and parameters (millions), the paper's, and agreement."""
    from ..torchmodels import count_model

    rows = []
    for (family, width, side), (paper_macs, paper_params) in PAPER_TABLE.items():
        cost = count_model(family, width, 1000, side)
        macs_m, params_m = cost.macs / 1e6, cost.params / 1e6
        rows.append({"model": family, "width": width, "resolution": side, "macs_m": macs_m,
                     "paper_macs_m": paper_macs, "params_m": params_m, "paper_params_m": paper_params,
                     "matches": matches_paper(family, macs_m, params_m, paper_macs, paper_params)})
    return rows


def separable_ratio_table(channels: int) -> list[dict]:
    """Per V1 block at 32x32: measured (depthwise + pointwise) MACs over the plain CNN's 3x3 conv MACs, and
    the paper's eq. 5, 1/N + 1/9 (N = the block's output channels); the last row is the whole network."""
    from ..torchmodels import count_model, separable_cost_ratio

    v1 = count_model("v1", 1.0, 10, BASE_SIDE, in_channels=channels, variant="cifar")
    cnn = count_model("cnn", 1.0, 10, BASE_SIDE, in_channels=channels, variant="cifar")
    v1_blocks = [layer for layer in v1.layers if layer.kind in ("depthwise", "pointwise")]
    cnn_blocks = [layer for layer in cnn.layers if layer.kind == "conv"][1:]  # the first conv is shared: skipped
    rows = []
    for i, conv in enumerate(cnn_blocks):
        dw, pw = v1_blocks[2 * i], v1_blocks[2 * i + 1]
        rows.append({"block": i + 1, "out_channels": pw.out_shape[0], "map": f"{pw.out_shape[1]}x{pw.out_shape[2]}",
                     "separable_macs": dw.macs + pw.macs, "standard_macs": conv.macs,
                     "measured_ratio": (dw.macs + pw.macs) / conv.macs,
                     "formula_ratio": separable_cost_ratio(pw.out_shape[0], 3)})
    whole = {"block": None, "out_channels": None, "map": None, "separable_macs": v1.macs, "standard_macs": cnn.macs,
             "measured_ratio": v1.macs / cnn.macs, "formula_ratio": None}
    return rows + [whole]


def multiplier_rows(rows: list[dict], base_width: float, base_side: int) -> list[dict]:
    """Each trained model against its family's base model (base width, base side): the ratios of MACs and
    parameters next to what the multipliers predict, α² for the width and ρ² for the side.

    ``rows``: dicts with model, width, resolution, macs, params. A model that differs from the base in
    both width and side, or whose family has no base model, is left out.
    """
    base = {r["model"]: r for r in rows if r["width"] == base_width and r["resolution"] == base_side}
    out = []
    for r in rows:
        b = base.get(r["model"])
        if b is None or r is b or (r["width"] != base_width and r["resolution"] != base_side):
            continue
        by_width = r["resolution"] == base_side
        factor = r["width"] / base_width if by_width else r["resolution"] / base_side
        out.append({"model": r["model"], "width": r["width"], "resolution": r["resolution"],
                    "multiplier": "width" if by_width else "resolution", "factor": factor,
                    "macs_ratio": r["macs"] / b["macs"], "predicted": factor ** 2,
                    "params_ratio": r["params"] / b["params"]})
    return out
