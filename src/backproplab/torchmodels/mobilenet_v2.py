"""MobileNet V2: inverted residual blocks with linear bottlenecks.

Reference: Sandler et al., "MobileNetV2: Inverted Residuals and Linear Bottlenecks",
CVPR 2018 (arXiv:1801.04381), Tables 1 and 2.

A block expands ``in_channels`` by a factor t with a 1x1 conv (+BN+ReLU6), filters
with a 3x3 depthwise conv (+BN+ReLU6, stride s), then projects to ``out_channels``
with a 1x1 conv + BN and *no* activation (the linear bottleneck: ReLU on a thin
layer destroys information, section 3.2). When stride is 1 and the channel counts
match, the input is added back (the residual joins the thin bottlenecks).

Shapes: input (N, in_channels, H, W) -> logits (N, num_classes).
"""
from __future__ import annotations

import torch
from torch import nn

from .mobilenet_v1 import conv_bn_relu, resolve_variant

#: (expansion t, out_channels c, repeats n, first stride s), paper Table 2.
V2_SETTINGS: tuple[tuple[int, int, int, int], ...] = (
    (1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2),
    (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1),
)


def make_divisible(value: float, divisor: int = 8) -> int:
    """Round channels to a multiple of ``divisor`` (at least divisor), never more than 10% down.

    This is the rounding of the reference implementation; it is why V2's width 0.75
    has 24, not 18, channels in its first block.
    """
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    if rounded < 0.9 * value:
        rounded += divisor
    return rounded


def conv_bn_relu6(in_channels: int, out_channels: int, kernel_size: int, stride: int, groups: int = 1) -> nn.Sequential:
    """Conv (no bias) -> BatchNorm2d -> ReLU6, V2's building block (Sandler et al. 2018)."""
    return conv_bn_relu(in_channels, out_channels, kernel_size, stride, groups, activation=nn.ReLU6)


class InvertedResidual(nn.Module):
    """Expand (1x1) -> depthwise (3x3, stride) -> project (1x1, linear); residual when shapes allow."""

    def __init__(self, in_channels: int, out_channels: int, stride: int, expand_ratio: int):
        super().__init__()
        hidden = in_channels * expand_ratio
        layers: list[nn.Module] = []
        if expand_ratio != 1:
            layers.append(conv_bn_relu6(in_channels, hidden, 1, 1))
        layers += [
            conv_bn_relu6(hidden, hidden, 3, stride, groups=hidden),
            nn.Conv2d(hidden, out_channels, 1, bias=False),
            nn.BatchNorm2d(out_channels),  # no ReLU here: the linear bottleneck
        ]
        self.block = nn.Sequential(*layers)
        self.use_residual = stride == 1 and in_channels == out_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.block(x)
        return x + y if self.use_residual else y


class MobileNetV2(nn.Module):
    """MobileNet V2.

    Args:
        width_mult: alpha, applied to every layer and rounded to multiples of 8; the
            last 1x1 conv keeps 1280 channels for alpha < 1 (paper section 6.1).
        num_classes: outputs of the classifier.
        input_size: side of the square input, used to pick the variant when
            ``variant`` is None.
        in_channels: 3 for RGB, 1 for Fashion-MNIST.
        variant: 'imagenet' (224x224, total stride 32), 'cifar' (first conv and the
            first stride-2 stage use stride 1: 32x32 ends at 4x4), or None (auto).
        dropout: drop probability before the classifier (0.2 in the reference code).
    """

    def __init__(self, width_mult: float = 1.0, num_classes: int = 1000, input_size: int = 224, *,
                 in_channels: int = 3, variant: str | None = None, dropout: float = 0.2):
        super().__init__()
        self.variant = resolve_variant(variant, input_size)
        settings = [list(s) for s in V2_SETTINGS]
        stem_stride = 2
        if self.variant == "cifar":
            stem_stride, settings[1][3] = 1, 1
        channels = make_divisible(32 * width_mult)
        last_channels = make_divisible(1280 * max(1.0, width_mult))
        layers: list[nn.Module] = [conv_bn_relu6(in_channels, channels, 3, stem_stride)]
        for t, c, n, s in settings:
            out = make_divisible(c * width_mult)
            for i in range(n):
                layers.append(InvertedResidual(channels, out, s if i == 0 else 1, t))
                channels = out
        layers.append(conv_bn_relu6(channels, last_channels, 1, 1))
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(last_channels, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.features(x)
        x = self.pool(x).flatten(1)  # (N, C)
        return self.classifier(self.dropout(x))
