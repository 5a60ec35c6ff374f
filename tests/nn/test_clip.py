"""clip_grad_norm_ leaves out parameters without a gradient (PyTorch's grad=None) instead of giving
them a zero gradient the optimizer would then step with."""
import numpy as np
import pytest

from backproplab import nn, optim

torch = pytest.importorskip("torch")


def test_parameters_without_gradient_are_left_out_as_in_torch():
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
