"""Stateless functions on arrays (no parameters, no backward), as ``torch.nn.functional``.

For training, use the fused losses (e.g. :class:`~backproplab.nn.CrossEntropyLoss` on
logits); these are for turning outputs into probabilities and log-probabilities.

Reference: https://pytorch.org/docs/stable/nn.functional.html
"""
from __future__ import annotations

import numpy as np


def _shifted(x, axis: int) -> np.ndarray:
    """A new float array x - max(x) along ``axis`` (float64 for integer input)."""
    x = np.asarray(x)
    if not np.issubdtype(x.dtype, np.floating):
        x = x.astype(np.float64)
    return x - x.max(axis=axis, keepdims=True)


def softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    """softmax(x)_i = e^{x_i - m} / Σ_j e^{x_j - m} along ``axis``, m = the largest x_j.

    Subtracting m changes nothing mathematically and keeps every exponent <= 0, so large
    logits cannot overflow (e^{1000} is inf in float64).

    Shapes: x any shape -> same shape, each slice along ``axis`` summing to 1. Float
    inputs keep their dtype; integer inputs give float64.
    """
    z = _shifted(x, axis)
    np.exp(z, out=z)
    z /= z.sum(axis=axis, keepdims=True)
    return z


def log_softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    """log softmax(x)_i = (x_i - m) - log Σ_j e^{x_j - m} along ``axis``, m = the largest x_j.

    Computed without forming the softmax, so a probability that underflows to 0 still has
    a finite logarithm (log(softmax) of the same logits would give -inf).

    Shapes: x any shape -> same shape.
    """
    z = _shifted(x, axis)
    z -= np.log(np.exp(z).sum(axis=axis, keepdims=True))
    return z
