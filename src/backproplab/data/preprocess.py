"""Image preprocessing of Ciresan et al. (2011): width normalization, deslanting, elastic distortion.

All functions take a batch ``x`` of shape (..., H, W) (e.g. (N, 28, 28) or (N, 1, 28, 28))
with ink bright on a dark (zero) background, and return an array of the same shape and
dtype. Every resampling is done by :mod:`scipy.ndimage` (``map_coordinates``,
``gaussian_filter``) with bilinear interpolation (``order=1``) and zeros outside the frame (``mode="grid-constant"``);
the whole batch goes through one ``map_coordinates`` call (the image index is a third,
never-interpolated coordinate), so nothing loops over images in Python.

Coordinates: row ``r`` (down) and column ``c`` (right); a pixel's centre sits at an integer.

References:
* D. C. Ciresan, U. Meier, L. M. Gambardella, J. Schmidhuber, "Convolutional Neural Network
  Committees for Handwritten Character Classification", ICDAR 2011 (width normalization,
  committees of differently preprocessed members).
* P. Y. Simard, D. Steinkraus, J. C. Platt, "Best Practices for Convolutional Neural Networks
  Applied to Visual Document Analysis", ICDAR 2003 (elastic distortion).
"""
from __future__ import annotations

import numpy as np
from scipy import ndimage

from ..utils.cores import per_core_blocks


def _as_stack(x: np.ndarray) -> tuple[np.ndarray, tuple[int, ...]]:
    """(..., H, W) -> (N, H, W) float array and the original shape."""
    x = np.asarray(x)
    if x.ndim < 2:
        raise ValueError(f"expected images of shape (..., H, W), got shape {x.shape}")
    return x.reshape(-1, *x.shape[-2:]), x.shape  # (N, H, W)


