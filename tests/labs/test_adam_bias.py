"""adam-bias lab: the library Adam's m_t against (1-β₁ᵗ)g, m̂_t = g, and the report's sentences."""
import numpy as np
import pytest

from backproplab.labs import adam_bias as lab
from backproplab.labs.config import ConfigError
from backproplab.report.i18n import language


def test_constant_gradient_moments_hand_computed():
    # g = 2, β₁ = 0.9, β₂ = 0.999: m_1 = 0.1·2 = 0.2, m_2 = 0.9·0.2 + 0.1·2 = 0.38, m_3 = 0.9·0.38 + 0.2 = 0.542
    # v_1 = 0.001·4 = 0.004, v_2 = 0.999·0.004 + 0.004 = 0.007996
    rows = lab.adam_moments(np.full(3, 2.0), lr=0.01, betas=(0.9, 0.999), eps=1e-8)
    assert [r["t"] for r in rows] == [1, 2, 3]
    np.testing.assert_allclose([r["m"] for r in rows], [0.2, 0.38, 0.542], rtol=1e-12)
    np.testing.assert_allclose([rows[0]["v"], rows[1]["v"]], [0.004, 0.007996], rtol=1e-12)
    np.testing.assert_allclose([r["m_hat"] for r in rows], 2.0, rtol=1e-12)
    np.testing.assert_allclose([r["v_hat"] for r in rows], 4.0, rtol=1e-12)
    # the step the library took: lr·g/(|g| + ε) = 0.01·2/(2 + 1e-8)
    np.testing.assert_allclose([r["step_taken"] for r in rows], 0.01 * 2 / (2 + 1e-8), rtol=1e-9)
    # uncorrected first step: lr·0.2/(sqrt(0.004)) = 0.01·3.16227766...
    assert rows[0]["step_uncorrected"] == pytest.approx(0.01 * 0.2 / np.sqrt(0.004), rel=1e-6)


def test_default_run_answers_question_4_2(tmp_path, lab_run):
    res, out = lab_run(lab, tmp_path, quick=False)
    # g = 1, β₁ = 0.9: m_1 = 0.1 (biased toward 0), m̂_1 = 0.1/(1 - 0.9) = 1
    assert res["first_step"]["m"] == pytest.approx(0.1, rel=1e-12)
    assert res["first_step"]["m_hat"] == pytest.approx(1.0, rel=1e-12)
    assert res["max_err_m"] < 1e-12 and res["max_err_m_hat"] < 1e-12 and res["max_step_err"] < 1e-12
    assert res["first_step_ratio"] == pytest.approx(0.1 / np.sqrt(0.001), rel=1e-6)  # (1-β₁)/√(1-β₂)
    assert res["close_at"] is None  # (1-β₁ᵗ)/√(1-β₂ᵗ) is still > 1.1 at t = 100
    for name in ("adam_bias.png", "noisy.csv", "constant.json", "report.md"):
        assert (out / name).exists()


def test_uncorrected_step_comes_close_with_a_fast_beta2(tmp_path, lab_run):
    # β₂ = 0.9 = β₁: the uncorrected ratio (1-β₁ᵗ)/√(1-β₂ᵗ) = √(1-0.9ᵗ) > 0.9 once 0.9ᵗ < 0.19,
    # i.e. t > log(0.19)/log(0.9) = 15.8: from t = 16 (0.9¹⁵ = 0.206, 0.9¹⁶ = 0.185)
    res, _ = lab_run(lab, tmp_path, beta2=0.9)
    assert res["close_at"] == 16


def test_close_sentence_both_ways():
    with language("en"):
        assert "first comes within 10%" in str(lab.close_sentence(12, 100))
        assert "still more than 10% off" in str(lab.close_sentence(None, 100))


def test_noisy_sentence_both_ways():
    with language("en"):
        assert "is the closer one" in str(lab.noisy_sentence(-0.5, 0.2, -0.6, 10))
        assert "is not the closer one" in str(lab.noisy_sentence(-0.1, 0.3, -0.6, 10))


def test_agree_sentence_both_ways():
    ok, bad = "ok {err} {tol}", "bad {err} {tol}"
    assert str(lab.agree_sentence(ok, bad, 1e-13)).startswith("ok")
    assert str(lab.agree_sentence(ok, bad, 1e-6)).startswith("bad")


def test_zero_gradient_is_refused():
    with pytest.raises(ConfigError, match="--grad-mean"):
        lab.Config(grad_mean=0.0)
    with pytest.raises(ConfigError, match="--beta1"):
        lab.Config(beta1=1.0)
