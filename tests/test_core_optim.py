"""Optimizers: trajectories against torch.optim, the EMA Momentum by hand, validation,
state dicts, and the assignment's L2 parameter groups checked by central differences."""
import zlib

import numpy as np
import pytest

from backproplab import nn, optim
from backproplab.analysis import numerical_grad, rel_error

torch = pytest.importorskip("torch")
STEPS = 8


def grad_fn(theta: np.ndarray, k: int) -> np.ndarray:
    """A gradient that depends non-linearly on θ (so trajectories diverge if a step is wrong)."""
    return np.sin(3.0 * theta) + 0.5 * theta ** 2 - 0.3 * k * np.cos(theta)


# (name, our constructor, torch constructor, hyperparameters); every case also gets a second
# parameter group whose lr is overridden, to check per-group options
CASES = [
    ("sgd", optim.SGD, torch.optim.SGD, dict(lr=0.1)),
    ("sgd_momentum", optim.SGD, torch.optim.SGD, dict(lr=0.1, momentum=0.9)),
    ("sgd_nesterov", optim.SGD, torch.optim.SGD, dict(lr=0.05, momentum=0.8, nesterov=True)),
    ("sgd_dampening", optim.SGD, torch.optim.SGD, dict(lr=0.1, momentum=0.9, dampening=0.5)),
    ("sgd_weight_decay", optim.SGD, torch.optim.SGD, dict(lr=0.1, momentum=0.9, weight_decay=0.1)),
    ("sgd_nesterov_wd", optim.SGD, torch.optim.SGD, dict(lr=0.1, momentum=0.5, nesterov=True, weight_decay=0.2)),
    ("rmsprop", optim.RMSprop, torch.optim.RMSprop, dict(lr=0.01)),
    ("rmsprop_centered", optim.RMSprop, torch.optim.RMSprop, dict(lr=0.01, alpha=0.9, centered=True)),
    ("rmsprop_momentum", optim.RMSprop, torch.optim.RMSprop, dict(lr=0.01, momentum=0.7, weight_decay=0.05)),
    ("rmsprop_all", optim.RMSprop, torch.optim.RMSprop, dict(lr=0.02, momentum=0.5, centered=True, eps=1e-6)),
    ("adam", optim.Adam, torch.optim.Adam, dict(lr=0.01)),
    ("adam_weight_decay", optim.Adam, torch.optim.Adam, dict(lr=0.05, betas=(0.8, 0.99), weight_decay=0.1)),
    ("adam_eps", optim.Adam, torch.optim.Adam, dict(lr=0.1, eps=1e-3)),
    ("adam_amsgrad", optim.Adam, torch.optim.Adam, dict(lr=0.03, amsgrad=True, weight_decay=0.05)),
    ("adamw", optim.AdamW, torch.optim.AdamW, dict(lr=1e-3)),
    ("adamw_strong_decay", optim.AdamW, torch.optim.AdamW, dict(lr=0.05, weight_decay=0.5, betas=(0.8, 0.95))),
    ("adamw_amsgrad", optim.AdamW, torch.optim.AdamW, dict(lr=0.02, weight_decay=0.1, amsgrad=True, eps=1e-6)),
    ("adamw_no_decay", optim.AdamW, torch.optim.AdamW, dict(lr=0.01, weight_decay=0.0)),
]


@pytest.mark.parametrize("name, ours, theirs, hp", CASES, ids=[c[0] for c in CASES])
def test_trajectory_matches_torch(name, ours, theirs, hp):
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    init = [rng.standard_normal((4, 3)), rng.standard_normal(4), rng.standard_normal((2, 5))]
    params = [nn.Parameter(a.copy()) for a in init]
    tparams = [torch.tensor(a.copy(), requires_grad=True) for a in init]
    opt = ours([{"params": params[:2]}, {"params": params[2:], "lr": hp["lr"] / 2}], **hp)
    topt = theirs([{"params": tparams[:2]}, {"params": tparams[2:], "lr": hp["lr"] / 2}], **hp)
    for k in range(STEPS):
        opt.zero_grad()
        topt.zero_grad()
        for p, tp in zip(params, tparams):
            g = grad_fn(p.data, k)
            p.grad += g
            tp.grad = torch.from_numpy(grad_fn(tp.detach().numpy(), k))
        opt.step()
        topt.step()
        for p, tp in zip(params, tparams):
            assert rel_error(p.data, tp.detach().numpy()) < 1e-10, (name, k)
    assert any(not np.allclose(p.data, a) for p, a in zip(params, init))  # it moved


