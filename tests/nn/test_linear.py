"""Linear: float64 central differences with a random upstream gradient, forward + every gradient against
torch.nn.Linear on random shapes (relative error < 1e-6), float32 without upcasts, the named init, errors."""
import math
import zlib

import numpy as np
import pytest

from backproplab import nn
from backproplab.analysis import check_module_grads

TOL = 1e-6

# (name, our module from rng, its PyTorch twin from the torch module)
LAYERS = [
    ("linear", lambda r: nn.Linear(3, 4, rng=r), lambda t: t.nn.Linear(3, 4)),
    ("linear_nobias", lambda r: nn.Linear(3, 2, bias=False, rng=r), lambda t: t.nn.Linear(3, 2, bias=False)),
]
IDS = [c[0] for c in LAYERS]


def make_input(rng):
    n, _ = rng.integers(2, 5, size=2)
    return rng.standard_normal((int(n), 3))  # (N, in_features)


@pytest.mark.parametrize("name, ours, _theirs", LAYERS, ids=IDS)
def test_central_differences(name, ours, _theirs):
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    layer = ours(rng).double()
    errors = check_module_grads(layer, make_input(rng), rng)
    assert max(errors.values()) < TOL, errors


@pytest.mark.parametrize("name, ours, theirs", LAYERS, ids=IDS)
def test_matches_torch(torch, matches_torch, name, ours, theirs):
    rng = np.random.default_rng(zlib.crc32(name.encode()) + 1)
    layer = ours(rng).double()
    for _, p in layer.named_parameters():
        p.data[...] = rng.standard_normal(p.shape) * 0.5
    x = make_input(rng)
    assert layer.forward(x).dtype == np.float64
    matches_torch(layer, theirs(torch), x, rng, TOL)


def test_linear_float32_has_no_upcast():
    rng = np.random.default_rng(0)
    layer = nn.Linear(7, 5, rng=rng)
    x = rng.standard_normal((3, 7)).astype(np.float32)
    y = layer.forward(x)
    dx = layer.backward(rng.standard_normal(y.shape).astype(np.float32))
    assert y.dtype == dx.dtype == layer.weight.grad.dtype == layer.bias.grad.dtype == np.float32


def test_bad_shapes_and_sizes():
    with pytest.raises(ValueError, match=r"expects input of shape \(N, 3\)"):
        nn.Linear(3, 2, rng=np.random.default_rng(0)).forward(np.zeros((4, 5)))
    with pytest.raises(ValueError, match="positive sizes"):
        nn.Linear(0, 2, rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match="unknown init"):
        nn.Linear(3, 4, rng=np.random.default_rng(0), init="bogus")


def test_linear_uses_the_named_init():
    n = 300 * 400
    layer = nn.Linear(400, 300, rng=np.random.default_rng(0), init="he", dtype=np.float64)
    assert abs(layer.weight.data.std() - math.sqrt(2 / 400)) < 5 * math.sqrt(2 / 400) / math.sqrt(2 * n)
    assert not np.any(layer.bias.data)
