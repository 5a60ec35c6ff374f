"""gaussian-dropout lab: Monte Carlo of the library's GaussianDropout + Linear vs J0 + ½αΣw²x², and the
report's sentences on made-up numbers."""
import numpy as np
import pytest

from backproplab.labs import gaussian_dropout as lab
from backproplab.labs.config import ConfigError
from backproplab.report.i18n import language


def test_closed_form_hand_computed():
    # x = [[1, 2], [3, 0]], y = [1, 2], w = [1, 1]: residuals (3-1, 3-2) = (2, 1); J0 = ½·(4+1)/2 = 1.25
    # mean x² = ((1+9)/2, (4+0)/2) = (5, 2); α = 1: penalty ½·(1·5 + 1·2) = 3.5
    # grad: Xᵀr/m = ((1·2 + 3·1)/2, (2·2 + 0)/2) = (2.5, 2) + α w ⊙ (5, 2) = (7.5, 4)
    x, y, w = np.array([[1.0, 2.0], [3.0, 0.0]]), np.array([[1.0], [2.0]]), np.array([1.0, 1.0])
    cf = lab.closed_form(x, y, w, alpha=1.0)
    assert cf["j0"] == pytest.approx(1.25, rel=1e-12)
    assert cf["penalty"] == pytest.approx(3.5, rel=1e-12)
    np.testing.assert_allclose(cf["grad"], [7.5, 4.0], rtol=1e-12)


def test_monte_carlo_agrees_with_formula_and_rejects_plain_l2():
    rng = np.random.default_rng(1)
    x, y, w = lab.make_problem(rng, 100, 4)
    mc = lab.monte_carlo(x, y, w, p=0.5, repeats=1500, rng=rng)  # α = 1
    cf = lab.closed_form(x, y, w, 1.0)
    assert abs(mc["loss"] - cf["expected"]) < 4 * mc["loss_se"]
    assert np.all(np.abs(mc["grad"] - cf["grad"]) < 4 * mc["grad_se"])
    assert abs(mc["loss"] - (cf["j0"] + cf["plain_l2"])) > 10 * mc["loss_se"]
    # without noise (p = 0) the loss is exactly J0
    assert lab.monte_carlo(x, y, w, 0.0, 2, rng)["loss"] == pytest.approx(cf["j0"], rel=1e-12)


def test_quick_run(tmp_path, lab_run):
    res, out = lab_run(lab, tmp_path, dropout=(0.2, 0.5))
    assert res["max_z"] < 4 and res["min_z_plain_l2"] > 4 and res["max_grad_z"] < 4.5
    assert [r["p"] for r in res["rows"]] == [0.2, 0.5]
    assert len(res["gradients"][-1]["mc"]) == 5
    assert (out / "monte_carlo.csv").exists() and (out / "gaussian_dropout.png").exists()


def test_tasks_are_independent_of_their_order(tmp_path, lab_run):
    # each p draws from its own generator (seed, index of p): the same p at the same index gives the same numbers
    a, _ = lab_run(lab, tmp_path / "a", dropout=(0.2, 0.5))
    b, _ = lab_run(lab, tmp_path / "b", dropout=(0.2, 0.7))
    assert a["rows"][0]["mc_loss"] == b["rows"][0]["mc_loss"]


def test_sentences_both_ways():
    with language("en"):
        assert "consistent with the formula" in str(lab.formula_sentence(1.4))
        assert "NOT" in str(lab.formula_sentence(5.2))
        assert "rejected" in str(lab.plain_l2_sentence(246.0))
        assert "cannot tell" in str(lab.plain_l2_sentence(2.5))
        assert "NOT" not in str(lab.gradient_sentence(2.7))
        assert "NOT consistent" in str(lab.gradient_sentence(4.1))


@pytest.mark.parametrize("changes, match", [({"dropout": (0.5, 0.5)}, "twice"), ({"dropout": (1.0,)}, "--dropout"),
                                            ({"repeats": 1}, "--repeats")])
def test_bad_settings_are_refused(changes, match):
    with pytest.raises(ConfigError, match=match):
        lab.Config(**changes)
