"""backproplab.calc: the course's numeric exercises, computed with their working shown.

Each calculator is a pure function returning a :class:`CalcResult` (the answer as
a dict of values plus the working as text lines); ``backproplab calc NAME ...``
prints it (``--json`` for machines). Invalid arguments raise ``ValueError`` with a
message that names the argument.
"""
from .result import CalcResult
from .conv_out import conv_out
from .receptive_field import receptive_field_calc
from .fc_vs_conv import fc_vs_conv
from .params import conv_params, mlp_params
from .macs import bottleneck_macs, conv_macs, inception_macs
from .densenet import densenet_channels
from .init import INIT_FORMULAS, init_stats
from .vanishing_bound import vanishing_bound
from .cnn_gradients import cnn_gradients
from .bn_scale import bn_scale
from .norm_stats import norm_stats
from .unet import unet
from .bilinear import bilinear
from .residual_gradient import residual_gradient
from .newton_cost import newton_cost
from .committee_error import committee_error

__all__ = [
    "CalcResult", "conv_out", "receptive_field_calc", "fc_vs_conv", "conv_params", "mlp_params",
    "conv_macs", "bottleneck_macs", "inception_macs", "densenet_channels", "INIT_FORMULAS", "init_stats",
    "vanishing_bound", "cnn_gradients", "bn_scale", "norm_stats", "unet", "bilinear", "residual_gradient",
    "newton_cost", "committee_error",
]
