"""The optimizer's state dict: plain arrays, hyperparameters restored (as PyTorch), and a clear
ValueError for state from an older format, another optimizer or another model."""
import numpy as np
import pytest

from backproplab import nn, optim


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
