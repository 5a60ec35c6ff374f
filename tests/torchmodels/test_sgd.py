"""The graph-capturable Nesterov SGD against torch.optim.SGD, and its parameter groups."""
from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

from backproplab.torchmodels import MobileNetV2  # noqa: E402
from backproplab.torchmodels.sgd import NesterovSGD, decay_groups  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def rel_err(a, b) -> float:
    return float((a - b).abs().max() / b.abs().max().clamp_min(1e-300))


@pytest.mark.parametrize("momentum, weight_decay, depthwise_decay", [
    (0.9, 5e-4, False), (0.9, 1e-2, True), (0.0, 1e-3, False), (0.5, 0.0, False)])
def test_matches_torch_sgd(momentum, weight_decay, depthwise_decay):
    """Five steps with a new learning rate and new random gradients each step, float64."""
    torch.manual_seed(0)
    ours = MobileNetV2(0.25, 10, 8, in_channels=1, variant="cifar").double()
    theirs = MobileNetV2(0.25, 10, 8, in_channels=1, variant="cifar").double()
    theirs.load_state_dict(ours.state_dict())
    opt = NesterovSGD(decay_groups(ours, weight_decay, depthwise_decay), momentum)
    ref = torch.optim.SGD(decay_groups(theirs, weight_decay, depthwise_decay), lr=1.0, momentum=momentum,
                          nesterov=momentum > 0)
    gen = torch.Generator().manual_seed(1)
    for lr in (0.3, 0.1, 0.05, 0.2, 0.01):
        opt.set_lr(lr)
        for g in ref.param_groups:
            g["lr"] = lr
        for p, q in zip(ours.parameters(), theirs.parameters()):
            p.grad = torch.randn(p.shape, generator=gen, dtype=torch.float64)
            q.grad = p.grad.clone()
        opt.step()
        ref.step()
    for (name, p), q in zip(ours.named_parameters(), theirs.parameters()):
        assert rel_err(p.detach(), q.detach()) < 1e-12, name
    assert float(opt.lr) == pytest.approx(0.01)


def test_skips_parameters_without_gradient_and_resets_momentum():
    layer = nn.Linear(3, 2).double()
    before = layer.weight.detach().clone()
    opt = NesterovSGD(list(layer.parameters()), momentum=0.9)
    opt.set_lr(0.1)
    layer.bias.grad = torch.ones(2, dtype=torch.float64)
    opt.step()
    assert torch.equal(layer.weight.detach(), before)  # no gradient: untouched
    assert opt.buffers[0][1].abs().sum() > 0
    addresses = [b.data_ptr() for b in opt.buffers[0]]
    opt.reset()
    assert all(b.abs().sum() == 0 for b in opt.buffers[0])
    assert [b.data_ptr() for b in opt.buffers[0]] == addresses  # in place: a captured graph keeps its buffers
    opt.zero_grad()
    assert layer.bias.grad is None


def test_decay_groups_leave_out_batchnorm_biases_and_depthwise_filters():
    model = nn.Sequential(nn.Conv2d(4, 4, 3, groups=4, bias=False), nn.BatchNorm2d(4), nn.Conv2d(4, 6, 1),
                          nn.Flatten(), nn.LazyLinear(3))
    model(torch.zeros(1, 4, 5, 5))
    decayed, rest = decay_groups(model, 5e-4)
    ids = {id(p) for p in decayed["params"]}
    assert ids == {id(model[2].weight), id(model[4].weight)}
    assert decayed["weight_decay"] == 5e-4 and rest["weight_decay"] == 0.0
    assert len(rest["params"]) == 5  # depthwise weight, BN weight and bias, two biases
    with_dw = decay_groups(model, 5e-4, depthwise_decay=True)[0]
    assert id(model[0].weight) in {id(p) for p in with_dw["params"]}


@pytest.mark.parametrize("kwargs, message", [({"momentum": 1.0}, "momentum"), ({"momentum": -0.1}, "momentum")])
def test_rejects_bad_hyperparameters(kwargs, message):
    with pytest.raises(ValueError, match=message):
        NesterovSGD([nn.Parameter(torch.zeros(2))], **kwargs)
    with pytest.raises(ValueError, match="weight_decay"):
        NesterovSGD([{"params": [nn.Parameter(torch.zeros(2))], "weight_decay": -1.0}])
