"""Channels through a DenseNet dense block (and its transition layer).

Layer l of a dense block takes the concatenation of the block input and every
earlier layer's output, c_0 + (l-1)·k channels, and adds k (the growth rate):
after layer l there are c_0 + l·k channels. A transition layer with compression θ
keeps floor(θ·c) channels.

Reference: Huang et al. 2017, "Densely connected convolutional networks"
(DenseNet-121: c_0 = 64, k = 32, 6 layers → 256, θ = 0.5 → 128).
"""
from __future__ import annotations

import math

from .result import CalcResult, check_float, check_int


def densenet_channels(in_channels, growth_rate, num_layers, compression=None) -> CalcResult:
    """Input and output channels of every layer of a dense block.

    Args:
        in_channels: c_0. growth_rate: k. num_layers: layers in the block.
        compression: θ in (0, 1] of the transition layer after the block (None: no transition).

    Returns values ``layers`` [{layer, in_channels, out_channels}], ``out_channels`` (block output),
    ``transition_channels`` (None without compression).
    """
    c0 = check_int("in_channels", in_channels)
    k = check_int("growth_rate", growth_rate)
    n = check_int("num_layers", num_layers)
    steps = [f"c_0 = {c0}, growth rate k = {k}"]
    layers = []
    for l in range(1, n + 1):
        cin, cout = c0 + (l - 1) * k, c0 + l * k
        layers.append({"layer": l, "in_channels": cin, "out_channels": cout})
        steps.append(f"layer {l}: input c_0+(l-1)k = {c0}+{l - 1}·{k} = {cin} channels, adds {k} → {cout}")
    out = c0 + n * k
    steps.append(f"block output = c_0 + L·k = {c0} + {n}·{k} = {out} channels")
    trans = None
    if compression is not None:
        theta = check_float("compression", compression)
        if not 0.0 < theta <= 1.0:
            raise ValueError(f"compression must be in (0, 1], got {theta}")
        trans = math.floor(theta * out)
        steps.append(f"transition: floor(θ·{out}) = floor({theta}·{out}) = {trans} channels")
    return CalcResult(name="densenet",
                      inputs={"in_channels": c0, "growth_rate": k, "num_layers": n, "compression": compression},
                      values={"layers": layers, "out_channels": out, "transition_channels": trans},
                      steps=steps)
