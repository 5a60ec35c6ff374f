"""What the optimizer tests share: a gradient that depends on θ, and the trajectory check against torch.optim."""
import zlib

import numpy as np
import pytest

from backproplab import nn
from backproplab.analysis import rel_error

STEPS = 8


def _grad_fn(theta: np.ndarray, k: int) -> np.ndarray:
    return np.sin(3.0 * theta) + 0.5 * theta ** 2 - 0.3 * k * np.cos(theta)


@pytest.fixture
def grad_fn():
    """``grad_fn(θ, k)``: a gradient that depends non-linearly on θ and on the step k (so trajectories
    diverge if a step is wrong)."""
    return _grad_fn


@pytest.fixture
def trajectory_matches_torch(torch):
    """``trajectory_matches_torch(name, ours, theirs_name, hp)``: 8 steps of our optimizer and of
    ``torch.optim.<theirs_name>`` with the same hyperparameters, in float64, on three parameters in two
    groups (the second group's lr overridden, to check per-group options); every step's parameters agree
    to a relative error of 1e-10, and the parameters did move."""
    def check(name, ours, theirs_name, hp):
        rng = np.random.default_rng(zlib.crc32(name.encode()))
        init = [rng.standard_normal((4, 3)), rng.standard_normal(4), rng.standard_normal((2, 5))]
        params = [nn.Parameter(a.copy()) for a in init]
        tparams = [torch.tensor(a.copy(), requires_grad=True) for a in init]
        opt = ours([{"params": params[:2]}, {"params": params[2:], "lr": hp["lr"] / 2}], **hp)
        topt = getattr(torch.optim, theirs_name)([{"params": tparams[:2]}, {"params": tparams[2:], "lr": hp["lr"] / 2}],
                                                 **hp)
        for k in range(STEPS):
            opt.zero_grad()
            topt.zero_grad()
            for p, tp in zip(params, tparams):
                p.grad += _grad_fn(p.data, k)
                tp.grad = torch.from_numpy(_grad_fn(tp.detach().numpy(), k))
            opt.step()
            topt.step()
            for p, tp in zip(params, tparams):
                assert rel_error(p.data, tp.detach().numpy()) < 1e-10, (name, k)
        assert any(not np.allclose(p.data, a) for p, a in zip(params, init))  # it moved

    return check
