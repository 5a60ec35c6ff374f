"""A small CNN for 28 x 28 grey images (Fashion-MNIST), built from backproplab.nn layers.

    [conv3x3 - BN - ReLU - maxpool2]  (1 -> c1, 28 -> 14)
    [conv3x3 - BN - ReLU - maxpool2]  (c1 -> c2, 14 -> 7)
    [conv3x3 - BN - ReLU]             (c2 -> c3, 7 x 7)      (only if len(channels) == 3)
    Flatten - Linear(c·7·7 -> hidden) - ReLU - Dropout - Linear(hidden -> num_classes)

Convolutions before a BN have no bias (BN's mean subtraction cancels it; BN's β takes its role).
Used by the ``cnn`` lab (training), ``gradcam`` (explanations) and ``committee`` (ensembles).
"""
from __future__ import annotations

import numpy as np

from .. import nn


def make_cnn(rng: np.random.Generator, num_classes: int = 10, channels: tuple[int, ...] = (32, 64, 64),
             hidden: int = 128, dropout: float = 0.3, batchnorm: bool = True, in_channels: int = 1,
             image_size: int = 28, dtype=np.float32) -> nn.Sequential:
    """The CNN above as an ``nn.Sequential``.

    Args:
        rng: generator for every initial weight and the dropout masks.
        num_classes: outputs (logits).
        channels: output channels of the 2 or 3 conv stages; the first two halve the size.
        hidden: width of the hidden fully connected layer; 0 = no hidden layer.
        dropout: drop probability before the last Linear (0 = none).
        batchnorm: BN after every convolution (else the convolutions get biases).
        in_channels, image_size: input (N, in_channels, image_size, image_size); image_size % 4 == 0.

    Shapes: x (N, in_channels, image_size, image_size) -> logits (N, num_classes).
    """
    channels = tuple(int(c) for c in channels)
    if len(channels) not in (2, 3) or min(channels) <= 0:
        raise ValueError(f"make_cnn: channels must list 2 or 3 positive counts, got {channels}")
    if image_size % 4:
        raise ValueError(f"make_cnn: image_size must be a multiple of 4 (two 2x2 poolings), got {image_size}")
    layers: list[nn.Module] = []
    c_in = in_channels
    for stage, c_out in enumerate(channels):
        layers.append(nn.Conv2d(c_in, c_out, 3, padding=1, bias=not batchnorm, rng=rng, dtype=dtype))
        if batchnorm:
            layers.append(nn.BatchNorm2d(c_out, dtype=dtype))
        layers.append(nn.ReLU())
        if stage < 2:
            layers.append(nn.MaxPool2d(2))
        c_in = c_out
    side = image_size // 4
    layers.append(nn.Flatten())
    width = c_in * side * side
    if hidden:
        layers += [nn.Linear(width, hidden, rng=rng, dtype=dtype), nn.ReLU()]
        width = hidden
    if dropout:
        layers.append(nn.Dropout(dropout, rng=rng))
    layers.append(nn.Linear(width, num_classes, rng=rng, dtype=dtype))
    return nn.Sequential(*layers)


#: make_cnn's keyword arguments that a cnn lab run records in its config.json
BUILDER_KEYS = ("num_classes", "channels", "hidden", "dropout", "batchnorm")


def model_from_run(config: dict, state: dict) -> nn.Sequential:
    """Rebuild the model a ``cnn`` lab run trained: its config.json dict and the arrays of its weights .npz."""
    kw = {k: config[k] for k in BUILDER_KEYS if k in config}
    if "channels" in kw:
        kw["channels"] = tuple(kw["channels"])
    model = make_cnn(np.random.default_rng(0), **kw)
    model.load_state_dict(state)
    return model
