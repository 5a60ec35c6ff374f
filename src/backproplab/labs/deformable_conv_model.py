"""The deformable-conv lab's network, data and training task (one task per network).

Network (no pooling, so every unit of the last layer can be followed down to image pixels by
:func:`backproplab.data.geometric.deformable_sampling_points`)::

    conv 3x3 (1 -> c1), stride 1 - BN - ReLU        28 x 28
    conv 3x3 (c1 -> c2), stride 2 - BN - ReLU       14 x 14
    conv 3x3 (c2 -> c3), stride 1 - BN - ReLU       14 x 14
    conv 3x3 (c3 -> c4), stride 2 - BN - ReLU        7 x 7
    global average pool - Linear (c4 -> classes)

The deformable network replaces the last ``deformable_layers`` convolutions by
:class:`backproplab.nn.DeformConv2d` with the same shapes. Their offset branches start at zero
and they draw their weights from the generator exactly as ``Conv2d`` does, so both networks
built from one seed start as the same function (the run checks it); training then differs only
by what the offsets learn.

Reference: Dai et al. 2017, "Deformable Convolutional Networks", ICCV (section 4: deformable
layers replace the last convolutions of the backbone).
"""
from __future__ import annotations

import functools
import time

import numpy as np

from .. import nn
from . import progress
from .deformable_conv_analysis import model_analysis

KINDS = ("plain", "deformable")
STRIDES = (1, 2, 1, 2)


def make_network(kind: str, channels, num_classes: int, deformable_layers: int, modulation: bool,
                 rng: np.random.Generator) -> nn.Sequential:
    """The network above; ``kind`` 'plain' or 'deformable'. x (N, 1, 28, 28) -> logits (N, classes)."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    layers, cin = [], 1
    first_deformable = len(STRIDES) - deformable_layers
    for i, (cout, stride) in enumerate(zip(channels, STRIDES)):
        if kind == "deformable" and i >= first_deformable:
            layers.append(nn.DeformConv2d(cin, cout, 3, stride, 1, modulation=modulation, rng=rng))
        else:
            layers.append(nn.Conv2d(cin, cout, 3, stride, 1, rng=rng))
        layers += [nn.BatchNorm2d(cout), nn.ReLU()]
        cin = cout
    layers += [nn.GlobalAvgPool2d(), nn.Flatten(), nn.Linear(cin, num_classes, rng=rng)]
    return nn.Sequential(*layers)


# -- data --------------------------------------------------------------------------------------------------
def load_data(config) -> dict:
    """Subset of Fashion-MNIST (images (N, 1, 28, 28)), transformed training images (if asked), and the
    test images both as they are and randomly transformed, with the transforms. Read once per process."""
    from ..data.fashion_mnist import data_folder

    return _data(config.classes, data_folder(config.data_dir), config.train_size, config.test_size, config.seed,
                 config.transform_train, config.max_rotation, config.scale_range, config.max_translation)


@functools.lru_cache(maxsize=2)
def _data(classes, data_dir, train_size, test_size, seed, transform_train, max_rotation, scale_range,
          max_translation) -> dict:
    from ..data import load_fashion_mnist, parse_classes
    from ..data.geometric import random_geometric

    ds = load_fashion_mnist(classes=parse_classes(classes), data_dir=data_dir, flatten=False)
    ds = ds.subset(train_size, np.random.default_rng([seed, 1]), test_size)
    ranges = {"max_rotation": max_rotation, "scale_range": tuple(scale_range), "max_translation": max_translation}
    x_train = ds.x_train
    if transform_train:
        x_train = random_geometric(ds.x_train, np.random.default_rng([seed, 2]), **ranges)[0]
    x_moved, params = random_geometric(ds.x_test, np.random.default_rng([seed, 3]), **ranges)
    return {"dataset": ds, "x_train": x_train, "y_train": ds.y_train, "x_test": ds.x_test,
            "x_test_moved": x_moved, "y_test": ds.y_test, "params": params}


# -- one network, trained and measured (a task of the run) ----------------------------------------------------
def train_network(config, kind: str) -> dict:
    """Train network ``kind`` on the lab's data and measure it; JSON-able. Both kinds use the same
    generators (weights from [seed, 0], batch order from [seed, 1]): the same start and the same batches."""
    from ..optim import Adam
    from ..train import Trainer, TrainingDiverged
    from ..utils.cores import single_threaded_blas

    data = load_data(config)
    ds = data["dataset"]
    model = make_network(kind, config.channels, ds.num_classes, config.deformable_layers, config.modulation,
                         np.random.default_rng([config.seed, 0]))
    trainer = Trainer(model, nn.CrossEntropyLoss(), Adam(model.parameters(), lr=config.lr),
                      batch_size=config.batch_size, num_epochs=config.num_epochs,
                      rng=np.random.default_rng([config.seed, 1]), eval_train=False, record_steps=True,
                      callbacks=[progress.current().training(kind)])
    diverged = None
    # one BLAS thread: these are small products, and a second thread on a busy machine costs more than it gains
    with single_threaded_blas():
        t0 = time.perf_counter()
        try:
            with np.errstate(over="ignore", invalid="ignore"):
                trainer.fit(data["x_train"], data["y_train"], data["x_test_moved"], data["y_test"])
        except TrainingDiverged as e:
            diverged = str(e)
        train_time = time.perf_counter() - t0
        result = {"kind": kind, "history": trainer.history.to_dict(), "diverged": diverged,
                  "train_time_s": train_time, "steps": int(sum(trainer.history.epoch_steps)),
                  "num_parameters": int(sum(p.data.size for p in model.parameters()))}
        if diverged is None:
            result.update(model_analysis(model, data, config))
    return result


def start_difference(config, num_images: int = 64) -> dict:
    """Both networks as built (before training) on test images: the largest logit difference and the
    largest offset of the deformable one (both 0: a new deformable layer is a plain convolution)."""
    data = load_data(config)
    x = data["x_test_moved"][:num_images]
    nets = {kind: make_network(kind, config.channels, data["dataset"].num_classes, config.deformable_layers,
                               config.modulation, np.random.default_rng([config.seed, 0])) for kind in KINDS}
    logits = {}
    for kind, net in nets.items():
        net.eval()
        logits[kind] = net.forward(x)
    offsets = [m.offset for m in nets["deformable"].modules() if isinstance(m, nn.DeformConv2d)]
    branch = next(m for m in nets["deformable"].modules() if isinstance(m, nn.DeformConv2d)).conv_offset
    return {"max_logit_difference": float(np.abs(logits["plain"] - logits["deformable"]).max()),
            "max_offset": float(max(np.abs(o).max() for o in offsets)),
            "offset_branch": {"in_channels": branch.in_channels, "out_channels": branch.out_channels,
                              "kernel_size": list(branch.kernel_size), "stride": list(branch.stride),
                              "padding": branch.padding,
                              "weight_abs_max": float(np.abs(branch.weight.data).max())}}
