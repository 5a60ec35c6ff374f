"""Dropout (inverted) and Gaussian dropout. Identity in eval mode.

Reference: Srivastava et al. 2014, "Dropout: A Simple Way to Prevent Neural
Networks from Overfitting", JMLR 15 (section 10 for the Gaussian variant);
https://pytorch.org/docs/stable/generated/torch.nn.Dropout.html
"""
from __future__ import annotations

import numpy as np

from .module import Module


def _check_p(p: float) -> float:
    if not 0.0 <= p < 1.0:
        raise ValueError(f"dropout probability p must be in [0, 1), got {p}")
    return float(p)


class Dropout(Module):
    """Zero each entry with probability ``p`` (the *drop* probability, as in PyTorch)
    and scale the survivors by 1/(1-p), so the expected output equals the input.

    Shapes: any -> same. ``rng`` draws the masks.
    """

    def __init__(self, p: float = 0.5, *, rng: np.random.Generator):
        super().__init__()
        self.p = _check_p(p)
        self.rng = rng
        self._mask = None

    def forward(self, x):
        if not self.training or self.p == 0.0:
            self._mask = None
            return x
        keep = self.rng.random(x.shape) >= self.p
        self._mask = keep.astype(x.dtype) / (1.0 - self.p)
        return x * self._mask

    def backward(self, dy):
        return dy if self._mask is None else dy * self._mask

    def extra_repr(self):
        return f"p={self.p}"


class GaussianDropout(Module):
    """Multiply each entry by noise ξ ~ N(1, α), α = p/(1-p): the same mean and
    variance as inverted dropout with drop probability ``p`` (Srivastava et al. 2014, §10).

    Shapes: any -> same. ``rng`` draws the noise.
    """

    def __init__(self, p: float = 0.5, *, rng: np.random.Generator):
        super().__init__()
        self.p = _check_p(p)
        self.alpha = self.p / (1.0 - self.p)
        self.rng = rng
        self._noise = None

    def forward(self, x):
        if not self.training or self.p == 0.0:
            self._noise = None
            return x
        self._noise = (1.0 + np.sqrt(self.alpha) * self.rng.standard_normal(x.shape)).astype(x.dtype)
        return x * self._noise

    def backward(self, dy):
        return dy if self._noise is None else dy * self._noise

    def extra_repr(self):
        return f"p={self.p}"
