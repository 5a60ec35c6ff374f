"""backproplab.analysis.gradcam: Grad-CAM equals CAM for a GAP-linear head, the all-zero flag, the guided and
deconvnet ReLU rules against a hand-computed network and against PyTorch's backward hooks, and the ReLU rule
restored after an error. Expected values are derived by hand in the comments or computed with PyTorch."""
from __future__ import annotations

import numpy as np
import pytest

from backproplab.analysis import gradcam as gc
from backproplab.nn import AdaptiveAvgPool2d, Conv2d, Flatten, Linear, ReLU, Sequential


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
