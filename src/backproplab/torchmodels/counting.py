"""Count parameters and multiply-accumulates (MACs) of any PyTorch model with forward hooks.

What is counted (the convention of the MobileNet papers' "mult-adds"):

* ``nn.Conv2d``: ``H_out * W_out * out_channels * (in_channels / groups) * kh * kw``
  per image, i.e. one MAC per weight per output position. A depthwise conv
  (``groups = in_channels``) costs ``H_out * W_out * C * kh * kw``.
* ``nn.Linear``: ``in_features * out_features`` per input row.
* Not counted: bias additions, BatchNorm (folded into the conv's weights at
  inference), activations, pooling and residual additions -- all are O(activations),
  not O(weights x positions), and together under 1% for these networks.

FLOPs = 2 x MACs (a multiply and an add); the papers' "569M mult-adds" are MACs.
Parameters are every ``p.numel()`` of ``model.parameters()``, BatchNorm's affine
weights included (about 0.02M for MobileNet V1, below the papers' 0.1M rounding).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


@dataclass
class LayerCost:
    """One counted layer: its name, kind ('conv', 'depthwise', 'pointwise', 'linear'), MACs per image, params."""

    name: str
    kind: str
    macs: int
    params: int
    out_shape: tuple[int, ...]


@dataclass
class ModelCost:
    """Totals of :func:`count_macs`: ``macs`` per image, ``params``, and the per-layer list."""

    macs: int
    params: int
    layers: list[LayerCost]

    @property
    def flops(self) -> int:
        return 2 * self.macs

    def by_kind(self) -> dict[str, dict[str, int]]:
        """MACs and params summed per layer kind (the paper's Table 2 breakdown)."""
        out: dict[str, dict[str, int]] = {}
        for layer in self.layers:
            d = out.setdefault(layer.kind, {"macs": 0, "params": 0})
            d["macs"] += layer.macs
            d["params"] += layer.params
        return out


def conv_kind(conv: nn.Conv2d) -> str:
    if conv.groups == conv.in_channels and conv.groups > 1:
        return "depthwise"
    if conv.kernel_size == (1, 1) and conv.groups == 1:
        return "pointwise"
    return "conv"


def count_params(model: nn.Module) -> int:
    return int(sum(p.numel() for p in model.parameters()))


def count_macs(model: nn.Module, input_shape: tuple[int, ...]) -> ModelCost:
    """MACs per image and parameters of ``model`` for inputs of shape ``input_shape`` = (C, H, W).

    Runs one forward pass on zeros of shape (1, C, H, W) in eval mode under
    ``torch.no_grad`` (the model's training flag is restored afterwards).
    """
    layers: list[LayerCost] = []

    def conv_hook(module: nn.Conv2d, inputs, output):
        kh, kw = module.kernel_size
        per_position = (module.in_channels // module.groups) * kh * kw
        macs = output.numel() // output.shape[0] * per_position  # output (N, C_out, H_out, W_out)
        layers.append(LayerCost(names[module], conv_kind(module), int(macs),
                                count_params(module), tuple(output.shape[1:])))

    def linear_hook(module: nn.Linear, inputs, output):
        rows = output.numel() // output.shape[-1] // output.shape[0]  # rows per image (1 for (N, F))
        macs = rows * module.in_features * module.out_features
        layers.append(LayerCost(names[module], "linear", int(macs), count_params(module), tuple(output.shape[1:])))

    names = {m: n for n, m in model.named_modules()}
    handles = []
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            handles.append(m.register_forward_hook(conv_hook))
        elif isinstance(m, nn.Linear):
            handles.append(m.register_forward_hook(linear_hook))
    was_training = model.training
    param = next(model.parameters(), None)
    device = param.device if param is not None else torch.device("cpu")
    dtype = param.dtype if param is not None else torch.float32
    try:
        model.eval()
        with torch.no_grad():
            model(torch.zeros((1, *input_shape), device=device, dtype=dtype))
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    return ModelCost(macs=sum(layer.macs for layer in layers), params=count_params(model), layers=layers)


def separable_cost_ratio(out_channels: int, kernel_size: int) -> float:
    """The paper's eq. 5: (depthwise + pointwise MACs) / standard conv MACs = 1/N + 1/D_K^2."""
    return 1.0 / out_channels + 1.0 / kernel_size**2
