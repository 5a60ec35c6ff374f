"""init_stats: each scheme's std or limit for dense and conv layers by hand, aliases, PyTorch's bounds."""
import math

import pytest

from backproplab.calc import init_stats


def test_init_dense_784_256():
    r = init_stats("all", 784, 256)
    s = r["schemes"]
    assert (r["fan_in"], r["fan_out"]) == (784, 256)
    # Glorot uniform: a = sqrt(6/(784+256)) = sqrt(6/1040) = 0.0759554...
    assert s["glorot_uniform"]["limit"] == pytest.approx(math.sqrt(6 / 1040), rel=1e-12)
    assert s["glorot_normal"]["std"] == pytest.approx(math.sqrt(2 / 1040), rel=1e-12)
    # He normal: sqrt(2/784) = sqrt(2)/28 = 0.0505076...
    assert s["he_normal"]["std"] == pytest.approx(math.sqrt(2) / 28, rel=1e-12)
    assert s["he_uniform"]["limit"] == pytest.approx(math.sqrt(6 / 784), rel=1e-12)
    # LeCun normal: 1/28
    assert s["lecun_normal"]["std"] == pytest.approx(1 / 28, rel=1e-12)
    assert s["lecun_normal"]["limit"] is None
    assert s["pytorch"]["limit"] == pytest.approx(1 / 28, rel=1e-12)


def test_init_conv_fans_and_aliases():
    # conv 3x3, 64 -> 128: fan_in = 64·9 = 576, fan_out = 128·9 = 1152; He std sqrt(2/576) = sqrt(2)/24
    r = init_stats("kaiming_normal", 64, 128, kernel_size=3)
    assert (r["fan_in"], r["fan_out"]) == (576, 1152)
    assert list(r["schemes"]) == ["he_normal"]
    assert r["schemes"]["he_normal"]["std"] == pytest.approx(math.sqrt(2) / 24, rel=1e-12)
    # xavier_uniform = Glorot: sqrt(6/(576+1152)) = sqrt(6/1728) = 1/sqrt(288)
    a = init_stats("xavier_uniform", 64, 128, 3)["schemes"]["glorot_uniform"]["limit"]
    assert a == pytest.approx(1 / math.sqrt(288), rel=1e-12)
    # the library's 'xavier' is the assignment's N(0, 1/fan_in): 1/24
    assert init_stats("xavier", 64, 128, 3)["schemes"]["lecun_normal"]["std"] == pytest.approx(1 / 24, rel=1e-12)


def test_init_limits_match_torch_bounds(torch):
    w = torch.empty(300, 200)
    torch.manual_seed(0)
    torch.nn.init.xavier_uniform_(w)
    a = init_stats("glorot_uniform", 200, 300)["schemes"]["glorot_uniform"]["limit"]
    assert w.abs().max().item() <= a and w.abs().max().item() > 0.99 * a


def test_init_invalid():
    with pytest.raises(ValueError, match="unknown init name 'gaussian'"):
        init_stats("gaussian", 3, 4)
    with pytest.raises(ValueError, match="out_channels"):
        init_stats("he", 3, 0)
