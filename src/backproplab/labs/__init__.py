"""The labs: one module each, found by name (imported lazily so one lab's extra
dependency, e.g. PyTorch for ``mobilenet``, never breaks the others).

What a lab module defines (NAME, Config, ``run``, ``report``): CONTRIBUTING.md, "Add a lab".
"""
from __future__ import annotations

import importlib

#: CLI name -> module (relative to this package)
LABS = {
    # MLP assignment labs (document 004)
    "activations": "activations",
    "init": "init_lab",
    "optimizers": "optimizers",
    "l2": "l2",
    # convolution labs
    "residual-walkthrough": "residual_walkthrough",
    "conv-gradients": "conv_gradients",
    "dilated-conv": "dilated_conv",
    "batchnorm": "batchnorm",
    "gradcam": "gradcam",
    "cnn": "cnn",
    # theory labs
    "quadratic": "quadratic",
    "batch-size": "batch_size",
    "bn-noise": "bn_noise",
    "gaussian-dropout": "gaussian_dropout",
    "logistic-vs-softmax": "logistic_vs_softmax",
    "adam-bias": "adam_bias",
    "saturation": "saturation",
    "graph": "graph",
    # sequence, PyTorch and ensemble labs
    "rnn-sentiment": "rnn_sentiment",
    "mobilenet": "mobilenet",
    "committee": "committee",
}

#: groups runnable as ``backproplab lab GROUP``; ``all`` is the MLP assignment
GROUPS = {
    "all": ["activations", "init", "optimizers", "l2"],
}


def load_lab(name: str):
    """The lab module for CLI name ``name``; a clear error for unknown names."""
    if name not in LABS:
        known = ", ".join(sorted(LABS) + sorted(GROUPS))
        raise SystemExit(f"backproplab: unknown lab {name!r}; known labs: {known}")
    return importlib.import_module(f"{__name__}.{LABS[name]}")
