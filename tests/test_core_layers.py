"""Linear, every activation, Flatten, Dropout, GaussianDropout and the initializers.

Each layer: float64 central differences with a random upstream gradient
(check_module_grads), and forward + every gradient against PyTorch on random shapes,
relative error < 1e-6. Statistical checks use tolerances derived from the sample size.
"""
import math
import zlib

import numpy as np
import pytest

from backproplab import nn
from backproplab.analysis import check_module_grads, rel_error

torch = pytest.importorskip("torch")
TOL = 1e-6


def random_shape(rng, ndim):
    return tuple(int(s) for s in rng.integers(2, 5, size=ndim))


# (name, our module from rng, torch module, input ndim)
LAYERS = [
    ("identity", lambda r: nn.Identity(), lambda: torch.nn.Identity(), 2),
    ("sigmoid", lambda r: nn.Sigmoid(), lambda: torch.nn.Sigmoid(), 3),
    ("tanh", lambda r: nn.Tanh(), lambda: torch.nn.Tanh(), 2),
    ("relu", lambda r: nn.ReLU(), lambda: torch.nn.ReLU(), 3),
    ("leaky_relu", lambda r: nn.LeakyReLU(0.2), lambda: torch.nn.LeakyReLU(0.2), 2),
    ("leaky_relu_default", lambda r: nn.LeakyReLU(), lambda: torch.nn.LeakyReLU(), 2),
    ("prelu_single", lambda r: nn.PReLU(), lambda: torch.nn.PReLU(), 4),
    ("prelu_channels", lambda r: nn.PReLU(3, init=0.1), lambda: torch.nn.PReLU(3, init=0.1), 4),
    ("prelu_channels_2d", lambda r: nn.PReLU(3), lambda: torch.nn.PReLU(3), 2),
    ("elu", lambda r: nn.ELU(), lambda: torch.nn.ELU(), 2),
    ("elu_alpha", lambda r: nn.ELU(alpha=0.7), lambda: torch.nn.ELU(alpha=0.7), 3),
    ("softmax_last", lambda r: nn.Softmax(), lambda: torch.nn.Softmax(dim=-1), 2),
    ("softmax_dim1", lambda r: nn.Softmax(dim=1), lambda: torch.nn.Softmax(dim=1), 3),
    ("flatten", lambda r: nn.Flatten(), lambda: torch.nn.Flatten(), 4),
    ("linear", lambda r: nn.Linear(3, 4, rng=r), lambda: torch.nn.Linear(3, 4), 2),
    ("linear_nobias", lambda r: nn.Linear(3, 2, bias=False, rng=r), lambda: torch.nn.Linear(3, 2, bias=False), 2),
]
IDS = [c[0] for c in LAYERS]


def make_input(name, rng, ndim):
    shape = random_shape(rng, ndim)
    if name.startswith(("prelu_channels", "linear")):
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
def test_matches_torch(name, ours, theirs, ndim):
    rng = np.random.default_rng(zlib.crc32(name.encode()) + 1)
    layer, ref = ours(rng).double(), theirs().double()
    for _, p in layer.named_parameters():
        p.data[...] = rng.standard_normal(p.shape) * 0.5
    with torch.no_grad():
        for (n, p), (tn, tp) in zip(layer.named_parameters(), ref.named_parameters()):
            assert n == tn and p.shape == tuple(tp.shape)
            tp.copy_(torch.from_numpy(p.data))
    x = make_input(name, rng, ndim)
    y = layer.forward(x)
    assert y.dtype == np.float64
    dy = rng.standard_normal(y.shape)
    layer.zero_grad()
    dx = layer.backward(dy)
    tx = torch.from_numpy(x.copy()).requires_grad_(True)
    ty = ref(tx)
    ty.backward(torch.from_numpy(dy))
    assert rel_error(y, ty.detach().numpy()) < TOL
    assert rel_error(dx, tx.grad.numpy()) < TOL
    for (n, p), (_, tp) in zip(layer.named_parameters(), ref.named_parameters()):
        assert rel_error(p.grad, tp.grad.numpy()) < TOL, n


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name, ours, theirs, ndim", [c for c in LAYERS if c[0] in ("sigmoid", "tanh", "elu", "softmax_last")],
                         ids=["sigmoid", "tanh", "elu", "softmax"])
