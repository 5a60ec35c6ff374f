"""Gradient-norm clipping, usable with any model's parameters.

Reference: Pascanu, Mikolov & Bengio, "On the difficulty of training recurrent neural
networks", ICML 2013; https://pytorch.org/docs/stable/generated/torch.nn.utils.clip_grad_norm_.html
"""
from __future__ import annotations

import math

import numpy as np

from .module import Parameter


def clip_grad_norm_(parameters, max_norm: float, norm_type: float = 2.0, error_if_nonfinite: bool = False) -> float:
    """Scale every ``.grad`` in place so that their joint norm is at most ``max_norm``.

        total = (Σ_p ||g_p||^q)^(1/q)   (q = norm_type; q = inf: max |g|)
        g ← g · min(1, max_norm / (total + 1e-6))

    The 1e-6 is PyTorch's, so the clipped norm lands just under ``max_norm``.

    Args:
        parameters: a Parameter or an iterable of them (e.g. ``model.parameters()``); those
            without a gradient (``has_grad`` False) are left out, as PyTorch leaves out ``grad=None``.
        max_norm: the largest allowed total norm (> 0).
        norm_type: q of the q-norm; ``float('inf')`` for the max-norm.
        error_if_nonfinite: raise if the total norm is NaN or inf.

    Returns:
        the total norm *before* clipping, as a Python float.
    """
    if isinstance(parameters, Parameter):
        parameters = [parameters]
    # as PyTorch skips a None grad: reading p.grad would give the parameter a (zero) gradient,
    # and the optimizer would then step it (momentum, weight decay) instead of skipping it
    params = [p for p in parameters if p.has_grad]
    if not max_norm > 0:
        raise ValueError(f"clip_grad_norm_: max_norm must be > 0, got {max_norm}")
    if not params:
        return 0.0
    q = float(norm_type)
    if math.isinf(q):
        total = max(float(np.max(np.abs(p.grad))) if p.grad.size else 0.0 for p in params)
    elif q == 2.0:
        total = math.sqrt(sum(float(np.vdot(p.grad, p.grad)) for p in params))  # one BLAS dot per parameter
    else:
        total = sum(float(np.sum(np.abs(p.grad) ** q)) for p in params) ** (1.0 / q)
    if error_if_nonfinite and not math.isfinite(total):
        raise RuntimeError(f"clip_grad_norm_: the total gradient norm is {total}; a gradient contains NaN or inf")
    coef = max_norm / (total + 1e-6)
    if coef < 1.0:
        for p in params:
            p.grad *= p.grad.dtype.type(coef)
    return total
