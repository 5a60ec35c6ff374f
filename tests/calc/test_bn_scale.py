"""001 Q1(b): conv → BatchNorm with the weights or the input scaled by α, in training and inference mode."""
import numpy as np
import pytest

from backproplab.calc.bn_scale import _draw, _layers, bn_scale


def verdicts(case, mode):
    return {name: c["matches"] for name, c in case[mode].items()}


def test_positive_alpha():
    (case,) = bn_scale([2.0]).values["cases"]
    assert case["weights_vs_input_max_diff"] == 0.0  # conv(x, αW) = conv(αx, W) exactly
    assert verdicts(case, "train") == {"unchanged": True, "alpha_times_y": False, "sign_alpha_times_y": True,
                                       "correct": True}
    assert verdicts(case, "eval") == {"unchanged": False, "alpha_times_y": False, "sign_alpha_times_y": False,
                                      "correct": True}


def test_negative_alpha_flips_gamma_term_but_not_beta():
    (case,) = bn_scale([-2.0]).values["cases"]
    assert verdicts(case, "train") == {"unchanged": False, "alpha_times_y": False, "sign_alpha_times_y": False,
                                       "correct": True}
    assert case["train"]["correct"]["max_abs_diff"] < 1e-12


def test_alpha_one_changes_nothing():
    (case,) = bn_scale([1.0]).values["cases"]
    assert all(verdicts(case, "train").values()) and all(verdicts(case, "eval").values())


def test_inference_formula_matches_torch_eval_batchnorm():
    torch = pytest.importorskip("torch")
    conv, bn, rng = _layers(0)
    bn.train()
    for _ in range(5):
        bn.forward(np.array(conv.forward(_draw(rng, 8))))
    x = _draw(rng, 8)
    alpha = 3.0
    z = np.array(conv.forward(alpha * x))
    tbn = torch.nn.BatchNorm2d(4, dtype=torch.float64).eval()
    with torch.no_grad():
        tbn.weight.copy_(torch.tensor(bn.weight.data))
        tbn.bias.copy_(torch.tensor(bn.bias.data))
        tbn.running_mean.copy_(torch.tensor(bn.running_mean))
        tbn.running_var.copy_(torch.tensor(bn.running_var))
        expected = tbn(torch.tensor(z)).numpy()
    g, b = bn.weight.data[None, :, None, None], bn.bias.data[None, :, None, None]
    mine = g * (z - bn.running_mean[None, :, None, None]) / np.sqrt(bn.running_var[None, :, None, None] + 1e-5) + b
    np.testing.assert_allclose(mine, expected, rtol=1e-12, atol=1e-12)


def test_bad_alpha():
    with pytest.raises(ValueError, match="alpha must be a nonzero number"):
        bn_scale([0.0])
