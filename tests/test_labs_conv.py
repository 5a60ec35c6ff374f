"""Tests of the convolution labs (residual-walkthrough, conv-gradients, dilated-conv, batchnorm, gradcam)
and of backproplab.analysis.gradcam. Expected values are derived by hand in the comments, or
computed here in a different way than the lab computes them."""
from __future__ import annotations

import json

import numpy as np
import pytest

from backproplab.analysis import gradcam as gc
from backproplab.labs import batchnorm, conv_gradients, dilated_conv, residual_walkthrough
from backproplab.labs.heatmap import parse_matrix
from backproplab.nn import (AdaptiveAvgPool2d, Conv2d, Flatten, Linear, ReLU, Sequential)

X5 = np.array([[100, 150, 200, 50, 30], [80, 120, 180, 255, 90], [40, 70, 110, 230, 200],
               [30, 60, 100, 150, 120], [20, 50, 80, 100, 90]], dtype=float)
W3 = np.array([[0.1, -0.2, 0.1], [-0.1, 0.4, 0.1], [0.2, -0.1, 0.1]])


# -- residual walkthrough ----------------------------------------------------------------------------------
def test_residual_walkthrough_numbers(tmp_path, capsys):
    res = residual_walkthrough.run(residual_walkthrough.Config(), tmp_path)
    m = {k: np.array(v) for k, v in res["matrices"].items()}
    # centre Z[2,2]: patch [[120,180,255],[70,110,230],[60,100,150]] ⊙ W
    #   row 0: 12 - 36 + 25.5 = 1.5;  row 1: -7 + 44 + 23 = 60;  row 2: 12 - 10 + 15 = 17;  total 78.5
    # corner Z[0,0] (zero padding): row 1: 0.4·100 + 0.1·150 = 55; row 2: -0.1·80 + 0.1·120 = 4; total 59
    assert m["Z = conv(X)"][2, 2] == pytest.approx(78.5, abs=1e-9)
    assert m["Z = conv(X)"][0, 0] == pytest.approx(59.0, abs=1e-9)
    # the whole Z, computed independently with a loop over the padded input
    pad = np.pad(X5, 1)
    z = np.array([[np.sum(pad[i:i + 3, j:j + 3] * W3) for j in range(5)] for i in range(5)])
    np.testing.assert_allclose(m["Z = conv(X)"], z, atol=1e-9)
    h = np.maximum(np.maximum(z, 0) + X5, 0)
    np.testing.assert_allclose(m["H = ReLU(S)"], h, atol=1e-9)
    # floor: windows rows/cols {0,1},{2,3}: max of H[0:2,0:2]=242 (120+... see h), H[0:2,2:4]=380, ...
    np.testing.assert_allclose(m["P floor"], [[242, 380], [117, 324]], atol=1e-9)
    # ceil adds the partial window of row/col 4: [max(79,125.5), max(282.5,147)] and [max(33,77), max(118,133), 107]
    np.testing.assert_allclose(m["P ceil"], [[242, 380, 125.5], [117, 324, 282.5], [77, 133, 107]], atol=1e-9)
    assert res["gap_floor"] == pytest.approx((242 + 380 + 117 + 324) / 4, abs=1e-9)  # 265.75
    assert res["gap_ceil"] == pytest.approx(1788 / 9, abs=1e-9)
    out = capsys.readouterr().out
    assert "78.5" in out and "P ceil" in out  # every matrix printed
    report = (tmp_path / "report.md").read_text()
    assert "cross-correlation" in report and "78.5" in report
    assert (tmp_path / "matrices.png").stat().st_size > 1000


def test_residual_walkthrough_rejects_mismatched_skip(tmp_path):
    with pytest.raises(ValueError, match="skip connection"):
        residual_walkthrough.run(residual_walkthrough.Config(padding=0, echo=False), tmp_path)