@pytest.mark.parametrize("ours, hp", [(optim.SGD, dict(lr=0.1, momentum=0.9)), (optim.Adam, dict(lr=0.01)),
                                      (optim.RMSprop, dict(lr=0.01, momentum=0.5, centered=True)),
                                      (optim.Momentum, dict(lr=0.1, beta=0.8))])
def test_float32_stays_float32_and_updates_in_place(ours, hp):
    p = nn.Parameter(np.ones((3, 2), np.float32))
    data = p.data
    opt = ours([p], **hp)
    for _ in range(3):
        p.grad += np.float32(0.5)
        opt.step()
    assert p.data is data and p.data.dtype == np.float32
    assert all(v.dtype == np.float32 for k, v in opt.state_dict().items() if v.ndim)


def test_momentum_ema_by_hand():
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
    # it differs from PyTorch's form on the first step (buffer starts at g, not (1-β)g)
    q = nn.Parameter(theta.copy())
    sgd = optim.SGD([q], lr=0.1, momentum=0.9, dampening=0.9)
    q.grad += grad_fn(q.data, 0)
    sgd.step()
    assert not np.allclose(q.data, theta - 0.1 * 0.1 * grad_fn(theta, 0))


@pytest.mark.parametrize("ctor, kwargs, message", [
    (optim.SGD, dict(lr=-0.1), "invalid learning rate"),
    (optim.SGD, dict(lr=float("nan")), "invalid learning rate"),
    (optim.SGD, dict(lr=0.1, momentum=-0.5), "invalid momentum"),
    (optim.SGD, dict(lr=0.1, nesterov=True), "nesterov=True needs momentum > 0"),
    (optim.SGD, dict(lr=0.1, momentum=0.9, dampening=0.1, nesterov=True), "dampening = 0"),
    (optim.SGD, dict(lr=0.1, weight_decay=-1.0), "invalid weight_decay"),
    (optim.Momentum, dict(lr=0.1, beta=1.0), "invalid beta"),
    (optim.RMSprop, dict(alpha=1.0), "invalid alpha"),
    (optim.RMSprop, dict(eps=-1.0), "eps and momentum must be >= 0"),
    (optim.RMSprop, dict(momentum=-0.1), "eps and momentum must be >= 0"),
    (optim.Adam, dict(betas=(1.0, 0.999)), "invalid betas"),
    (optim.Adam, dict(betas=(0.9, -0.1)), "invalid betas"),
    (optim.Adam, dict(eps=-1e-8), "invalid eps"),
    (optim.Adam, dict(lr=float("inf")), "invalid learning rate"),
])
def test_hyperparameter_validation(ctor, kwargs, message):
    with pytest.raises(ValueError, match=message):
        ctor([nn.Parameter(np.zeros(2))], **kwargs)


def test_parameter_list_validation():
    with pytest.raises(ValueError, match="empty parameter list"):
        optim.Adam([])
    with pytest.raises(TypeError, match="expects Parameters"):
        optim.SGD([np.zeros(3)], lr=0.1)
    with pytest.raises(ValueError, match=r"unknown option\(s\) \['momentun'\]"):
        optim.SGD([{"params": [nn.Parameter(np.zeros(2))], "momentun": 0.9}], lr=0.1)
    with pytest.raises(ValueError, match="invalid learning rate"):
        optim.SGD([{"params": [nn.Parameter(np.zeros(2))], "lr": -1.0}], lr=0.1)


@pytest.mark.parametrize("ctor, hp", [(optim.Adam, dict(lr=0.05, weight_decay=0.01)),
                                      (optim.RMSprop, dict(lr=0.01, momentum=0.5, centered=True)),
                                      (optim.SGD, dict(lr=0.1, momentum=0.9, nesterov=True)),
                                      (optim.Momentum, dict(lr=0.1))])
def test_state_dict_resumes_identically(ctor, hp):
    """Stop after 3 steps, restore into a fresh optimizer, continue: the same numbers as never stopping."""
    init = np.random.default_rng(0).standard_normal((3, 4))

    def run(split):
        p = nn.Parameter(init.copy())
        opt = ctor([p], **hp)
        for k in range(6):
            if k == split:
                sd = {key: v.copy() for key, v in opt.state_dict().items()}
                opt = ctor([p], **hp)
                opt.load_state_dict(sd)
            p.zero_grad()
            p.grad += grad_fn(p.data, k)
            opt.step()
        return p.data

    assert np.array_equal(run(split=None), run(split=3))


