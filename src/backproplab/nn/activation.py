"""Element-wise activations and Softmax, each with its derivative written out.

All keep the one tensor their backward needs (input or output) and return
``dx = dy * f'(x)``. Shapes: any -> same shape.

Reference: https://pytorch.org/docs/stable/nn.html#non-linear-activations-weighted-sum-nonlinearity
"""
from __future__ import annotations

import numpy as np

from .module import Module, Parameter


class Identity(Module):
    """f(x) = x; f'(x) = 1."""

    def forward(self, x):
        return x

    def backward(self, dy):
        return dy


class Sigmoid(Module):
    """σ(x) = 1/(1+e^{-x}) in (0, 1); σ'(x) = σ(x)(1-σ(x)) <= 1/4 (hence vanishing gradients)."""

    def forward(self, x):
        # exp of -|x| only: never overflows, for large positive and negative x alike
        e = np.exp(-np.abs(x))
        self._y = np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e)).astype(x.dtype, copy=False)
        return self._y

    def backward(self, dy):
        y = self._y
        return dy * y * (1.0 - y)


class Tanh(Module):
    """tanh(x) in (-1, 1) (not (0, 1)); tanh'(x) = 1 - tanh(x)²."""

    def forward(self, x):
        self._y = np.tanh(x)
        return self._y

    def backward(self, dy):
        y = self._y
        return dy * (1.0 - y * y)


class ReLU(Module):
    """max(x, 0); derivative 1 for x > 0, else 0 (PyTorch's choice at x = 0)."""

    def forward(self, x):
        self._y = np.maximum(x, 0)
        return self._y

    def backward(self, dy):
        return dy * (self._y > 0)


class LeakyReLU(Module):
    """x for x > 0, negative_slope·x otherwise (default slope 0.01 as in PyTorch)."""

    def __init__(self, negative_slope: float = 0.01):
        super().__init__()
        self.negative_slope = float(negative_slope)

    def forward(self, x):
        self._x = x
        return np.where(x > 0, x, self.negative_slope * x)

    def backward(self, dy):
        return np.where(self._x > 0, dy, self.negative_slope * dy)

    def extra_repr(self):
        return f"negative_slope={self.negative_slope}"


class PReLU(Module):
    """Leaky ReLU with a learned slope a (He et al. 2015): x for x > 0, a·x otherwise.

    ``num_parameters`` = 1 (one slope shared) or the number of channels (dim 1).
    weight: (num_parameters,), initialised to ``init`` (0.25 as in PyTorch).
    dL/da = Σ dy·x over the entries with x <= 0.
    """

    def __init__(self, num_parameters: int = 1, init: float = 0.25, dtype=np.float32):
        super().__init__()
        self.num_parameters = num_parameters
        self.weight = Parameter(np.full(num_parameters, init, dtype=dtype))

    def _slope(self, x):
        a = self.weight.data
        if self.num_parameters == 1 or x.ndim < 2:
            return a.reshape((1,) * max(x.ndim, 1)) if self.num_parameters == 1 else a
        return a.reshape((1, -1) + (1,) * (x.ndim - 2))  # broadcast over channel dim 1

    def forward(self, x):
        if self.num_parameters != 1 and (x.ndim < 2 or x.shape[1] != self.num_parameters):
            raise ValueError(f"PReLU({self.num_parameters}) expects {self.num_parameters} channels in dim 1, got {x.shape}")
        self._x = x
        return np.where(x > 0, x, self._slope(x) * x)

    def backward(self, dy):
        x = self._x
        neg = x <= 0
        contrib = np.where(neg, dy * x, 0)
        if self.num_parameters == 1:
            self.weight.grad += contrib.sum()
        else:
            axes = (0,) + tuple(range(2, x.ndim))
            self.weight.grad += contrib.sum(axis=axes)
        return np.where(neg, self._slope(x) * dy, dy)

    def extra_repr(self):
        return f"num_parameters={self.num_parameters}"


class ELU(Module):
    """x for x > 0, α(e^x - 1) otherwise; derivative α e^x = y + α there (Clevert et al. 2016)."""

    def __init__(self, alpha: float = 1.0):
        super().__init__()
        self.alpha = float(alpha)

    def forward(self, x):
        self._x = x
        # expm1 of min(x, 0): no overflow for large positive x
        self._y = np.where(x > 0, x, self.alpha * np.expm1(np.minimum(x, 0)))
        return self._y

    def backward(self, dy):
        return np.where(self._x > 0, dy, dy * (self._y + self.alpha))

    def extra_repr(self):
        return f"alpha={self.alpha}"


class Softmax(Module):
    """softmax(x)_i = e^{x_i} / Σ_j e^{x_j} along ``dim``; dx = y ⊙ (dy - Σ(dy ⊙ y)).

    For training use :class:`backproplab.nn.CrossEntropyLoss` on logits instead
    (fused and stable); this module is for probabilities at inference.
    """

    def __init__(self, dim: int = -1):
        super().__init__()
        self.dim = dim

    def forward(self, x):
        z = x - x.max(axis=self.dim, keepdims=True)
        e = np.exp(z)
        self._y = e / e.sum(axis=self.dim, keepdims=True)
        return self._y

    def backward(self, dy):
        y = self._y
        return y * (dy - (dy * y).sum(axis=self.dim, keepdims=True))

    def extra_repr(self):
        return f"dim={self.dim}"


ACTIVATIONS = {
    "identity": Identity, "sigmoid": Sigmoid, "tanh": Tanh, "relu": ReLU,
    "leaky_relu": LeakyReLU, "prelu": PReLU, "elu": ELU,
}


def make_activation(name: str) -> Module:
    """A new activation module by name (one of :data:`ACTIVATIONS`)."""
    try:
        return ACTIVATIONS[name]()
    except KeyError:
        raise ValueError(f"unknown activation {name!r}; choose one of {', '.join(ACTIVATIONS)}") from None