def test_extreme_inputs_stay_finite(name, ours, theirs, ndim, dtype):
    x = np.array([[-1000.0, -100.0, -20.0, 0.0, 20.0, 100.0, 1000.0]], dtype=dtype)
    layer = ours(np.random.default_rng(0))
    with np.errstate(over="raise", invalid="raise", divide="raise"):  # no overflow, no 0/0 (underflow is fine)
        y = layer.forward(x)
        dx = layer.backward(np.ones_like(y))
    assert y.dtype == dtype and dx.dtype == dtype
    assert np.all(np.isfinite(y)) and np.all(np.isfinite(dx))
    ref = theirs()(torch.from_numpy(x.astype(np.float64))).numpy()
    np.testing.assert_allclose(y, ref, rtol=1e-6 if dtype == np.float32 else 1e-14, atol=1e-30)
    if name == "sigmoid":
        assert y[0, 0] == 0.0 and y[0, -1] == 1.0 and dx[0, 0] == 0.0


@pytest.mark.parametrize("name", ["identity", "sigmoid", "tanh", "relu", "leaky_relu", "prelu", "elu"])
def test_make_activation_and_float32_stays_float32(name):
    layer = nn.make_activation(name)
    assert type(layer) is nn.ACTIVATIONS[name]
    x = np.random.default_rng(0).standard_normal((4, 3)).astype(np.float32)
    y = layer.forward(x)
    assert y.dtype == np.float32 and layer.backward(np.ones_like(y)).dtype == np.float32


def test_unknown_activation_and_bad_shapes():
    with pytest.raises(ValueError, match="unknown activation 'swish'"):
        nn.make_activation("swish")
    with pytest.raises(ValueError, match=r"expects input of shape \(N, 3\)"):
        nn.Linear(3, 2, rng=np.random.default_rng(0)).forward(np.zeros((4, 5)))
    with pytest.raises(ValueError, match="3 channels"):
        nn.PReLU(3).forward(np.zeros((2, 4)))
    with pytest.raises(ValueError, match="positive sizes"):
        nn.Linear(0, 2, rng=np.random.default_rng(0))


def test_linear_float32_has_no_upcast():
    rng = np.random.default_rng(0)
    layer = nn.Linear(7, 5, rng=rng)
    x = rng.standard_normal((3, 7)).astype(np.float32)
    y = layer.forward(x)
    dx = layer.backward(np.ones_like(y))
    assert y.dtype == dx.dtype == layer.weight.grad.dtype == layer.bias.grad.dtype == np.float32


# -- Dropout and GaussianDropout ------------------------------------------------------------
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


def test_dropout_float32_and_matches_torch_scaling():
    x = np.ones((50, 40), np.float32)
    y = nn.Dropout(0.25, rng=np.random.default_rng(0)).forward(x)
    assert y.dtype == np.float32
    ty = torch.nn.Dropout(0.25)(torch.from_numpy(x))
    assert set(np.unique(y)) == set(np.unique(ty.numpy()))  # {0, 1/(1-p)} in both


# -- initializers --------------------------------------------------------------------------------
FAN_OUT, FAN_IN = 300, 400
N = FAN_OUT * FAN_IN
# name -> ("normal", std) or ("uniform", limit)
INITS = {
    "small": ("normal", 0.01),
    "large": ("normal", 2.5),  # scale given below
    "xavier": ("normal", math.sqrt(1 / FAN_IN)),
    "lecun_normal": ("normal", math.sqrt(1 / FAN_IN)),
    "glorot_normal": ("normal", math.sqrt(2 / (FAN_IN + FAN_OUT))),
    "glorot_uniform": ("uniform", math.sqrt(6 / (FAN_IN + FAN_OUT))),
    "he": ("normal", math.sqrt(2 / FAN_IN)),
    "he_normal": ("normal", math.sqrt(2 / FAN_IN)),
    "he_uniform": ("uniform", math.sqrt(6 / FAN_IN)),
    "pytorch": ("uniform", 1 / math.sqrt(FAN_IN)),
}


