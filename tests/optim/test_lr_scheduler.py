"""Learning-rate schedulers: 50 steps against torch.optim.lr_scheduler (lr, and momentum/beta1 for
OneCycleLR), state_dict round trips through JSON, and argument errors."""
import json

import numpy as np
import pytest

from backproplab import nn, optim
from backproplab.optim import lr_scheduler as sched

STEPS = 50


def two_groups(cls, lr=0.1, torch=None, **hp):
    """A two-group optimizer (the second group at half the lr): ours, or torch.optim's when torch is given."""
    if torch is None:
        ps = [nn.Parameter(np.ones(3)), nn.Parameter(np.ones(2))]
    else:
        ps = [torch.ones(k, dtype=torch.float64, requires_grad=True) for k in (3, 2)]
    return cls([{"params": ps[:1]}, {"params": ps[1:], "lr": lr / 2}], lr=lr, **hp)


def rel(a, b):
    return abs(a - b) / max(abs(a), abs(b), 1e-300)


# (id, our scheduler, torch's, kwargs, optimizer); kwargs as PyTorch spells them
CASES = [
    ("step", sched.StepLR, "StepLR", dict(step_size=7, gamma=0.5), "sgd"),
    ("multistep", sched.MultiStepLR, "MultiStepLR", dict(milestones=[3, 10, 10, 31], gamma=0.3), "sgd"),
    ("exponential", sched.ExponentialLR, "ExponentialLR", dict(gamma=0.93), "adam"),
    ("cosine", sched.CosineAnnealingLR, "CosineAnnealingLR", dict(T_max=12, eta_min=0.001), "sgd"),  # past T_max
    ("cosine_zero_min", sched.CosineAnnealingLR, "CosineAnnealingLR", dict(T_max=50), "adam"),
    ("lambda", sched.LambdaLR, "LambdaLR", dict(lr_lambda=lambda e: 1.0 / (1 + 0.3 * e) ** 0.5), "sgd"),
    ("lambda_per_group", sched.LambdaLR, "LambdaLR",
     dict(lr_lambda=[lambda e: 0.97 ** e, lambda e: min(1.0, (e + 1) / 10)]), "adam"),
    ("onecycle_sgd", sched.OneCycleLR, "OneCycleLR", dict(max_lr=0.5, total_steps=STEPS), "sgd_momentum"),
    ("onecycle_adam", sched.OneCycleLR, "OneCycleLR", dict(max_lr=[0.01, 0.02], total_steps=60, pct_start=0.25),
     "adam"),
    ("onecycle_adamw_linear_3phase", sched.OneCycleLR, "OneCycleLR",
     dict(max_lr=0.02, epochs=5, steps_per_epoch=11, anneal_strategy="linear", three_phase=True,
          base_momentum=0.8, max_momentum=0.9, div_factor=10.0, final_div_factor=100.0), "adamw"),
    ("onecycle_rmsprop", sched.OneCycleLR, "OneCycleLR", dict(max_lr=0.05, total_steps=STEPS), "rmsprop"),
    ("onecycle_no_momentum", sched.OneCycleLR, "OneCycleLR",
     dict(max_lr=0.05, total_steps=STEPS, cycle_momentum=False), "sgd"),
]
OPTIMIZERS = {  # name -> (ours, the torch.optim class, hyperparameters)
    "sgd": (optim.SGD, "SGD", {}),
    "sgd_momentum": (optim.SGD, "SGD", dict(momentum=0.9)),
    "adam": (optim.Adam, "Adam", {}),
    "adamw": (optim.AdamW, "AdamW", {}),
    "rmsprop": (optim.RMSprop, "RMSprop", dict(momentum=0.5)),
}


def momenta(groups):
    return [g["betas"][0] if "betas" in g else g.get("momentum") for g in groups]


