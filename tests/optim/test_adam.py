"""Adam (weight decay as L2 in the gradient, betas, eps, AMSGrad) against torch.optim.Adam trajectories
(float64, relative error < 1e-10), and hyperparameter validation."""
import numpy as np
import pytest

from backproplab import nn, optim

CASES = [  # (id, hyperparameters)
    ("adam", dict(lr=0.01)),
    ("adam_weight_decay", dict(lr=0.05, betas=(0.8, 0.99), weight_decay=0.1)),
    ("adam_eps", dict(lr=0.1, eps=1e-3)),
    ("adam_amsgrad", dict(lr=0.03, amsgrad=True, weight_decay=0.05)),
]


@pytest.mark.parametrize("name, hp", CASES, ids=[c[0] for c in CASES])
def test_trajectory_matches_torch(trajectory_matches_torch, name, hp):
    trajectory_matches_torch(name, optim.Adam, "Adam", hp)


@pytest.mark.parametrize("kwargs, message", [
    (dict(betas=(1.0, 0.999)), "invalid betas"),
    (dict(betas=(0.9, -0.1)), "invalid betas"),
    (dict(eps=-1e-8), "invalid eps"),
    (dict(lr=float("inf")), "invalid learning rate"),
])
def test_hyperparameter_validation(kwargs, message):
    with pytest.raises(ValueError, match=message):
        optim.Adam([nn.Parameter(np.zeros(2))], **kwargs)
