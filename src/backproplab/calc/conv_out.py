"""Output size of a convolution or pooling layer, per spatial axis.

    out = floor((in + 2·padding - dilation·(kernel_size - 1) - 1) / stride) + 1

(the formula of torch.nn.Conv2d; with dilation 1 it is the familiar
floor((in + 2p - k)/s) + 1). Reference: Dumoulin & Visin 2016, "A guide to
convolution arithmetic for deep learning";
https://pytorch.org/docs/stable/generated/torch.nn.Conv2d.html
"""
from __future__ import annotations

from .result import CalcResult, check_pair


def conv_out(input_size, kernel_size, stride=1, padding=0, dilation=1) -> CalcResult:
    """Output (h, w) of a convolution.

    Args:
        input_size, kernel_size, stride, padding, dilation: an int (both axes) or an (h, w) pair;
            PyTorch's meanings (dilation 1 = ordinary convolution, padding on each side).

    Returns:
        values ``output_size`` [h, w], ``effective_kernel`` [h, w], ``leftover`` [h, w] (input
        pixels at the bottom/right that no window reaches because of the stride).
    """
    n = check_pair("input_size", input_size)
    k = check_pair("kernel_size", kernel_size)
    s = check_pair("stride", stride)
    p = check_pair("padding", padding, minimum=0)
    d = check_pair("dilation", dilation)
    out, eff, left, steps = [], [], [], []
    for axis, ni, ki, si, pi, di in zip(("h", "w"), n, k, s, p, d):
        e = di * (ki - 1) + 1  # span of the dilated kernel
        padded = ni + 2 * pi
        if e > padded:
            raise ValueError(
                f"kernel_size {ki} (dilated span {e}) is larger than the padded input_size {ni}+2·{pi}={padded} "
                f"along {axis}; use a smaller kernel_size or dilation, or more padding"
            )
        o = (padded - e) // si + 1
        rest = (padded - e) % si
        steps.append(f"axis {axis}: effective kernel = dilation·(k-1)+1 = {di}·({ki}-1)+1 = {e}")
        steps.append(f"axis {axis}: out = floor((in + 2p - eff)/s) + 1 = floor(({ni} + 2·{pi} - {e})/{si}) + 1"
                     f" = floor({padded - e}/{si}) + 1 = {o}")
        if rest:
            steps.append(f"axis {axis}: note: ({padded - e}) mod {si} = {rest}, so the last {rest} padded pixel(s)"
                         " are never covered by a window")
        out.append(o)
        eff.append(e)
        left.append(rest)
    steps.append(f"output size: {out[0]} x {out[1]}")
    return CalcResult(
        name="conv-out",
        inputs={"input_size": list(n), "kernel_size": list(k), "stride": list(s), "padding": list(p),
                "dilation": list(d)},
        values={"output_size": out, "effective_kernel": eff, "leftover": left},
        steps=steps,
    )
