"""Weight and bias initializers: each named scheme's statistics against its formula (tolerances from the
sample size), the zeros and PyTorch bias rules, fans as PyTorch computes them, unknown names."""
import math

import numpy as np
import pytest

from backproplab import nn

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


def test_init_fans_follow_torch(torch):
    for shape in [(7, 5), (8, 3, 5, 5), (4, 2, 3)]:
        expected = torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(shape))
        assert nn.fan_in_and_fan_out(shape) == expected


def test_init_fans_by_hand_and_two_dims_needed():
    assert nn.fan_in_and_fan_out((7, 5)) == (5, 7)  # Linear (out, in)
    assert nn.fan_in_and_fan_out((8, 3, 5, 5)) == (3 * 25, 8 * 25)  # conv: channels times the kernel's area
    with pytest.raises(ValueError, match="at least 2 dims"):
        nn.fan_in_and_fan_out((5,))


def test_init_unknown_name():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="unknown init 'glorot'.*he_uniform"):
        nn.init_weight((3, 4), "glorot", rng)
    with pytest.raises(ValueError, match="unknown init"):
        nn.init_bias(3, "bogus", 4, rng)
