"""RMSprop (centered, momentum, weight decay, eps) against torch.optim.RMSprop trajectories (float64,
relative error < 1e-10), and hyperparameter validation."""
import numpy as np
import pytest

from backproplab import nn, optim

CASES = [  # (id, hyperparameters)
    ("rmsprop", dict(lr=0.01)),
    ("rmsprop_centered", dict(lr=0.01, alpha=0.9, centered=True)),
    ("rmsprop_momentum", dict(lr=0.01, momentum=0.7, weight_decay=0.05)),
    ("rmsprop_all", dict(lr=0.02, momentum=0.5, centered=True, eps=1e-6)),
]


@pytest.mark.parametrize("name, hp", CASES, ids=[c[0] for c in CASES])
def test_trajectory_matches_torch(trajectory_matches_torch, name, hp):
    trajectory_matches_torch(name, optim.RMSprop, "RMSprop", hp)


@pytest.mark.parametrize("kwargs, message", [
    (dict(alpha=1.0), "invalid alpha"),
    (dict(eps=-1.0), "eps and momentum must be >= 0"),
    (dict(momentum=-0.1), "eps and momentum must be >= 0"),
])
def test_hyperparameter_validation(kwargs, message):
    with pytest.raises(ValueError, match=message):
        optim.RMSprop([nn.Parameter(np.zeros(2))], **kwargs)
