"""Gradient checking by float64 central differences with a random upstream gradient.

For a module f and a random upstream gradient dy, the scalar L = Σ dy ⊙ f(x) has
∂L/∂x = f.backward(dy). Each entry is compared with (L(x + h) - L(x - h)) / 2h.
A random dy (not ones) matters: Σ f(x) can be constant in x (e.g. BatchNorm's
normalized output), which would hide a wrong backward.

Reference: CS231n, "Gradient checks" (https://cs231n.github.io/neural-networks-3/#gradcheck)
"""
from __future__ import annotations

import numpy as np


def rel_error(a, b, floor: float = 1e-8) -> float:
    """max |a - b| / max(|a|, |b|, floor) over all entries (0 for two empty arrays)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"rel_error: shapes differ, {a.shape} vs {b.shape}")
    if a.size == 0:
        return 0.0
    return float(np.max(np.abs(a - b) / np.maximum(np.maximum(np.abs(a), np.abs(b)), floor)))


def numerical_grad(f, x: np.ndarray, h: float = 1e-6) -> np.ndarray:
    """Central-difference gradient of the scalar function ``f()`` w.r.t. array ``x`` (perturbed in place)."""
    grad = np.zeros_like(x, dtype=np.float64)
    flat, gflat = x.reshape(-1), grad.reshape(-1)
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + h
        fp = f()
        flat[i] = old - h
        fm = f()
        flat[i] = old
        gflat[i] = (fp - fm) / (2 * h)
    return grad


def check_module_grads(module, x: np.ndarray, rng: np.random.Generator, h: float = 1e-6,
                       forward=None) -> dict[str, float]:
    """Relative errors of ``module.backward`` against central differences, for x and every parameter.

    Args:
        module: a float64 module (call ``.double()`` first); keep it in the mode you want checked.
        x: float64 input.
        rng: draws the random upstream gradient dy.
        forward: optional ``f(x) -> y`` used instead of ``module.forward`` (e.g. fixed dropout masks).

    Returns:
        {"x": err, "<param name>": err, ...}
    """
    if x.dtype != np.float64:
        raise TypeError("gradient checks need float64 inputs (x.astype(np.float64)) and a .double() module")
    fwd = forward or module.forward
    x = np.array(x, copy=True)
    y = fwd(x)
    dy = rng.standard_normal(np.shape(y))
    module.zero_grad()
    dx = module.backward(dy)
    analytic = {"x": np.array(dx, copy=True)}
    for name, p in module.named_parameters():
        analytic[name] = np.array(p.grad, copy=True)

    def loss():
        return float(np.sum(dy * fwd(x)))

    errors = {"x": rel_error(analytic["x"], numerical_grad(loss, x, h))}
    for name, p in module.named_parameters():
        errors[name] = rel_error(analytic[name], numerical_grad(loss, p.data, h))
    return errors
