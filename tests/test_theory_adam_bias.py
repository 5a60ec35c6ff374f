"""adam-bias lab: the library Adam's m_t against (1-β₁ᵗ)g, and m̂_t = g."""
import numpy as np
import pytest

from backproplab.labs import adam_bias as lab


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


def test_quick_run(tmp_path):
    res = lab.run(lab.Config(quick=True), tmp_path)
    assert res["max_err_m_hat"] < 1e-12
    assert res["max_step_err"] < 1e-12
    assert res["first_step_ratio"] == pytest.approx(0.1 / np.sqrt(0.001), rel=1e-6)  # (1-β₁)/√(1-β₂)
    assert (tmp_path / "adam_bias.png").exists() and (tmp_path / "noisy.csv").exists()
