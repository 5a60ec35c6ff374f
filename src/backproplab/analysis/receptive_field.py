"""The receptive field of a stack of convolutions, by formula (no network needed).

For layers l = 1..L with kernel size k_l, dilation d_l and stride s_l (one axis):

    jump_0 = 1,  R_0 = 1
    R_l    = R_{l-1} + (k_l - 1) * d_l * jump_{l-1}     (extent, in input pixels)
    jump_l = jump_{l-1} * s_l                           (input pixels between neighbouring outputs)

R_l is the *extent* (span from the first to the last input pixel an output unit
depends on). With dilation a unit may not see every pixel inside that span (the
"gridding" holes); :func:`seen_offsets` lists the pixels it does see: the tap
offsets of layer l are {0, d_l, 2 d_l, ..., (k_l-1) d_l} * jump_{l-1}, and the
offsets of the stack are all sums of one tap per layer. For square kernels the 2-D
counts are the 1-D counts squared.

References: Dumoulin & Visin 2016, "A guide to convolution arithmetic for deep
learning"; Yu & Koltun 2016, "Multi-scale context aggregation by dilated
convolutions" (the 3, 7, 15 example of dilations 1, 2, 4); Araujo et al. 2019,
"Computing receptive fields of convolutional neural networks", Distill.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Sequence


@dataclass(frozen=True)
class LayerRF:
    """Receptive-field numbers after one layer (one spatial axis)."""

    layer: int          # 1-based layer index
    kernel_size: int
    dilation: int
    stride: int
    jump: int           # jump_l: input pixels between neighbouring output units
    extent: int         # R_l: span of input pixels, first to last
    seen: int           # input pixels actually used inside that span (<= extent)

    def to_dict(self) -> dict:
        return asdict(self)


def _as_list(name: str, values, n: int | None, default: int) -> list[int]:
    """Validate a per-layer list of positive ints (``None`` -> ``default`` per layer)."""
    if values is None:
        if n is None:
            raise ValueError(f"{name} must be given")
        return [default] * n
    if isinstance(values, int):
        values = [values] * (n if n is not None else 1)
    out = []
    for i, v in enumerate(values):
        if isinstance(v, bool) or int(v) != v:
            raise ValueError(f"{name}[{i}] must be an integer, got {v!r}")
        if v < 1:
            raise ValueError(f"{name}[{i}] must be >= 1, got {v}")
        out.append(int(v))
    if n is not None and len(out) != n:
        raise ValueError(f"{name} has {len(out)} entries but kernel_sizes has {n}; give one per layer")
    return out


def _validate(kernel_sizes, strides, dilations) -> tuple[list[int], list[int], list[int]]:
    ks = _as_list("kernel_sizes", kernel_sizes, None, 1)
    if not ks:
        raise ValueError("kernel_sizes must list at least one layer")
    return ks, _as_list("strides", strides, len(ks), 1), _as_list("dilations", dilations, len(ks), 1)


def seen_offsets(kernel_sizes: Sequence[int], strides: Sequence[int] | None = None,
                 dilations: Sequence[int] | None = None) -> list[set[int]]:
    """Input offsets (relative to the first one) seen by one output unit, after each layer (one axis)."""
    ks, ss, ds = _validate(kernel_sizes, strides, dilations)
    offsets = {0}
    jump = 1
    out = []
    for k, s, d in zip(ks, ss, ds):
        taps = [t * d * jump for t in range(k)]
        offsets = {o + t for o in offsets for t in taps}
        out.append(offsets)
        jump *= s
    return out


def receptive_field(kernel_sizes: Sequence[int], strides: Sequence[int] | None = None,
                    dilations: Sequence[int] | None = None) -> list[LayerRF]:
    """Per-layer receptive field of a stack of convolutions (one spatial axis).

    Args:
        kernel_sizes: k_l for each layer (>= 1).
        strides: s_l per layer (default 1 each).
        dilations: d_l per layer (default 1 each; PyTorch's convention, 1 = no holes).

    Returns:
        one :class:`LayerRF` per layer; ``[-1].extent`` is the stack's receptive field.
    """
    ks, ss, ds = _validate(kernel_sizes, strides, dilations)
    seen = seen_offsets(ks, ss, ds)
    rows = []
    extent, jump = 1, 1
    for i, (k, s, d) in enumerate(zip(ks, ss, ds)):
        extent = extent + (k - 1) * d * jump
        jump = jump * s
        rows.append(LayerRF(layer=i + 1, kernel_size=k, dilation=d, stride=s, jump=jump, extent=extent,
                            seen=len(seen[i])))
    return rows


def receptive_field_size(kernel_sizes: Sequence[int], strides: Sequence[int] | None = None,
                         dilations: Sequence[int] | None = None) -> int:
    """The extent R_L of the whole stack (one axis)."""
    return receptive_field(kernel_sizes, strides, dilations)[-1].extent
