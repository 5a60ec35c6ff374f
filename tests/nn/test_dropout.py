"""Dropout and GaussianDropout: identity in eval mode, the mean kept in training (tolerances from the
sample size), backward through the forward's mask (also by central differences with the mask held
fixed), PyTorch's scaling, and bad p."""
import math

import numpy as np
import pytest

from backproplab import nn
from backproplab.analysis import check_module_grads

TOL = 1e-6
DROPOUTS = [(nn.Dropout, 0.3), (nn.Dropout, 0.8), (nn.GaussianDropout, 0.3), (nn.GaussianDropout, 0.6)]


@pytest.mark.parametrize("cls, p", DROPOUTS)
def test_dropout_eval_is_identity(cls, p):
    layer = cls(p, rng=np.random.default_rng(0)).eval()
    x = np.random.default_rng(1).standard_normal((5, 6))
    assert np.array_equal(layer.forward(x), x)
    dy = np.random.default_rng(2).standard_normal((5, 6))
    assert np.array_equal(layer.backward(dy), dy)


@pytest.mark.parametrize("cls, p", DROPOUTS)
def test_dropout_train_preserves_the_mean(cls, p):
    n = 200_000
    layer = cls(p, rng=np.random.default_rng(3))
    y = layer.forward(np.ones(n))
    var = p / (1 - p)  # per-entry variance of the multiplier, for both kinds
    sigma_mean = math.sqrt(var / n)
    assert abs(y.mean() - 1.0) < 5 * sigma_mean
    if cls is nn.Dropout:
        zeros = np.mean(y == 0)
        assert abs(zeros - p) < 5 * math.sqrt(p * (1 - p) / n)
        assert np.allclose(y[y != 0], 1 / (1 - p))
    else:  # N(1, α): sample variance within 5 standard errors (2σ⁴/n for a normal sample)
        assert abs(y.var() - var) < 5 * var * math.sqrt(2 / n)


@pytest.mark.parametrize("cls, p", DROPOUTS)
def test_dropout_backward_uses_the_forward_mask(cls, p):
    rng = np.random.default_rng(4)
    layer = cls(p, rng=np.random.default_rng(5))
    x = rng.uniform(0.5, 2.0, (6, 7))
    y = layer.forward(x)
    dy = rng.standard_normal(x.shape)
    np.testing.assert_allclose(layer.backward(dy), dy * (y / x), rtol=1e-12)
    # central differences with the mask held fixed (same generator state every forward)
    state = layer.rng.bit_generator.state

    def fixed_mask_forward(z):
        layer.rng.bit_generator.state = state
        return layer.forward(z)

    errors = check_module_grads(layer, x[:3, :4].copy(), rng, forward=fixed_mask_forward)
    assert errors["x"] < TOL


@pytest.mark.parametrize("cls", [nn.Dropout, nn.GaussianDropout])
@pytest.mark.parametrize("p", [-0.1, 1.0, 1.5])
def test_dropout_rejects_bad_p(cls, p):
    with pytest.raises(ValueError, match=r"p must be in \[0, 1\)"):
        cls(p, rng=np.random.default_rng(0))


@pytest.mark.parametrize("cls", [nn.Dropout, nn.GaussianDropout])
def test_dropout_p_zero_is_identity_in_training(cls):
    x = np.random.default_rng(0).standard_normal((3, 4))
    assert np.array_equal(cls(0.0, rng=np.random.default_rng(0)).forward(x), x)


def test_dropout_float32_and_matches_torch_scaling(torch):
    x = np.ones((50, 40), np.float32)
    y = nn.Dropout(0.25, rng=np.random.default_rng(0)).forward(x)
    assert y.dtype == np.float32
    ty = torch.nn.Dropout(0.25)(torch.from_numpy(x))
    assert set(np.unique(y)) == set(np.unique(ty.numpy()))  # {0, 1/(1-p)} in both