def test_every_named_init_is_tested():
    assert set(INITS) | {"zeros"} == set(nn.INIT_NAMES)


@pytest.mark.parametrize("name", sorted(INITS))
def test_init_statistics_match_the_formula(name):
    kind, param = INITS[name]
    w = nn.init_weight((FAN_OUT, FAN_IN), name, np.random.default_rng(0), np.float64, scale=2.5)
    assert w.shape == (FAN_OUT, FAN_IN)
    if kind == "normal":
        std = param
        se_std = std / math.sqrt(2 * N)  # standard error of a normal sample's std
    else:
        a = param
        std = a / math.sqrt(3)
        # var(s²) = (μ₄ - σ⁴)/n with μ₄ = a⁴/5, σ⁴ = a⁴/9; se(s) ≈ se(s²)/(2σ)
        se_std = math.sqrt((a ** 4 / 5 - a ** 4 / 9) / N) / (2 * std)
        assert np.all(np.abs(w) <= a)
        assert w.max() > a * (1 - 20 / N) and w.min() < -a * (1 - 20 / N)  # the limits are reached
    assert abs(w.std() - std) < 5 * se_std, (w.std(), std)
    assert abs(w.mean()) < 5 * std / math.sqrt(N)


def test_init_zeros_bias_and_dtype():
    rng = np.random.default_rng(0)
    assert not np.any(nn.init_weight((3, 4), "zeros", rng))
    assert nn.init_weight((3, 4), "he", rng).dtype == np.float32
    for name in nn.INIT_NAMES:
        b = nn.init_bias(5000, name, 25, rng)
        if name == "pytorch":  # U(±1/sqrt(fan_in)) as torch.nn.Linear
            assert np.all(np.abs(b) <= 0.2) and b.max() > 0.19 and b.min() < -0.19
        else:
            assert not np.any(b)


def test_init_fans_follow_torch():
    for shape in [(7, 5), (8, 3, 5, 5), (4, 2, 3)]:
        expected = torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(shape))
        assert nn.fan_in_and_fan_out(shape) == expected
    with pytest.raises(ValueError, match="at least 2 dims"):
        nn.fan_in_and_fan_out((5,))


def test_init_unknown_name():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="unknown init 'glorot'.*he_uniform"):
        nn.init_weight((3, 4), "glorot", rng)
    with pytest.raises(ValueError, match="unknown init"):
        nn.init_bias(3, "bogus", 4, rng)
    with pytest.raises(ValueError, match="unknown init"):
        nn.Linear(3, 4, rng=rng, init="bogus")


def test_linear_uses_the_named_init():
    layer = nn.Linear(400, 300, rng=np.random.default_rng(0), init="he", dtype=np.float64)
    assert abs(layer.weight.data.std() - math.sqrt(2 / 400)) < 5 * math.sqrt(2 / 400) / math.sqrt(2 * N)
    assert not np.any(layer.bias.data)


def test_float32_end_to_end_no_upcast():
    """A float32 model stays float32 after every layer, in every gradient and in the optimizer."""
    from backproplab import optim

    rng = np.random.default_rng(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(12, 8, rng=rng), nn.ReLU(), nn.Dropout(0.2, rng=rng),
                          nn.Linear(8, 8, rng=rng), nn.LeakyReLU(), nn.GaussianDropout(0.2, rng=rng),
                          nn.Linear(8, 8, rng=rng), nn.PReLU(8), nn.ELU(), nn.Tanh(), nn.Sigmoid(), nn.Identity(),
                          nn.Linear(8, 3, rng=rng))
    opt = optim.Adam(model.parameters(), lr=1e-3, weight_decay=1e-4)
    x = rng.standard_normal((5, 3, 4)).astype(np.float32)
    for layer in model:
        x = layer.forward(x)
        assert x.dtype == np.float32, type(layer).__name__
    loss_fn = nn.CrossEntropyLoss()
    loss_fn(x, rng.integers(0, 3, 5))
    dy = loss_fn.backward()
    for layer in reversed(model.layers):
        dy = layer.backward(dy)
        assert dy.dtype == np.float32, type(layer).__name__
    opt.step()
    for name, p in model.named_parameters():
        assert p.data.dtype == p.grad.dtype == np.float32, name
