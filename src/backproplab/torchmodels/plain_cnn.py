"""The plain CNN baseline: MobileNet V1's layout with standard 3x3 convolutions.

This is the paper's "Conv MobileNet" (Howard et al. 2017, Table 4: 4866M mult-adds,
29.3M parameters at 224x224): the same depth, widths and strides as
:class:`~backproplab.torchmodels.mobilenet_v1.MobileNetV1`, but each depthwise
separable block is one full 3x3 convolution + BatchNorm + ReLU, so the comparison
isolates the effect of factorizing the convolution.

Shapes: input (N, in_channels, H, W) -> logits (N, num_classes).
"""
from __future__ import annotations

from torch import nn

from .mobilenet_v1 import MobileNetV1, conv_bn_relu


class PlainCNN(MobileNetV1):
    """Standard-convolution twin of MobileNet V1 (same arguments, layer names and strides)."""

    @staticmethod
    def block(in_channels: int, out_channels: int, stride: int) -> nn.Module:
        """A full 3x3 convolution + BatchNorm + ReLU in place of the depthwise separable block."""
        return conv_bn_relu(in_channels, out_channels, 3, stride)