# -- conv gradients -----------------------------------------------------------------------------------------
def test_conv_gradients_defaults(tmp_path):
    res = conv_gradients.run(conv_gradients.Config(echo=False), tmp_path)
    # Y[0,0] = [[1,2,1],[2,1,0],[1,0,2]] ⊙ W = (1-2+0) + (0+1-0) + (-1+0+2) = 1
    assert res["Y"][0][0] == pytest.approx(1.0)
    # Y[0,1] = (2-1+0) + (0+0-1) + (0+0+1) = 1;  Y[1,0] = (2-1) + (0+0-2) + (0+0+2) = 1;
    # Y[1,1] = [[1,0,1],[0,2,1],[1,2,1]] ⊙ W = (1-0+0) + (0+2-1) + (-1+0+1) = 2
    np.testing.assert_allclose(res["Y"], [[1, 1], [1, 2]], atol=1e-12)
    # dL/dW = P00 - P01 - P10 + P11 (dL/dY = [[1,-1],[-1,1]]); e.g. [0,0]: 1-2-2+1 = -2, [1,1]: 1-0-0+2 = 3
    np.testing.assert_allclose(res["dW"], [[-2, 0, 2], [0, 3, -2], [2, -1, 0]], atol=1e-12)
    # dL/dX as a scatter (not the lab's rotated-kernel form): W stamped at each output position, times dL/dY
    w = np.array([[1, -1, 0], [0, 1, -1], [-1, 0, 1]], float)
    dx = np.zeros((4, 4))
    for (i, j), g in np.ndenumerate(np.array([[1, -1], [-1, 1]], float)):
        dx[i:i + 3, j:j + 3] += g * w
    np.testing.assert_allclose(res["dX"], dx, atol=1e-12)
    assert dx[0, 0] == 1 and dx[3, 3] == 1  # corners see one output each
    # 1-D: dW_j = Σ_i dz_i x_{i+j}, x = 1,2,-1,3,0,2, dz = 1,0,-1,2:
    #   j=0: 1 + 0 + 1 + 6 = 8;  j=1: 2 + 0 - 3 + 0 = -1;  j=2: -1 + 0 - 0 + 4 = 3
    np.testing.assert_allclose(res["dW_1d"], [8, -1, 3], atol=1e-12)
    assert res["torch_checked"]  # torch is pinned in this project
    assert res["max_rel_error"] < 1e-12
    checks = json.loads((tmp_path / "checks.json").read_text())
    assert {r["against"] for r in checks} == {"library Conv2d", "library Conv1d", "torch autograd"}


def test_conv_gradients_user_matrices_random(tmp_path):
    rng = np.random.default_rng(3)
    x, w, dy = rng.standard_normal((5, 6)), rng.standard_normal((2, 3)), rng.standard_normal((4, 4))
    fmt = lambda m: ";".join(",".join(repr(float(v)) for v in row) for row in m)  # noqa: E731
    cfg = conv_gradients.Config(x=fmt(x), weight=fmt(w), dy=fmt(dy), echo=False)
    res = conv_gradients.run(cfg, tmp_path)
    # dL/dW[u,v] = Σ_ij dy[i,j] x[i+u, j+v], written as one tensor contraction
    windows = np.lib.stride_tricks.sliding_window_view(x, (2, 3))  # (4, 4, 2, 3)
    np.testing.assert_allclose(res["dW"], np.einsum("ij,ijuv->uv", dy, windows), rtol=1e-12)
    assert res["max_rel_error"] < 1e-10


@pytest.mark.parametrize("kwargs, match", [
    (dict(dy="1,2,3;4,5,6"), "shape of Y"),
    (dict(weight="1,2,3,4,5;1,2,3,4,5"), "larger than"),
    (dict(x="1,2;3"), "different lengths"),
    (dict(dy1d="1,2"), "shape of Y"),
    (dict(weight="1,a;2,3"), "not a comma list"),
])
def test_conv_gradients_bad_input(tmp_path, kwargs, match):
    with pytest.raises(ValueError, match=match):
        conv_gradients.run(conv_gradients.Config(echo=False, **kwargs), tmp_path)


def test_parse_matrix():
    np.testing.assert_array_equal(parse_matrix("1,2;3,4"), [[1, 2], [3, 4]])
    assert parse_matrix(" 1, -2.5 ,3").shape == (3,)


# -- dilated conv --------------------------------------------------------------------------------------------
def test_dilated_kernel_kron():
    # K = [[1,2],[3,4]], D = 2: K⊗A is 4x4 with K's taps at even positions; trimming gives 3x3
    kron, z = dilated_conv.dilated_kernel(np.array([[1.0, 2.0], [3.0, 4.0]]), 2)
    assert kron.shape == (4, 4)
    np.testing.assert_array_equal(z, [[1, 0, 2], [0, 0, 0], [3, 0, 4]])


