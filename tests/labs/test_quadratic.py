"""quadratic lab: GD on wᵀHw converges iff lr < 1/λ_max; Newton in one step; valleys and saddles."""
import numpy as np
import pytest

from backproplab.labs import quadratic as lab
from backproplab.labs.config import ConfigError
from backproplab.report.i18n import language


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


def test_ill_conditioned_slow_convergence_is_still_convergence(tmp_path, lab_run):
    # λ = 1, 100; lr = 0.2/100 = 0.002: slowest factor 1 - 2·0.002·1 = 0.996 (< 1: converges, slowly)
    res, _ = lab_run(lab, tmp_path, eigenvalues=(1.0, 100.0), lr_factors=(0.2, 1.0))
    by = {r["lr_factor"]: r for r in res["runs"]}
    assert by[0.2]["measured_factor"] == pytest.approx(0.996, rel=1e-9)
    assert by[0.2]["behaviour"] == "converges"
    assert by[1.0]["behaviour"] == "constant amplitude"


def test_make_h_eigenvalues_any_sign():
    np.testing.assert_allclose(np.linalg.eigvalsh(lab.make_h((1.0, 10.0), 30.0)), [1.0, 10.0], rtol=1e-12)
    np.testing.assert_allclose(np.linalg.eigvalsh(lab.make_h((-1.0, 10.0), 30.0)), [-1.0, 10.0], rtol=1e-12)
    with pytest.raises(ValueError, match="finite"):
        lab.make_h((1.0, float("nan")), 0.0)


def test_quick_run_classifies_rates(tmp_path, lab_run):
    res, out = lab_run(lab, tmp_path, eigenvalues=(1.0, 10.0), lr_factors=(0.5, 0.9, 1.0, 1.1))
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
    for name in ("config.json", "runs.csv", "quadratic.png", "quadratic_curvature.png", "report.md", "report.html"):
        assert (out / name).exists()


def test_valley_and_saddle_instead_of_refusing(tmp_path, lab_run):
    res, _ = lab_run(lab, tmp_path, eigenvalues=(1.0, 10.0))
    cases = res["curvature"]
    assert [cases[k]["kind"] for k in ("given", "valley", "saddle")] == ["bowl", "valley", "saddle"]
    valley, saddle = cases["valley"], cases["saddle"]
    # zero curvature: that coordinate never moves (factor exactly 1); Newton needs the pseudo-inverse
    i0 = valley["eigenvalues"].index(0.0)
    coords = np.abs(np.asarray(valley["coords"]))
    assert valley["factors"][i0] == 1.0 and coords[-1, i0] == pytest.approx(coords[0, i0], rel=1e-12)
    assert not valley["newton"]["solvable"] and valley["newton"]["grad_norm"] < 1e-12
    # negative curvature: GD moves away from the saddle and f falls; Newton jumps onto the saddle
    f = saddle["f"]
    assert f[-1] < f[0] and f[-1] < -1.0
    assert saddle["newton"]["solvable"] and saddle["newton"]["distance_to_origin"] < 1e-12


def test_a_user_saddle_is_analysed(tmp_path, lab_run):
    res, _ = lab_run(lab, tmp_path, eigenvalues=(-1.0, 4.0), lr_factors=(0.5,))
    assert res["kind"] == "saddle" and res["runs"][0]["behaviour"] == "diverges"


def test_newton_sentence_depends_on_the_point_reached():
    bowl = {"solvable": True, "distance_to_origin": 1e-16, "f1": 0.0, "grad_norm": 0.0}
    saddle = dict(bowl)
    singular = {**bowl, "solvable": False, "distance_to_origin": 1.3}
    with language("en"):
        assert "minimum 0 in one step" in str(lab.newton_sentence(bowl, "bowl"))
        assert "not a minimum" in str(lab.newton_sentence(saddle, "saddle"))
        assert "singular" in str(lab.newton_sentence(singular, "valley"))


@pytest.mark.parametrize("changes, match", [
    ({"w0": (1.0,)}, "--w0 has 1 entries"),
    ({"eigenvalues": (0.0, 0.0), "w0": (1.0, 1.0)}, "all 0"),
    ({"lr_factors": (-0.5,)}, "--lr-factors"),
    ({"num_steps": 0}, "--num-steps"),
])
def test_bad_settings_are_refused_when_the_config_is_built(changes, match):
    with pytest.raises(ConfigError, match=match):
        lab.Config(**changes)
