"""graph lab: every partial derivative of L_reg = ½(σ(wx+b)-t)² + λ·½w² (leaves and inner nodes) by the
library's backward, the closed forms and central differences; one GD step; the report's sentences."""
import numpy as np
import pytest

from backproplab.labs import graph as lab
from backproplab.labs.config import ConfigError
from backproplab.report.i18n import language


def test_defaults_give_the_course_values(tmp_path, lab_run):
    # document 003 Q3.1 at w = 0.8, x = 1.5, b = -0.2, t = 1, λ = 0.1 (z = 1, y = σ(1)), derived independently
    res, out = lab_run(lab, tmp_path, quick=False)
    p = res["partials"]
    assert p["w"] == pytest.approx(0.0006843608236, rel=1e-9)
    assert p["b"] == pytest.approx(-0.0528770927843, rel=1e-11)
    assert p["x"] == pytest.approx(-0.0423016742274, rel=1e-11)
    assert p["t"] == pytest.approx(0.26894142137, rel=1e-10)
    assert p["lam"] == pytest.approx(0.32, rel=1e-14)
    assert p["L"] == 1.0 and p["R"] == pytest.approx(0.1, rel=1e-15)
    assert p["y"] == pytest.approx(-0.26894142137, rel=1e-10) and p["u"] == p["z"] == p["b"]
    assert res["max_diff_closed_form"] < 1e-14 and res["max_diff_central"] < 1e-9
    for name in ("partials.csv", "local_derivatives.csv", "step.json", "graph.png", "report.md"):
        assert (out / name).exists(), name


def test_one_step_of_question_3_3(tmp_path, lab_run):
    # w0 = b0 = 0.1, λ = 0.1, lr = 0.1, x = 2, t = 1: z = 0.3, (y - t)y(1 - y) = -0.1040311...
    res, _ = lab_run(lab, tmp_path, quick=False, w=0.1, b=0.1, lam=0.1, lr=0.1, x=2.0, t=1.0)
    s = res["step"]
    assert s["w_new"] == pytest.approx(0.119806212774, rel=1e-11)
    assert s["b_new"] == pytest.approx(0.110403106387, rel=1e-11)
    assert s["w_new"] == pytest.approx(s["w_new_closed_form"], rel=1e-14)
    assert s["L_reg_after"] < s["L_reg_before"]


@pytest.mark.parametrize("seed", range(6))
def test_library_closed_form_and_central_differences_agree_at_random_points(seed):
    rng = np.random.default_rng(seed)
    leaves = dict(zip(lab.LEAVES, [*rng.uniform(-3, 3, 3), rng.uniform(-1, 2), rng.uniform(0, 2)]))
    lib = lab.library_partials(leaves)["partials"]
    formula = lab.closed_form(lab.forward(leaves))
    central = lab.central_differences(leaves)
    for name in lab.LEAVES + lab.NODES:
        assert lib[name] == pytest.approx(formula[name], rel=1e-12, abs=1e-15), name
        assert lib[name] == pytest.approx(central[name], rel=1e-6, abs=1e-8), name


def test_hand_computed_point_at_z_zero():
    # w = 0.5, x = 2, b = -1 → z = 0, y = ½; t = 1: ∂L/∂y = -½, ∂L/∂z = -⅛, ∂L/∂w = -¼, λ = 0.2 → ∂L_reg/∂w = -0.15
    leaves = {"w": 0.5, "x": 2.0, "b": -1.0, "t": 1.0, "lam": 0.2}
    g = lab.library_partials(leaves)["partials"]
    assert g["w"] == pytest.approx(-0.15, rel=1e-12) and g["b"] == pytest.approx(-0.125, rel=1e-12)
    assert g["x"] == pytest.approx(-0.0625, rel=1e-12) and g["t"] == pytest.approx(0.5, rel=1e-12)
    assert g["lam"] == pytest.approx(0.125, rel=1e-12)
    # one step with lr = 1: w ← 0.5 + 0.15 = 0.65, b ← -1 + 0.125 = -0.875
    s = lab.sgd_step(leaves, lr=1.0)
    assert s["w_new"] == pytest.approx(0.65, rel=1e-12) and s["b_new"] == pytest.approx(-0.875, rel=1e-12)


def test_partials_match_torch_autograd():
    torch = pytest.importorskip("torch")
    leaves = {"w": 0.8, "x": 1.5, "b": -0.2, "t": 1.0, "lam": 0.1}
    tv = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in leaves.items()}
    y = torch.sigmoid(tv["w"] * tv["x"] + tv["b"])
    (0.5 * (y - tv["t"]) ** 2 + tv["lam"] * 0.5 * tv["w"] ** 2).backward()
    g = lab.library_partials(leaves)["partials"]
    for name in lab.LEAVES:
        assert g[name] == pytest.approx(tv[name].grad.item(), rel=1e-12), name


def test_agreement_sentence_both_ways():
    agree = lab.agreement_sentence("x", 1e-12, "w")
    disagree = lab.agreement_sentence("x", 0.08, "w")
    with language("en"):
        assert "agrees" in str(agree) and "NOT" not in str(agree)
        assert "does NOT agree" in str(disagree) and "∂L_reg/∂w" in str(disagree)
    assert "NOT" in str(lab.agreement_sentence("x", 2e-7, "lam"))  # just above the tolerance


def test_paths_sentence_both_ways():
    with language("en"):
        assert "nearly cancel" in str(lab.paths_sentence(-0.0793, 0.08))       # the defaults: sum 7e-4
        assert "nearly cancel" not in str(lab.paths_sentence(-0.0793, 0.02))  # sum -0.059: no cancelling
        assert "nearly cancel" not in str(lab.paths_sentence(0.05, 0.05))     # same sign: they add up
        assert "nearly cancel" not in str(lab.paths_sentence(0.0, 0.0))


def test_step_sentence_three_ways():
    with language("en"):
        assert "decreased" in str(lab.step_sentence(0.07, 0.06, 0.1, 0.1, 0.5))
        assert "did NOT decrease" in str(lab.step_sentence(0.07, 0.09, 0.1, 0.1, 50.0))
        assert "stationary" in str(lab.step_sentence(0.07, 0.07, 0.0, 0.0, 0.5))


@pytest.mark.parametrize("changes, match", [({"lam": -0.1}, "--lam"), ({"lr": 0.0}, "--lr"),
                                            ({"w": 1e9}, "--w")])
def test_bad_settings_are_refused(changes, match):
    with pytest.raises(ConfigError, match=match):
        lab.Config(**changes)