def test_dilated_conv_lab(tmp_path):
    res = dilated_conv.run(dilated_conv.Config(quick=True, echo=False), tmp_path)
    assert res["output_size_ok"]
    assert res["equivalence_max_abs_diff"] < 1e-12
    main, comp = res["rf_checks"]
    # k=3, d=2,2,2: R = 1 + 2·2·3 = 13; seen offsets per axis {0,2,...,12} = 7 -> 49 of 169, 120 holes
    assert (main["span_delta"], main["seen_delta_2d"], main["holes_delta_2d"]) == (13, 49, 120)
    # d=1,2,4 (Yu & Koltun): 3, 7, 15 and every pixel seen
    assert (comp["span_delta"], comp["seen_delta_2d"], comp["holes_delta_2d"]) == (15, 225, 0)
    assert (tmp_path / "receptive_field.png").exists()


def test_delta_pattern_with_stride():
    # k=(3,3), s=(2,1), d=(1,2): R1 = 3, jump 2; R2 = 3 + 2·2·2 = 11.
    # offsets: {0,1,2} + {0,4,8} = {0,1,2,4,5,6,8,9,10}: 9 of 11 per axis -> 81 seen, 121-81 = 40 holes
    p = dilated_conv.delta_pattern([3, 3], [1, 2], [2, 1])
    assert (p["span"], p["seen"], p["holes"]) == (11, 81, 40)
    assert list(np.nonzero(p["box_pattern"][0])[0]) == [0, 1, 2, 4, 5, 6, 8, 9, 10]


# -- batchnorm -----------------------------------------------------------------------------------------------
def test_batchnorm_lab(tmp_path):
    res = batchnorm.run(batchnorm.Config(quick=True, echo=False), tmp_path)
    fc, cv = res["fc_vs_conv"]["fc"], res["fc_vs_conv"]["conv"]
    assert fc["max_diff_vs_hand"] < 1e-10 and cv["max_diff_vs_hand"] < 1e-10
    assert len(fc["mean"]) == 5 and len(cv["mean"]) == 4 and cv["values_per_stat"] == 8 * 36
    np.testing.assert_allclose(fc["running_mean"], fc["expected_running_mean"], atol=1e-12)
    np.testing.assert_allclose(fc["running_var"], fc["expected_running_var"], atol=1e-12)
    b = res["bias_cancel"]
    assert b["max_abs_output_diff"] < 1e-10 and b["max_abs_bias_grad"] < 1e-10
    assert np.max(np.abs(b["bias_grad_without_bn"])) > 1.0  # the gradient BN removes is not small
    for r in res["scaling"]:
        # training mode: only ε changes the output, and by exactly the predicted amount
        assert abs(r["train_max_abs_change"] - r["train_change_from_eps"]) < 1e-9
        assert r["eval_max_abs_change"] > 0.1  # inference with stale running stats is not invariant
    big = [r for r in res["scaling"] if r["alpha"] >= 2]
    assert big and all(r["train_max_abs_change"] < 1e-3 for r in big)


# -- Grad-CAM, guided backprop, deconvnet ---------------------------------------------------------------------
def _gap_model(rng):
    conv = Conv2d(1, 3, 3, padding=1, rng=rng, dtype=np.float64)
    relu = ReLU()
    fc = Linear(3, 4, rng=rng, dtype=np.float64)
    return Sequential(conv, relu, AdaptiveAvgPool2d(1), Flatten(), fc), conv, relu, fc


def test_grad_cam_equals_cam_for_gap_linear():
    rng = np.random.default_rng(0)
    model, conv, relu, fc = _gap_model(rng)
    x = rng.standard_normal((2, 1, 6, 6))
    classes = np.array([1, 3])
    before = [p.grad.copy() for p in model.parameters()]
    out = gc.grad_cam(model, relu, x, classes)
    # y_c = Σ_k W[c,k] mean(A^k) + b_c, so ∂y_c/∂A^k_ij = W[c,k]/36 and α_k = W[c,k]/36
    a = np.maximum(conv.forward(x), 0)
    np.testing.assert_allclose(out["alpha"], fc.weight.data[classes] / 36, rtol=1e-12)
    expected = np.maximum(np.einsum("nk,nkhw->nhw", fc.weight.data[classes] / 36, a), 0)
    np.testing.assert_allclose(out["cam"], expected, rtol=1e-12, atol=1e-15)
    assert out["cam_up"].shape == (2, 6, 6) and out["cam_up"].max() == pytest.approx(1.0)
    for p, g in zip(model.parameters(), before):
        np.testing.assert_array_equal(p.grad, g)  # explanations leave .grad alone
    assert "forward" not in vars(relu) and "backward" not in vars(relu)


