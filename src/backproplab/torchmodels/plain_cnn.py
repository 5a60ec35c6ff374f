"""The plain CNN baseline: MobileNet V1's layout with standard 3x3 convolutions.

This is the paper's "Conv MobileNet" (Howard et al. 2017, Table 4: 4866M mult-adds,
29.3M parameters at 224x224): the same depth, widths and strides as
:class:`~backproplab.torchmodels.mobilenet_v1.MobileNetV1`, but each depthwise
separable block is one full 3x3 convolution + BatchNorm + ReLU, so the comparison
isolates the effect of factorizing the convolution.

Shapes: input (N, in_channels, H, W) -> logits (N, num_classes).
"""
from __future__ import annotations

import torch
from torch import nn

from .mobilenet_v1 import V1_BLOCKS, conv_bn_relu, resolve_variant, scaled


class PlainCNN(nn.Module):
    """Standard-convolution twin of MobileNet V1 (same arguments as MobileNetV1)."""

    def __init__(self, width_mult: float = 1.0, num_classes: int = 1000, input_size: int = 224, *,
                 in_channels: int = 3, variant: str | None = None, dropout: float = 0.0):
        super().__init__()
        self.variant = resolve_variant(variant, input_size)
        strides = [s for _, s in V1_BLOCKS]
        stem_stride = 2
        if self.variant == "cifar":
            stem_stride, strides[1] = 1, 1
        channels = scaled(32, width_mult)
        layers: list[nn.Module] = [conv_bn_relu(in_channels, channels, 3, stem_stride)]
        for (out, _), stride in zip(V1_BLOCKS, strides):
            layers.append(conv_bn_relu(channels, scaled(out, width_mult), 3, stride))
            channels = scaled(out, width_mult)
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(channels, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.features(x)
        x = self.pool(x).flatten(1)  # (N, C)
        return self.classifier(self.dropout(x))
