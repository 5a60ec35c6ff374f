"""Receptive field of a stack of layers, with the recursion written out.

Wraps :func:`backproplab.analysis.receptive_field.receptive_field` (the same
formula the dilated-convolution lab uses):
R_l = R_{l-1} + (k_l - 1)·d_l·jump_{l-1}, jump_l = jump_{l-1}·s_l, R_0 = jump_0 = 1.
"""
from __future__ import annotations

from ..analysis.receptive_field import receptive_field
from .result import CalcResult, check_list


def receptive_field_calc(kernel_sizes, strides=None, dilations=None) -> CalcResult:
    """Receptive field after each layer (one axis; square kernels give the 2-D numbers squared).

    Args:
        kernel_sizes: k_l per layer.
        strides: s_l per layer (default all 1); one value is repeated for every layer.
        dilations: d_l per layer (default all 1); one value is repeated for every layer.

    Returns:
        values ``layers`` (one dict per layer: extent, jump, seen, seen_2d, extent_2d),
        ``receptive_field`` (final extent), ``seen`` (pixels actually used, one axis),
        ``seen_2d`` and ``extent_2d``.
    """
    ks = check_list("kernel_sizes", kernel_sizes)
    n = len(ks)

    def per_layer(name, values):
        if values is None:
            return [1] * n
        values = check_list(name, values)
        if len(values) == 1:
            return values * n
        if len(values) != n:
            raise ValueError(f"{name} has {len(values)} entries but kernel_sizes has {n}; give one per layer or one for all")
        return values

    ss, ds = per_layer("strides", strides), per_layer("dilations", dilations)
    rows = receptive_field(ks, ss, ds)
    steps = ["R_0 = 1, jump_0 = 1"]
    prev_r, prev_j = 1, 1
    layers = []
    for r in rows:
        steps.append(
            f"layer {r.layer} (k={r.kernel_size}, d={r.dilation}, s={r.stride}): "
            f"R_{r.layer} = R_{r.layer - 1} + (k-1)·d·jump_{r.layer - 1} = {prev_r} + {r.kernel_size - 1}·{r.dilation}·{prev_j}"
            f" = {r.extent};  jump_{r.layer} = {prev_j}·{r.stride} = {r.jump};"
            f"  pixels seen {r.seen} of {r.extent}" + ("" if r.seen == r.extent else " (holes from dilation)")
        )
        prev_r, prev_j = r.extent, r.jump
        layers.append({**r.to_dict(), "extent_2d": r.extent ** 2, "seen_2d": r.seen ** 2})
    last = rows[-1]
    steps.append(f"receptive field: {last.extent} x {last.extent} = {last.extent ** 2} input pixels spanned, "
                 f"{last.seen} x {last.seen} = {last.seen ** 2} actually seen")
    return CalcResult(
        name="receptive-field",
        inputs={"kernel_sizes": ks, "strides": ss, "dilations": ds},
        values={"layers": layers, "receptive_field": last.extent, "seen": last.seen,
                "extent_2d": last.extent ** 2, "seen_2d": last.seen ** 2},
        steps=steps,
    )
