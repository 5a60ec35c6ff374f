"""Weight initializers, selectable by name.

Every initializer fills an array of a given shape; fans follow PyTorch's rule
(``torch.nn.init._calculate_fan_in_and_fan_out``): for a weight of shape
``(out, in, *kernel)`` fan_in = in * prod(kernel) and fan_out = out * prod(kernel);
a Linear weight is ``(out, in)``.

=================  ==============================================================
name               formula
=================  ==============================================================
``zeros``          W = 0 (every hidden unit identical: the symmetry problem)
``small``          W ~ N(0, 0.01²)
``large``          W ~ N(0, scale²), scale = 1.0 unless given
``xavier``         W ~ N(0, 1/fan_in)  -- the assignment's "Xavier"; = ``lecun_normal``
``lecun_normal``   W ~ N(0, 1/fan_in)  (LeCun et al. 1998)
``glorot_uniform`` W ~ U(-a, a), a = sqrt(6/(fan_in+fan_out))  (Glorot & Bengio 2010)
``glorot_normal``  W ~ N(0, 2/(fan_in+fan_out))
``he``             W ~ N(0, 2/fan_in)  -- = ``he_normal``  (He et al. 2015)
``he_normal``      W ~ N(0, 2/fan_in)
``he_uniform``     W ~ U(-a, a), a = sqrt(6/fan_in)
``pytorch``        W ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)): torch.nn.Linear/Conv default
=================  ==============================================================

Biases: zero for every named scheme, except ``pytorch`` whose bias is
U(-1/sqrt(fan_in), 1/sqrt(fan_in)) as in torch.nn.Linear.

Reference: https://pytorch.org/docs/stable/nn.init.html
"""
from __future__ import annotations

import math

import numpy as np

INIT_NAMES = (
    "zeros", "small", "large", "xavier", "lecun_normal", "glorot_uniform",
    "glorot_normal", "he", "he_normal", "he_uniform", "pytorch",
)


def fan_in_and_fan_out(shape: tuple[int, ...]) -> tuple[int, int]:
    """(fan_in, fan_out) of a weight of shape ``(out, in, *kernel)`` or ``(out, in)``."""
    if len(shape) < 2:
        raise ValueError(f"fan_in/fan_out need a weight with at least 2 dims, got shape {shape}")
    receptive = int(np.prod(shape[2:])) if len(shape) > 2 else 1
    return shape[1] * receptive, shape[0] * receptive


def init_weight(shape, name: str, rng: np.random.Generator, dtype=np.float32, scale: float = 1.0) -> np.ndarray:
    """A new weight array of ``shape`` drawn by the scheme ``name`` (see the module table).

    Args:
        shape: weight shape, ``(out, in, *kernel)``.
        name: one of :data:`INIT_NAMES`.
        rng: the generator every draw comes from.
        dtype: array dtype.
        scale: standard deviation of ``large`` (ignored by the others).
    """
    shape = tuple(int(s) for s in shape)
    fan_in, fan_out = fan_in_and_fan_out(shape)
    if name == "zeros":
        w = np.zeros(shape)
    elif name == "small":
        w = rng.normal(0.0, 0.01, shape)
    elif name == "large":
        w = rng.normal(0.0, scale, shape)
    elif name in ("xavier", "lecun_normal"):
        w = rng.normal(0.0, math.sqrt(1.0 / fan_in), shape)
    elif name == "glorot_uniform":
        a = math.sqrt(6.0 / (fan_in + fan_out))
        w = rng.uniform(-a, a, shape)
    elif name == "glorot_normal":
        w = rng.normal(0.0, math.sqrt(2.0 / (fan_in + fan_out)), shape)
    elif name in ("he", "he_normal"):
        w = rng.normal(0.0, math.sqrt(2.0 / fan_in), shape)
    elif name == "he_uniform":
        a = math.sqrt(6.0 / fan_in)
        w = rng.uniform(-a, a, shape)
    elif name == "pytorch":
        a = 1.0 / math.sqrt(fan_in)
        w = rng.uniform(-a, a, shape)
    else:
        raise ValueError(f"unknown init {name!r}; choose one of {', '.join(INIT_NAMES)}")
    return w.astype(dtype)


def init_bias(size: int, name: str, fan_in: int, rng: np.random.Generator, dtype=np.float32) -> np.ndarray:
    """A bias vector: zeros, except U(±1/sqrt(fan_in)) for ``pytorch``."""
    if name not in INIT_NAMES:
        raise ValueError(f"unknown init {name!r}; choose one of {', '.join(INIT_NAMES)}")
    if name == "pytorch":
        a = 1.0 / math.sqrt(fan_in)
        return rng.uniform(-a, a, size).astype(dtype)
    return np.zeros(size, dtype=dtype)
