"""Preprocessing of the committee lab: width normalization, deslanting, elastic distortion, random affine
maps, the named variants, and the per-core split that must not change a number."""
from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from backproplab.data import preprocess as P


def _blob(height: int, width: int, row: int, col: int, value: float = 0.9, size: int = 28) -> np.ndarray:
    """A rounded box with soft edges: rows row..row+height-1, columns col..col+width-1.

    Its narrowest (top and bottom) rows are still a few pixels wide: a feature thinner than the
    sampling step can be missed by any resampling when shrinking, which is tested on real images.
    """
    r, c = np.mgrid[:size, :size]
    cr, cc = row + (height - 1) / 2, col + (width - 1) / 2
    inside = np.abs((r - cr) / (height / 2)) ** 4 + np.abs((c - cc) / (width / 2)) ** 4 <= 1.0
    img = ndimage.gaussian_filter(inside.astype(np.float64), 0.4) * value
    return img.astype(np.float32)


def _slanted_bar(slant: float, size: int = 28, half_width: float = 1.5) -> np.ndarray:
    """A bar from row 4 to 23 whose centre column moves ``slant`` columns per row down."""
    r, c = np.mgrid[:size, :size].astype(np.float64)
    centre = (size - 1) / 2 + slant * (r - (size - 1) / 2)
    img = np.clip(half_width + 0.5 - np.abs(c - centre), 0.0, 1.0) * ((r >= 4) & (r <= 23))
    return img


BLOBS = [(20, 6, 3, 11), (14, 24, 7, 2), (24, 15, 2, 5), (9, 19, 16, 8), (22, 27, 3, 0), (18, 5, 5, 20)]


@pytest.mark.parametrize("width", [10, 12, 14, 16, 18, 20])
def test_normalize_width_gives_the_width_and_keeps_the_height(width):
    x = np.stack([_blob(*b) for b in BLOBS])  # (6, 28, 28): narrow, wide, touching the frame
    y = P.normalize_width(x, width)
    assert y.shape == x.shape and y.dtype == x.dtype
    np.testing.assert_array_less(np.abs(P.bbox_width(y) - width), 2)  # within ±1 px
    np.testing.assert_array_equal(P.bbox_height(y), P.bbox_height(x))
    # centred: the box centre column sits within a pixel of the frame centre (13.5)
    box = P.bounding_boxes(y)
    np.testing.assert_array_less(np.abs((box[:, 2] + box[:, 3] - 1) / 2 - 13.5), 1.01)


def test_normalize_width_on_real_images():
    pytest.importorskip("backproplab.data.fashion_mnist")
    from backproplab.data import load_fashion_mnist
    from backproplab.data.fashion_mnist import DatasetNotFoundError

    try:
        ds = load_fashion_mnist(classes=None, flatten=False)
    except DatasetNotFoundError:
        pytest.skip("Fashion-MNIST not installed")
    x = ds.x_test[:400]  # (400, 1, 28, 28): the (..., H, W) layout is kept
    for width in (10, 20):
        y = P.normalize_width(x, width)
        assert y.shape == x.shape
        assert np.mean(np.abs(P.bbox_width(y) - width) <= 1) >= 0.99
        # rows are copied whole; only shrinking can drop a thin row's bright pixels (aliasing)
        assert np.mean(np.abs(P.bbox_height(y) - P.bbox_height(x)) <= 1) >= 0.98


@pytest.mark.parametrize("slant", [0.5, 0.3, -0.25, -0.45])
def test_deslant_removes_the_slant_of_a_bar(slant):
    x = _slanted_bar(slant)[None]  # (1, 28, 28)
    assert P.slant(x)[0] == pytest.approx(slant, abs=0.03)  # the measure sees the slant we drew
    y = P.deslant(x)
    assert abs(P.slant(y)[0]) < 0.01
    # the bar became upright: the same ink column in every row (width unchanged, about 3 px)
    cols = (y[0, 4:24] > 0.5).sum(axis=0)
    assert cols.max() == 20 and 2 <= (cols == 20).sum() <= 4


def test_deslant_leaves_an_upright_bar_alone():
    x = _slanted_bar(0.0)[None]
    np.testing.assert_allclose(P.deslant(x), x, atol=1e-9)


def test_elastic_alpha_zero_is_identity():
    x = np.random.default_rng(0).random((5, 1, 28, 28)).astype(np.float32)
    y = P.elastic_distort(x, alpha=0.0, sigma=4.0, rng=np.random.default_rng(1))
    assert y.shape == x.shape and y.dtype == x.dtype
    np.testing.assert_allclose(y, x, atol=1e-6)
    np.testing.assert_allclose(P.distort(x, np.random.default_rng(2)), x, atol=1e-6)  # all ranges 0


