"""Geometric transformations of images, and where a deformable layer's taps land in its input.

1. Random rotation, isotropic scale and translation of each image about its centre, for testing
   how a network copes with geometric change (the deformable convolution's motivation):

       q = s · R(θ) · (p - c) + c + t      (input pixel p goes to output pixel q; c the image centre)

   in (row, column) coordinates, θ counterclockwise as displayed, t = (down, right) in pixels. Each
   image is resampled by ``scipy.ndimage.affine_transform`` (bilinear, zeros outside the frame),
   one block of images per core; every random number is drawn first, in one fixed order, so the
   result depends on the generator only. (:func:`backproplab.data.preprocess.distort` is the
   committee lab's related transform: rotation, per-axis scale and shear plus elastic noise.)

2. :func:`deformable_sampling_points`: for one output unit of a stack of (deformable) convolutions,
   the input positions its taps read, level by level down the stack (Dai et al. 2017, figures 5-6):
   a k x k layer turns each point into k² points, so L layers give k^(2L) input positions.

References: Dai et al. 2017, "Deformable Convolutional Networks", ICCV (sections 2 and 4);
https://docs.scipy.org/doc/scipy/reference/generated/scipy.ndimage.affine_transform.html
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from scipy import ndimage

from .. import nn
from ..nn._im2col import conv_padding
from ..utils.cores import per_core_blocks


@dataclass(frozen=True)
class AffineParams:
    """One transform per image: rotation (N,) degrees, scale (N,), translation (N, 2) pixels (down, right)."""

    rotation: np.ndarray
    scale: np.ndarray
    translation: np.ndarray


def draw_affine_params(n: int, rng: np.random.Generator, max_rotation: float = 30.0,
                       scale_range: tuple[float, float] = (0.8, 1.2), max_translation: float = 3.0) -> AffineParams:
    """n transforms: θ ~ U(±max_rotation) degrees, s ~ U(scale_range), t ~ U(±max_translation)² pixels."""
    lo, hi = scale_range
    if max_rotation < 0 or max_translation < 0 or not 0 < lo <= hi:
        raise ValueError(f"need max_rotation >= 0, max_translation >= 0 and 0 < scale_range[0] <= scale_range[1], "
                         f"got {max_rotation}, {max_translation}, {scale_range}")
    rotation = rng.uniform(-max_rotation, max_rotation, n)
    scale = rng.uniform(lo, hi, n)
    translation = rng.uniform(-max_translation, max_translation, (n, 2))
    return AffineParams(rotation, scale, translation)


def _inverse_maps(params: AffineParams, shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """SciPy's (matrix (N, 2, 2), offset (N, 2)): input p = matrix @ q + offset for output pixel q."""
    theta = np.deg2rad(params.rotation)
    cos, sin = np.cos(theta), np.sin(theta)
    # R(θ) = [[cos, -sin], [sin, cos]] on (row, col) turns counterclockwise as displayed (rows go down);
    # its inverse divided by s undoes q = s·R·(p - c) + c + t
    inverse = np.stack([np.stack([cos, sin], -1), np.stack([-sin, cos], -1)], 1) / params.scale[:, None, None]
    centre = (np.asarray(shape, dtype=np.float64) - 1) / 2
    offset = centre - np.einsum("nij,nj->ni", inverse, centre + params.translation)
    return inverse, offset


def _transform_block(stack: np.ndarray, matrix: np.ndarray, offset: np.ndarray, order: int) -> np.ndarray:
    out = np.empty_like(stack)
    for k in range(len(stack)):  # SciPy transforms one image per call
        out[k] = ndimage.affine_transform(stack[k], matrix[k], offset[k], order=order, mode="grid-constant",
                                          cval=0.0)
    return out


def transform_images(images: np.ndarray, params: AffineParams, order: int = 1) -> np.ndarray:
    """Apply one transform per image: images (N, H, W), (N, 1, H, W) or (N, 784) -> the same shape and dtype."""
    images = np.asarray(images)
    shape = images.shape
    if images.ndim == 2 and shape[1] == 784:
        stack = images.reshape(-1, 28, 28)
    elif images.ndim in (3, 4) and (images.ndim == 3 or shape[1] == 1):
        stack = images.reshape(len(images), *shape[-2:])
    else:
        raise ValueError(f"transform_images expects (N, H, W), (N, 1, H, W) or (N, 784) images, got shape {shape}")
    if len(params.rotation) != len(stack):
        raise ValueError(f"transform_images: {len(stack)} images but {len(params.rotation)} transforms")
    matrix, offset = _inverse_maps(params, stack.shape[1:])
    out = per_core_blocks(lambda s, m, o: _transform_block(s, m, o, order), len(stack), stack, matrix, offset,
                          min_block=64)
    return out.reshape(shape)


def random_geometric(images: np.ndarray, rng: np.random.Generator, **ranges) -> tuple[np.ndarray, AffineParams]:
    """Transform every image by a fresh random transform; ``ranges`` as :func:`draw_affine_params`.

    Returns (transformed images of the input's shape, the transforms used).
    """
    params = draw_affine_params(len(images), rng, **ranges)
    return transform_images(images, params), params


