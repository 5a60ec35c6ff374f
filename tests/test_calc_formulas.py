"""Calculators vs hand-worked answers (arithmetic in the comments) and textbook examples."""
import math

import numpy as np
import pytest

from backproplab.analysis.receptive_field import receptive_field, receptive_field_size, seen_offsets
from backproplab.calc import (bottleneck_macs, conv_macs, conv_out, conv_params, densenet_channels, fc_vs_conv,
                              inception_macs, init_stats, mlp_params, receptive_field_calc, vanishing_bound)


# -- conv-out -------------------------------------------------------------------
@pytest.mark.parametrize("n, k, s, p, d, expected", [
    (32, 5, 1, 0, 1, 28),   # (32 - 5)/1 + 1 = 28 (LeNet C1)
    (32, 5, 2, 2, 1, 16),   # floor((32 + 4 - 5)/2) + 1 = floor(15.5) + 1 = 16
    (224, 7, 2, 3, 1, 112),  # ResNet stem: floor((224 + 6 - 7)/2) + 1 = 111 + 1 = 112
    (227, 11, 4, 0, 1, 55),  # AlexNet conv1: (227 - 11)/4 + 1 = 54 + 1 = 55
    (7, 3, 1, 0, 2, 3),     # dilated span 2·(3-1)+1 = 5; 7 - 5 + 1 = 3
    (5, 5, 1, 0, 1, 1),     # kernel exactly as large as the input: one output
])
def test_conv_out_examples(n, k, s, p, d, expected):
    assert conv_out(n, k, s, p, d)["output_size"] == [expected, expected]


def test_conv_out_per_axis_and_leftover():
    r = conv_out((10, 7), (3, 2), stride=(2, 3))
    # h: floor((10-3)/2)+1 = 3+1 = 4, (7 mod 2) = 1 left over; w: floor((7-2)/3)+1 = 1+1 = 2, 5 mod 3 = 2
    assert r["output_size"] == [4, 2]
    assert r["leftover"] == [1, 2]


def test_conv_out_matches_torch_on_random_shapes():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    for _ in range(20):
        k, s, p, d = (int(v) for v in (rng.integers(1, 6), rng.integers(1, 4), rng.integers(0, 3), rng.integers(1, 3)))
        n = int(rng.integers(d * (k - 1) + 1, 20))
        conv = torch.nn.Conv2d(1, 1, k, stride=s, padding=p, dilation=d)
        y = conv(torch.zeros(1, 1, n, n + 1))
        assert conv_out((n, n + 1), k, s, p, d)["output_size"] == list(y.shape[2:])


@pytest.mark.parametrize("kwargs, name", [
    (dict(input_size=-3, kernel_size=2), "input_size"),
    (dict(input_size=8, kernel_size=0), "kernel_size"),
    (dict(input_size=8, kernel_size=3, stride=0), "stride"),
    (dict(input_size=8, kernel_size=3, padding=-1), "padding"),
    (dict(input_size=8, kernel_size=3, dilation=0), "dilation"),
    (dict(input_size=4, kernel_size=5), "larger than the padded input_size"),
    (dict(input_size=5, kernel_size=3, dilation=3), "larger than the padded input_size"),  # span 7 > 5
    (dict(input_size=2.5, kernel_size=1), "input_size must be an integer"),
])
def test_conv_out_invalid(kwargs, name):
    with pytest.raises(ValueError, match=name):
        conv_out(**kwargs)


# -- receptive field ------------------------------------------------------------
def test_receptive_field_dilated_stack_3_7_15():
    # Yu & Koltun 2016: 3x3 convs with dilation 1, 2, 4 -> 3, 7, 15, every pixel covered
    rows = receptive_field([3, 3, 3], dilations=[1, 2, 4])
    assert [r.extent for r in rows] == [3, 7, 15]
    assert [r.seen for r in rows] == [3, 7, 15]


def test_receptive_field_with_strides():
    # k=3,s=2 then k=3,s=2 then k=3,s=1: R = 1+2·1 = 3; 3+2·2 = 7; 7+2·4 = 15; jumps 2, 4, 4
    rows = receptive_field([3, 3, 3], strides=[2, 2, 1])
    assert [(r.extent, r.jump) for r in rows] == [(3, 2), (7, 4), (15, 4)]
    # VGG-style: three 3x3 stride-1 convs = one 7x7: 1 + 2 + 2 + 2 = 7
    assert receptive_field_size([3, 3, 3]) == 7


def test_receptive_field_holes_from_dilation():
    # two 3x3 convs with dilation 2: taps {0,2,4} + {0,2,4} = {0,2,4,6,8}: 5 of 9 per axis, 25 of 81 in 2-D
    r = receptive_field_calc([3, 3], dilations=[2])
    assert r["receptive_field"] == 9 and r["seen"] == 5
    assert r["extent_2d"] == 81 and r["seen_2d"] == 25
    assert seen_offsets([3, 3], dilations=[2, 2])[-1] == {0, 2, 4, 6, 8}


