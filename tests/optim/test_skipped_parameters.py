"""A parameter that got no gradient after zero_grad() is not stepped (no momentum, no weight decay,
no step count of its own), as torch.optim with set_to_none=True; with set_to_none=False it is
stepped with a zero gradient, as torch. Checked against PyTorch trajectories in float64."""
import numpy as np
import pytest

from backproplab import nn, optim
from backproplab.analysis import rel_error

torch = pytest.importorskip("torch")

CASES = [  # (id, ours, torch's, hyperparameters)
    ("sgd_momentum_wd", optim.SGD, torch.optim.SGD, dict(lr=0.1, momentum=0.9, weight_decay=0.1)),
    ("rmsprop", optim.RMSprop, torch.optim.RMSprop, dict(lr=0.01, momentum=0.5, weight_decay=0.05, centered=True)),
    ("adam", optim.Adam, torch.optim.Adam, dict(lr=0.05, weight_decay=0.1)),
    ("adamw", optim.AdamW, torch.optim.AdamW, dict(lr=0.05, weight_decay=0.2)),
]
# which parameters get a gradient at each step: the second one sits out steps 2, 3 and 5
GETS_GRAD = [(True, True), (True, True), (True, False), (True, False), (True, True), (True, False), (True, True)]


def run_both(ours, theirs, hp, set_to_none):
    rng = np.random.default_rng(7)
    init = [rng.standard_normal((3, 2)), rng.standard_normal(4)]
    params = [nn.Parameter(a.copy()) for a in init]
    tparams = [torch.tensor(a.copy(), requires_grad=True) for a in init]
    opt, topt = ours(params, **hp), theirs(tparams, **hp)
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


@pytest.mark.parametrize("name, ours, theirs, hp", CASES, ids=[c[0] for c in CASES])
@pytest.mark.parametrize("set_to_none", [True, False])
def test_steps_without_a_gradient_match_torch(name, ours, theirs, hp, set_to_none):
    params, init, opt = run_both(ours, theirs, hp, set_to_none)
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