def geometric_fashion_mnist(seed: int = 0, classes=None, data_dir=None, transform_train: bool = False, **ranges):
    """Fashion-MNIST (x as (N, 1, 28, 28) in [0, 1]) with randomly transformed test images (and training
    images with ``transform_train``); transforms drawn from ``np.random.default_rng(seed)``, the training
    set's first. Returns the :class:`~backproplab.data.Dataset` with the new arrays."""
    from .fashion_mnist import load_fashion_mnist

    ds = load_fashion_mnist(classes=classes, data_dir=data_dir, flatten=False)
    rng = np.random.default_rng(seed)
    x_train = random_geometric(ds.x_train, rng, **ranges)[0] if transform_train else ds.x_train
    x_test = random_geometric(ds.x_test, rng, **ranges)[0]
    return replace(ds, x_train=x_train, x_test=x_test,
                   source=f"{ds.source}; random rotation/scale/translation (seed {seed}, train "
                          f"{'transformed' if transform_train else 'as is'})")


# -- where a deformable layer samples ------------------------------------------------------------------
_POINTWISE = (nn.ReLU, nn.LeakyReLU, nn.ELU, nn.PReLU, nn.Sigmoid, nn.Tanh, nn.Identity, nn.BatchNorm2d, nn.Dropout)


def _corners(t: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Grid cells of positions t clamped to [0, n - 1]: (lower index, upper index, fraction), each (P,)."""
    t = np.clip(t, 0, n - 1)
    lower = np.clip(np.floor(t).astype(int), 0, max(n - 2, 0))
    return lower, np.minimum(lower + 1, n - 1), (t - lower)[:, None]


def _offsets_at(field: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Bilinear interpolation of field (C, Ho, Wo) at fractional grid points (P, 2), clamped to the grid: (P, C)."""
    r0, r1, lr = _corners(points[:, 0], field.shape[1])
    c0, c1, lc = _corners(points[:, 1], field.shape[2])
    return ((1 - lr) * (1 - lc) * field[:, r0, c0].T + (1 - lr) * lc * field[:, r0, c1].T
            + lr * (1 - lc) * field[:, r1, c0].T + lr * lc * field[:, r1, c1].T)


def _geometric_layers(layers, x: np.ndarray) -> list:
    """Run x through ``layers``; for each (deformable) convolution keep (layer, offsets (N, 2K, Ho, Wo) or None)."""
    found = []
    for layer in layers:
        if not isinstance(layer, (nn.Conv2d, nn.DeformConv2d) + _POINTWISE):
            raise ValueError(f"deformable_sampling_points follows convolutions and pointwise layers only, got "
                             f"{type(layer).__name__}; pass the layers up to the one you want to look at")
        x = layer.forward(x)
        if isinstance(layer, nn.DeformConv2d):
            found.append((layer, np.asarray(layer.offset)))
        elif isinstance(layer, nn.Conv2d):
            found.append((layer, None))
    if not found:
        raise ValueError("deformable_sampling_points: no convolution among the layers")
    return found


def _trace(found: list, image: int, unit: tuple[int, int], offset_group: int) -> list:
    """The levels of points of output unit ``unit`` for image ``image`` of the batch ``found`` was run on."""
    points = [np.array([unit], dtype=np.float64)]
    for layer, offsets in reversed(found):
        kh, kw = layer.kernel_size
        (pt, _), (pl, _) = conv_padding(layer.padding, layer.kernel_size, layer.stride, layer.dilation)
        taps = np.stack(np.meshgrid(np.arange(kh) * layer.dilation[0], np.arange(kw) * layer.dilation[1],
                                    indexing="ij"), -1).reshape(-1, 2)  # (K, 2) in row-major tap order
        q = points[-1]
        base = q * np.asarray(layer.stride) - np.array([pt, pl])  # (P, 2)
        level = base[:, None, :] + taps[None, :, :]  # (P, K, 2)
        if offsets is not None:
            k2 = 2 * kh * kw
            group = offsets[image, offset_group * k2:(offset_group + 1) * k2]  # (2K, Ho, Wo)
            level = level + _offsets_at(group, q).reshape(len(q), kh * kw, 2)  # (dh, dw) pairs per tap
        points.append(level.reshape(-1, 2))
    return points


def deformable_sampling_points(layers, x: np.ndarray, unit: tuple[int, int], offset_group: int = 0) -> list:
    """Input positions read by output unit (i, j) of the last convolution in ``layers`` for image x[0].

    Args:
        layers: modules applied in order (an ``nn.Sequential`` or a list): Conv2d, DeformConv2d and
            pointwise layers (activations, BatchNorm2d, Dropout); run in their current mode.
        x: (1, C, H, W) (or a batch, of which the first image is used).
        unit: (i, j) on the last convolution's output grid.
        offset_group: which offset group of a DeformConv2d to follow.
    Returns:
        points per level, top first: [(1, 2) the unit, (K1, 2), (K1·K2, 2), ...]; the last array holds
        (row, column) positions in the input image. Level l's points are the taps
        q·stride - pad + (u, v)·dilation + Δ(q) of each point q above, with the offsets Δ(q)
        interpolated bilinearly at fractional q (zero for a plain Conv2d).
    """
    return _trace(_geometric_layers(layers, np.asarray(x[:1])), 0, unit, offset_group)


def deformable_sampling_points_batch(layers, x: np.ndarray, unit: tuple[int, int], offset_group: int = 0) -> list:
    """:func:`deformable_sampling_points` for every image of x (N, C, H, W), from one forward pass of the
    batch: a list of N lists of levels. (Layers that mix images, BatchNorm2d in training mode, must be in
    eval mode for the result to equal N separate calls.)"""
    found = _geometric_layers(layers, np.asarray(x))
    return [_trace(found, n, unit, offset_group) for n in range(len(x))]
