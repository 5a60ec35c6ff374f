"""Fully-connected vs convolutional layer between W×H×I and W'×H'×J feature maps.

For a K×K kernel with stride 1:

=============  =======================  =====================================
quantity       fully connected          convolution
=============  =======================  =====================================
output units   W'·H'·J                  W'·H'·J
weights        (W·H·I)·(W'·H'·J)        K·K·I·J          (shared over positions)
biases         W'·H'·J                  J
connections    (W·H·I)·(W'·H'·J)        W'·H'·J·K·K·I    (each output sees K·K·I inputs)
=============  =======================  =====================================

With "same" padding p = (K-1)/2 (odd K) the output keeps W'×H' = W×H; without
padding W' = W-K+1, H' = H-K+1. With padding some of the W'·H'·J·K²·I nominal
connections reach padded zeros; the number reaching real input pixels is
J·I·c_W·c_H, with c_W = Σ over output columns of the taps that fall inside the
image. The fully-connected layer is taken to produce the same output units as the
convolution it is compared with.

Reference: Goodfellow, Bengio & Courville, Deep Learning (2016), §9.2 (sparse
interactions, parameter sharing).
"""
from __future__ import annotations

from .result import CalcResult, check_int, fmt


def _inside_taps(size: int, kernel_size: int, padding: int) -> int:
    """Σ over output positions of the kernel taps that land inside [0, size) (stride 1)."""
    out = size + 2 * padding - kernel_size + 1
    total = 0
    for o in range(out):
        first = o - padding  # input index of the first tap
        total += sum(1 for t in range(kernel_size) if 0 <= first + t < size)
    return total


def fc_vs_conv(width, height, in_channels, out_channels, kernel_size) -> CalcResult:
    """Output units, weights, biases and connections of FC vs conv, with and without padding.

    Args:
        width, height: W, H of the input map.
        in_channels: I. out_channels: J. kernel_size: K (square, stride 1).

    Returns:
        values ``{"same": {...}, "valid": {...}}``, each with ``output`` [W', H', J] and
        ``fc`` / ``conv`` dicts of ``outputs, weights, biases, connections`` (conv also
        ``connections_inside`` for the padded case), plus ``symbolic`` formulas.
    """
    w = check_int("width", width)
    h = check_int("height", height)
    i = check_int("in_channels", in_channels)
    j = check_int("out_channels", out_channels)
    k = check_int("kernel_size", kernel_size)
    if k > w or k > h:
        raise ValueError(f"kernel_size {k} is larger than the input ({w}x{h}); it must be <= width and height")
    if k % 2 == 0:
        raise ValueError(f"kernel_size must be odd for 'same' padding (p = (K-1)/2), got {k}")
    steps = [f"input W×H×I = {w}×{h}×{i}, kernel K×K = {k}×{k}, J = {j} output channels, stride 1"]
    values: dict = {}
    for case, p in (("same", (k - 1) // 2), ("valid", 0)):
        wo, ho = w + 2 * p - k + 1, h + 2 * p - k + 1
        units = wo * ho * j
        n_in = w * h * i
        fc = {"outputs": units, "weights": n_in * units, "biases": units, "connections": n_in * units}
        conv = {"outputs": units, "weights": k * k * i * j, "biases": j, "connections": units * k * k * i}
        conv["connections_inside"] = j * i * _inside_taps(w, k, p) * _inside_taps(h, k, p)
        steps.append(f"-- {case}: padding p = {p}, output W'×H'×J = {wo}×{ho}×{j} = {fmt(units)} units")
        steps.append(f"   FC weights   = (W·H·I)·(W'·H'·J) = {fmt(n_in)}·{fmt(units)} = {fmt(fc['weights'])}"
                     f" (+{fmt(units)} biases); connections = {fmt(fc['connections'])}")
        steps.append(f"   conv weights = K·K·I·J = {k}·{k}·{i}·{j} = {fmt(conv['weights'])} (+{j} biases)")
        steps.append(f"   conv connections = W'·H'·J·K·K·I = {fmt(units)}·{k * k * i} = {fmt(conv['connections'])}")
        if p:
            steps.append(f"   of which reach real pixels (not padding): J·I·c_W·c_H = {j}·{i}·"
                         f"{_inside_taps(w, k, p)}·{_inside_taps(h, k, p)} = {fmt(conv['connections_inside'])}")
        steps.append(f"   FC/conv weight ratio = {fc['weights'] / conv['weights']:.6g}")
        values[case] = {"padding": p, "output": [wo, ho, j], "fc": fc, "conv": conv}
    values["symbolic"] = {
        "same": {"outputs": "W·H·J", "fc_weights": "(W·H·I)·(W·H·J)", "conv_weights": "K²·I·J",
                 "conv_connections": "W·H·J·K²·I"},
        "valid": {"outputs": "(W-K+1)(H-K+1)·J", "fc_weights": "(W·H·I)·(W-K+1)(H-K+1)·J",
                  "conv_weights": "K²·I·J", "conv_connections": "(W-K+1)(H-K+1)·J·K²·I"},
    }
    return CalcResult(name="fc-vs-conv",
                      inputs={"width": w, "height": h, "in_channels": i, "out_channels": j, "kernel_size": k},
                      values=values, steps=steps)
