"""SGD with Nesterov momentum whose learning rate is a tensor, so a whole step can be a CUDA graph.

``torch.optim.SGD`` reads the learning rate as a Python float: a captured graph would
replay the rate of the capture forever, and a tensor rate makes its foreach path call
``.item()`` (a host sync, illegal inside a capture). Here the rate lives in a 0-d tensor
on the parameters' device; each step reads it there, so the schedule is set by
``lr.fill_(value)`` between graph replays. Every buffer exists before the first step
(the momentum starts at zero), so the step allocates nothing that a capture would miss.

The update, per parameter p with gradient g (Sutskever et al. 2013; PyTorch's SGD with
``nesterov=True, dampening=0``, whose numbers this reproduces)::

    g <- g + weight_decay * p          (L2 penalty, only in groups with weight_decay > 0)
    b <- momentum * b + g
    p <- p - lr * (g + momentum * b)

Parameter groups (:func:`decay_groups`): BatchNorm weights, biases and -- unless asked --
depthwise filters get no weight decay. Howard et al. 2017 (MobileNets, section 3.2) report
that depthwise filters, with only 9 weights per channel, want little or no weight decay.
"""
from __future__ import annotations

import torch
from torch import nn

from .stacked import GroupedLinear


def decay_groups(model: nn.Module, weight_decay: float, depthwise_decay: bool = False) -> list[dict]:
    """[{'params': decayed, 'weight_decay': weight_decay}, {'params': the rest, 'weight_decay': 0}].

    Decayed: the weights of convolutions and linear layers (also a stacked network's
    :class:`~backproplab.torchmodels.stacked.GroupedLinear`); depthwise conv weights only
    when ``depthwise_decay``. A conv is depthwise when ``groups == in_channels > 1`` in each
    of the ``model.num_stacked`` models a stacked network holds (1 for a plain model): a
    stacked dense conv on 1-channel images also has one input channel per group.
    """
    k = getattr(model, "num_stacked", 1)
    decayed = set()
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            depthwise = m.groups == m.in_channels and m.in_channels // k > 1
            if depthwise_decay or not depthwise:
                decayed.add(id(m.weight))
        elif isinstance(m, (nn.Linear, GroupedLinear)):
            decayed.add(id(m.weight))
    decay = [p for p in model.parameters() if id(p) in decayed]
    rest = [p for p in model.parameters() if id(p) not in decayed]
    return [{"params": decay, "weight_decay": weight_decay}, {"params": rest, "weight_decay": 0.0}]


class NesterovSGD:
    """Nesterov SGD over parameter groups, learning rate in the 0-d tensor ``self.lr``.

    Args:
        groups: ``[{'params': [...], 'weight_decay': float}, ...]`` (see :func:`decay_groups`),
            or a plain list of parameters (no weight decay).
        momentum: in [0, 1).
    """

    def __init__(self, groups, momentum: float = 0.9):
        groups = list(groups)
        if groups and not isinstance(groups[0], dict):
            groups = [{"params": groups, "weight_decay": 0.0}]
        if not 0.0 <= momentum < 1.0:
            raise ValueError(f"momentum must be in [0, 1), got {momentum}")
        for g in groups:
            if g["weight_decay"] < 0:
                raise ValueError(f"weight_decay must be >= 0, got {g['weight_decay']}")
        self.groups = [{"params": list(g["params"]), "weight_decay": float(g["weight_decay"])} for g in groups]
        self.momentum = momentum
        first = next((p for g in self.groups for p in g["params"]), None)
        device = first.device if first is not None else torch.device("cpu")
        dtype = first.dtype if first is not None else torch.float32  # the parameters' precision
        self.lr = torch.zeros((), device=device, dtype=dtype)
        self.buffers = [[torch.zeros_like(p) for p in g["params"]] for g in self.groups]

    def set_lr(self, value: float) -> None:
        """Set the rate for the next steps (a device kernel on CUDA: no host sync)."""
        self.lr.fill_(value)

    def zero_grad(self) -> None:
        """Drop every gradient (``p.grad = None``), as ``zero_grad(set_to_none=True)``."""
        for g in self.groups:
            for p in g["params"]:
                p.grad = None

    def reset(self) -> None:
        """Zero the momentum buffers in place (their addresses stay: a captured graph keeps working)."""
        for bufs in self.buffers:
            torch._foreach_zero_(bufs)

    @torch.no_grad()
    def step(self) -> None:
        for group, bufs in zip(self.groups, self.buffers):
            pairs = [(p, b) for p, b in zip(group["params"], bufs) if p.grad is not None]
            if not pairs:
                continue
            params, bufs_ = [p for p, _ in pairs], [b for _, b in pairs]
            grads = [p.grad for p in params]
            if group["weight_decay"]:
                grads = torch._foreach_add(grads, params, alpha=group["weight_decay"])
            torch._foreach_mul_(bufs_, self.momentum)
            torch._foreach_add_(bufs_, grads)
            if self.momentum:
                grads = torch._foreach_add(grads, bufs_, alpha=self.momentum)
            torch._foreach_sub_(params, torch._foreach_mul(grads, self.lr))
