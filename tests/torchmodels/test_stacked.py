"""k models stacked into one grouped network compute what the k models compute (float64, CPU).

Forward in train and eval mode, every parameter gradient under a random upstream
gradient, and three training steps (NesterovSGD, BatchNorm statistics, label smoothing)
through the study's TrainStep: each compared with the separate models, rel. error < 1e-10.
"""
from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

from backproplab.torchmodels import build_model  # noqa: E402
from backproplab.torchmodels.sgd import NesterovSGD, decay_groups  # noqa: E402
from backproplab.torchmodels.stacked import GroupedLinear, stack_models, unstack_state  # noqa: E402
from backproplab.torchmodels.step import TrainStep  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")

# (family, width, side, k); dropout 0 so that the stacked and separate masks cannot differ
CASES = [("cnn", 0.125, 8, 2), ("v1", 0.125, 8, 3), ("v2", 0.125, 8, 2)]


def rel_err(a, b) -> float:
    return float((a - b).abs().max() / b.abs().max().clamp_min(1e-300))


def models(family, width, side, k, in_channels=2):
    out = []
    for seed in range(k):
        torch.manual_seed(seed)
        m = build_model(family, width, 10, side, in_channels=in_channels, variant="cifar", dropout=0.0).double()
        for mod in m.modules():  # non-trivial BatchNorm statistics and affine parameters
            if isinstance(mod, nn.BatchNorm2d):
                mod.running_mean.uniform_(-0.5, 0.5)
                mod.running_var.uniform_(0.5, 2.0)
                mod.weight.data.uniform_(0.5, 1.5)
                mod.bias.data.uniform_(-0.2, 0.2)
        out.append(m)
    return out


@pytest.mark.parametrize("family, width, side, k", CASES)
@pytest.mark.parametrize("train", [True, False])
def test_forward_and_gradients_match_separate_models(family, width, side, k, train):
    separate = models(family, width, side, k)
    stacked = stack_models(separate).train(train)
    gen = torch.Generator().manual_seed(7)
    xs = [torch.randn((5, 2, side, side), generator=gen, dtype=torch.float64) for _ in range(k)]
    dys = [torch.randn((5, 10), generator=gen, dtype=torch.float64) for _ in range(k)]
    y = stacked(torch.cat(xs, 1))  # model j's images in channels [2j, 2j+2)
    assert y.shape == (5, k * 10)
    y.backward(torch.cat(dys, 1))
    for j, (m, x, dy) in enumerate(zip(separate, xs, dys)):
        m.train(train)
        yj = m(x)
        assert rel_err(y[:, 10 * j:10 * (j + 1)].detach(), yj.detach()) < 1e-10
        yj.backward(dy)
        grads = {name: p.grad for name, p in m.named_parameters()}
        stacked_grads = {name: p.grad for name, p in stacked.named_parameters()}
        for name, g in unstack_state(_as_module(stacked_grads, stacked), m, j).items():
            if name in grads:
                assert rel_err(g, grads[name]) < 1e-10, name
        if train:  # BatchNorm statistics updated per model
            for name, v in unstack_state(stacked, m, j).items():
                if "running" in name:
                    assert rel_err(v, m.state_dict()[name]) < 1e-10, name


def _as_module(grads: dict, stacked: nn.Module) -> nn.Module:
    """A copy of ``stacked`` whose parameters hold its gradients (to reuse unstack_state on them)."""
    import copy

    clone = copy.deepcopy(stacked)
    with torch.no_grad():
        for name, p in clone.named_parameters():
            p.copy_(grads[name])
    return clone


@pytest.mark.parametrize("family, width, side, k", CASES)
def test_training_steps_match_separate_models(family, width, side, k):
    separate = models(family, width, side, k, in_channels=1)
    stacked = stack_models(separate)
    gen = torch.Generator().manual_seed(3)
    x = torch.randn((8, k, side, side), generator=gen, dtype=torch.float64)  # (B, k*C, H, W)
    y = torch.randint(0, 10, (8, k), generator=gen)

    def run(model, xb, yb, kk):
        step = TrainStep(model, NesterovSGD(decay_groups(model, 5e-4), 0.9), xb, yb, kk, 0.1, amp=False)
        step.stats = step.stats.double()
        for lr in (0.1, 0.05, 0.2):
            step.optimizer.set_lr(lr)
            step.eager()
        return step.stats

    stats = run(stacked, x, y, k)
    for j, m in enumerate(separate):
        stats_j = run(m, x[:, j:j + 1].contiguous(), y[:, j:j + 1].contiguous(), 1)
        assert rel_err(stats[j], stats_j[0]) < 1e-10
        for name, v in unstack_state(stacked, m, j).items():
            if v.is_floating_point():
                assert rel_err(v, m.state_dict()[name]) < 1e-10, name
            else:
                assert torch.equal(v, m.state_dict()[name]), name


def test_unstack_inverts_stack():
    separate = models("v2", 0.25, 8, 3)
    stacked = stack_models(separate)
    assert isinstance(stacked.classifier, GroupedLinear)
    assert stacked.features[0][0].groups == 3 and stacked.features[0][0].out_channels == 3 * 8
    for j, m in enumerate(separate):
        state = unstack_state(stacked, m, j)
        assert state.keys() == m.state_dict().keys()
        assert all(torch.equal(state[key], value) for key, value in m.state_dict().items())
    with pytest.raises(ValueError, match="outside"):
        unstack_state(stacked, separate[0], 3)


def test_refuses_what_it_cannot_stack():
    with pytest.raises(ValueError, match="one architecture"):
        stack_models([build_model("v1", 0.25, 10, 8), build_model("v1", 0.5, 10, 8)])
    with pytest.raises(ValueError, match="LayerNorm"):
        stack_models([nn.Sequential(nn.Conv2d(1, 2, 3), nn.LayerNorm(2))] * 2)
    with pytest.raises(ValueError, match="at least one"):
        stack_models([])
