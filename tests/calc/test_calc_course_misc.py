"""Small calculators behind document 001's answers: U-Net sizes, normalization statistics, bilinear
interpolation, the receptive field of question 5(c), and plain vs residual gradients."""
import pytest

from backproplab.calc import receptive_field_calc
from backproplab.calc.bilinear import bilinear
from backproplab.calc.norm_stats import norm_stats
from backproplab.calc.residual_gradient import residual_gradient
from backproplab.calc.unet import unet


def test_unet_sizes_and_params():
    v = unet(256).values
    assert [lvl["size"] for lvl in v["levels"]] == [256, 128, 64, 32, 16]
    assert v["bottleneck_pixels"] == 256
    # the 64 -> 128 conv: 3·3·64·128 + 128; the second conv of level 1 (64 -> 64): 3·3·64·64 + 64
    assert v["convs"][2]["params"] == 73_856 and v["convs"][1]["params"] == 36_928
    with pytest.raises(ValueError, match="too small for 4 halvings"):
        unet(8)


def test_norm_stats_counts_and_batch_dependence():
    v = norm_stats(8, 4, 6, 6, groups=2).values["norms"]
    assert (v["batch"]["statistics"], v["batch"]["values_per_statistic"]) == (4, 288)
    assert (v["layer"]["statistics"], v["layer"]["values_per_statistic"]) == (8, 144)
    assert (v["instance"]["statistics"], v["instance"]["values_per_statistic"]) == (32, 36)
    assert (v["group"]["statistics"], v["group"]["values_per_statistic"]) == (16, 72)
    assert {k: n["depends_on_batch"] for k, n in v.items()} == {"batch": True, "layer": False, "instance": False,
                                                                "group": False}
    with pytest.raises(ValueError, match="groups=3 must divide channels=4"):
        norm_stats(8, 4, groups=3)


def test_bilinear_weights_by_hand():
    v = bilinear(1.3, 2.6).values
    weights = {tuple(nb["q"]): nb["weight"] for nb in v["neighbours"]}
    # (1 - 0.3)(1 - 0.6), (1 - 0.3)(0.6), (0.3)(1 - 0.6), (0.3)(0.6)
    assert weights == pytest.approx({(1, 2): 0.28, (1, 3): 0.42, (2, 2): 0.12, (2, 3): 0.18})
    assert v["weight_sum"] == pytest.approx(1.0, rel=1e-12)
    assert v["abs_diff"] < 1e-12  # scipy's order-1 map_coordinates
    with pytest.raises(ValueError, match="outside the 5x5 map"):
        bilinear(5.2, 0)


@pytest.mark.parametrize("w", [2, 3, 4, 7])
@pytest.mark.parametrize("d", [2, 3, 5])
def test_question_5c_receptive_field_closed_form(w, d):
    # kernels w-1, w, w+1 with dilations d-1, d, d+1, stride 1: R = 1 + (w-2)(d-1) + (w-1)d + w(d+1) = 3(d(w-1)+1)
    r = receptive_field_calc([w - 1, w, w + 1], None, [d - 1, d, d + 1]).values
    assert r["receptive_field"] == 3 * (d * (w - 1) + 1)
    assert r["layers"][0]["extent"] == 1 + (w - 2) * (d - 1)
    if w > 2:  # the solution's first-layer value 1 + (w-1)(d-1) is too large by d - 1
        assert r["layers"][0]["extent"] != 1 + (w - 1) * (d - 1)


def test_question_5c_receptive_field_by_autograd():
    # independent of the formula: backpropagate a one-hot output gradient through all-ones dilated convs
    torch = pytest.importorskip("torch")
    w, d = 3, 2
    x = torch.zeros(1, 1, 64, dtype=torch.float64, requires_grad=True)
    y = x
    for k, dil in zip([w - 1, w, w + 1], [d - 1, d, d + 1]):
        y = torch.nn.functional.conv1d(y, torch.ones(1, 1, k, dtype=torch.float64), dilation=dil)
    y[0, 0, 0].backward()
    seen = torch.nonzero(x.grad[0, 0]).flatten()
    assert int(seen.max() - seen.min()) + 1 == 3 * (d * (w - 1) + 1) == 15


def test_residual_stack_keeps_the_gradient():
    rows = residual_gradient([2, 10], width=8, seed=0).values["rows"]
    plain = [r["plain_w1"] for r in rows]
    assert plain[1] < 1e-3 * plain[0]          # sigmoid blocks: the plain gradient vanishes with depth
    assert all(r["residual_w1"] > 0.1 * rows[0]["residual_w1"] for r in rows)
    assert rows[1]["ratio_w1"] > 1e3
