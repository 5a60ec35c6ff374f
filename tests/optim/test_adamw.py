"""AdamW: trajectories against torch.optim.AdamW (float64, relative error < 1e-10), decoupled decay,
PyTorch's default, float32, validation."""
import numpy as np
import pytest

from backproplab import nn, optim

CASES = [  # (id, hyperparameters)
    ("adamw", dict(lr=1e-3)),
    ("adamw_strong_decay", dict(lr=0.05, weight_decay=0.5, betas=(0.8, 0.95))),
    ("adamw_amsgrad", dict(lr=0.02, weight_decay=0.1, amsgrad=True, eps=1e-6)),
    ("adamw_no_decay", dict(lr=0.01, weight_decay=0.0)),
]


@pytest.mark.parametrize("name, hp", CASES, ids=[c[0] for c in CASES])
def test_trajectory_matches_torch(trajectory_matches_torch, name, hp):
    trajectory_matches_torch(name, optim.AdamW, "AdamW", hp)


def test_adamw_decay_is_decoupled_from_the_gradient():
    """With a zero gradient Adam's L2 term still moves θ through the moments; AdamW only shrinks θ."""
    p = nn.Parameter(np.array([2.0, -1.0]))
    opt = optim.AdamW([p], lr=0.1, weight_decay=0.5)
    p.grad[:] = 0.0
    opt.step()
    np.testing.assert_allclose(p.data, np.array([2.0, -1.0]) * (1 - 0.1 * 0.5), rtol=1e-15)
    q = nn.Parameter(np.array([2.0, -1.0]))  # Adam: g = 0 + 0.5·θ, and its first step is lr·sign(g)
    adam = optim.Adam([q], lr=0.1, weight_decay=0.5)
    q.grad[:] = 0.0
    adam.step()
    np.testing.assert_allclose(q.data, np.array([2.0, -1.0]) - 0.1 * np.sign([2.0, -1.0]), rtol=1e-7)
    assert not np.allclose(q.data, p.data)
    assert optim.AdamW([nn.Parameter(np.ones(1))]).defaults["weight_decay"] == 0.01  # PyTorch's default


def test_float32_stays_float32():
    p = nn.Parameter(np.ones((3, 2), np.float32))
    opt = optim.AdamW([p], lr=0.01, amsgrad=True)
    for _ in range(3):
        p.grad += np.float32(0.5)
        opt.step()
    assert p.data.dtype == np.float32 and all(v.dtype == np.float32 for v in opt.state[0].values() if v.ndim)


@pytest.mark.parametrize("kwargs, message", [(dict(betas=(1.0, 0.9)), "AdamW: invalid betas"),
                                             (dict(weight_decay=-0.1), "invalid weight_decay"),
                                             (dict(eps=-1.0), "AdamW: invalid eps")])
def test_validation(kwargs, message):
    with pytest.raises(ValueError, match=message):
        optim.AdamW([nn.Parameter(np.zeros(2))], **kwargs)
