"""deformable-conv lab: both networks start as one function; the regular grid's spread by hand; the
statistics on made-up numbers; every report sentence both ways; the quick run's claims."""
import math

import numpy as np
import pytest

from backproplab import nn
from backproplab.labs import deformable_conv as lab
from backproplab.labs.config import ConfigError
from backproplab.labs.deformable_conv_analysis import (conv_stack, outside_share, paired_difference, pearson_with_ci,
                                                       spread, unit_points)
from backproplab.labs.deformable_conv_model import make_network
from backproplab.labs.deformable_conv_text import (correlation_sentence, difference_sentence, gap_sentence,
                                                   start_sentence, sweep_sentence, widening_sentence)
from backproplab.report.i18n import language

#: the centre unit's 81 points of two 3x3 layers (the second strided 2) above a stride-2 layer: per axis
#: offsets -2..2 on the 14 x 14 grid with weights 1, 2, 3, 2, 1 (/9), E[d²] = 12/9; in image pixels x2 per axis
REGULAR_SPREAD = math.sqrt(2 * 4 * 12 / 9)


def test_networks_start_as_the_same_function():
    rng = np.random.default_rng(0)
    x = rng.random((3, 1, 28, 28)).astype(np.float32)
    nets = {k: make_network(k, (4, 4, 4, 4), 10, 2, False, np.random.default_rng(1)) for k in ("plain", "deformable")}
    out = {k: net.eval().forward(x) for k, net in nets.items()}
    np.testing.assert_allclose(out["plain"], out["deformable"], rtol=1e-5, atol=1e-6)
    deform = [m for m in nets["deformable"] if isinstance(m, nn.DeformConv2d)]
    assert len(deform) == 2 and all(m.conv_offset.out_channels == 18 for m in deform)
    extra = sum(p.data.size for m in deform for p in m.conv_offset.parameters())
    count = {k: sum(p.data.size for p in net.parameters()) for k, net in nets.items()}
    assert count["deformable"] - count["plain"] == extra


def test_regular_grid_points_and_spread():
    net = make_network("plain", (2, 2, 2, 2), 10, 2, False, np.random.default_rng(2)).eval()
    x = np.random.default_rng(3).random((2, 1, 28, 28)).astype(np.float32)
    points = unit_points(conv_stack(net), x, (3, 3), depth=2)
    assert points.shape == (2, 81, 2)
    np.testing.assert_allclose(points.mean(axis=1), [[12.0, 12.0]] * 2)  # unit 3 of 7: 4·3 in the image
    assert spread(points[0]) == pytest.approx(REGULAR_SPREAD, rel=1e-12)
    assert outside_share(points, (28, 28)) == 0.0
    assert outside_share(np.array([[-1.0, 3.0], [5.0, 28.0], [2.0, 2.0], [27.4, 0.0]]), (28, 28)) == 0.5


def test_paired_difference_by_hand():
    a, b = [1, 1, 0, 0, 1], [1, 0, 1, 1, 1]  # d = 0, -1, 1, 1, 0: mean 0.2, sample sd sqrt(0.7)
    r = paired_difference(a, b)
    assert r["diff"] == pytest.approx(0.2) and r["se_diff"] == pytest.approx(math.sqrt(0.7) / math.sqrt(5))
    assert (r["only_a"], r["only_b"]) == (1, 2)
    assert r["se_a"] == pytest.approx(math.sqrt(0.6 * 0.4 / 5))


def test_pearson_interval_against_scipy():
    stats = pytest.importorskip("scipy.stats")
    rng = np.random.default_rng(4)
    x = rng.random(50)
    y = x + rng.normal(0, 0.5, 50)
    mine = pearson_with_ci(x, y)
    ref = stats.pearsonr(x, y)
    ci = ref.confidence_interval(0.95)
    assert mine["r"] == pytest.approx(ref.statistic, rel=1e-10)
    assert mine["low"] == pytest.approx(ci.low, abs=2e-3) and mine["high"] == pytest.approx(ci.high, abs=2e-3)
    assert pearson_with_ci(x, np.ones(50)) is None and pearson_with_ci(x[:3], y[:3]) is None


def test_config_checks():
    with pytest.raises(ConfigError, match="4 entries"):
        lab.Config(channels=(8, 8, 8))
    with pytest.raises(ConfigError, match="low <= high"):
        lab.Config(scale_range=(1.2, 0.8))


def _cmp(diff, se, n=1000):
    return {"diff": diff, "se_diff": se, "n": n, "only_a": 10, "only_b": 12}


