"""Random rotation/scale/translation of images (exact special cases, determinism) and the sampling
positions of (deformable) convolution stacks (regular grids, constant offsets, strides)."""
from __future__ import annotations

import numpy as np
import pytest

from backproplab import nn
from backproplab.data.geometric import (AffineParams, deformable_sampling_points, draw_affine_params,
                                        geometric_fashion_mnist, random_geometric, transform_images)


def _params(rotation=0.0, scale=1.0, translation=(0.0, 0.0), n=1):
    return AffineParams(np.full(n, rotation), np.full(n, scale), np.tile(np.asarray(translation, float), (n, 1)))


def test_identity_transform_keeps_the_image():
    x = np.random.default_rng(0).random((3, 1, 9, 8))
    np.testing.assert_allclose(transform_images(x, _params(n=3)), x, atol=1e-12)


def test_integer_translation_shifts_with_zeros_coming_in():
    x = np.random.default_rng(1).random((1, 7, 6))
    out = transform_images(x, _params(translation=(2, -1)))
    expected = np.zeros_like(x)
    expected[:, 2:, :-1] = x[:, :-2, 1:]  # out[r, c] = x[r - 2, c + 1]
    np.testing.assert_allclose(out, expected, atol=1e-12)


def test_rotation_by_90_degrees_is_counterclockwise():
    x = np.random.default_rng(2).random((2, 7, 7))
    np.testing.assert_allclose(transform_images(x, _params(rotation=90.0, n=2)), np.rot90(x, 1, axes=(1, 2)),
                               atol=1e-12)


def test_scaling_moves_pixels_away_from_the_centre():
    x = np.zeros((1, 9, 9))
    x[0, 4, 5] = 1.0  # one pixel right of the centre (4, 4)
    out = transform_images(x, _params(scale=2.0))
    assert out[0, 4, 6] == pytest.approx(1.0) and out[0, 4, 5] == pytest.approx(0.5)
    assert out[0, 4, 4] == pytest.approx(0.0)


def test_random_transforms_depend_only_on_the_generator():
    x = np.random.default_rng(3).random((5, 784)).astype(np.float32)
    a, pa = random_geometric(x, np.random.default_rng(7))
    b, _ = random_geometric(x, np.random.default_rng(7))
    c, _ = random_geometric(x, np.random.default_rng(8))
    np.testing.assert_array_equal(a, b)
    assert a.shape == x.shape and a.dtype == x.dtype and not np.allclose(a, c)
    assert (np.abs(pa.rotation) <= 30).all() and ((pa.scale >= 0.8) & (pa.scale <= 1.2)).all()
    assert (np.abs(pa.translation) <= 3).all() and np.ptp(pa.rotation) > 0


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="scale_range"):
        draw_affine_params(2, np.random.default_rng(0), scale_range=(1.2, 0.8))
    with pytest.raises(ValueError, match="2 images but 3 transforms"):
        transform_images(np.zeros((2, 5, 5)), _params(n=3))
    with pytest.raises(ValueError, match="expects"):
        transform_images(np.zeros((2, 3, 5, 5)), _params(n=2))


def test_geometric_fashion_mnist_transforms_the_test_set_only_by_default():
    from backproplab.data import DatasetNotFoundError

    try:
        ds = geometric_fashion_mnist(seed=0, classes=(0, 1))
    except DatasetNotFoundError as e:
        pytest.skip(str(e))
    assert ds.x_train.shape == (12000, 1, 28, 28) and ds.x_test.shape == (2000, 1, 28, 28)
    assert 0 <= ds.x_test.min() and ds.x_test.max() <= 1.0 + 1e-6
    from backproplab.data import load_fashion_mnist

    plain = load_fashion_mnist(classes=(0, 1), flatten=False)
    np.testing.assert_array_equal(ds.x_train, plain.x_train)
    assert np.abs(ds.x_test - plain.x_test).mean() > 0.05


# -- sampling positions ---------------------------------------------------------------------------------
def test_plain_convolutions_sample_a_regular_grid():
    rng = np.random.default_rng(4)
    layers = [nn.Conv2d(1, 2, 3, padding=1, rng=rng), nn.ReLU(), nn.Conv2d(2, 2, 3, padding=1, rng=rng)]
    levels = deformable_sampling_points(layers, rng.random((1, 1, 9, 9)), (5, 4))
    assert [len(p) for p in levels] == [1, 9, 81]
    rows, cols = np.meshgrid(np.arange(3, 8), np.arange(2, 7), indexing="ij")
    assert {tuple(p) for p in levels[-1]} == set(zip(rows.ravel().astype(float), cols.ravel().astype(float)))