def test_l2_param_groups_exclude_biases_and_give_the_assignment_gradient():
    """One SGD step with lr=1 on l2_param_groups moves θ by exactly ∇J, where
    J = 1/(2m)[Σ(h - y)² + γ Σ_weights θ²]; checked against central differences of J."""
    rng = np.random.default_rng(4)
    m, gamma = 7, 0.3
    model = nn.Sequential(nn.Linear(5, 4, rng=rng), nn.Tanh(), nn.Linear(4, 2, rng=rng), nn.PReLU()).double()
    groups = optim.l2_param_groups(model, gamma, m)
    weights = [model[0].weight, model[2].weight]
    assert groups[0]["params"] == weights and groups[0]["weight_decay"] == pytest.approx(gamma / m)
    assert groups[1]["params"] == [model[0].bias, model[2].bias, model[3].weight]
    assert groups[1]["weight_decay"] == 0.0
    x, y = rng.standard_normal((m, 5)), rng.standard_normal((m, 2))
    loss_fn = nn.MSELoss()

    def cost():
        h = model.forward(x)
        return loss_fn(h, y) + gamma / (2 * m) * sum(float(np.sum(w.data ** 2)) for w in weights)

    numeric = [numerical_grad(cost, p.data) for p in model.parameters()]
    before = [p.data.copy() for p in model.parameters()]
    model.zero_grad()
    loss_fn(model.forward(x), y)
    model.backward(loss_fn.backward())
    optim.SGD(groups, lr=1.0).step()
    for b, p, g in zip(before, model.parameters(), numeric):
        assert rel_error(b - p.data, g) < 1e-6
    with pytest.raises(ValueError, match="gamma >= 0 and m > 0"):
        optim.l2_param_groups(model, -1.0, m)
    with pytest.raises(ValueError, match="gamma >= 0 and m > 0"):
        optim.l2_param_groups(model, 0.1, 0)


def test_optimizer_zero_grad_clears_every_group():
    a, b = nn.Parameter(np.ones(2)), nn.Parameter(np.ones(3))
    opt = optim.SGD([{"params": [a]}, {"params": [b], "lr": 0.5}], lr=0.1)
    a.grad += 1.0
    b.grad += 2.0
    opt.zero_grad()
    assert not np.any(a.grad) and not np.any(b.grad)


def _has_subnormal(a: np.ndarray) -> bool:
    return bool(np.any((a != 0) & (np.abs(a) < np.finfo(a.dtype).tiny)))


@pytest.mark.parametrize("ctor, hp, key", [
    (optim.Adam, dict(lr=1e-3), "exp_avg"),
    (optim.SGD, dict(lr=1e-3, momentum=0.9), "momentum_buffer"),
    (optim.Momentum, dict(lr=1e-3, beta=0.9), "velocity"),
    (optim.RMSprop, dict(lr=1e-3, momentum=0.9, centered=True), "momentum_buffer"),
])
def test_decaying_averages_never_become_subnormal(ctor, hp, key):
    # a weight whose gradient becomes zero (a dead unit): its average decays by β every step
    # and, unflushed, would pass through float32's slow subnormal range (< 1.2e-38)
    p = nn.Parameter(np.full(64, 0.5, dtype=np.float32))
    opt = ctor([p], **hp)
    p.grad[:] = np.geomspace(1e-3, 1e-30, 64, dtype=np.float32)  # every magnitude at once
    opt.step()
    p.grad[:] = 0
    unflushed = ctor([nn.Parameter(p.data.copy())], **hp)
    unflushed.FLUSH_EVERY = 10**9
    unflushed.state = [{k: v.copy() for k, v in opt.state[0].items()}]
    unflushed.param_groups[0]["params"][0].grad[:] = 0
    seen_unflushed = False
    for _ in range(1200):
        opt.step()
        unflushed.step()
        assert not _has_subnormal(opt.state[0][key])
        seen_unflushed |= _has_subnormal(unflushed.state[0][key])
    assert seen_unflushed  # the premise: without the flush the average does go subnormal
    assert not np.any(opt.state[0][key])  # and with it, it ends exactly at zero


def test_subnormal_flush_leaves_normal_values_alone():
    # a step sequence whose averages stay large: flushing changes nothing, bit for bit
    rng = np.random.default_rng(3)
    grads = rng.standard_normal((40, 30)).astype(np.float32)
    results = []
    for every in (1, 10**9):
        p = nn.Parameter(np.ones(30, dtype=np.float32))
        opt = optim.Adam([p], lr=0.01)
        opt.FLUSH_EVERY = every
        for g in grads:
            p.grad[:] = g
            opt.step()
        results.append(p.data.copy())
    np.testing.assert_array_equal(results[0], results[1])
