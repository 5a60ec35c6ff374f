"""Flatten(start_dim, end_dim): float64 central differences with a random dy, and torch.nn.Flatten's
shapes, gradients and refusals."""
import zlib

import numpy as np
import pytest

from backproplab import nn
from backproplab.analysis import check_module_grads

SHAPE = (2, 3, 4, 5)
TOL = 1e-6


def random_input(rng):
    return rng.standard_normal(tuple(int(s) for s in rng.integers(2, 5, size=4)))


def test_central_differences():
    rng = np.random.default_rng(zlib.crc32(b"flatten"))
    errors = check_module_grads(nn.Flatten().double(), random_input(rng), rng)
    assert max(errors.values()) < TOL, errors


def test_matches_torch_on_a_random_shape(torch, matches_torch):
    rng = np.random.default_rng(zlib.crc32(b"flatten") + 1)
    layer, x = nn.Flatten().double(), random_input(rng)
    assert layer.forward(x).dtype == np.float64
    matches_torch(layer, torch.nn.Flatten(), x, rng, TOL)


@pytest.mark.parametrize("args", [(), (0,), (1,), (2,), (3,), (-1,), (-4,), (1, 2), (0, -2), (-3, -2), (2, 2),
                                  (1, -1), (0, 3)])
def test_shape_and_gradient_match_torch(torch, args):
    rng = np.random.default_rng(0)
    x = rng.standard_normal(SHAPE)
    m, t = nn.Flatten(*args), torch.nn.Flatten(*args)
    y = m.forward(x)
    ty = t(torch.tensor(x))
    assert y.shape == tuple(ty.shape)
    np.testing.assert_array_equal(y, ty.numpy())
    dy = rng.standard_normal(y.shape)
    np.testing.assert_array_equal(m.backward(dy), dy.reshape(SHAPE))


@pytest.mark.parametrize("args, ndim", [((3,), 3), ((-4,), 3), ((1, 5), 3), ((1, -4), 3), ((4,), 4)])
def test_out_of_range_dims_are_an_index_error_as_in_torch(torch, args, ndim):
    x = np.zeros(SHAPE[:ndim])
    with pytest.raises(IndexError):
        torch.nn.Flatten(*args)(torch.tensor(x))
    with pytest.raises(IndexError, match=rf"out of range for a {ndim}-d input"):
        nn.Flatten(*args).forward(x)


@pytest.mark.parametrize("args", [(1, 0), (2, 1), (1, -3), (-1, -2)])
def test_start_after_end_is_refused_as_in_torch(torch, args):
    x = np.zeros((2, 3, 4))
    with pytest.raises(RuntimeError, match="start_dim cannot come after end_dim"):
        torch.nn.Flatten(*args)(torch.tensor(x))
    with pytest.raises(ValueError, match="comes after end_dim"):
        nn.Flatten(*args).forward(x)


def test_zero_d_input_as_in_torch(torch):
    assert nn.Flatten(0).forward(np.array(3.0)).shape == tuple(torch.nn.Flatten(0)(torch.tensor(3.0)).shape)


def test_empty_input_and_a_bad_start_dim():
    assert nn.Flatten().forward(np.zeros((0, 3, 4))).shape == (0, 12)
    with pytest.raises(TypeError, match="start_dim must be an int"):
        nn.Flatten(1.5)
