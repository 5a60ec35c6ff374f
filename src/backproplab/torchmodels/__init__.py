"""PyTorch models of the MobileNet lab (needs the optional extra: ``pip install 'backproplab[torch]'``).

Nothing in ``backproplab`` imports this package except the ``mobilenet`` lab, so the
NumPy library works without PyTorch.

- :class:`MobileNetV1` -- depthwise separable convolutions (Howard et al. 2017)
- :class:`MobileNetV2` -- inverted residuals and linear bottlenecks (Sandler et al. 2018)
- :class:`PlainCNN` -- V1's layout with standard convolutions (the paper's "Conv MobileNet")
- :func:`count_macs` -- parameters and multiply-accumulates via forward hooks
- :func:`build_model` -- one of the three by name ('cnn', 'v1', 'v2')
- :func:`count_model` -- :func:`count_macs` of one of them, built on the 'meta' device (no memory)
"""
from __future__ import annotations

from .counting import LayerCost, ModelCost, count_macs, count_params, separable_cost_ratio
from .mobilenet_v1 import MobileNetV1
from .mobilenet_v2 import MobileNetV2
from .plain_cnn import PlainCNN

#: lab name -> model class
MODELS = {"cnn": PlainCNN, "v1": MobileNetV1, "v2": MobileNetV2}


def build_model(name: str, width_mult: float = 1.0, num_classes: int = 1000, input_size: int = 224, **kwargs):
    """``MODELS[name](width_mult, num_classes, input_size, **kwargs)`` with a clear error for unknown names."""
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; choose one of {', '.join(MODELS)}")
    return MODELS[name](width_mult, num_classes, input_size, **kwargs)


def count_model(name: str, width_mult: float = 1.0, num_classes: int = 1000, input_size: int = 224, *,
                in_channels: int = 3, **kwargs) -> ModelCost:
    """MACs and parameters of ``build_model(name, ...)`` for (in_channels, input_size, input_size) inputs.

    The model is built on PyTorch's 'meta' device: tensors with shapes and no data, so even the
    29M-parameter plain CNN at 224x224 is counted in milliseconds without memory or initialization.
    """
    import torch

    with torch.device("meta"):
        model = build_model(name, width_mult, num_classes, input_size, in_channels=in_channels, **kwargs)
    return count_macs(model, (in_channels, input_size, input_size))


__all__ = ["MobileNetV1", "MobileNetV2", "PlainCNN", "MODELS", "build_model", "count_macs", "count_params",
           "separable_cost_ratio", "LayerCost", "ModelCost", "count_model"]
