"""Standard deviation and uniform limits of the common weight initializations.

Fans follow PyTorch: a dense weight (out, in) has fan_in = in, fan_out = out; a conv
weight (out, in, k, k) has fan_in = in·k², fan_out = out·k². A uniform U(-a, a) has
std a/√3.

References: LeCun et al. 1998, "Efficient BackProp"; Glorot & Bengio 2010,
"Understanding the difficulty of training deep feedforward neural networks";
He et al. 2015, "Delving deep into rectifiers"; https://pytorch.org/docs/stable/nn.init.html
"""
from __future__ import annotations

import math

from .result import CalcResult, check_int, check_pair

#: name -> (distribution, variance formula as text, variance as a function of (fan_in, fan_out))
INIT_FORMULAS = {
    "glorot_uniform": ("uniform", "2/(fan_in+fan_out)", lambda fi, fo: 2.0 / (fi + fo)),
    "glorot_normal": ("normal", "2/(fan_in+fan_out)", lambda fi, fo: 2.0 / (fi + fo)),
    "he_normal": ("normal", "2/fan_in", lambda fi, fo: 2.0 / fi),
    "he_uniform": ("uniform", "2/fan_in", lambda fi, fo: 2.0 / fi),
    "lecun_normal": ("normal", "1/fan_in", lambda fi, fo: 1.0 / fi),
    "lecun_uniform": ("uniform", "1/fan_in", lambda fi, fo: 1.0 / fi),
    "pytorch": ("uniform", "1/(3·fan_in)", lambda fi, fo: 1.0 / (3.0 * fi)),
}
#: other names accepted, and what they mean (the library's "xavier" is the assignment's N(0, 1/fan_in))
ALIASES = {
    "xavier_uniform": "glorot_uniform", "xavier_normal": "glorot_normal", "kaiming_normal": "he_normal",
    "kaiming_uniform": "he_uniform", "he": "he_normal", "xavier": "lecun_normal", "lecun": "lecun_normal",
}


def init_stats(name, in_channels, out_channels, kernel_size=None) -> CalcResult:
    """Std (and the uniform limit a) of initialization ``name`` for one layer.

    Args:
        name: a key of :data:`INIT_FORMULAS`, an alias in :data:`ALIASES`, or ``"all"``.
        in_channels, out_channels: the layer's input and output width (features or channels).
        kernel_size: None for a dense layer, else the conv kernel (int or (kh, kw)).

    Returns values ``fan_in``, ``fan_out`` and ``schemes`` {name: {distribution, variance, std, limit}}
    (``limit`` = a of U(-a, a), None for normal schemes).
    """
    key = str(name).lower().replace("-", "_")
    names = list(INIT_FORMULAS) if key == "all" else [ALIASES.get(key, key)]
    if names[0] not in INIT_FORMULAS:
        known = ", ".join(list(INIT_FORMULAS) + list(ALIASES) + ["all"])
        raise ValueError(f"unknown init name {name!r}; choose one of {known}")
    cin = check_int("in_channels", in_channels)
    cout = check_int("out_channels", out_channels)
    if kernel_size is None:
        kh = kw = 1
        steps = [f"dense layer, weight ({cout}, {cin}): fan_in = {cin}, fan_out = {cout}"]
    else:
        kh, kw = check_pair("kernel_size", kernel_size)
        steps = [f"conv layer, weight ({cout}, {cin}, {kh}, {kw}): fan_in = {cin}·{kh}·{kw} = {cin * kh * kw}, "
                 f"fan_out = {cout}·{kh}·{kw} = {cout * kh * kw}"]
    fi, fo = cin * kh * kw, cout * kh * kw
    if key in ALIASES:
        steps.append(f"{key!r} means {ALIASES[key]}"
                     + (" (the assignment's 'Xavier' N(0, 1/fan_in), as backproplab.nn.init; Glorot & Bengio's "
                        "is glorot_uniform / glorot_normal)" if key == "xavier" else ""))
    schemes = {}
    for n in names:
        dist, text, var_fn = INIT_FORMULAS[n]
        var = var_fn(fi, fo)
        std = math.sqrt(var)
        limit = math.sqrt(3.0 * var) if dist == "uniform" else None
        schemes[n] = {"distribution": dist, "variance": var, "std": std, "limit": limit}
        line = f"{n}: Var = {text} = {var:.6g}, std = {std:.6g}"
        if limit is not None:
            line += f", U(-a, a) with a = sqrt(3·Var) = {limit:.6g}"
        else:
            line += f", N(0, {std:.6g}²)"
        steps.append(line)
    return CalcResult(name="init",
                      inputs={"name": key, "in_channels": cin, "out_channels": cout,
                              "kernel_size": None if kernel_size is None else [kh, kw]},
                      values={"fan_in": fi, "fan_out": fo, "schemes": schemes}, steps=steps)
