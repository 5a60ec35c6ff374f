"""Linear (fully connected) layer, y = x Wᵀ + b, with PyTorch's weight layout (out, in)."""
from __future__ import annotations

import numpy as np

from .init import init_bias, init_weight
from .module import Module, Parameter


class Linear(Module):
    """Fully connected layer.

    Shapes:
        x: (N, in_features) -> y: (N, out_features)
        weight: (out_features, in_features), bias: (out_features,)

    Args:
        init: weight scheme by name (see :mod:`backproplab.nn.init`); default
            ``"pytorch"`` matches torch.nn.Linear's distribution.
        rng: generator for the initial weights (required: no hidden global state).
        scale: std of the ``"large"`` scheme.

    ``backward`` returns None when ``needs_input_grad`` is False (set by Sequential
    for its first layer while the Trainer trains): dx would be thrown away.

    Reference: https://pytorch.org/docs/stable/generated/torch.nn.Linear.html
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, *,
                 rng: np.random.Generator, init: str = "pytorch", dtype=np.float32, scale: float = 1.0):
        super().__init__()
        if in_features <= 0 or out_features <= 0:
            raise ValueError(f"Linear needs positive sizes, got in_features={in_features}, out_features={out_features}")
        self.in_features, self.out_features = in_features, out_features
        self.weight = Parameter(init_weight((out_features, in_features), init, rng, dtype, scale))
        self.bias = Parameter(init_bias(out_features, init, in_features, rng, dtype)) if bias else None
        self._x = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        if x.ndim != 2 or x.shape[1] != self.in_features:
            raise ValueError(
                f"Linear({self.in_features}, {self.out_features}) expects input of shape (N, {self.in_features}), "
                f"got {x.shape}; flatten images first (nn.Flatten)"
            )
        self._x = x
        y = x @ self.weight.data.T  # (N, out)
        if self.bias is not None:
            y += self.bias.data
        return y

    def backward(self, dy: np.ndarray) -> np.ndarray | None:
        x = self._x
        self.weight.add_matmul_(dy.T, x)  # weight.grad += dyᵀ x  (out, in)
        if self.bias is not None:
            self.bias.add_sum_(dy, axis=0)  # bias.grad += Σ_n dy  (out,)
        if not self.needs_input_grad:  # the input is data (first layer): skip the dx product
            return None
        return dy @ self.weight.data  # (N, in)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"
