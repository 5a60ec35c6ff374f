"""What the deformable-conv lab measures on a trained network: accuracy, where the taps land, the offsets.

* accuracy on the test images as they are and randomly moved (rotation, scale, translation), with the
  per-image hits kept (for the paired uncertainty of the difference between the networks);
* the sampling points of the centre unit of the last layer: the taps of the last
  ``deformable_layers`` convolutions, followed down the stack
  (:func:`backproplab.data.geometric.deformable_sampling_points`) and placed in the image at the
  centre of the plain layers below them; their spread (root-mean-square distance from their mean,
  image pixels) per image;
* the same on the test images rescaled by fixed factors (no rotation or translation), a
  controlled look at how the points follow an object's size, with the accuracy at each factor;
* the offsets themselves: mean |Δp| per deformable layer (in pixels of the layer's input and of
  the image), on the images as they are and moved.

Statistics: :func:`pearson_with_ci` (Fisher's z interval), :func:`paired_difference` (the
standard error of a difference of two accuracies measured on the same test images).

Reference: Dai et al. 2017, "Deformable Convolutional Networks", ICCV, section 4 and figures 5-6.
"""
from __future__ import annotations

import math

import numpy as np

from .. import nn

#: scale factors of the controlled sweep (1 = the test images as they are)
SWEEP_SCALES = (0.7, 0.85, 1.0, 1.15, 1.3)


def conv_stack(model) -> list:
    """The layers of a ``nn.Sequential`` from the input up to its global pooling (the convolutional part)."""
    layers = list(model)
    return layers[:next(i for i, m in enumerate(layers) if isinstance(m, nn.GlobalAvgPool2d))]


def predictions(model, x: np.ndarray, batch_size: int = 500) -> np.ndarray:
    """Predicted class ids (N,) of images x (N, 1, 28, 28), in eval mode."""
    model.eval()
    return np.concatenate([model.forward(x[i:i + batch_size]).argmax(axis=1) for i in range(0, len(x), batch_size)])


def unit_points(layers, images: np.ndarray, unit: tuple[int, int], depth: int) -> np.ndarray:
    """(N, 9^depth, 2) image positions (row, column) the taps of the last ``depth`` convolutions of ``layers``
    read for output unit ``unit`` of each image of images (N, 1, H, W); layers in eval mode.

    The library lists the points level by level down to the image; the points of level ``depth`` are
    on the grid of the first followed layer's input, and each is placed at the mean of the image
    positions below it, the centre of the plain (odd, symmetric) kernels under it.
    """
    from ..data.geometric import deformable_sampling_points_batch

    out = []
    for levels in deformable_sampling_points_batch(layers, images, unit):
        points, bottom = levels[depth], levels[-1]
        out.append(bottom.reshape(len(points), -1, 2).mean(axis=1))
    return np.stack(out)


def spread(points: np.ndarray) -> float:
    """Root-mean-square distance of points (P, 2) from their mean."""
    return float(np.sqrt(((points - points.mean(axis=0)) ** 2).sum(axis=1).mean()))


def outside_share(points: np.ndarray, shape) -> float:
    """Share of points (..., 2) outside the image of ``shape`` (H, W): beyond half a pixel from its edge
    pixels, where the input is the zero padding."""
    h, w = shape
    rows, cols = points[..., 0], points[..., 1]
    return float(((rows < -0.5) | (rows > h - 0.5) | (cols < -0.5) | (cols > w - 0.5)).mean())


def centre_unit(layers, image: np.ndarray) -> tuple[int, int]:
    """The middle unit of the last layer's output grid for an image (1, 1, H, W)."""
    x = image
    for layer in layers:
        x = layer.forward(x)
    return x.shape[2] // 2, x.shape[3] // 2


def offset_stats(model, x: np.ndarray, input_strides: list[int]) -> list[dict]:
    """Per DeformConv2d: mean |Δp| and the mean offset vector over images x, every tap and position.

    |Δp| is the length of one tap's (Δh, Δw), in pixels of the layer's input; ``input_strides`` gives
    how many image pixels one such pixel spans, per deformable layer.
    """
    model.eval()
    model.forward(x)
    stats = []
    for layer, stride in zip([m for m in model.modules() if isinstance(m, nn.DeformConv2d)], input_strides):
        off = layer.offset  # (N, 2K, Ho, Wo): (Δh, Δw) pairs per tap
        pairs = off.reshape(off.shape[0], -1, 2, *off.shape[2:])  # (N, K, 2, Ho, Wo)
        norm = np.sqrt((pairs.astype(np.float64) ** 2).sum(axis=2))
        stats.append({"mean_abs": float(norm.mean()), "mean_abs_image": float(norm.mean() * stride),
                      "p90_abs": float(np.percentile(norm, 90)), "share_above_1": float((norm > 1).mean()),
                      "mean_dh": float(pairs[:, :, 0].mean()), "mean_dw": float(pairs[:, :, 1].mean()),
                      "input_stride": stride})
    return stats


def deformable_input_strides(model) -> list[int]:
    """Image pixels per input pixel of each DeformConv2d (the product of the strides below it)."""
    strides, total = [], 1
    for m in model.modules():
        if isinstance(m, nn.DeformConv2d):
            strides.append(total)
        if isinstance(m, (nn.Conv2d, nn.DeformConv2d)):
            total *= m.stride[0]
    return strides


