"""Residual connections (He et al. 2016, "Deep residual learning for image recognition").

``Residual(body, shortcut)`` computes y = body(x) + shortcut(x) (shortcut = identity
if None); the gradient is the sum of both branches' input gradients, so the
identity path passes dy straight through.

``ResidualBlock`` is ResNet's basic block:

    y = ReLU( BN(conv3x3(ReLU(BN(conv3x3(x))))) + shortcut(x) )

with shortcut = identity when the shapes agree, else a 1x1 convolution (with the
block's stride) followed by BN: the "projection shortcut" (option B of the paper).
Attribute names follow torchvision's BasicBlock (conv1, bn1, conv2, bn2, downsample).

Reference: https://pytorch.org/vision/stable/models/resnet.html
"""
from __future__ import annotations

import numpy as np

from .activation import ReLU
from .batchnorm import BatchNorm2d
from .conv import Conv2d
from .module import Module, Sequential


class Residual(Module):
    """y = body(x) + shortcut(x). Shapes: body and shortcut must map x to the same shape."""

    def __init__(self, body: Module, shortcut: Module | None = None):
        super().__init__()
        self.body = body
        self.shortcut = shortcut

    def forward(self, x: np.ndarray) -> np.ndarray:
        out = self.body.forward(x)
        skip = x if self.shortcut is None else self.shortcut.forward(x)
        if out.shape != skip.shape:
            raise ValueError(f"Residual: the body gives shape {out.shape} but the shortcut {skip.shape}; "
                             "use a projection shortcut (e.g. a 1x1 Conv2d with the body's stride)")
        return out + skip

    def backward(self, dy: np.ndarray) -> np.ndarray:
        dx = self.body.backward(dy)
        return dx + (dy if self.shortcut is None else self.shortcut.backward(dy))


class ResidualBlock(Module):
    """ResNet basic block: conv-BN-ReLU-conv-BN, plus the shortcut, then ReLU.

    Shapes: x (N, in_channels, H, W) -> y (N, out_channels, H', W'), H' = floor((H - 1)/stride) + 1.
    The shortcut is the identity if stride = 1 and in_channels = out_channels, otherwise
    (or if ``projection=True``) a 1x1 convolution with the block's stride and a BN.
    Convolutions have no bias (the BN after them would cancel it).
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1, projection: bool | None = None, *,
                 rng: np.random.Generator, init: str = "pytorch", dtype=np.float32):
        super().__init__()
        self.conv1 = Conv2d(in_channels, out_channels, 3, stride, 1, bias=False, rng=rng, init=init, dtype=dtype)
        self.bn1 = BatchNorm2d(out_channels, dtype=dtype)
        self.relu1 = ReLU()
        self.conv2 = Conv2d(out_channels, out_channels, 3, 1, 1, bias=False, rng=rng, init=init, dtype=dtype)
        self.bn2 = BatchNorm2d(out_channels, dtype=dtype)
        if projection is None:
            projection = stride != 1 or in_channels != out_channels
        if not projection and (stride != 1 or in_channels != out_channels):
            raise ValueError(f"ResidualBlock: an identity shortcut needs stride 1 and in_channels = out_channels, "
                             f"got stride={stride}, {in_channels} -> {out_channels}; use projection=True")
        self.downsample = Sequential(
            Conv2d(in_channels, out_channels, 1, stride, 0, bias=False, rng=rng, init=init, dtype=dtype),
            BatchNorm2d(out_channels, dtype=dtype),
        ) if projection else None
        self.relu2 = ReLU()

    def forward(self, x: np.ndarray) -> np.ndarray:
        out = self.bn2(self.conv2(self.relu1(self.bn1(self.conv1(x)))))
        skip = x if self.downsample is None else self.downsample(x)
        return self.relu2(out + skip)

    def backward(self, dy: np.ndarray) -> np.ndarray:
        d = self.relu2.backward(dy)
        dx = self.conv1.backward(self.bn1.backward(self.relu1.backward(self.conv2.backward(self.bn2.backward(d)))))
        return dx + (d if self.downsample is None else self.downsample.backward(d))