def test_grad_cam_all_zero_map_is_flagged():
    rng = np.random.default_rng(1)
    model, conv, relu, fc = _gap_model(rng)
    fc.weight.data[0] = -np.abs(fc.weight.data[0]) - 0.1  # class 0 decreases with every activation: CAM = 0
    out = gc.grad_cam(model, relu, rng.standard_normal((1, 1, 5, 5)), [0])
    assert out["all_zero"][0] and np.all(out["cam_up"] == 0) and np.all(np.isfinite(out["cam_up"]))


def test_guided_and_deconvnet_rules_by_hand():
    rng = np.random.default_rng(2)
    l1, l2 = Linear(4, 6, rng=rng, dtype=np.float64), Linear(6, 3, rng=rng, dtype=np.float64)
    relu = ReLU()
    model = Sequential(l1, relu, l2)
    x = rng.standard_normal((1, 4))
    h = x @ l1.weight.data.T + l1.bias.data  # (1, 6) pre-activation
    g = l2.weight.data[2][None]  # ∂y_2/∂relu(h): the gradient arriving at the ReLU
    expected = {"plain": (g * (h > 0)) @ l1.weight.data,
                "guided": (g * (h > 0) * (g > 0)) @ l1.weight.data,
                "deconvnet": (g * (g > 0)) @ l1.weight.data}
    for rule, exp in expected.items():
        got = gc.saliency(model, x, [2], rule=rule)["grad"]
        np.testing.assert_allclose(got, exp, rtol=1e-12, atol=1e-15)
    assert not np.allclose(expected["guided"], expected["plain"])  # the rules really differ here
    assert "backward" not in vars(relu)


def test_relu_rule_restored_after_error():
    relu = ReLU()
    model = Sequential(relu)
    with pytest.raises(RuntimeError):
        with gc.relu_backward_rule(model, "deconvnet"):
            assert "backward" in vars(relu)
            raise RuntimeError("boom")
    assert "backward" not in vars(relu)
    relu.forward(np.array([-1.0, 2.0]))
    np.testing.assert_array_equal(relu.backward(np.array([-3.0, -3.0])), [0.0, -3.0])  # the plain rule again
    with pytest.raises(ValueError, match="unknown"):
        with gc.relu_backward_rule(model, "bogus"):
            pass


# -- the gradcam lab ------------------------------------------------------------------------------------------
def test_gradcam_lab_from_cnn_run(tmp_path):
    from backproplab.data.fashion_mnist import load_fashion_mnist
    from backproplab.labs import gradcam
    from backproplab.models.cnn import make_cnn

    # a cnn-lab-like run folder: config.json with the builder keys + np.savez weights
    run_dir = tmp_path / "cnn"
    run_dir.mkdir()
    model = make_cnn(np.random.default_rng(5), channels=(4, 8), hidden=0, dropout=0.0)
    model.eval()
    for name, b in model.named_buffers():  # non-trivial running stats, so a wrong load shows
        if name.endswith("running_var"):
            b[...] = 0.5
    np.savez(run_dir / "model_weights.npz", **model.state_dict())
    (run_dir / "config.json").write_text(json.dumps({"channels": [4, 8], "hidden": 0, "dropout": 0.0}))
    res = gradcam.run(gradcam.Config(cnn_run=str(run_dir), eval_size=200, num_examples=2), tmp_path / "out")
    data = load_fashion_mnist(None, flatten=False)
    expected = float(np.mean(model.forward(data.x_test[:200]).argmax(axis=1) == data.y_test[:200]))
    assert res["accuracy"] == pytest.approx(expected, abs=1e-12)
    assert res["layer"] == "6"  # conv-BN-ReLU-pool-conv-BN-ReLU: the last ReLU with a (N, 8, 14, 14) output
    info = json.loads((tmp_path / "out" / "model.json").read_text())
    assert info["activation_shape"] == [14, 14] and not info["trained_here"]
    rows = res["examples"]
    assert 1 <= len(rows) <= 4 and all((r["cam_object_share"] is None) == r["cam_all_zero"] for r in rows)
    assert (tmp_path / "out" / "gradcam.png").stat().st_size > 1000


