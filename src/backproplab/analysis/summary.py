"""A model summary: per layer its output shape, parameters and multiply-accumulates (MACs).

MACs (one multiply and one add each) for the layers that do matrix work:

* Linear:   N · out_features · in_features
* Conv2d:   N · out_channels · Ho · Wo · (in_channels / groups) · kh · kw
  (dilation and stride act through Ho, Wo; groups divide the work per output)
* Conv1d:   N · out_channels · Lo · (in_channels / groups) · k

Every other layer counts 0 MACs here (BN, pooling and activations are
element-wise: O(size of the tensor), small next to the products).
FLOPs = 2 x MACs (one multiply + one add); bias additions are not counted.

The shapes come from one forward pass on zeros in eval mode (BN running
statistics are left untouched); the model's train/eval mode is restored.

Reference: the convention of torchinfo / fvcore ("MACs", FLOPs = 2·MACs).
"""
from __future__ import annotations

import numpy as np

from ..nn.conv import Conv1d, Conv2d
from ..nn.linear import Linear
from ..nn.module import Module


def layer_macs(module: Module, in_shape: tuple[int, ...], out_shape: tuple[int, ...]) -> int:
    """MACs of one leaf module for an input of ``in_shape`` giving ``out_shape`` (0 if not Linear/Conv)."""
    if isinstance(module, Linear):
        rows = int(np.prod(out_shape[:-1]))
        return rows * module.out_features * module.in_features
    if isinstance(module, Conv2d):
        n, o, ho, wo = out_shape
        kh, kw = module.kernel_size
        return n * o * ho * wo * (module.in_channels // module.groups) * kh * kw
    if isinstance(module, Conv1d):
        n, o, lo = out_shape
        return n * o * lo * (module.in_channels // module.groups) * module.kernel_size
    return 0


def summary(model: Module, input_shape: tuple[int, ...], dtype=np.float32) -> list[dict]:
    """One row per leaf layer, in call order: name, type, output shape, params, MACs.

    Args:
        model: any Module.
        input_shape: the full input shape, batch included, e.g. (1, 1, 28, 28);
            MACs are for that whole batch (batch 1 = per example).

    Returns:
        list of dicts with keys ``name, type, output_shape, params, macs``; see
        :func:`format_summary` for a printable table with totals.
    """
    leaves = [(name, m) for name, m in model.named_modules() if not list(m.children())]
    rows: list[dict] = []

    def wrap(name, m):
        forward = m.forward

        def recorded(x):
            y = forward(x)
            rows.append({
                "name": name or type(m).__name__, "type": type(m).__name__, "output_shape": tuple(np.shape(y)),
                "params": int(sum(p.data.size for _, p in m.named_parameters())),
                "macs": int(layer_macs(m, tuple(np.shape(x)), tuple(np.shape(y)))),
            })
            return y
        return recorded

    was_training = {id(m): m.training for m in model.modules()}
    model.eval()
    try:
        for name, m in leaves:
            m.forward = wrap(name, m)  # instance attribute shadows the class method for this call only
        model.forward(np.zeros(input_shape, dtype=dtype))
    finally:
        for name, m in leaves:
            if "forward" in vars(m):
                del m.forward
        for m in model.modules():
            m.training = was_training[id(m)]
    return rows


def format_summary(rows: list[dict]) -> str:
    """A fixed-width table of :func:`summary` rows with totals (params, MACs and FLOPs = 2·MACs)."""
    header = f"{'layer':<18} {'type':<18} {'output shape':<20} {'params':>10} {'MACs':>14}"
    lines = [header, "-" * len(header)]
    for r in rows:
        shape = "(" + ", ".join(str(s) for s in r["output_shape"]) + ")"
        lines.append(f"{r['name']:<18} {r['type']:<18} {shape:<20} {r['params']:>10,} {r['macs']:>14,}")
    total_p = sum(r["params"] for r in rows)
    total_m = sum(r["macs"] for r in rows)
    lines.append("-" * len(header))
    lines.append(f"total params {total_p:,}; MACs {total_m:,}; FLOPs = 2 x MACs = {2 * total_m:,}")
    return "\n".join(lines)


def print_summary(model: Module, input_shape: tuple[int, ...]) -> list[dict]:
    """Print :func:`format_summary` of :func:`summary` and return the rows."""
    rows = summary(model, input_shape)
    print(format_summary(rows))
    return rows