@pytest.mark.parametrize("name, ours_cls, theirs_name, kwargs, opt", CASES, ids=[c[0] for c in CASES])
def test_schedule_matches_torch_for_50_steps(torch, name, ours_cls, theirs_name, kwargs, opt):
    ours_opt, theirs_opt, hp = OPTIMIZERS[opt]
    ours, theirs = two_groups(ours_opt, **hp), two_groups(getattr(torch.optim, theirs_opt), torch=torch, **hp)
    s = ours_cls(ours, **kwargs)
    t = getattr(torch.optim.lr_scheduler, theirs_name)(theirs, **kwargs)
    assert s.get_last_lr() == pytest.approx(t.get_last_lr(), rel=1e-12)
    seen = set()
    for k in range(STEPS):
        theirs.step()  # PyTorch wants an optimizer step before each scheduler step
        s.step()
        t.step()
        assert s.last_epoch == t.last_epoch == k + 1
        for a, b in zip(s.get_last_lr(), t.get_last_lr()):
            assert rel(a, b) < 1e-12, (name, k, a, b)
        for a, b in zip(momenta(ours.param_groups), momenta(theirs.param_groups)):
            assert (a is None and b in (None, 0)) or rel(a, b) < 1e-12, (name, k, a, b)
        seen.add(round(s.get_last_lr()[0], 15))
    assert len(seen) > 2  # the schedule did change the lr


def test_onecycle_cycles_momentum_by_default_as_torch(torch):
    ours, theirs = two_groups(optim.SGD, momentum=0.9), two_groups(torch.optim.SGD, torch=torch, momentum=0.9)
    sched.OneCycleLR(ours, max_lr=0.1, total_steps=10)
    torch.optim.lr_scheduler.OneCycleLR(theirs, max_lr=0.1, total_steps=10)
    assert momenta(ours.param_groups) == momenta(theirs.param_groups) == [0.95, 0.95]


@pytest.mark.parametrize("name, ours_cls, theirs_name, kwargs, opt", CASES[:9], ids=[c[0] for c in CASES[:9]])
def test_state_dict_is_json_and_resumes_identically(name, ours_cls, theirs_name, kwargs, opt):
    """Stop after 17 steps, save optimizer + scheduler, rebuild both, load: the next steps are unchanged."""
    ours_opt, _, hp = OPTIMIZERS[opt]

    def build():
        o = two_groups(ours_opt, **hp)
        return o, ours_cls(o, **kwargs)

    o, s = build()
    for _ in range(17):
        s.step()
    saved_s = json.loads(json.dumps(s.state_dict()))  # plain JSON values only
    saved_o = o.state_dict()
    reference = []
    for _ in range(20):
        s.step()
        reference.append(s.get_last_lr() + momenta(o.param_groups))
    o2, s2 = build()
    o2.load_state_dict(saved_o)
    s2.load_state_dict(saved_s)
    resumed = []
    for _ in range(20):
        s2.step()
        resumed.append(s2.get_last_lr() + momenta(o2.param_groups))
    assert resumed == reference


def test_errors():
    o = two_groups(optim.SGD)
    with pytest.raises(ValueError, match="step_size must be a positive integer"):
        sched.StepLR(o, step_size=0)
    with pytest.raises(ValueError, match="total_steps, or both epochs and steps_per_epoch"):
        sched.OneCycleLR(o, max_lr=0.1)
    with pytest.raises(ValueError, match="2 parameter groups"):
        sched.OneCycleLR(o, max_lr=[0.1, 0.2, 0.3], total_steps=5)
    with pytest.raises(ValueError, match="neither: pass cycle_momentum=False"):
        sched.OneCycleLR(optim.Momentum([nn.Parameter(np.ones(2))], lr=0.1), max_lr=0.1, total_steps=5)
    s = sched.OneCycleLR(o, max_lr=0.1, total_steps=3)
    for _ in range(3):
        s.step()
    with pytest.raises(ValueError, match="stepped 4 times but total_steps is 3"):
        s.step()
    with pytest.raises(ValueError, match="belongs to OneCycleLR, not StepLR"):
        sched.StepLR(o, step_size=2).load_state_dict(s.state_dict())
    fresh = two_groups(optim.SGD)
    with pytest.raises(ValueError, match="no 'initial_lr'"):
        sched.StepLR(fresh, step_size=2, last_epoch=4)


def test_a_torch_optimizer_is_refused(torch):
    with pytest.raises(TypeError, match="needs a backproplab Optimizer"):
        sched.StepLR(torch.optim.SGD([torch.ones(1, requires_grad=True)], lr=0.1), step_size=2)