def test_gradcam_lab_trains_its_own_cnn(tmp_path):
    from backproplab.labs import gradcam

    res = gradcam.run(gradcam.Config(quick=True, train_size=64, eval_size=100, num_examples=1), tmp_path)
    assert 0.0 <= res["accuracy"] <= 1.0 and "trained here" in (tmp_path / "report.md").read_text()
    with pytest.raises(FileNotFoundError, match="no such folder"):
        gradcam.run(gradcam.Config(cnn_run=str(tmp_path / "missing")), tmp_path / "x")


def test_gradcam_and_saliency_match_torch_hooks():
    """The same small CNN in PyTorch (eval mode, float64): ReLU backward hooks give the guided and
    deconvnet rules, a forward hook and autograd.grad give Grad-CAM."""
    torch = pytest.importorskip("torch")
    from backproplab.models.cnn import make_cnn

    rng = np.random.default_rng(7)
    model = make_cnn(rng, num_classes=5, channels=(3, 4), hidden=6, dropout=0.0, image_size=8, dtype=np.float64)
    for name, b in model.named_buffers():  # eval-mode BN with non-trivial running stats
        if name.endswith("running_mean"):
            b[...] = rng.uniform(-0.1, 0.1, b.shape)
        elif name.endswith("running_var"):
            b[...] = rng.uniform(0.5, 1.5, b.shape)
    model.eval()
    tnet = torch.nn.Sequential(
        torch.nn.Conv2d(1, 3, 3, padding=1, bias=False), torch.nn.BatchNorm2d(3), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(3, 4, 3, padding=1, bias=False), torch.nn.BatchNorm2d(4), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Flatten(), torch.nn.Linear(16, 6), torch.nn.ReLU(), torch.nn.Linear(6, 5)).double().eval()
    tnet.load_state_dict({k: torch.tensor(np.asarray(v)) for k, v in model.state_dict().items()})
    x = rng.standard_normal((3, 1, 8, 8))
    classes = np.array([0, 2, 4])

    def torch_grad(rule):
        hooks = []
        for m in tnet.modules():
            if isinstance(m, torch.nn.ReLU) and rule == "guided":
                hooks.append(m.register_full_backward_hook(lambda mod, gin, gout: (gin[0].clamp(min=0),)))
            elif isinstance(m, torch.nn.ReLU) and rule == "deconvnet":
                hooks.append(m.register_full_backward_hook(lambda mod, gin, gout: (gout[0].clamp(min=0),)))
        xt = torch.tensor(x, requires_grad=True)
        tnet(xt)[torch.arange(3), torch.tensor(classes)].sum().backward()
        for h in hooks:
            h.remove()
        return xt.grad.numpy()

    grads = {}
    for rule in ("plain", "guided", "deconvnet"):
        grads[rule] = gc.saliency(model, x, classes, rule=rule)["grad"]
        np.testing.assert_allclose(grads[rule], torch_grad(rule), rtol=1e-9, atol=1e-12)
    # the three rules must differ on this network, or the comparison above proves nothing
    scale = np.abs(grads["plain"]).max()
    assert scale > 0
    assert np.abs(grads["plain"] - grads["guided"]).max() > 1e-3 * scale
    assert np.abs(grads["guided"] - grads["deconvnet"]).max() > 1e-3 * scale
    # Grad-CAM on the second ReLU (index 6, activations (N, 4, 4, 4))
    acts = {}
    handle = tnet[6].register_forward_hook(lambda mod, inp, out: acts.setdefault("a", out))
    score = tnet(torch.tensor(x))[torch.arange(3), torch.tensor(classes)].sum()
    handle.remove()
    (grad,) = torch.autograd.grad(score, acts["a"])
    alpha = grad.mean(dim=(2, 3))
    cam_t = torch.relu((alpha[:, :, None, None] * acts["a"]).sum(dim=1)).detach().numpy()
    out = gc.grad_cam(model, model[6], x, classes)
    np.testing.assert_allclose(out["alpha"], alpha.numpy(), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(out["cam"], cam_t, rtol=1e-9, atol=1e-12)
    peaks = cam_t.max(axis=(1, 2))
    assert (peaks > 0).sum() >= 2  # non-trivial maps are compared, not only zeros
    np.testing.assert_array_equal(out["all_zero"], peaks == 0)  # here example 1's map is all zero
