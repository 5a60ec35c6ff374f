"""The multilayer perceptron of the MLP assignment: Linear -> activation, repeated, then a Linear head.

Shapes:
    x: (N, in_features) -> logits: (N, out_features)

Layer indices follow ``torch.nn.Sequential``: with ``hidden_sizes=(64, 32)`` the
model is ``[Linear(in, 64), act, Linear(64, 32), act, Linear(32, out)]``, so its
parameters are ``"0.weight", "0.bias", "2.weight", ..., "4.bias"``.

Reference: Goodfellow, Bengio and Courville, *Deep Learning*, ch. 6;
https://pytorch.org/docs/stable/generated/torch.nn.Sequential.html
"""
from __future__ import annotations

import numpy as np

from ..nn import Dropout, Linear, Sequential, make_activation


def make_mlp(in_features: int, hidden_sizes, out_features: int, activation: str = "relu",
             init: str = "he", *, rng: np.random.Generator, dtype=np.float32, scale: float = 1.0,
             dropout: float = 0.0) -> Sequential:
    """A new MLP: ``len(hidden_sizes)`` hidden layers with ``activation``, then a linear output layer.

    Args:
        in_features: size of one input vector (784 for flattened 28x28 images).
        hidden_sizes: width of each hidden layer, e.g. ``(64, 64)``; ``()`` gives a linear model.
        out_features: number of outputs (one logit per class).
        activation: a name of :data:`backproplab.nn.ACTIVATIONS` (``"relu"``, ``"sigmoid"``, ...).
        init: weight scheme of every Linear layer, a name of :data:`backproplab.nn.INIT_NAMES`
            (biases start at zero except for ``"pytorch"``).
        rng: the generator every initial weight is drawn from.
        dtype: parameter dtype.
        scale: standard deviation of the ``"large"`` scheme.
        dropout: if > 0, a :class:`~backproplab.nn.Dropout` with this drop probability after every
            hidden activation (its masks come from a generator spawned from ``rng``); the layer
            indices then shift (``[Linear, act, Dropout, Linear, ...]``).
    """
    hidden_sizes = tuple(int(h) for h in hidden_sizes)
    if any(h <= 0 for h in hidden_sizes):
        raise ValueError(f"make_mlp: hidden sizes must be positive, got {hidden_sizes}")
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"make_mlp: dropout must be in [0, 1), got {dropout}")
    layers = []
    fan_in = int(in_features)
    for width in hidden_sizes:
        layers.append(Linear(fan_in, width, rng=rng, init=init, dtype=dtype, scale=scale))
        act = make_activation(activation)
        if activation == "prelu":
            act.to(dtype)  # its slope parameter is created as float32
        layers.append(act)
        if dropout > 0:
            layers.append(Dropout(dropout, rng=rng.spawn(1)[0]))
        fan_in = width
    layers.append(Linear(fan_in, int(out_features), rng=rng, init=init, dtype=dtype, scale=scale))
    return Sequential(*layers)


def linear_layer_indices(model: Sequential) -> list[int]:
    """Positions of the Linear layers in ``model`` (their parameters are ``"{i}.weight"``)."""
    return [i for i, layer in enumerate(model) if isinstance(layer, Linear)]
