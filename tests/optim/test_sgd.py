"""SGD (momentum, Nesterov, dampening, weight decay) against torch.optim.SGD trajectories (float64,
relative error < 1e-10), the EMA Momentum by hand, and hyperparameter validation."""
import numpy as np
import pytest

from backproplab import nn, optim

CASES = [  # (id, hyperparameters)
    ("sgd", dict(lr=0.1)),
    ("sgd_momentum", dict(lr=0.1, momentum=0.9)),
    ("sgd_nesterov", dict(lr=0.05, momentum=0.8, nesterov=True)),
    ("sgd_dampening", dict(lr=0.1, momentum=0.9, dampening=0.5)),
    ("sgd_weight_decay", dict(lr=0.1, momentum=0.9, weight_decay=0.1)),
    ("sgd_nesterov_wd", dict(lr=0.1, momentum=0.5, nesterov=True, weight_decay=0.2)),
]


@pytest.mark.parametrize("name, hp", CASES, ids=[c[0] for c in CASES])
def test_trajectory_matches_torch(trajectory_matches_torch, name, hp):
    trajectory_matches_torch(name, optim.SGD, "SGD", hp)


def test_momentum_ema_by_hand(grad_fn):
    theta = np.array([1.0, -2.0, 0.5])
    p = nn.Parameter(theta.copy())
    opt = optim.Momentum([p], lr=0.1, beta=0.9)
    v, expected = np.zeros(3), theta.copy()
    for k in range(5):
        g = grad_fn(expected, k)
        v = 0.9 * v + 0.1 * g  # V ← βV + (1-β)g, V₀ = 0
        expected = expected - 0.1 * v
        p.zero_grad()
        p.grad += grad_fn(p.data, k)
        opt.step()
        np.testing.assert_allclose(p.data, expected, rtol=1e-13)
    # it differs from PyTorch's form on the first step: there the buffer starts at g, not (1-β)g
    q = nn.Parameter(theta.copy())
    sgd = optim.SGD([q], lr=0.1, momentum=0.9, dampening=0.9)
    q.grad += grad_fn(q.data, 0)
    sgd.step()
    assert not np.allclose(q.data, theta - 0.1 * 0.1 * grad_fn(theta, 0))
    np.testing.assert_allclose(q.data, theta - 0.1 * grad_fn(theta, 0), rtol=1e-13)


@pytest.mark.parametrize("ctor, kwargs, message", [
    (optim.SGD, dict(lr=-0.1), "invalid learning rate"),
    (optim.SGD, dict(lr=float("nan")), "invalid learning rate"),
    (optim.SGD, dict(lr=0.1, momentum=-0.5), "invalid momentum"),
    (optim.SGD, dict(lr=0.1, nesterov=True), "nesterov=True needs momentum > 0"),
    (optim.SGD, dict(lr=0.1, momentum=0.9, dampening=0.1, nesterov=True), "dampening = 0"),
    (optim.SGD, dict(lr=0.1, weight_decay=-1.0), "invalid weight_decay"),
    (optim.Momentum, dict(lr=0.1, beta=1.0), "invalid beta"),
])
def test_hyperparameter_validation(ctor, kwargs, message):
    with pytest.raises(ValueError, match=message):
        ctor([nn.Parameter(np.zeros(2))], **kwargs)
