"""Every activation (Identity, Sigmoid, Tanh, ReLU, LeakyReLU, PReLU, ELU, Softmax) and make_activation.

Each layer: float64 central differences with a random upstream gradient (check_module_grads), and
forward + every gradient against PyTorch on random shapes, relative error < 1e-6; extreme inputs stay
finite in float32 and float64 and still match PyTorch.
"""
import zlib

import numpy as np
import pytest

from backproplab import nn
from backproplab.analysis import check_module_grads

TOL = 1e-6

# (name, our module from rng, its PyTorch twin from the torch module, input ndim)
LAYERS = [
    ("identity", lambda r: nn.Identity(), lambda t: t.nn.Identity(), 2),
    ("sigmoid", lambda r: nn.Sigmoid(), lambda t: t.nn.Sigmoid(), 3),
    ("tanh", lambda r: nn.Tanh(), lambda t: t.nn.Tanh(), 2),
    ("relu", lambda r: nn.ReLU(), lambda t: t.nn.ReLU(), 3),
    ("leaky_relu", lambda r: nn.LeakyReLU(0.2), lambda t: t.nn.LeakyReLU(0.2), 2),
    ("leaky_relu_default", lambda r: nn.LeakyReLU(), lambda t: t.nn.LeakyReLU(), 2),
    ("prelu_single", lambda r: nn.PReLU(), lambda t: t.nn.PReLU(), 4),
    ("prelu_channels", lambda r: nn.PReLU(3, init=0.1), lambda t: t.nn.PReLU(3, init=0.1), 4),
    ("prelu_channels_2d", lambda r: nn.PReLU(3), lambda t: t.nn.PReLU(3), 2),
    ("elu", lambda r: nn.ELU(), lambda t: t.nn.ELU(), 2),
    ("elu_alpha", lambda r: nn.ELU(alpha=0.7), lambda t: t.nn.ELU(alpha=0.7), 3),
    ("softmax_last", lambda r: nn.Softmax(), lambda t: t.nn.Softmax(dim=-1), 2),
    ("softmax_dim1", lambda r: nn.Softmax(dim=1), lambda t: t.nn.Softmax(dim=1), 3),
]
IDS = [c[0] for c in LAYERS]
BY_NAME = {c[0]: c for c in LAYERS}


def make_input(name, rng, ndim):
    shape = tuple(int(s) for s in rng.integers(2, 5, size=ndim))
    if name.startswith("prelu_channels"):
        shape = (shape[0], 3) + shape[2:]
    x = rng.standard_normal(shape)
    if name.startswith("prelu") or name.startswith("leaky"):
        x[np.abs(x) < 1e-3] = 0.5  # keep central differences away from the kink at 0
    return x


@pytest.mark.parametrize("name, ours, _theirs, ndim", LAYERS, ids=IDS)
def test_central_differences(name, ours, _theirs, ndim):
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    layer = ours(rng).double()
    if name.startswith("prelu"):  # a random slope per channel, so a shared-slope bug shows
        layer.weight.data[...] = rng.uniform(0.05, 0.5, layer.weight.shape)
    errors = check_module_grads(layer, make_input(name, rng, ndim), rng)
    assert max(errors.values()) < TOL, errors


@pytest.mark.parametrize("name, ours, theirs, ndim", LAYERS, ids=IDS)
def test_matches_torch(torch, matches_torch, name, ours, theirs, ndim):
    rng = np.random.default_rng(zlib.crc32(name.encode()) + 1)
    layer = ours(rng).double()
    for _, p in layer.named_parameters():
        p.data[...] = rng.standard_normal(p.shape) * 0.5
    x = make_input(name, rng, ndim)
    assert layer.forward(x).dtype == np.float64
    matches_torch(layer, theirs(torch), x, rng, TOL)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", ["sigmoid", "tanh", "elu", "softmax_last"])
def test_extreme_inputs_stay_finite_and_match_torch(torch, name, dtype):
    _, ours, theirs, _ = BY_NAME[name]
    x = np.array([[-1000.0, -100.0, -20.0, 0.0, 20.0, 100.0, 1000.0]], dtype=dtype)
    # a random dy: with dy = ones, Softmax's dx is zero whatever the backward does
    dy = np.random.default_rng(zlib.crc32(name.encode())).standard_normal(x.shape).astype(dtype)
    layer = ours(np.random.default_rng(0))
    with np.errstate(over="raise", invalid="raise", divide="raise"):  # no overflow, no 0/0 (underflow is fine)
        y = layer.forward(x)
        dx = layer.backward(dy)
    assert y.dtype == dtype and dx.dtype == dtype
    assert np.all(np.isfinite(y)) and np.all(np.isfinite(dx))
    tx = torch.from_numpy(x.astype(np.float64)).requires_grad_(True)
    ty = theirs(torch)(tx)
    ty.backward(torch.from_numpy(dy.astype(np.float64)))
    np.testing.assert_allclose(y, ty.detach().numpy(), rtol=1e-6 if dtype == np.float32 else 1e-14, atol=1e-30)
    scale = np.abs(dy).max()  # float32 rounds dx near its zeros at about eps·|dy|
    np.testing.assert_allclose(dx, tx.grad.numpy(), rtol=1e-5 if dtype == np.float32 else 1e-12,
                               atol=(1e-6 if dtype == np.float32 else 1e-15) * scale)
    if name == "sigmoid":
        assert y[0, 0] == 0.0 and y[0, -1] == 1.0 and dx[0, 0] == 0.0


@pytest.mark.parametrize("name", ["identity", "sigmoid", "tanh", "relu", "leaky_relu", "prelu", "elu"])
def test_make_activation_and_float32_stays_float32(name):
    layer = nn.make_activation(name)
    assert type(layer) is nn.ACTIVATIONS[name]
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 3)).astype(np.float32)
    y = layer.forward(x)
    dy = rng.standard_normal(y.shape).astype(np.float32)
    assert y.dtype == np.float32 and layer.backward(dy).dtype == np.float32


def test_unknown_activation_and_bad_prelu_shape():
    with pytest.raises(ValueError, match="unknown activation 'swish'"):
        nn.make_activation("swish")
    with pytest.raises(ValueError, match="3 channels"):
        nn.PReLU(3).forward(np.zeros((2, 4)))