def _resample(stack: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Sample ``stack`` (N, H, W) at input coordinates ``rows``, ``cols`` (N, H, W) each, bilinearly.

    Blocks of images go to every core (ndimage releases the GIL; each image is resampled alone,
    so the result does not depend on the split).
    """
    return per_core_blocks(_resample_block, len(stack), stack, rows, cols)


def _resample_block(stack: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    n = np.broadcast_to(np.arange(len(stack), dtype=np.float64)[:, None, None], rows.shape)
    coords = np.stack([n, rows, cols])  # (3, N, H, W): image index stays an integer, so no mixing of images
    return ndimage.map_coordinates(stack, coords, order=1, mode="grid-constant", cval=0.0)


def _grid(shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Row and column index of every pixel, (H, W) each, float64."""
    r, c = np.meshgrid(np.arange(shape[0], dtype=np.float64), np.arange(shape[1], dtype=np.float64),
                       indexing="ij")
    return r, c


def bounding_boxes(x: np.ndarray, threshold: float = 0.1) -> np.ndarray:
    """Bounding box of the pixels brighter than ``threshold`` in each image.

    Args:
        x: (..., H, W) images.
        threshold: a pixel belongs to the object when its value is > threshold.
    Returns:
        (N, 4) int array ``(row0, row1, col0, col1)``, half-open like slices; an empty image
        gets the whole frame.
    """
    stack, _ = _as_stack(x)
    mask = stack > threshold  # (N, H, W)
    out = np.empty((len(stack), 4), dtype=np.int64)
    for axis, (lo, hi) in ((2, (0, 1)), (1, (2, 3))):
        hit = mask.any(axis=axis)  # rows (N, H) for axis 2, columns (N, W) for axis 1
        size = hit.shape[1]
        first = np.argmax(hit, axis=1)
        last = size - np.argmax(hit[:, ::-1], axis=1)
        empty = ~hit.any(axis=1)
        first[empty], last[empty] = 0, size
        out[:, lo], out[:, hi] = first, last
    return out


def bbox_width(x: np.ndarray, threshold: float = 0.1) -> np.ndarray:
    """Width in pixels (N,) of each image's bounding box (see :func:`bounding_boxes`)."""
    b = bounding_boxes(x, threshold)
    return b[:, 3] - b[:, 2]


def bbox_height(x: np.ndarray, threshold: float = 0.1) -> np.ndarray:
    """Height in pixels (N,) of each image's bounding box."""
    b = bounding_boxes(x, threshold)
    return b[:, 1] - b[:, 0]


def _edge_overhang(stack: np.ndarray, inside: np.ndarray, outside: np.ndarray, threshold: float) -> np.ndarray:
    """How far (0..1 px) beyond the outermost bright column the bilinear image stays above threshold.

    ``inside``/``outside``: (N,) column indices of the box's outer column and its neighbour beyond
    (-1 or W means outside the frame, value 0). Between two pixel centres the bilinear image is
    linear, so each row crosses the threshold at ``(I_in - t) / (I_in - I_out)``; the box reaches
    as far as its furthest row.
    """
    n, _, w = stack.shape
    idx = np.arange(n)
    v_in = stack[idx, :, inside]  # (N, H)
    v_out = np.where(((outside >= 0) & (outside < w))[:, None], stack[idx, :, np.clip(outside, 0, w - 1)], 0.0)
    above = v_in > threshold
    frac = np.where(above, (v_in - threshold) / np.maximum(v_in - v_out, 1e-12), 0.0)
    return np.clip(frac, 0.0, 1.0).max(axis=1)  # (N,)


def normalize_width(x: np.ndarray, width: int, threshold: float = 0.1) -> np.ndarray:
    """Stretch each image horizontally so its bounding box is ``width`` pixels wide; keep the height.

    The box is where the (bilinear) image exceeds ``threshold``; its continuous extent, including
    the sub-pixel overhang past the outermost bright columns, is scaled along the columns only to
    ``width - 0.5`` pixels (an interval that long holds ``width - 1`` or ``width`` pixel centres) and
    centred horizontally. Vertically the box is centred by a whole-pixel shift, so no row is
    stretched or blurred and the height is kept. No anti-aliasing filter is applied before
    shrinking: a bright feature narrower than the sampling step can be missed (on Fashion-MNIST
    test images the box height changes (mostly by one pixel) for about 2% of images at width 20
    and about 12% at width 10 -- thin top or bottom rows; the width is within ±1 px for > 99%).

    Args:
        x: (..., H, W) images.
        width: target box width in pixels, 2 <= width <= W (Ciresan et al. use 10..20 on 28x28).
        threshold: a pixel belongs to the object when its value is > threshold.
    Returns:
        (..., H, W), same dtype.
    """
    stack, shape = _as_stack(x)
    h, w = stack.shape[1:]
    if not 2 <= width <= w:
        raise ValueError(f"width must be in 2..{w} for {w}-pixel-wide images, got {width}")
    data = stack.astype(np.float64)
    box = bounding_boxes(data, threshold)
    left = box[:, 2] - _edge_overhang(data, box[:, 2], box[:, 2] - 1, threshold)  # (N,) continuous extent
    right = box[:, 3] - 1 + _edge_overhang(data, box[:, 3] - 1, box[:, 3], threshold)
    scale = (width - 0.5) / np.maximum(right - left, 0.5)  # (N,) output columns per input column
    shift_r = np.round((h - 1) / 2 - (box[:, 0] + box[:, 1] - 1) / 2)  # (N,) whole rows
    r, c = _grid((h, w))
    rows = r[None] - shift_r[:, None, None]  # (N, H, W): integer rows, so no vertical blur
    cols = (c[None] - (w - 1) / 2) / scale[:, None, None] + ((left + right) / 2)[:, None, None]
    return _resample(data, rows, cols).astype(stack.dtype).reshape(shape)


def moments(x: np.ndarray) -> dict[str, np.ndarray]:
    """Intensity-weighted centroid and central second moments of each image.

    Returns a dict of (N,) arrays: ``r`` and ``c`` (centroid), ``mu_rr``, ``mu_cc``, ``mu_rc``.
    """
    stack, _ = _as_stack(x)
    img = np.clip(stack.astype(np.float64), 0.0, None)
    r, c = _grid(img.shape[1:])
    mass = np.maximum(img.sum(axis=(1, 2)), 1e-12)  # (N,)
    mr = (img * r).sum(axis=(1, 2)) / mass
    mc = (img * c).sum(axis=(1, 2)) / mass
    dr = r[None] - mr[:, None, None]  # (N, H, W)
    dc = c[None] - mc[:, None, None]
    return {"r": mr, "c": mc, "mu_rr": (img * dr * dr).sum(axis=(1, 2)) / mass,
            "mu_cc": (img * dc * dc).sum(axis=(1, 2)) / mass, "mu_rc": (img * dr * dc).sum(axis=(1, 2)) / mass}


def slant(x: np.ndarray) -> np.ndarray:
    """Slant (N,) of each image: ``mu_rc / mu_rr``, columns moved per row down (0 = upright).

    It is the slope dc/dr of the least-squares line c(r) through the ink, i.e. of the principal
    axis measured against the vertical.
    """
    m = moments(x)
    return m["mu_rc"] / np.maximum(m["mu_rr"], 1e-12)


def deslant(x: np.ndarray) -> np.ndarray:
    """Shear each image horizontally so that its slant (see :func:`slant`) becomes 0.

    The shear ``c' = c - s (r - r̄)`` about the centroid row r̄ keeps every row's height and
    the centroid; it sends the moment ``mu_rc`` to ``mu_rc - s mu_rr = 0`` for ``s`` = the slant.

    Args:
        x: (..., H, W) images.
    Returns:
        (..., H, W), same dtype.
    """
    stack, shape = _as_stack(x)
    m = moments(stack)
    s = m["mu_rc"] / np.maximum(m["mu_rr"], 1e-12)  # (N,)
    r, c = _grid(stack.shape[1:])
    rows = np.broadcast_to(r, stack.shape)
    cols = c[None] + s[:, None, None] * (r[None] - m["r"][:, None, None])  # input column of each output pixel
    return _resample(stack.astype(np.float64), rows, cols).astype(stack.dtype).reshape(shape)


def elastic_displacement(n: int, shape: tuple[int, int], alpha: float, sigma: float,
                         rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Simard et al.'s random displacement fields: U(-1, 1) per pixel, Gaussian-smoothed, times alpha.

    Returns:
        (d_rows, d_cols), (n, H, W) each, in pixels.
    """
    if alpha < 0 or sigma <= 0:
        raise ValueError(f"need alpha >= 0 and sigma > 0, got alpha={alpha}, sigma={sigma}")
    field = rng.uniform(-1.0, 1.0, size=(2, n, *shape)).astype(np.float32)  # (2, N, H, W)
    # smooth within each image only (sigma 0 along the field and image axes); float32 and a
    # 3-sigma kernel keep a 60000-image epoch affordable
    field = per_core_blocks(lambda f: ndimage.gaussian_filter(f, sigma=(0, 0, sigma, sigma), mode="constant",
                                                              cval=0.0, truncate=3.0), n, field, axis=1)
    return alpha * field[0], alpha * field[1]


def random_affine_matrices(n: int, rng: np.random.Generator, rotation: float = 0.0, scale: float = 0.0,
                           shear: float = 0.0) -> np.ndarray:
    """n random 2x2 matrices acting on centred (row, col) coordinates.

    Args:
        rotation: angles drawn from U(-rotation, rotation), in degrees.
        scale: row and column scale factors drawn independently from U(1 - scale, 1 + scale).
        shear: horizontal shear (columns per row) drawn from U(-shear, shear).
    Returns:
        (n, 2, 2) matrices ``A`` = rotation @ shear @ diag(scale_r, scale_c).
    """
    angle = np.deg2rad(rng.uniform(-rotation, rotation, size=n))
    sr, sc = rng.uniform(1 - scale, 1 + scale, size=(2, n))
    k = rng.uniform(-shear, shear, size=n)
    cos, sin = np.cos(angle), np.sin(angle)
    rot = np.stack([np.stack([cos, -sin], -1), np.stack([sin, cos], -1)], 1)  # (n, 2, 2)
    shr = np.zeros((n, 2, 2))
    shr[:, 0, 0] = shr[:, 1, 1] = 1.0
    shr[:, 1, 0] = k  # col += k * row
    scl = np.zeros((n, 2, 2))
    scl[:, 0, 0], scl[:, 1, 1] = sr, sc
    return rot @ shr @ scl


def distort(x: np.ndarray, rng: np.random.Generator, *, alpha: float = 0.0, sigma: float = 4.0,
            rotation: float = 0.0, scale: float = 0.0, shear: float = 0.0) -> np.ndarray:
    """Random affine transform plus elastic distortion of every image, in one resampling.

    For output pixel p (centred coordinates), the input is sampled at ``A p + d(p)``, where A is
    from :func:`random_affine_matrices` and d from :func:`elastic_displacement`. With
    ``alpha = rotation = scale = shear = 0`` the output equals the input.

    Args:
        x: (..., H, W) images.
        rng: draws the fields and matrices (a fresh draw per call: fresh distortions per epoch).
        alpha, sigma: elastic strength (pixels) and smoothness (Gaussian std, pixels).
        rotation, scale, shear: see :func:`random_affine_matrices`.
    Returns:
        (..., H, W), same dtype.
    """
    stack, shape = _as_stack(x)
    n, h, w = stack.shape
    a = random_affine_matrices(n, rng, rotation, scale, shear)  # (N, 2, 2)
    if alpha > 0:
        d_rows, d_cols = elastic_displacement(n, (h, w), alpha, sigma, rng)
    else:
        d_rows = d_cols = np.zeros((n, 1, 1), np.float32)  # adding 0 changes no coordinate
    # the random numbers are all drawn above, in a fixed order; the rest runs one block of images per core
    return per_core_blocks(_warp_block, n, stack, a, d_rows, d_cols).reshape(shape)


def _warp_block(stack: np.ndarray, a: np.ndarray, d_rows: np.ndarray, d_cols: np.ndarray) -> np.ndarray:
    """Images (N, H, W) sampled at A p + d(p) for output pixel p (centred); same dtype."""
    n, h, w = stack.shape
    r, c = _grid((h, w))
    pr, pc = r - (h - 1) / 2, c - (w - 1) / 2  # (H, W) centred
    rows = a[:, 0, 0, None, None] * pr + a[:, 0, 1, None, None] * pc + (h - 1) / 2 + d_rows  # (N, H, W)
    cols = a[:, 1, 0, None, None] * pr + a[:, 1, 1, None, None] * pc + (w - 1) / 2 + d_cols
    return _resample_block(stack.astype(np.float64), rows, cols).astype(stack.dtype)


def elastic_distort(x: np.ndarray, alpha: float, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """Elastic distortion only (Simard et al. 2003); ``alpha = 0`` returns the input unchanged."""
    return distort(x, rng, alpha=alpha, sigma=sigma)


def apply_variant(x: np.ndarray, variant: str, threshold: float = 0.1) -> np.ndarray:
    """The deterministic preprocessing named ``variant`` (a committee member's view of the data).

    ``"original"`` (unchanged), ``"deslant"``, ``"width<k>"`` (e.g. ``"width14"``: width
    normalization to k pixels) or ``"deslant+width<k>"``.
    """
    out = np.asarray(x)
    for part in variant.split("+"):
        if part == "original":
            continue
        if part == "deslant":
            out = deslant(out)
        elif part.startswith("width") and part[5:].isdigit():
            out = normalize_width(out, int(part[5:]), threshold)
        else:
            raise ValueError(f"unknown preprocessing {part!r} in {variant!r}; use original, deslant, width<k> "
                             "or a '+' chain such as deslant+width14")
    return out
