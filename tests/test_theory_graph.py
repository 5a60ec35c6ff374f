"""graph lab: every partial derivative of L_reg = ½(σ(wx+b)-t)² + λ·½w², library vs hand vs PyTorch."""
import math

import pytest

from backproplab.labs import graph as lab


def test_partials_hand_computed_at_zero():
    # w = 0.5, x = 2, b = -1 → z = 0, y = σ(0) = ½; t = 1 → L = ½·¼ = 0.125; R = ½·0.25 = 0.125
    # ∂L/∂y = -½, ∂y/∂z = ¼, ∂L/∂z = -1/8, ∂L/∂w = -1/8·2 = -¼, λ = 0.2 → ∂L_reg/∂w = -0.25 + 0.1 = -0.15
    lib = lab.library_gradients(0.5, 2.0, -1.0, 1.0, 0.2, lr=1.0)
    assert lib["y"] == 0.5 and lib["L"] == pytest.approx(0.125, rel=1e-12)
    assert lib["dL_dz"] == pytest.approx(-0.125, rel=1e-12)
    assert lib["dL_dw"] == pytest.approx(-0.25, rel=1e-12)
    assert lib["dL_db"] == pytest.approx(-0.125, rel=1e-12)
    assert lib["dL_dx"] == pytest.approx(-0.0625, rel=1e-12)  # -1/8 · w
    # one step with lr = 1: w ← 0.5 + 0.15 = 0.65, b ← -1 + 0.125 = -0.875
    assert lib["w_new"] == pytest.approx(0.65, rel=1e-12) and lib["b_new"] == pytest.approx(-0.875, rel=1e-12)


def test_closed_form_matches_torch_autograd():
    torch = pytest.importorskip("torch")
    w, x, b, t, lam = 0.8, 1.5, -0.2, 1.0, 0.1
    tw, tx, tb = (torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in (w, x, b))
    y = torch.sigmoid(tw * tx + tb)
    lreg = 0.5 * (y - t) ** 2 + lam * 0.5 * tw ** 2
    lreg.backward()
    cf = lab.closed_form(w, x, b, t, lam)
    assert cf["L_reg"] == pytest.approx(lreg.item(), rel=1e-12)
    assert cf["dLreg_dw"] == pytest.approx(tw.grad.item(), rel=1e-10)
    assert cf["dLreg_db"] == pytest.approx(tb.grad.item(), rel=1e-12)
    assert cf["dL_dx"] == pytest.approx(tx.grad.item(), rel=1e-12)


def test_run_agrees_and_step_decreases(tmp_path):
    res = lab.run(lab.Config(), tmp_path)
    assert res["max_diff"] < 1e-12 and res["max_numeric_diff"] < 1e-8
    s = res["step"]
    assert s["L_reg_after"] < s["L_reg_before"]
    assert s["w_new"] == pytest.approx(s["w_new_closed_form"], rel=1e-12)
    assert (tmp_path / "graph.png").exists()
    assert math.isclose(res["partials"][1]["closed_form"], 1 / (1 + math.exp(-1.0)), rel_tol=1e-12)  # z = 0.8·1.5-0.2