def test_elastic_is_reproducible_and_random():
    x = np.stack([_blob(*b) for b in BLOBS])
    a = P.elastic_distort(x, alpha=30.0, sigma=4.0, rng=np.random.default_rng(7))
    b = P.elastic_distort(x, alpha=30.0, sigma=4.0, rng=np.random.default_rng(7))
    c = P.elastic_distort(x, alpha=30.0, sigma=4.0, rng=np.random.default_rng(8))
    np.testing.assert_array_equal(a, b)
    assert np.abs(a - x).max() > 0.1 and np.abs(a - c).max() > 0.1
    # a fresh draw per call: the same generator distorts differently the second time
    g = np.random.default_rng(7)
    assert np.abs(P.distort(x, g, alpha=30.0) - P.distort(x, g, alpha=30.0)).max() > 0.1


def test_displacement_is_smooth_and_scales_with_alpha():
    d1 = P.elastic_displacement(3, (28, 28), 1.0, 4.0, np.random.default_rng(3))
    d5 = P.elastic_displacement(3, (28, 28), 5.0, 4.0, np.random.default_rng(3))
    np.testing.assert_allclose(d5[0], 5 * d1[0], rtol=1e-5)
    # smoothing: neighbouring displacements are far more alike than independent U(-1, 1) draws
    rough = np.random.default_rng(3).uniform(-1, 1, (3, 28, 28))
    ratio = np.abs(np.diff(d1[0], axis=2)).mean() / d1[0].std()
    assert ratio < 0.5 * np.abs(np.diff(rough, axis=2)).mean() / rough.std()


def test_random_affine_ranges():
    a = P.random_affine_matrices(2000, np.random.default_rng(0), rotation=10.0, scale=0.1, shear=0.0)
    det = np.linalg.det(a)  # rotation keeps area; det = scale_r * scale_c in [0.81, 1.21]
    assert det.min() >= 0.81 - 1e-9 and det.max() <= 1.21 + 1e-9
    # the ranges are used, not only respected (identity matrices would pass the line above):
    # A = R(θ)·diag(s_r, s_c), so column 0 is s_r·(cos θ, sin θ) and the column norms are s_r, s_c
    angle = np.degrees(np.arctan2(a[:, 1, 0], a[:, 0, 0]))
    scales = np.linalg.norm(a, axis=1)  # (n, 2)
    assert np.abs(angle).max() <= 10 + 1e-9 and angle.min() < -9.5 and angle.max() > 9.5
    assert scales.min() >= 0.9 - 1e-9 and scales.max() <= 1.1 + 1e-9
    assert scales.min() < 0.905 and scales.max() > 1.095
    np.testing.assert_allclose(P.random_affine_matrices(4, np.random.default_rng(0)),
                               np.broadcast_to(np.eye(2), (4, 2, 2)))


def test_apply_variant_names():
    x = np.stack([_blob(*b) for b in BLOBS])
    np.testing.assert_array_equal(P.apply_variant(x, "original"), x)
    np.testing.assert_array_equal(P.apply_variant(x, "width14"), P.normalize_width(x, 14))
    np.testing.assert_array_equal(P.apply_variant(x, "deslant+width14"), P.normalize_width(P.deslant(x), 14))
    with pytest.raises(ValueError, match="unknown preprocessing"):
        P.apply_variant(x, "widht14")


def test_blocks_per_core_give_the_same_images_bit_for_bit(monkeypatch):
    """distort and the width/slant normalizations split their images over the cores (SciPy releases
    the GIL); the split must not change a single number."""
    from backproplab.utils import cores

    rng = np.random.default_rng(5)
    x = rng.random((800, 28, 28)).astype(np.float32)  # 256+ per core: 1, 2 and 3 blocks

    def all_views():
        return [P.distort(x, np.random.default_rng(1), alpha=16, sigma=5, rotation=8, scale=0.08,
                                   shear=0.1),
                P.distort(x, np.random.default_rng(1), rotation=8),
                P.apply_variant(x, "deslant+width14")]

    results = {}
    for n_cores in (1, 2, 3):
        monkeypatch.setattr(cores, "available_cores", lambda n_cores=n_cores: n_cores)
        results[n_cores] = all_views()
    for a, b, c in zip(results[1], results[2], results[3]):
        assert np.array_equal(a, b) and np.array_equal(a, c)
