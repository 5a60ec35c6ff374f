"""logistic-vs-softmax lab: the converted logistic model predicts exactly as the trained softmax; the
report's sentences on made-up numbers."""
import numpy as np
import pytest

from backproplab.labs import logistic_vs_softmax as lab
from backproplab.labs.config import ConfigError
from backproplab.report.i18n import language


def test_softmax_to_logistic_hand_example():
    # W_s = [[1, 2], [4, 0]], b_s = [0.5, -1] → W_l = [3, -2], b_l = -1.5
    ws, bs = np.array([[1.0, 2.0], [4.0, 0.0]]), np.array([0.5, -1.0])
    wl, bl = lab.softmax_to_logistic(ws, bs)
    np.testing.assert_array_equal(wl, [[3.0, -2.0]])
    np.testing.assert_array_equal(bl, [-1.5])
    # x = (1, 1): z₁ = 3.5, z₂ = 3 → p₂ = e³/(e³ + e^3.5) = σ(-0.5) = 0.3775406687981454
    c = lab.compare(ws, bs, np.array([[1.0, 1.0]]), np.array([1]))
    assert c["p_soft"][0] == pytest.approx(0.3775406687981454, rel=1e-12)
    assert c["p_log"][0] == pytest.approx(0.3775406687981454, rel=1e-12)
    # CE gradient for the row difference: (p₂ - y)x - (p₁ - (1 - y))x = 2(p₂ - y)x; BCE's: (σ - y)x
    assert c["grad_ratio"] == pytest.approx(2.0, rel=1e-12)
    with pytest.raises(ValueError, match="2-class softmax"):
        lab.softmax_to_logistic(np.zeros((3, 4)), np.zeros(3))


def test_quick_run(tmp_path, lab_run, have_fashion_mnist):
    res, out = lab_run(lab, tmp_path)
    for r in res["rows"]:
        assert r["pred_agree"] == r["n"]
        assert r["max_abs_prob_diff"] < 1e-12
        assert abs(r["ce_softmax"] - r["bce_logistic"]) < 1e-12
        assert r["acc_softmax"] > 0.7  # T-shirt vs Shirt is learnable: well above chance
    assert res["all_predictions_agree"] and res["shift_max_diff"] < 1e-12
    assert res["test"]["grad_ratio"] == pytest.approx(2.0, rel=1e-9)
    assert (out / "comparison.csv").exists() and (out / "arrays.npz").exists()


def test_exactly_two_classes_are_required():
    with pytest.raises(ConfigError, match="exactly two classes"):
        lab.Config(classes="0,1,2")


def test_agreement_sentence_both_ways():
    rows = [{"n": 100, "pred_agree": 100}, {"n": 50, "pred_agree": 50}]
    with language("en"):
        assert "agree on all 150" in str(lab.agreement_sentence(rows, 6e-16, 0.0))
        bad = [{"n": 100, "pred_agree": 99}, {"n": 50, "pred_agree": 50}]
        assert "DISAGREE on 1 of 150 prediction;" in str(lab.agreement_sentence(bad, 0.3, 0.01))
        assert "more than float64 rounding" in str(lab.agreement_sentence(rows, 1e-6, 0.0))


def test_shift_direct_and_gradient_sentences_both_ways():
    with language("en"):
        assert "only `W_s2 - W_s1`" in str(lab.shift_sentence(5e-15))
        assert "more than rounding" in str(lab.shift_sentence(1e-3))
        assert "similar direction" in str(lab.direct_sentence(0.84, 0.845, 0.95))
        assert "different direction" in str(lab.direct_sentence(0.83, 0.845, 0.71))
        assert "twice as fast" in str(lab.grad_ratio_sentence(2.0))
        assert "NOT the 2" in str(lab.grad_ratio_sentence(1.0))
