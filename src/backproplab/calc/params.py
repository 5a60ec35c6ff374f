"""Parameter counts of a convolution layer and of an MLP.

Conv2d: weight (out_channels, in_channels/groups, kh, kw) -> out·(in/groups)·kh·kw,
plus out_channels biases. Linear(n_in, n_out): n_in·n_out weights + n_out biases.
Reference: https://pytorch.org/docs/stable/generated/torch.nn.Conv2d.html
"""
from __future__ import annotations

from .result import CalcResult, check_int, check_list, check_pair, fmt


def conv_params(in_channels, out_channels, kernel_size, groups=1, bias=True) -> CalcResult:
    """Parameters of one Conv2d layer (with and without bias).

    Returns values ``weights``, ``biases``, ``total`` (with ``bias``), ``total_with_bias``, ``total_without_bias``.
    """
    cin = check_int("in_channels", in_channels)
    cout = check_int("out_channels", out_channels)
    kh, kw = check_pair("kernel_size", kernel_size)
    g = check_int("groups", groups)
    if cin % g or cout % g:
        raise ValueError(f"groups={g} must divide in_channels={cin} and out_channels={cout}")
    weights = cout * (cin // g) * kh * kw
    total_b = weights + cout
    steps = [
        f"weight shape (out, in/groups, kh, kw) = ({cout}, {cin // g}, {kh}, {kw})",
        f"weights = {cout}·{cin // g}·{kh}·{kw} = {fmt(weights)}",
        f"biases = out_channels = {cout}",
        f"total with bias = {fmt(weights)} + {cout} = {fmt(total_b)};  without bias = {fmt(weights)}",
    ]
    return CalcResult(
        name="params",
        inputs={"in_channels": cin, "out_channels": cout, "kernel_size": [kh, kw], "groups": g, "bias": bool(bias)},
        values={"weights": weights, "biases": cout if bias else 0, "total": total_b if bias else weights,
                "total_with_bias": total_b, "total_without_bias": weights},
        steps=steps,
    )


def mlp_params(layer_sizes, bias=True) -> CalcResult:
    """Parameters of a fully connected network with ``layer_sizes`` = [inputs, hidden..., outputs].

    Returns values ``layers`` (weights, biases per Linear), ``weights``, ``biases``, ``total``.
    """
    sizes = check_list("layer_sizes", layer_sizes)
    if len(sizes) < 2:
        raise ValueError(f"layer_sizes needs at least an input and an output size, got {sizes}")
    layers, steps = [], []
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        wts, b = n_in * n_out, n_out if bias else 0
        layers.append({"in": n_in, "out": n_out, "weights": wts, "biases": b})
        steps.append(f"Linear({n_in}, {n_out}): {n_in}·{n_out} = {fmt(wts)} weights + {b} biases = {fmt(wts + b)}")
    weights = sum(r["weights"] for r in layers)
    biases = sum(r["biases"] for r in layers)
    steps.append(f"total = {fmt(weights)} weights + {fmt(biases)} biases = {fmt(weights + biases)}")
    return CalcResult(name="params", inputs={"layer_sizes": sizes, "bias": bool(bias)},
                      values={"layers": layers, "weights": weights, "biases": biases, "total": weights + biases},
                      steps=steps)
