"""Multiply-accumulates (MACs) of convolutions: one layer, a 1×1 bottleneck, an Inception module.

A conv layer computes H_out·W_out·C_out outputs, each a dot product of
k_h·k_w·C_in/groups terms, so MACs = H_out·W_out·C_out·k_h·k_w·C_in/groups
(biases and activations not counted).

References: Lin et al. 2014, "Network in Network" (1×1 convolutions); Szegedy et al.
2015, "Going deeper with convolutions" (GoogLeNet; Table 1 gives the branch
widths, e.g. inception (3a): 64, 96→128, 16→32, pool→32 on 28×28×192).
"""
from __future__ import annotations

from .conv_out import conv_out
from .result import CalcResult, check_int, check_pair, fmt


def conv_macs(input_size, in_channels, out_channels, kernel_size, stride=1, padding=0, groups=1) -> CalcResult:
    """MACs of one Conv2d on an input of ``input_size`` (int or (h, w)).

    Returns values ``output`` [h, w, C_out], ``macs``, ``params`` (weights + biases).
    """
    cin = check_int("in_channels", in_channels)
    cout = check_int("out_channels", out_channels)
    g = check_int("groups", groups)
    if cin % g or cout % g:
        raise ValueError(f"groups={g} must divide in_channels={cin} and out_channels={cout}")
    kh, kw = check_pair("kernel_size", kernel_size)
    out = conv_out(input_size, (kh, kw), stride, padding)["output_size"]
    per_output = kh * kw * (cin // g)
    macs = out[0] * out[1] * cout * per_output
    params = cout * per_output + cout
    steps = [
        f"output = {out[0]}×{out[1]}×{cout} (conv-out formula)",
        f"MACs per output value = kh·kw·C_in/groups = {kh}·{kw}·{cin // g} = {fmt(per_output)}",
        f"MACs = H_out·W_out·C_out·{per_output} = {out[0]}·{out[1]}·{cout}·{per_output} = {fmt(macs)}",
        f"params = C_out·{per_output} + C_out = {fmt(params)}",
    ]
    return CalcResult(
        name="macs",
        inputs={"input_size": list(check_pair("input_size", input_size)), "in_channels": cin, "out_channels": cout,
                "kernel_size": [kh, kw], "stride": stride, "padding": padding, "groups": g},
        values={"output": [out[0], out[1], cout], "macs": macs, "params": params},
        steps=steps,
    )


def _same_conv_macs(h: int, w: int, cin: int, cout: int, k: int) -> int:
    """MACs of a stride-1 'same' k×k conv (spatial size kept)."""
    return h * w * cout * k * k * cin


def bottleneck_macs(input_size, in_channels, out_channels, kernel_size, mid_channels) -> CalcResult:
    """A k×k 'same' conv C_in → C_out directly vs through a 1×1 conv to ``mid_channels`` first.

    Returns values ``direct``, ``reduce`` (the 1×1), ``conv`` (the k×k on the reduced map),
    ``bottleneck`` (their sum), ``saved`` (absolute), ``saved_percent``, ``ratio``; and the
    same for parameters (without biases) under ``params_direct`` / ``params_bottleneck``.
    """
    h, w = check_pair("input_size", input_size)
    cin = check_int("in_channels", in_channels)
    cout = check_int("out_channels", out_channels)
    k = check_int("kernel_size", kernel_size)
    mid = check_int("mid_channels", mid_channels)
    if k > h or k > w:
        raise ValueError(f"kernel_size {k} is larger than the input_size {h}x{w}")
    direct = _same_conv_macs(h, w, cin, cout, k)
    reduce = _same_conv_macs(h, w, cin, mid, 1)
    conv = _same_conv_macs(h, w, mid, cout, k)
    total = reduce + conv
    saved = direct - total
    pct = 100.0 * saved / direct
    p_direct, p_bottle = k * k * cin * cout, cin * mid + k * k * mid * cout
    steps = [
        f"direct {k}×{k}: H·W·C_out·k²·C_in = {h}·{w}·{cout}·{k * k}·{cin} = {fmt(direct)} MACs",
        f"1×1 reduce to {mid}: H·W·{mid}·{cin} = {h}·{w}·{mid}·{cin} = {fmt(reduce)} MACs",
        f"{k}×{k} on {mid} channels: H·W·C_out·k²·{mid} = {h}·{w}·{cout}·{k * k}·{mid} = {fmt(conv)} MACs",
        f"bottleneck total = {fmt(reduce)} + {fmt(conv)} = {fmt(total)} MACs",
        f"saved = {fmt(direct)} - {fmt(total)} = {fmt(saved)} MACs = {pct:.2f}% "
        f"(the bottleneck costs {total / direct:.4f} of the direct conv, {direct / total:.2f}x fewer)",
        f"weights (no bias): direct {k * k}·{cin}·{cout} = {fmt(p_direct)}, bottleneck {cin}·{mid} + "
        f"{k * k}·{mid}·{cout} = {fmt(p_bottle)}",
    ]
    return CalcResult(
        name="macs-bottleneck",
        inputs={"input_size": [h, w], "in_channels": cin, "out_channels": cout, "kernel_size": k,
                "mid_channels": mid},
        values={"direct": direct, "reduce": reduce, "conv": conv, "bottleneck": total, "saved": saved,
                "saved_percent": pct, "ratio": total / direct,
                "params_direct": p_direct, "params_bottleneck": p_bottle},
        steps=steps,
    )


def _max_pool_3x3_cost(h: int, w: int, channels: int) -> dict[str, int]:
    """Comparisons of a 3×3 max-pool, stride 1, padding 1 (output h×w per channel).

    A window of v values needs v - 1 comparisons. Counting the padded taps, v = 9 everywhere;
    without them a row (column) position sees 2 taps at the border and 3 inside, so the taps
    sum to (3h - 2)(3w - 2) per channel.
    """
    outputs = h * w * channels
    inside = ((3 * h - 2) * (3 * w - 2) - h * w) * channels
    return {"comparisons": 8 * outputs, "inside": inside, "reads": 9 * outputs}


def inception_macs(input_size, in_channels, ch1x1, ch3x3_reduce, ch3x3, ch5x5_reduce, ch5x5, pool_proj) -> CalcResult:
    """MACs and weights of a GoogLeNet Inception module (all branches stride 1, 'same').

    Branches: 1×1; 1×1 reduce → 3×3; 1×1 reduce → 5×5; 3×3 max-pool (stride 1, padding 1) → 1×1
    projection. The max-pool does no multiply-accumulates; its cost is counted separately as
    comparisons: a max over the 9 values of a 3×3 window takes 8 comparisons, for each of the
    H·W·C_in outputs (the padded border taps count, as in an implementation that pads with -inf;
    ``pool_comparisons_inside`` skips them). Also the naive module (3×3 and 5×5 straight on the
    input, no reductions) for comparison.

    Returns values ``branches`` (name -> MACs), ``macs``, ``params`` (weights + biases),
    ``out_channels``, ``naive_macs``, ``saved_percent``, ``pool_comparisons``,
    ``pool_comparisons_inside``, ``pool_reads`` (9 per output: the count if every value read is
    called an operation), ``ops`` (MACs + comparisons, one operation each), ``flops``
    (2 per MAC + 1 per comparison).
    """
    h, w = check_pair("input_size", input_size)
    cin = check_int("in_channels", in_channels)
    c1 = check_int("ch1x1", ch1x1)
    r3, c3 = check_int("ch3x3_reduce", ch3x3_reduce), check_int("ch3x3", ch3x3)
    r5, c5 = check_int("ch5x5_reduce", ch5x5_reduce), check_int("ch5x5", ch5x5)
    pp = check_int("pool_proj", pool_proj)
    if 5 > h or 5 > w:
        raise ValueError(f"input_size {h}x{w} is smaller than the 5x5 kernel")
    # (name, C_in, C_out, k) of every conv in the module
    convs = [("1x1", cin, c1, 1), ("3x3_reduce", cin, r3, 1), ("3x3", r3, c3, 3),
             ("5x5_reduce", cin, r5, 1), ("5x5", r5, c5, 5), ("pool_proj", cin, pp, 1)]
    branches, steps, params = {}, [], 0
    for name, a, b, k in convs:
        m = _same_conv_macs(h, w, a, b, k)
        branches[name] = m
        params += k * k * a * b + b
        steps.append(f"{name:10s}: {h}·{w}·{b}·{k * k}·{a} = {fmt(m)} MACs  ({k * k}·{a}·{b} + {b} params)")
    total = sum(branches.values())
    pool = _max_pool_3x3_cost(h, w, cin)
    steps.append(f"3x3 max-pool on {cin} channels: {h}·{w}·{cin} outputs × 8 comparisons = "
                 f"{fmt(pool['comparisons'])} comparisons (no MACs; skipping the padded border taps: "
                 f"{fmt(pool['inside'])}; counting all 9 values read per output: {fmt(pool['reads'])})")
    out_c = c1 + c3 + c5 + pp
    naive = _same_conv_macs(h, w, cin, c1, 1) + _same_conv_macs(h, w, cin, c3, 3) + _same_conv_macs(h, w, cin, c5, 5)
    steps.append(f"total = {fmt(total)} MACs, {fmt(params)} parameters; output {h}×{w}×({c1}+{c3}+{c5}+{pp}) = "
                 f"{h}×{w}×{out_c}")
    steps.append(f"with the pool: {fmt(total)} MACs + {fmt(pool['comparisons'])} comparisons = "
                 f"{fmt(total + pool['comparisons'])} operations (one each); FLOPs = 2·{fmt(total)} + "
                 f"{fmt(pool['comparisons'])} = {fmt(2 * total + pool['comparisons'])}")
    steps.append(f"naive module (no 1×1 reductions; pool passes {cin} channels through): 1×1 + 3×3 + 5×5 on "
                 f"{cin} channels = {fmt(naive)} MACs; the reductions save {100.0 * (naive - total) / naive:.2f}%")
    return CalcResult(
        name="macs-inception",
        inputs={"input_size": [h, w], "in_channels": cin, "ch1x1": c1, "ch3x3_reduce": r3, "ch3x3": c3,
                "ch5x5_reduce": r5, "ch5x5": c5, "pool_proj": pp},
        values={"branches": branches, "macs": total, "params": params, "out_channels": out_c,
                "naive_macs": naive, "saved_percent": 100.0 * (naive - total) / naive,
                "pool_comparisons": pool["comparisons"], "pool_comparisons_inside": pool["inside"],
                "pool_reads": pool["reads"], "ops": total + pool["comparisons"],
                "flops": 2 * total + pool["comparisons"]},
        steps=steps,
    )
