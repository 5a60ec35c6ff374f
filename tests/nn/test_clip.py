"""clip_grad_norm_: the total norm and the clipped gradients against torch.nn.utils.clip_grad_norm_
(2-norm, 1-norm, inf-norm), the norm after clipping, a bad max_norm, and parameters without a gradient
left out (PyTorch's grad=None) instead of given a zero gradient the optimizer would then step with."""
import numpy as np
import pytest

from backproplab import nn, optim


@pytest.mark.parametrize("max_norm, norm_type", [(0.5, 2.0), (100.0, 2.0), (0.3, 1.0), (0.2, float("inf"))])
def test_clip_grad_norm_matches_torch(torch, max_norm, norm_type):
    rng = np.random.default_rng(5)
    grads = [rng.standard_normal(s) for s in [(3, 4), (5,), (2, 2, 2)]]
    params = [nn.Parameter(np.zeros_like(g)) for g in grads]
    for p, g in zip(params, grads):
        p.grad = g.copy()
    total = nn.clip_grad_norm_(params, max_norm, norm_type)
    tp = [torch.zeros(g.shape, dtype=torch.float64, requires_grad=True) for g in grads]
    for p, g in zip(tp, grads):
        p.grad = torch.from_numpy(g.copy())
    ttotal = torch.nn.utils.clip_grad_norm_(tp, max_norm, norm_type)
    assert abs(total - float(ttotal)) < 1e-9 * float(ttotal)
    for p, q in zip(params, tp):
        assert np.max(np.abs(p.grad - q.grad.numpy())) < 1e-9 * np.max(np.abs(q.grad.numpy()))
    if max_norm < total:  # clipped: the new norm is max_norm
        new = nn.clip_grad_norm_(params, 1e9, norm_type)
        assert abs(new - max_norm) < 1e-5


@pytest.mark.parametrize("max_norm, norm_type", [(0.5, 2.0), (100.0, 2.0), (0.3, 1.0), (0.2, float("inf"))])
def test_clip_grad_norm_by_hand(max_norm, norm_type):
    rng = np.random.default_rng(5)
    grads = [rng.standard_normal(s) for s in [(3, 4), (5,), (2, 2, 2)]]
    params = [nn.Parameter(np.zeros_like(g)) for g in grads]
    for p, g in zip(params, grads):
        p.grad = g.copy()
    flat = np.abs(np.concatenate([g.ravel() for g in grads]))
    expected = flat.max() if norm_type == float("inf") else np.sum(flat ** norm_type) ** (1 / norm_type)
    assert nn.clip_grad_norm_(params, max_norm, norm_type) == pytest.approx(expected, rel=1e-12)
    scale = min(1.0, max_norm / (expected + 1e-6))  # PyTorch's rule: max_norm / (total + 1e-6), never above 1
    for p, g in zip(params, grads):
        np.testing.assert_allclose(p.grad, g * scale, rtol=1e-12)


def test_clip_grad_norm_rejects_bad_max_norm():
    with pytest.raises(ValueError):
        nn.clip_grad_norm_([nn.Parameter(np.ones(2))], 0.0)


def test_parameters_without_gradient_are_left_out_as_in_torch(torch):
    a, b = nn.Parameter(np.array([3.0, 4.0])), nn.Parameter(np.ones(3))
    ta, tb = torch.tensor([3.0, 4.0], dtype=torch.float64, requires_grad=True), torch.ones(3, dtype=torch.float64,
                                                                                             requires_grad=True)
    opt = optim.SGD([a, b], lr=0.1, momentum=0.9, weight_decay=0.1)
    opt.zero_grad()
    a.grad += np.array([6.0, 8.0])
    ta.grad = torch.tensor([6.0, 8.0], dtype=torch.float64)
    total = nn.clip_grad_norm_([a, b], max_norm=1.0)
    ttotal = torch.nn.utils.clip_grad_norm_([ta, tb], max_norm=1.0)
    assert total == pytest.approx(float(ttotal), rel=1e-15) and total == pytest.approx(10.0)
    assert not b.has_grad and tb.grad is None
    np.testing.assert_allclose(a.grad, ta.grad.numpy(), rtol=1e-15)
    opt.step()
    np.testing.assert_array_equal(b.data, np.ones(3))  # skipped: no momentum, no decay
