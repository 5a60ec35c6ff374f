"""quadratic lab: GD on wᵀHw converges iff lr < 1/λ_max; Newton lands on the minimum in one step."""
import numpy as np
import pytest

from backproplab.labs import quadratic as lab


def test_gd_matches_closed_form_iteration():
    # H = diag(1, 10), lr = 0.09: w_t = (I - 2·lr·H)^t w0 = (0.82^t, (-0.8)^t) for w0 = (1, 1)
    h = np.diag([1.0, 10.0])
    path = lab.gd_trajectory(h, np.array([1.0, 1.0]), 0.09, 5)
    expected = np.array([[0.82 ** t, (-0.8) ** t] for t in range(6)])
    np.testing.assert_allclose(path, expected, rtol=1e-12, atol=1e-15)


def test_newton_one_step_reaches_minimum():
    h = lab.make_h((2.0, 50.0, 0.3), rotation_deg=40.0)
    w1 = lab.newton_step(h, np.array([3.0, -2.0, 5.0]))
    assert np.linalg.norm(w1) < 1e-12


def test_ill_conditioned_slow_convergence_is_still_convergence(tmp_path):
    # λ = 1, 100; lr = 0.2/100 = 0.002: slowest factor 1 - 2·0.002·1 = 0.996 (< 1: converges, slowly)
    res = lab.run(lab.Config(quick=True, eigenvalues=(1.0, 100.0), lr_factors=(0.2, 1.0)), tmp_path)
    by = {r["lr_factor"]: r for r in res["runs"]}
    assert by[0.2]["measured_factor"] == pytest.approx(0.996, rel=1e-9)
    assert by[0.2]["behaviour"] == "converges"
    assert by[1.0]["behaviour"] == "constant amplitude"


def test_make_h_eigenvalues_and_invalid():
    np.testing.assert_allclose(np.linalg.eigvalsh(lab.make_h((1.0, 10.0), 30.0)), [1.0, 10.0], rtol=1e-12)
    with pytest.raises(ValueError, match="eigenvalues must be positive"):
        lab.make_h((1.0, -2.0), 0.0)


def test_quick_run_classifies_rates(tmp_path):
    cfg = lab.Config(quick=True, eigenvalues=(1.0, 10.0), lr_factors=(0.5, 0.9, 1.0, 1.1))
    res = lab.run(cfg, tmp_path)
    by = {r["lr_factor"]: r for r in res["runs"]}
    assert res["bound"] == pytest.approx(0.1, rel=1e-12)  # 1/λ_max = 1/10
    assert by[0.5]["behaviour"] == "converges" and by[0.9]["behaviour"] == "converges"
    assert by[1.0]["behaviour"] == "constant amplitude"
    assert by[1.1]["behaviour"] == "diverges"
    # lr = 0.9/λ_max: factors |1-2·0.09·1| = 0.82, |1-2·0.09·10| = 0.8 → radius 0.82
    assert by[0.9]["spectral_radius"] == pytest.approx(0.82, rel=1e-12)
    assert by[0.9]["measured_factor"] == pytest.approx(0.82, rel=1e-9)
    # lr = 1.1/λ_max: |1 - 2.2| = 1.2; lr = 0.5/λ_max: max(|1 - 0.1|, |1 - 1|) = 0.9
    assert by[1.1]["measured_factor"] == pytest.approx(1.2, rel=1e-9)
    assert by[0.5]["measured_factor"] == pytest.approx(0.9, rel=1e-9)
    assert by[1.1]["f_final"] > 1e3 * by[1.1]["f0"]
    assert res["newton_distance"] < 1e-12
    for name in ("config.json", "runs.csv", "quadratic.png", "report.md"):
        assert (tmp_path / name).exists()