def test_receptive_field_matches_gradient_footprint_in_torch():
    """The pixels an output unit depends on, found by autograd, equal the formula's 'seen' and extent."""
    torch = pytest.importorskip("torch")
    for ks, ss, ds in [([3, 3, 3], [1, 1, 1], [1, 2, 4]), ([3, 3], [1, 1], [2, 2]), ([3, 2, 3], [2, 1, 1], [1, 1, 2]),
                       ([5, 3], [2, 2], [1, 3])]:
        layers = []
        for k, s, d in zip(ks, ss, ds):
            c = torch.nn.Conv2d(1, 1, k, stride=s, dilation=d, bias=False).double()
            torch.nn.init.constant_(c.weight, 1.0)  # positive weights: no accidental cancellation
            layers.append(c)
        net = torch.nn.Sequential(*layers)
        x = torch.zeros(1, 1, 64, 64, dtype=torch.float64, requires_grad=True)
        net(x)[0, 0, 0, 0].backward()
        footprint = (x.grad[0, 0, 0] != 0).nonzero().flatten().tolist()  # columns touched, row 0
        rows = receptive_field(ks, ss, ds)
        assert len(footprint) == rows[-1].seen
        assert footprint[-1] - footprint[0] + 1 == rows[-1].extent


@pytest.mark.parametrize("kwargs, name", [
    (dict(kernel_sizes=[]), "kernel_sizes"),
    (dict(kernel_sizes=[3, -1]), r"kernel_sizes\[1\]"),
    (dict(kernel_sizes=[3, 3], strides=[1, 0]), r"strides\[1\]"),
    (dict(kernel_sizes=[3, 3], dilations=[1, 2, 3]), "dilations has 3 entries"),
])
def test_receptive_field_invalid(kwargs, name):
    with pytest.raises(ValueError, match=name):
        receptive_field_calc(**kwargs)


# -- fc vs conv -----------------------------------------------------------------
def test_fc_vs_conv_small_example():
    r = fc_vs_conv(width=5, height=5, in_channels=2, out_channels=4, kernel_size=3)
    same, valid = r["same"], r["valid"]
    # same: 5·5·4 = 100 units; FC 5·5·2 = 50 inputs → 50·100 = 5000 weights; conv 3·3·2·4 = 72
    assert same["output"] == [5, 5, 4]
    assert same["fc"] == {"outputs": 100, "weights": 5000, "biases": 100, "connections": 5000}
    assert same["conv"]["weights"] == 72 and same["conv"]["biases"] == 4
    assert same["conv"]["connections"] == 100 * 18  # each of 100 outputs sees 3·3·2 = 18 inputs
    # taps inside per axis over the 5 output columns: 2+3+3+3+2 = 13; 4·2·13·13 = 1352
    assert same["conv"]["connections_inside"] == 1352
    # valid: 3·3·4 = 36 units; FC 50·36 = 1800; conv connections 36·18 = 648 (no padding: all real)
    assert valid["output"] == [3, 3, 4]
    assert valid["fc"]["weights"] == 1800
    assert valid["conv"]["connections"] == 648 == valid["conv"]["connections_inside"]


def test_fc_vs_conv_invalid():
    with pytest.raises(ValueError, match="kernel_size 7 is larger than the input"):
        fc_vs_conv(5, 5, 1, 1, 7)
    with pytest.raises(ValueError, match="in_channels"):
        fc_vs_conv(5, 5, 0, 1, 3)
    with pytest.raises(ValueError, match="kernel_size must be odd"):
        fc_vs_conv(5, 5, 1, 1, 2)


# -- params ---------------------------------------------------------------------
def test_mlp_params_five_hidden_layers_of_10():
    # 20·10+10 = 210; four 10·10+10 = 110 each = 440; 10·1+1 = 11; total 661 (610 weights + 51 biases)
    r = mlp_params([20, 10, 10, 10, 10, 10, 1])
    assert (r["weights"], r["biases"], r["total"]) == (610, 51, 661)
    assert mlp_params([20, 10, 10, 10, 10, 10, 1], bias=False)["total"] == 610


def test_conv_params_and_against_torch():
    # 3x3 conv 64 -> 128: 128·64·9 = 73,728 weights + 128 = 73,856
    r = conv_params(64, 128, 3)
    assert (r["total_without_bias"], r["total_with_bias"]) == (73728, 73856)
    # depthwise 3x3 on 32 channels (groups=32): 32·1·9 = 288 + 32
    assert conv_params(32, 32, 3, groups=32)["total"] == 320
    torch = pytest.importorskip("torch")
    c = torch.nn.Conv2d(6, 9, (3, 5), groups=3)
    assert conv_params(6, 9, (3, 5), groups=3)["total"] == sum(p.numel() for p in c.parameters())


def test_params_invalid():
    with pytest.raises(ValueError, match="groups=4 must divide"):
        conv_params(6, 8, 3, groups=4)
    with pytest.raises(ValueError, match=r"layer_sizes\[1\]"):
        mlp_params([3, -2, 1])
    with pytest.raises(ValueError, match="at least an input and an output"):
        mlp_params([3])


