"""MobileNet V1: depthwise separable convolutions with width and resolution multipliers.

Reference: Howard et al., "MobileNets: Efficient Convolutional Neural Networks for
Mobile Vision Applications", 2017 (arXiv:1704.04861), Table 1.

Each depthwise separable block is a 3x3 depthwise convolution (``groups=in_channels``)
followed by a 1x1 pointwise convolution, each with BatchNorm and ReLU. Its cost per
output position is ``D_K^2 * M + M * N`` instead of ``D_K^2 * M * N``: the ratio is
``1/N + 1/D_K^2`` (the paper's eq. 5).

Shapes: input (N, in_channels, input_size, input_size) -> logits (N, num_classes).
"""
from __future__ import annotations

import torch
from torch import nn

#: (out_channels, stride) of the 13 depthwise separable blocks, paper Table 1.
#: (The table's second-to-last stride "s2" on a 7x7 map is a misprint: that block keeps 7x7.)
V1_BLOCKS: tuple[tuple[int, int], ...] = (
    (64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2),
    (512, 1), (512, 1), (512, 1), (512, 1), (512, 1),
    (1024, 2), (1024, 1),
)


def resolve_variant(variant: str | None, input_size: int) -> str:
    """'imagenet' (total stride 32) or 'cifar' (first two strides 1, total stride 8).

    ``None`` picks 'cifar' for inputs up to 64 pixels, where stride 32 would leave a
    1x1 map after the third block, and 'imagenet' otherwise.
    """
    if variant is None:
        return "cifar" if input_size <= 64 else "imagenet"
    if variant not in ("imagenet", "cifar"):
        raise ValueError(f"variant must be 'imagenet' or 'cifar', got {variant!r}")
    return variant


def scaled(channels: int, width_mult: float) -> int:
    """Channels thinned by the width multiplier alpha (paper section 3.3), at least 8."""
    return max(8, int(channels * width_mult))


def conv_bn_relu(in_channels: int, out_channels: int, kernel_size: int, stride: int, groups: int = 1,
                 activation: type[nn.Module] = nn.ReLU) -> nn.Sequential:
    """Conv (no bias: BatchNorm's shift replaces it) -> BatchNorm2d -> ReLU (V2 passes nn.ReLU6)."""
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel_size, stride=stride, padding=kernel_size // 2,
                  groups=groups, bias=False),
        nn.BatchNorm2d(out_channels),
        activation(inplace=True),
    )


class DepthwiseSeparable(nn.Sequential):
    """3x3 depthwise conv (stride s) + BN + ReLU, then 1x1 pointwise conv + BN + ReLU (paper Fig. 3)."""

    def __init__(self, in_channels: int, out_channels: int, stride: int):
        super().__init__(
            conv_bn_relu(in_channels, in_channels, 3, stride, groups=in_channels),  # depthwise
            conv_bn_relu(in_channels, out_channels, 1, 1),  # pointwise
        )


class MobileNetV1(nn.Module):
    """MobileNet V1.

    Args:
        width_mult: alpha in the paper, thins every layer (1.0, 0.75, 0.5, 0.25).
        num_classes: outputs of the final Linear layer.
        input_size: side of the square input; only used to pick the variant when
            ``variant`` is None (the network itself accepts any size).
        in_channels: 3 for RGB, 1 for Fashion-MNIST.
        variant: 'imagenet' (224x224, paper), 'cifar' (32x32: first conv and first
            stride-2 block use stride 1, so 32x32 ends at 4x4), or None (auto).
        dropout: drop probability before the classifier (0 in the paper).
    """

    def __init__(self, width_mult: float = 1.0, num_classes: int = 1000, input_size: int = 224, *,
                 in_channels: int = 3, variant: str | None = None, dropout: float = 0.0):
        super().__init__()
        self.variant = resolve_variant(variant, input_size)
        strides = [s for _, s in V1_BLOCKS]
        stem_stride = 2
        if self.variant == "cifar":
            stem_stride, strides[1] = 1, 1  # keep 32x32 for two more layers; final map 4x4
        channels = scaled(32, width_mult)
        layers: list[nn.Module] = [conv_bn_relu(in_channels, channels, 3, stem_stride)]
        for (out, _), stride in zip(V1_BLOCKS, strides):
            layers.append(self.block(channels, scaled(out, width_mult), stride))
            channels = scaled(out, width_mult)
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(channels, num_classes)

    @staticmethod
    def block(in_channels: int, out_channels: int, stride: int) -> nn.Module:
        """One of the 13 blocks after the stem: a depthwise separable convolution."""
        return DepthwiseSeparable(in_channels, out_channels, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.features(x)
        x = self.pool(x).flatten(1)  # (N, C)
        return self.classifier(self.dropout(x))
