"""Compare a layer with its PyTorch twin: the forward output and every gradient, in float64.

    errors = compare_with_torch(nn.Linear(3, 4, rng=rng), torch.nn.Linear(3, 4), x, rng)
    assert max(errors.values()) < 1e-6

The twin gets the layer's parameter values (matched by name, shapes must agree: the library
keeps PyTorch's names and layouts), both run on the same x, and both are backpropagated with
the same random upstream gradient dy. Returns the relative error (:func:`rel_error`) of the
output ("y"), of dx ("x") and of each parameter's gradient (by name).

Reference: https://pytorch.org/docs/stable/notes/autograd.html
"""
from __future__ import annotations

import numpy as np

from .gradcheck import rel_error


def compare_with_torch(layer, twin, x: np.ndarray, rng: np.random.Generator, forward=None) -> dict[str, float]:
    """Relative errors of ``layer`` against the PyTorch module ``twin`` on input ``x`` (see the module doc).

    Args:
        layer: a backproplab module (it is cast to float64).
        twin: a ``torch.nn.Module`` with the same parameter names and shapes (cast to float64);
            any callable taking a tensor when the layer has no parameters.
        x: input array.
        rng: draws the upstream gradient dy.
        forward: optional ``f(x)`` used instead of ``layer.forward``.
    """
    import torch

    layer = layer.double()
    twin = twin.double() if hasattr(twin, "double") else twin
    ours = dict(layer.named_parameters())
    theirs = dict(twin.named_parameters()) if hasattr(twin, "named_parameters") else {}
    if set(ours) != set(theirs):
        raise ValueError(f"the layer's parameters {sorted(ours)} and its twin's {sorted(theirs)} differ in name")
    with torch.no_grad():
        for name, p in ours.items():
            if tuple(theirs[name].shape) != p.data.shape:
                raise ValueError(f"{name}: shape {p.data.shape} here, {tuple(theirs[name].shape)} in the twin")
            theirs[name].copy_(torch.from_numpy(p.data))
    x = np.asarray(x, dtype=np.float64)
    y = (forward or layer.forward)(x)
    dy = rng.standard_normal(np.shape(y))
    layer.zero_grad()
    dx = layer.backward(dy)
    tx = torch.from_numpy(x.copy()).requires_grad_(True)
    ty = twin(tx)
    ty.backward(torch.from_numpy(dy))
    errors = {"y": rel_error(y, ty.detach().numpy()), "x": rel_error(dx, tx.grad.numpy())}
    for name, p in ours.items():
        errors[name] = rel_error(p.grad, theirs[name].grad.numpy())
    return errors