def tap_example(model, image: np.ndarray) -> dict:
    """The centre tap of the first deformable layer at its centre output unit, for one image (1, 1, H, W):
    where a plain convolution reads, the learned offset, where the layer reads instead, and the four
    bilinear weights G(q, p) = g(q_h, p_h)·g(q_w, p_w), g(a, b) = max(0, 1 - |a - b|) (Dai et al. 2017, eq. 4)."""
    from ..calc.bilinear import hat

    model.eval()
    model.forward(image)
    layer = next(m for m in model.modules() if isinstance(m, nn.DeformConv2d))
    kh, kw = layer.kernel_size
    _n, _c, ho, wo = layer.offset.shape
    i, j, k = ho // 2, wo // 2, (kh // 2) * kw + kw // 2  # centre unit, centre tap
    dh, dw = (float(v) for v in layer.offset[0, 2 * k:2 * k + 2, i, j])
    pad = layer.padding if isinstance(layer.padding, int) else 0
    regular = (i * layer.stride[0] - pad + kh // 2 * layer.dilation[0],
               j * layer.stride[1] - pad + kw // 2 * layer.dilation[1])
    p = (regular[0] + dh, regular[1] + dw)
    h0, w0 = math.floor(p[0]), math.floor(p[1])
    weights = [{"q": [qh, qw], "weight": hat(qh, p[0]) * hat(qw, p[1])} for qh in (h0, h0 + 1) for qw in (w0, w0 + 1)]
    return {"unit": [i, j], "regular": list(regular), "offset": [dh, dw], "point": list(p), "weights": weights,
            "input_stride": deformable_input_strides(model)[0]}


def _points_and_spreads(layers, images: np.ndarray, depth: int, batch_size: int = 250) -> tuple[np.ndarray, list]:
    unit = centre_unit(layers, images[:1])
    points = np.concatenate([unit_points(layers, images[i:i + batch_size], unit, depth)
                             for i in range(0, len(images), batch_size)])
    return points, [spread(p) for p in points]


def model_analysis(model, data: dict, config) -> dict:
    """Everything the report needs from one trained network (JSON-able)."""
    from ..data.geometric import AffineParams, transform_images

    model.eval()
    y = data["y_test"]
    hits = {name: predictions(model, data[key]) == y for name, key in (("original", "x_test"),
                                                                      ("moved", "x_test_moved"))}
    layers, depth = conv_stack(model), config.deformable_layers
    n = min(config.analysis_size, len(y))
    moved_points, moved_spread = _points_and_spreads(layers, data["x_test_moved"][:n], depth)
    sweep = []
    base = data["x_test"][:n]
    for s in SWEEP_SCALES:
        params = AffineParams(np.zeros(n), np.full(n, s), np.zeros((n, 2)))
        scaled = base if s == 1.0 else transform_images(base, params)
        points, spreads = _points_and_spreads(layers, scaled, depth)
        hit = predictions(model, scaled) == y[:n]
        sweep.append({"scale": s, "accuracy": float(hit.mean()), "hits": hit.astype(int).tolist(),
                      "spread_mean": float(np.mean(spreads)),
                      "spread_se": float(np.std(spreads, ddof=1) / math.sqrt(n)) if n > 1 else 0.0,
                      "points_first": points[0].tolist()})
    shown = min(config.num_shown, n)
    result = {"hits": {k: v.astype(int).tolist() for k, v in hits.items()},
              "accuracy": {k: float(v.mean()) for k, v in hits.items()},
              "spread_moved": moved_spread, "outside_share": outside_share(moved_points, data["x_test"].shape[2:]),
              "shown_points": [p.tolist() for p in moved_points[:shown]],
              "sweep": sweep, "depth": depth}
    if any(isinstance(m, nn.DeformConv2d) for m in model.modules()):
        strides = deformable_input_strides(model)
        result["tap_example"] = tap_example(model, data["x_test_moved"][:1])
        result["offsets"] = {"original": offset_stats(model, base, strides),
                             "moved": offset_stats(model, data["x_test_moved"][:n], strides)}
    return result


# -- statistics ----------------------------------------------------------------------------------------------
def pearson_with_ci(x, y, z: float = 1.96) -> dict | None:
    """Pearson's r of paired samples with Fisher's z interval (95% for z = 1.96); None when either
    sample is constant or there are fewer than 4 pairs (no interval)."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if len(x) < 4 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return None
    r = float(np.corrcoef(x, y)[0, 1])
    half = z / math.sqrt(len(x) - 3)
    zr = math.atanh(max(min(r, 1 - 1e-15), -1 + 1e-15))
    return {"r": r, "low": math.tanh(zr - half), "high": math.tanh(zr + half), "n": len(x)}


def paired_difference(hits_a, hits_b) -> dict:
    """Accuracy of b minus a on the same test images, with its standard error.

    Each accuracy has the binomial standard error sqrt(p(1 - p)/n). The difference of two
    accuracies on the same images is a mean of per-image differences d_i in {-1, 0, 1}; its
    standard error is their standard deviation over sqrt(n) (it counts only the images the two
    networks disagree on, as McNemar's test does).
    """
    a, b = np.asarray(hits_a, dtype=np.float64), np.asarray(hits_b, dtype=np.float64)
    n = len(a)
    d = b - a
    pa, pb = a.mean(), b.mean()
    return {"n": n, "acc_a": float(pa), "acc_b": float(pb), "se_a": math.sqrt(pa * (1 - pa) / n),
            "se_b": math.sqrt(pb * (1 - pb) / n), "diff": float(d.mean()),
            "se_diff": float(d.std(ddof=1) / math.sqrt(n)) if n > 1 else math.inf,
            "only_a": int((d < 0).sum()), "only_b": int((d > 0).sum())}
