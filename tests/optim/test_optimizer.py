"""What every optimizer shares (the Optimizer base class): float32 kept and updated in place, parameter
lists and groups, zero_grad, state dicts (resume bit for bit, hyperparameters restored as PyTorch, a clear
ValueError for state from an older format, another optimizer or another model), the assignment's L2
parameter groups checked by central differences, decaying averages flushed before they turn subnormal,
and parameters without a gradient skipped as torch.optim does (float64 trajectories against PyTorch)."""
import numpy as np
import pytest

from backproplab import nn, optim
from backproplab.analysis import numerical_grad, rel_error


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
def test_state_dict_resumes_identically(grad_fn, ctor, hp):
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


def test_optimizer_zero_grad_clears_every_group():
    a, b = nn.Parameter(np.ones(2)), nn.Parameter(np.ones(3))
    opt = optim.SGD([{"params": [a]}, {"params": [b], "lr": 0.5}], lr=0.1)
    a.grad += 1.0
    b.grad += 2.0
    opt.zero_grad()
    assert not a.has_grad and not b.has_grad  # set_to_none=True, PyTorch's default: no gradient at all
    assert not np.any(a.grad) and not np.any(b.grad)  # (reading grad gives it one, of zeros)


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


def adam_with_state(shape=(3, 2)):
    p = nn.Parameter(np.ones(shape))
    opt = optim.Adam([p], lr=0.01, betas=(0.8, 0.9))
    p.grad += 1.0
    opt.step()
    return opt


def test_hyperparameters_come_back_with_the_state():
    opt = adam_with_state()
    opt.param_groups[0]["lr"] = 0.005  # e.g. a scheduler's doing
    sd = opt.state_dict()
    assert all(isinstance(v, np.ndarray) and v.dtype != object for v in sd.values())
    fresh = optim.Adam([nn.Parameter(np.ones((3, 2)))], lr=0.01)
    fresh.load_state_dict(sd)
    assert fresh.param_groups[0]["lr"] == 0.005 and fresh.param_groups[0]["betas"] == (0.8, 0.9)
    assert int(fresh.state[0]["step"]) == 1


def test_old_format_is_a_clear_error_not_a_key_error():
    sd = adam_with_state().state_dict()
    old = {k: v for k, v in sd.items() if k.startswith("state.") or k == "step_count"}  # format 1's keys
    with pytest.raises(ValueError, match=r"lacks \['format', 'type', 'param_groups'\]: it was saved by an older"):
        optim.Adam([nn.Parameter(np.ones((3, 2)))]).load_state_dict(old)


def test_state_of_another_optimizer_or_model_is_refused_before_anything_changes():
    sd = adam_with_state().state_dict()
    sgd = optim.SGD([nn.Parameter(np.ones((3, 2)))], lr=0.1)
    with pytest.raises(ValueError, match="belongs to Adam, not SGD"):
        sgd.load_state_dict(sd)
    other = optim.Adam([nn.Parameter(np.ones((4, 2)))], lr=0.3)
    with pytest.raises(ValueError, match=r"state.0.exp_avg of shape \(3, 2\) does not fit"):
        other.load_state_dict(sd)
    assert other.param_groups[0]["lr"] == 0.3 and other.state == [{}]  # untouched
    two = optim.Adam([nn.Parameter(np.ones((3, 2))), nn.Parameter(np.ones(2))])
    with pytest.raises(ValueError, match=r"groups of \[1\] parameters, this optimizer \[2\]"):
        two.load_state_dict(sd)


def test_unknown_state_name_is_refused():
    """E.g. a damaged file whose directory renamed 'step': Adam would fail later with a KeyError."""
    sd = adam_with_state().state_dict()
    sd["state.0.stop"] = sd.pop("state.0.step")
    with pytest.raises(ValueError, match="holds 'state.0.stop', which Adam does not keep"):
        optim.Adam([nn.Parameter(np.ones((3, 2)))]).load_state_dict(sd)


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


# -- parameters without a gradient ------------------------------------------------------------------
SKIP_CASES = [  # (id, ours, the torch.optim class, hyperparameters)
    ("sgd_momentum_wd", optim.SGD, "SGD", dict(lr=0.1, momentum=0.9, weight_decay=0.1)),
    ("rmsprop", optim.RMSprop, "RMSprop", dict(lr=0.01, momentum=0.5, weight_decay=0.05, centered=True)),
    ("adam", optim.Adam, "Adam", dict(lr=0.05, weight_decay=0.1)),
    ("adamw", optim.AdamW, "AdamW", dict(lr=0.05, weight_decay=0.2)),
]
# which parameters get a gradient at each step: the second one sits out steps 2, 3 and 5
GETS_GRAD = [(True, True), (True, True), (True, False), (True, False), (True, True), (True, False), (True, True)]


def run_both(torch, ours, theirs, hp, set_to_none):
    rng = np.random.default_rng(7)
    init = [rng.standard_normal((3, 2)), rng.standard_normal(4)]
    params = [nn.Parameter(a.copy()) for a in init]
    tparams = [torch.tensor(a.copy(), requires_grad=True) for a in init]
    opt, topt = ours(params, **hp), getattr(torch.optim, theirs)(tparams, **hp)
    for k, active in enumerate(GETS_GRAD):
        opt.zero_grad(set_to_none=set_to_none)
        topt.zero_grad(set_to_none=set_to_none)
        for p, tp, on in zip(params, tparams, active):
            if on:
                g = np.cos(p.data) + 0.1 * k
                p.grad += g
                tp.grad = torch.from_numpy(np.cos(tp.detach().numpy()) + 0.1 * k)
        opt.step()
        topt.step()
        for p, tp in zip(params, tparams):
            assert rel_error(p.data, tp.detach().numpy()) < 1e-10, (k, set_to_none)
    return params, init, opt


@pytest.mark.parametrize("name, ours, theirs, hp", SKIP_CASES, ids=[c[0] for c in SKIP_CASES])
@pytest.mark.parametrize("set_to_none", [True, False])
def test_steps_without_a_gradient_match_torch(torch, name, ours, theirs, hp, set_to_none):
    params, init, opt = run_both(torch, ours, theirs, hp, set_to_none)
    if name.startswith("adam"):  # the parameter's own step count drives its bias correction
        skipped = sum(1 for _, on in GETS_GRAD if not on)
        expected = len(GETS_GRAD) - (skipped if set_to_none else 0)
        assert int(opt.state[1]["step"]) == expected and int(opt.state[0]["step"]) == len(GETS_GRAD)


def test_a_skipped_parameter_does_not_move():
    """The premise the trajectories rest on: momentum and weight decay alone would move it."""
    p = nn.Parameter(np.ones(3))
    opt = optim.SGD([p], lr=0.1, momentum=0.9, weight_decay=0.1)
    p.grad += 1.0
    opt.step()
    after_one = p.data.copy()
    opt.zero_grad()  # set_to_none=True: no gradient now
    opt.step()
    np.testing.assert_array_equal(p.data, after_one)
    opt.zero_grad(set_to_none=False)  # a zero gradient: momentum and decay still act
    opt.step()
    assert np.all(p.data < after_one)