# -- macs -----------------------------------------------------------------------
def test_bottleneck_textbook_example():
    # 28x28x192 -> 28x28x32 with 5x5: direct 28·28·32·5·5·192 = 120,422,400;
    # via 16 channels 28·28·16·192 + 28·28·32·5·5·16 = 2,408,448 + 10,035,200 = 12,443,648; 89.67% saved
    r = bottleneck_macs(28, 192, 32, 5, 16)
    assert r["direct"] == 120_422_400
    assert (r["reduce"], r["conv"], r["bottleneck"]) == (2_408_448, 10_035_200, 12_443_648)
    assert r["saved"] == 107_978_752
    assert r["saved_percent"] == pytest.approx(100 * 107_978_752 / 120_422_400, rel=1e-12)
    assert round(r["saved_percent"], 1) == 89.7


def test_inception_3a():
    # GoogLeNet inception (3a), 28x28x192, widths 64, 96->128, 16->32, pool->32 (Szegedy et al. Table 1: 128M ops)
    # 28·28 = 784; 784·(192·64 + 192·96 + 96·128·9 + 192·16 + 16·32·25 + 192·32)
    #   = 784·(12288 + 18432 + 110592 + 3072 + 12800 + 6144) = 784·163328 = 128,049,152
    r = inception_macs(28, 192, 64, 96, 128, 16, 32, 32)
    assert r["macs"] == 128_049_152
    assert r["out_channels"] == 256
    assert r["params"] == 163_328 + (64 + 96 + 128 + 16 + 32 + 32)  # paper: 159K = 163,328/1024
    # naive: 784·(192·64 + 192·128·9 + 192·32·25) = 784·(12288 + 221184 + 153600) = 784·387072 = 303,464,448
    assert r["naive_macs"] == 303_464_448


def test_conv_macs_resnet_stem():
    # 224x224x3, 7x7/2 pad 3 -> 112x112x64; 112·112·64·(7·7·3 = 147) = 118,013,952 MACs
    r = conv_macs(224, 3, 64, 7, stride=2, padding=3)
    assert r["output"] == [112, 112, 64] and r["macs"] == 118_013_952
    assert r["params"] == 64 * 147 + 64


def test_macs_invalid():
    with pytest.raises(ValueError, match="mid_channels"):
        bottleneck_macs(28, 192, 32, 5, 0)
    with pytest.raises(ValueError, match="kernel_size 5 is larger than the input_size 4x4"):
        bottleneck_macs(4, 8, 8, 5, 2)
    with pytest.raises(ValueError, match="stride"):
        conv_macs(8, 3, 4, 3, stride=0)


# -- densenet -------------------------------------------------------------------
def test_densenet121_first_blocks():
    # block 1: 64 + 6·32 = 256 -> transition 0.5·256 = 128; block 2: 128 + 12·32 = 512 -> 256
    r = densenet_channels(64, 32, 6, compression=0.5)
    assert [row["out_channels"] for row in r["layers"]] == [96, 128, 160, 192, 224, 256]
    assert r["layers"][3]["in_channels"] == 160  # 64 + 3·32
    assert (r["out_channels"], r["transition_channels"]) == (256, 128)
    assert densenet_channels(128, 32, 12, 0.5)["transition_channels"] == 256
    # floor: 0.5·(24 + 3·12 = 60) = 30; 0.7·60 = 42
    assert densenet_channels(24, 12, 3, 0.7)["transition_channels"] == 42


def test_densenet_invalid():
    with pytest.raises(ValueError, match="growth_rate"):
        densenet_channels(16, -4, 3)
    with pytest.raises(ValueError, match="compression"):
        densenet_channels(16, 4, 3, compression=1.5)


# -- init -----------------------------------------------------------------------
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


def test_init_limits_match_torch_bounds():
    torch = pytest.importorskip("torch")
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


# -- vanishing bound --------------------------------------------------------------
def test_vanishing_bound_sigmoid():
    # σ = 1/4, L = 10, i = 1: (1/4)^9 = 1/262144 = 3.814697265625e-06
    r = vanishing_bound(0.25, 10, 1)
    assert r["exponent"] == 9
    assert r["bound"] == pytest.approx(1 / 262144, rel=1e-12)
    # 0.25^k < 1e-6 first at k = 10 (0.25^9 = 3.8e-6, 0.25^10 = 9.5e-7)
    assert r["layers_to_1e-6"] == 10
    # with ||δ_L|| = 2, σ = 0.5, L = 5, i = 3: 2·0.5² = 0.5
    assert vanishing_bound(0.5, 5, 3, delta_norm=2.0)["bound"] == pytest.approx(0.5, rel=1e-12)
    assert vanishing_bound(0.5, 5, 5)["bound"] == 1.0  # i = L: σ^0


def test_vanishing_bound_invalid():
    with pytest.raises(ValueError, match="layer must be between 1 and num_layers=5"):
        vanishing_bound(0.5, 5, 6)
    with pytest.raises(ValueError, match="sigma"):
        vanishing_bound(-0.1, 5, 1)
    with pytest.raises(ValueError, match="num_layers"):
        vanishing_bound(0.5, 0, 1)