def test_difference_sentence_three_ways():
    with language("en"):
        assert "no real difference" in str(difference_sentence(_cmp(0.015, 0.008), "x"))
        assert "better by +3.00%" in str(difference_sentence(_cmp(0.03, 0.008), "x"))
        assert "worse by -3.00%" in str(difference_sentence(_cmp(-0.03, 0.008), "x"))
        assert "no real difference" in str(difference_sentence(_cmp(-0.016, 0.008), "x"))  # exactly 2 SE: noise


def test_correlation_sentence_every_way():
    with language("en"):
        assert "rises with scale (weak link)" in str(correlation_sentence(
            {"r": 0.11, "low": 0.02, "high": 0.19, "n": 500}, "scale"))
        assert "falls as scale grows (moderate link)" in str(correlation_sentence(
            {"r": -0.4, "low": -0.5, "high": -0.3, "n": 500}, "scale"))
        assert "contains 0" in str(correlation_sentence({"r": 0.05, "low": -0.04, "high": 0.14, "n": 500}, "scale"))
        assert "no correlation" in str(correlation_sentence(None, "scale"))


def _change(change, se):
    return {"from_scale": 0.7, "to_scale": 1.3, "change": change, "se": se, "ratio": 1 + change / 10}


def test_sweep_sentence_every_way():
    with language("en"):
        assert "same grid at every scale" in str(sweep_sentence(_change(1e-15, 1e-16), "plain"))
        assert "no clear change" in str(sweep_sentence(_change(0.1, 0.09), "deformable"))
        text = str(sweep_sentence(_change(0.7, 0.09), "deformable"))
        assert "spread out" in text and "object × 1.86" in text
        assert "draw together" in str(sweep_sentence(_change(-0.7, 0.09), "deformable"))


def test_start_sentence_both_ways_and_with_modulation():
    same = {"max_logit_difference": 1.5e-8, "max_offset": 0.0}
    with language("en"):
        assert "same function" in str(start_sentence(same, False))
        assert "DIFFERS" in str(start_sentence({"max_logit_difference": 0.3, "max_offset": 0.0}, False))
        assert "DIFFERS" in str(start_sentence({"max_logit_difference": 0.0, "max_offset": 0.1}, False))
        assert "0.5" in str(start_sentence({"max_logit_difference": 0.3, "max_offset": 0.0}, True))


def test_widening_and_gap_sentences_both_ways():
    wide = {"regular": 3.27, "learned_mean": 12.2, "outside_learned": 0.3, "outside_regular": 0.0}
    with language("en"):
        assert "wider field of view" in str(widening_sentence(wide))
        assert "did not mainly widen" in str(widening_sentence({**wide, "learned_mean": 3.5}))
        assert "not specific to moved images" in str(gap_sentence({"gap": -0.007, "se": 0.008}))
        assert "help more where the geometry varies" in str(gap_sentence({"gap": 0.03, "se": 0.008}))
        assert "smaller on the moved images" in str(gap_sentence({"gap": -0.03, "se": 0.008}))


def test_quick_run(tmp_path, lab_run, have_fashion_mnist):
    res, out = lab_run(lab, tmp_path)
    start = res["start"]
    assert start["max_offset"] == 0.0 and start["max_logit_difference"] < 1e-5
    assert start["offset_branch"]["out_channels"] == 2 * 9 and start["offset_branch"]["weight_abs_max"] == 0.0
    plain, deform = res["models"]["plain"], res["models"]["deformable"]
    assert plain["steps"] == deform["steps"] == 16  # 512 images, batch 32, one epoch
    assert "offsets" not in plain and all(s["mean_abs"] > 0 for s in deform["offsets"]["moved"])
    assert res["spread"]["regular"] == pytest.approx(REGULAR_SPREAD, rel=1e-9)
    assert res["spread"]["learned_mean"] != pytest.approx(REGULAR_SPREAD, rel=1e-6)  # the offsets moved the taps
    assert abs(res["sweep_change"]["plain"]["change"]) < 1e-9
    assert res["comparison"]["moved"]["acc_a"] == pytest.approx(plain["accuracy"]["moved"])
    assert res["comparison"]["original"]["acc_b"] == pytest.approx(deform["accuracy"]["original"])
    assert sum(w["weight"] for w in deform["tap_example"]["weights"]) == pytest.approx(1.0, abs=1e-9)
    for f in ("sampling.npz", "accuracy.csv", "sweep.csv", "offsets.csv", "sampling_points.png", "scale_sweep.png"):
        assert (out / f).exists(), f


def test_one_test_image_is_refused_since_the_gain_needs_a_standard_error():
    with pytest.raises(ConfigError, match="--test-size must be >= 2"):
        lab.Config(test_size=1)
    assert lab.Config(test_size=2).test_size == 2
