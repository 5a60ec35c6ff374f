"""k models of one architecture as one network: grouped convolutions side by side.

A small network leaves most of a GPU idle between short kernels. Stacking k copies
turns every layer into one layer k times as wide, so each kernel does k times the
work for the same launch:

* ``Conv2d(in, out, groups=g)`` -> ``Conv2d(k*in, k*out, groups=k*g)``: group j*g + i of
  the stacked conv reads model j's input channels only, so the models never mix.
* ``BatchNorm2d(C)`` -> ``BatchNorm2d(k*C)``: statistics are per channel, hence per model.
* ``Linear(in, out)`` -> :class:`GroupedLinear` (k weight matrices, one batched product).
* Activations, dropout, pooling, flattening and residual additions act per element or
  per channel, so they stay as they are.

Model j owns channel block j of every activation: the input is (N, k*C, H, W) with
model j's images in channels [j*C, (j+1)*C) -- each model may see its own images --
and the logits are (N, k*num_classes), model j's in block j. Stacking copies each
model's parameters and buffers; :func:`unstack_state` takes model j's back out.
This is the same computation as k separate models (tests compare forward and
gradients in float64), the trick behind ``torch.func.stack_module_state`` + ``vmap``
(whose conv batching rule also folds the model axis into the groups), written as a
plain module so CUDA graphs, channels_last and autocast apply unchanged.
"""
from __future__ import annotations

import copy

import torch
from torch import nn


class GroupedLinear(nn.Module):
    """k independent ``Linear(in_features, out_features)`` on k feature blocks.

    Shapes: x (N, k*in_features) -> (N, k*out_features); weight (k, out, in), bias (k, out).
    """

    def __init__(self, k: int, in_features: int, out_features: int, bias: bool = True, device=None, dtype=None):
        super().__init__()
        self.k, self.in_features, self.out_features = k, in_features, out_features
        self.weight = nn.Parameter(torch.empty(k, out_features, in_features, device=device, dtype=dtype))
        self.bias = nn.Parameter(torch.empty(k, out_features, device=device, dtype=dtype)) if bias else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n = x.shape[0]
        y = torch.einsum("nki,koi->nko", x.reshape(n, self.k, self.in_features), self.weight)  # (N, k, out)
        if self.bias is not None:
            y = y + self.bias
        return y.reshape(n, self.k * self.out_features)


def _like(t: torch.Tensor) -> dict:
    """Factory arguments that put a new module's tensors on ``t``'s device and dtype."""
    return {"device": t.device, "dtype": t.dtype}


def _stack_conv(convs: list[nn.Conv2d]) -> nn.Conv2d:
    c, k = convs[0], len(convs)
    if c.padding_mode != "zeros":
        raise ValueError(f"stacking needs zero padding, got padding_mode={c.padding_mode!r}")
    out = nn.Conv2d(k * c.in_channels, k * c.out_channels, c.kernel_size, stride=c.stride, padding=c.padding,
                    dilation=c.dilation, groups=k * c.groups, bias=c.bias is not None, **_like(c.weight))
    with torch.no_grad():
        out.weight.copy_(torch.cat([m.weight for m in convs]))  # (k*out, in/groups, kh, kw)
        if c.bias is not None:
            out.bias.copy_(torch.cat([m.bias for m in convs]))
    return out


def _stack_bn(bns: list[nn.BatchNorm2d]) -> nn.BatchNorm2d:
    b, k = bns[0], len(bns)
    out = nn.BatchNorm2d(k * b.num_features, eps=b.eps, momentum=b.momentum, affine=b.affine,
                         track_running_stats=b.track_running_stats,
                         **_like(b.weight if b.weight is not None else b.running_mean))
    with torch.no_grad():
        for name in ("weight", "bias", "running_mean", "running_var"):
            if getattr(b, name) is not None:
                getattr(out, name).copy_(torch.cat([getattr(m, name) for m in bns]))
        if b.num_batches_tracked is not None:
            out.num_batches_tracked.copy_(b.num_batches_tracked)
    return out


def _stack_linear(linears: list[nn.Linear]) -> GroupedLinear:
    lin, k = linears[0], len(linears)
    out = GroupedLinear(k, lin.in_features, lin.out_features, bias=lin.bias is not None, **_like(lin.weight))
    with torch.no_grad():
        out.weight.copy_(torch.stack([m.weight for m in linears]))
        if lin.bias is not None:
            out.bias.copy_(torch.stack([m.bias for m in linears]))
    return out


_STACKERS = {nn.Conv2d: _stack_conv, nn.BatchNorm2d: _stack_bn, nn.Linear: _stack_linear}


def _check_same_architecture(models: list[nn.Module]) -> None:
    shapes = [{k: tuple(v.shape) for k, v in m.state_dict().items()} for m in models]
    for i, s in enumerate(shapes[1:], 1):
        if s != shapes[0]:
            raise ValueError(f"model {i} differs from model 0 in its parameters or buffers; "
                             "only copies of one architecture can be stacked")


def stack_models(models: list[nn.Module]) -> nn.Module:
    """One network computing all ``models`` at once (see the module docstring for the layout).

    The models must share one architecture; every leaf module that holds parameters must
    be a Conv2d, BatchNorm2d or Linear. The result copies their values (the models are
    left untouched) and is in training mode when models[0] is.
    """
    if not models:
        raise ValueError("stack_models needs at least one model")
    _check_same_architecture(models)
    stacked = copy.deepcopy(models[0])
    per_model = [dict(m.named_modules()) for m in models]
    for name, module in list(stacked.named_modules()):
        if not name or any(True for _ in module.children()):
            continue
        kind = type(module)
        if kind not in _STACKERS:
            if any(True for _ in module.parameters(recurse=False)) or any(True for _ in module.buffers(recurse=False)):
                raise ValueError(f"cannot stack {name} ({kind.__name__}): only Conv2d, BatchNorm2d and Linear "
                                 "hold parameters in a stackable model")
            continue
        parent_name, _, attr = name.rpartition(".")
        parent = stacked.get_submodule(parent_name) if parent_name else stacked
        new = _STACKERS[kind]([pm[name] for pm in per_model])
        new.train(module.training)
        setattr(parent, attr, new)
    stacked.num_stacked = len(models)
    return stacked


def unstack_state(stacked: nn.Module, template: nn.Module, j: int) -> dict[str, torch.Tensor]:
    """Model j's state dict, in ``template``'s layout, taken out of :func:`stack_models`'s result."""
    k = stacked.num_stacked
    if not 0 <= j < k:
        raise ValueError(f"model index {j} outside 0..{k - 1}")
    modules = dict(stacked.named_modules())
    state = {}
    for key, value in template.state_dict().items():
        module_name, _, attr = key.rpartition(".")
        source = getattr(modules[module_name] if module_name else stacked, attr)
        if isinstance(modules.get(module_name), GroupedLinear):
            state[key] = source[j].detach().clone()
        elif source.ndim == 0:  # num_batches_tracked: shared by all
            state[key] = source.detach().clone()
        else:
            size = value.shape[0]
            state[key] = source[j * size:(j + 1) * size].detach().clone()
    return state
