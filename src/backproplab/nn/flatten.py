"""Flatten: (N, *dims) -> (N, prod(dims)), as torch.nn.Flatten(start_dim=1)."""
from __future__ import annotations

import numpy as np

from .module import Module


class Flatten(Module):
    """Shapes: x (N, d1, ..., dk) -> (N, d1·...·dk); backward restores the shape."""

    def __init__(self, start_dim: int = 1):
        super().__init__()
        self.start_dim = start_dim

    def forward(self, x: np.ndarray) -> np.ndarray:
        self._shape = x.shape
        return x.reshape(x.shape[: self.start_dim] + (-1,))

    def backward(self, dy: np.ndarray) -> np.ndarray:
        return dy.reshape(self._shape)