def test_constant_offsets_shift_every_level():
    rng = np.random.default_rng(5)
    layers = []
    for _ in range(2):
        m = nn.DeformConv2d(1, 1, 3, padding=1, rng=rng).double()
        m.conv_offset.bias.data[0::2], m.conv_offset.bias.data[1::2] = 1.5, -0.5  # Δ = (1.5, -0.5) everywhere
        layers.append(m)
    levels = deformable_sampling_points(nn.Sequential(*layers), rng.random((1, 1, 12, 12)), (4, 6))
    taps = np.stack(np.meshgrid(np.arange(3) - 1, np.arange(3) - 1, indexing="ij"), -1).reshape(9, 2)
    np.testing.assert_allclose(levels[1], np.array([4, 6]) + taps + [1.5, -0.5])
    expected = (levels[1][:, None, :] + taps[None] + [1.5, -0.5]).reshape(81, 2)
    np.testing.assert_allclose(levels[2], expected)


def test_strided_dilated_layer_taps():
    rng = np.random.default_rng(6)
    layer = nn.Conv2d(1, 1, 3, stride=2, padding=2, dilation=2, rng=rng)
    level = deformable_sampling_points([layer], rng.random((1, 1, 10, 10)), (2, 3))[1]
    np.testing.assert_allclose(level[0], [2 * 2 - 2, 2 * 3 - 2])
    np.testing.assert_allclose(level[-1], [2 * 2 - 2 + 4, 2 * 3 - 2 + 4])


def test_offsets_at_fractional_points_are_interpolated():
    """Below the top, a point sits between output units: its offsets are the bilinear mix of theirs."""
    rng = np.random.default_rng(7)
    low = nn.DeformConv2d(1, 1, 1, rng=rng).double()
    low.conv_offset.weight.data[0, 0, 0, 0] = 1.0  # Δh = x (the input value), Δw = 0
    top = nn.DeformConv2d(1, 1, 1, rng=rng).double()
    top.conv_offset.bias.data[:] = [0.25, 0.5]  # the unit (1, 1) reads (1.25, 1.5)
    x = np.zeros((1, 1, 4, 4))
    x[0, 0, 1, 1], x[0, 0, 1, 2], x[0, 0, 2, 1], x[0, 0, 2, 2] = 1.0, 2.0, 3.0, 4.0
    levels = deformable_sampling_points([low, top], x, (1, 1))
    mix = 0.75 * (0.5 * 1 + 0.5 * 2) + 0.25 * (0.5 * 3 + 0.5 * 4)  # x bilinearly at (1.25, 1.5)
    np.testing.assert_allclose(levels[2], [[1.25 + mix, 1.5]])


def test_pooling_is_refused_with_a_clear_error():
    rng = np.random.default_rng(8)
    with pytest.raises(ValueError, match="MaxPool2d"):
        deformable_sampling_points([nn.Conv2d(1, 1, 3, rng=rng), nn.MaxPool2d(2)], np.zeros((1, 1, 6, 6)), (0, 0))


def test_batch_of_images_gives_the_points_of_each_image():
    from backproplab.data.geometric import deformable_sampling_points_batch

    rng = np.random.default_rng(9)
    layers = [nn.Conv2d(1, 2, 3, padding=1, rng=rng), nn.ReLU(), nn.DeformConv2d(2, 2, 3, stride=2, padding=1, rng=rng)]
    layers[2].conv_offset.weight.data[...] = rng.normal(0, 0.5, layers[2].conv_offset.weight.data.shape)
    x = rng.random((3, 1, 10, 10)).astype(np.float32)
    batch = deformable_sampling_points_batch(layers, x, (2, 3))
    assert len(batch) == 3
    for k in range(3):
        single = deformable_sampling_points(layers, x[k:k + 1], (2, 3))
        for a, b in zip(batch[k], single):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)
    assert not np.allclose(batch[0][1], batch[1][1])  # the offsets depend on the image
