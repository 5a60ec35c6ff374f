"""Receptive fields of masked-convolution stacks, computed exactly by backpropagation.

The field of an output pixel p is the set of input pixels q with ∂y(p)/∂x(q) ≠ 0: one backward
pass of a one-hot upstream gradient. To make "≠ 0" mean "connected", every stack here has
positive weights, zero biases and a positive input (ones): every path from q to p then adds a
positive amount, so nothing cancels and no ReLU is off. (A trained network with ReLUs can only
see fewer pixels: an inactive unit cuts its paths.)

Three kinds of stack, each with 1..L layers:

* ``plain``: a type-A masked convolution, then type-B ones (PixelCNN). Its field misses a
  wedge above and to the right of p, growing with depth: the *blind spot*.
* ``dilated``: the same with dilations (1, 2, 4, 8, 1, ...): the field reaches much farther with
  the same number of layers, with holes between the taps, and still has the blind spot.
* ``gated``: the gated PixelCNN's vertical and horizontal stacks
  (:class:`backproplab.nn.GatedPixelCNNLayer`): every pixel above p within reach, and the pixels
  to its left: no blind spot.

Counts (per depth): ``seen`` = input pixels in the field; ``causal_in_box`` = pixels before p in
raster order inside the bounding box of the field; ``blind_spot`` = those of them the field misses.

References: van den Oord et al. 2016b, "Conditional Image Generation with PixelCNN Decoders",
figure 1 (the blind spot); the course homework 001_e12ca10f5d65d730.txt, question 5(d).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import nn

KINDS = ("plain", "dilated", "gated")
DEFAULT_DILATIONS = (1, 2, 4, 8)


@dataclass(frozen=True)
class ReceptiveFields:
    """Fields of one kind of stack at depths 1..L, on a common (S, S) canvas.

    heat: (L, S, S) |∂y(p)/∂x| scaled to max 1 per depth; fields = heat > 0; blind: (L, S, S) the
    blind-spot pixels; pixel: p = (i, j); counts: one dict per depth (layers, seen, causal_in_box,
    blind_spot).
    """

    kind: str
    heat: np.ndarray
    fields: np.ndarray
    blind: np.ndarray
    pixel: tuple[int, int]
    counts: list[dict]


def _positive_weights(model: nn.Module, rng: np.random.Generator) -> nn.Module:
    """Weights U(0.5, 1)/fan_in (positive, activations stay O(1): no tanh saturates), biases 0."""
    for p in model.parameters():
        if p.data.ndim > 1:
            p.data[...] = rng.uniform(0.5, 1.0, p.data.shape) / p.data[0].size
        else:
            p.data[...] = 0.0
    return model


def masked_stack(num_layers: int, kernel_size: int = 3, dilations=(1,), channels: int = 1,
                 first_kernel_size: int | None = None, rng: np.random.Generator | None = None) -> nn.Sequential:
    """A type-A then type-B masked convolution stack (no activations; positive weights), float64.

    ``dilations`` cycles over the layers (layer l has dilations[(l - 1) % len]); ``first_kernel_size``
    defaults to ``kernel_size``. ``rng`` draws the positive weights (default: seed 0).
    """
    rng = rng if rng is not None else np.random.default_rng(0)
    layers = []
    for layer in range(num_layers):
        k = (first_kernel_size or kernel_size) if layer == 0 else kernel_size
        layers.append(nn.MaskedConv2d(1 if layer == 0 else channels, channels, k, "A" if layer == 0 else "B",
                                      dilations[layer % len(dilations)], rng=rng, dtype=np.float64))
    return _positive_weights(nn.Sequential(*layers), rng)


def gated_stack(num_layers: int, kernel_size: int = 3, channels: int = 1,
                rng: np.random.Generator | None = None) -> nn.Sequential:
    """Gated PixelCNN layers (A, then B) ending in the horizontal stack, positive weights, float64."""
    rng = rng if rng is not None else np.random.default_rng(0)
    layers = [nn.GatedPixelCNNLayer(1, channels, kernel_size, "A", rng=rng, dtype=np.float64)]
    layers += [nn.GatedPixelCNNLayer(2 * channels, channels, kernel_size, "B", rng=rng, dtype=np.float64)
               for _ in range(num_layers - 1)]
    return _positive_weights(nn.Sequential(*layers, nn.HorizontalStack()), rng)


def input_gradient(model: nn.Module, x: np.ndarray, pixel: tuple[int, int], channel: int = 0) -> np.ndarray:
    """∂y[0, channel, i, j] / ∂x[0]: (C_in, H, W), by one backward pass of a one-hot dy."""
    y = model.forward(x)
    dy = np.zeros(y.shape, dtype=y.dtype)
    dy[(0, channel) + tuple(pixel)] = 1.0
    model.zero_grad()
    return model.backward(dy)[0]


def _causal_box(field: np.ndarray, pixel: tuple[int, int]) -> np.ndarray:
    """Bool (H, W): the pixels before p in raster order inside the bounding box of ``field``."""
    h, w = field.shape
    rows, cols = np.nonzero(field)
    before = (np.arange(h * w) < pixel[0] * w + pixel[1]).reshape(h, w)
    box = np.zeros_like(field, dtype=bool)
    if rows.size:
        box[rows.min():rows.max() + 1, cols.min():cols.max() + 1] = True
    return box & before


def blind_spot(field: np.ndarray, pixel: tuple[int, int]) -> np.ndarray:
    """Bool (H, W): pixels before p, inside the bounding box of the bool ``field``, that it misses."""
    return _causal_box(field, pixel) & ~field


def field_counts(field: np.ndarray, pixel: tuple[int, int]) -> dict:
    """Counts of one bool (H, W) field of output pixel p: seen, causal_in_box, blind_spot (see module doc)."""
    causal = _causal_box(field, pixel)
    return {"seen": int(field.sum()), "causal_in_box": int(causal.sum()), "blind_spot": int((causal & ~field).sum())}


def _reach(kind: str, num_layers: int, kernel_size: int, dilations) -> int:
    """How far (pixels) a stack's field can extend from p upwards or sideways."""
    ds = [dilations[layer % len(dilations)] for layer in range(num_layers)] if kind == "dilated" else [1] * num_layers
    return sum(kernel_size // 2 * d for d in ds) + (1 if kind == "gated" else 0)  # +1: the vertical stack's shift


def receptive_fields(kind: str, max_layers: int = 8, kernel_size: int = 3, dilations=DEFAULT_DILATIONS,
                     channels: int = 1) -> ReceptiveFields:
    """Fields of output pixel p of a ``kind`` stack ('plain', 'dilated' or 'gated') of 1..max_layers layers.

    The canvas is (S, S), S = 2R + 3 with R the deepest stack's reach, and p = (R + 1, R + 1): no field
    touches a border, and the rows below p (empty: causality) show in a heatmap.
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    if max_layers < 1:
        raise ValueError(f"max_layers must be >= 1, got {max_layers}")
    reach = _reach(kind, max_layers, kernel_size, dilations)
    size, centre = 2 * reach + 3, reach + 1
    x = np.ones((1, 1, size, size))
    heat, counts = [], []
    for depth in range(1, max_layers + 1):
        if kind == "gated":
            model = gated_stack(depth, kernel_size, channels)
        else:
            model = masked_stack(depth, kernel_size, dilations if kind == "dilated" else (1,), channels)
        g = np.abs(input_gradient(model, x, (centre, centre))).sum(axis=0)
        heat.append(g / g.max())
        counts.append({"layers": depth, **field_counts(g > 0, (centre, centre))})
    heat = np.stack(heat)
    fields = heat > 0
    blind = np.stack([blind_spot(f, (centre, centre)) for f in fields])
    return ReceptiveFields(kind, heat, fields, blind, (centre, centre), counts)

