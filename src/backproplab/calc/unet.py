"""Feature-map sizes and conv parameters down a U-Net encoder.

The encoder has one level per entry of ``channels``; each level is two 3x3 convolutions
('same' padding, so the size is kept; the original paper used unpadded ones) and every level but
the last is followed by a 2x2 max-pool with stride 2, which halves the size
(floor(s/2), the pooling output size). With L levels the deepest map is input/2^(L-1) per axis.

Parameters of a k×k conv from c_in to c_out channels: k·k·c_in·c_out weights + c_out biases.

Reference: Ronneberger, Fischer & Brox 2015, "U-Net: convolutional networks for biomedical image
segmentation" (Figure 1: 5 levels with 64, 128, 256, 512, 1024 channels, 4 poolings).
"""
from __future__ import annotations

from .result import CalcResult, check_int, check_list, fmt


def unet(input_size, channels=(64, 128, 256, 512, 1024), in_channels=1, kernel_size=3) -> CalcResult:
    """Size, pixel count and the two convs' parameters of every encoder level.

    Returns values ``levels`` [{level, size, pixels, channels, convs: [{in_channels, out_channels, params}]}],
    ``bottleneck_size``, ``bottleneck_pixels``, ``convs`` (every conv in order, numbered from 1).
    """
    size = check_int("input_size", input_size)
    chans = check_list("channels", channels)
    c_in = check_int("in_channels", in_channels)
    k = check_int("kernel_size", kernel_size)
    if size < 2 ** (len(chans) - 1):
        raise ValueError(f"input_size {size} is too small for {len(chans) - 1} halvings; use at least "
                         f"{2 ** (len(chans) - 1)} or fewer levels")
    steps = [f"input {size}x{size}x{c_in}; each level: two {k}x{k} 'same' convs, then a 2x2 max-pool /2 "
             f"(not after the last level)"]
    levels, convs, prev = [], [], c_in
    for lvl, c in enumerate(chans, start=1):
        level_convs = []
        for a, b in ((prev, c), (c, c)):
            p = k * k * a * b + b
            level_convs.append({"in_channels": a, "out_channels": b, "params": p})
            convs.append({"conv": len(convs) + 1, "level": lvl, "in_channels": a, "out_channels": b, "params": p})
        levels.append({"level": lvl, "size": size, "pixels": size * size, "channels": c, "convs": level_convs})
        steps.append(f"level {lvl}: {size}x{size} = {fmt(size * size)} pixels x {c} channels; convs "
                     + ", ".join(f"{a['in_channels']}→{a['out_channels']}: {k}·{k}·{a['in_channels']}·"
                                 f"{a['out_channels']} + {a['out_channels']} = {fmt(a['params'])}"
                                 for a in level_convs))
        prev = c
        if lvl < len(chans):
            size //= 2
    steps.append(f"deepest level: {size}x{size} = {fmt(size * size)} pixels per channel "
                 f"({len(chans) - 1} halvings of {levels[0]['size']})")
    return CalcResult(name="unet", inputs={"input_size": levels[0]["size"], "channels": chans,
                                           "in_channels": c_in, "kernel_size": k},
                      values={"levels": levels, "bottleneck_size": size, "bottleneck_pixels": size * size,
                              "convs": convs},
                      steps=steps)
