"""SGD (plain, heavy-ball momentum, Nesterov) and the assignment's EMA momentum."""
from __future__ import annotations

import numpy as np

from .optimizer import Optimizer


class SGD(Optimizer):
    """Stochastic gradient descent with PyTorch's momentum form.

        g ← ∇θ + λθ                      (weight_decay λ)
        v ← μ v + (1 - dampening) g      (v = g on the first step)
        θ ← θ - lr · (g + μ v if nesterov else v)

    With momentum=0 this is θ ← θ - lr·g. Batch size decides whether this is
    full-batch GD, mini-batch GD or SGD (batch 1): the Trainer's job, not the optimizer's.

    Reference: https://pytorch.org/docs/stable/generated/torch.optim.SGD.html
    """

    _decaying_state = ("momentum_buffer",)
    _state_names = ("momentum_buffer",)

    def __init__(self, params, lr: float = 1e-3, momentum: float = 0.0, dampening: float = 0.0,
                 nesterov: bool = False, weight_decay: float = 0.0):
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening,
                                      nesterov=nesterov, weight_decay=weight_decay))

    def _validate(self, group):
        super()._validate(group)
        if group["momentum"] < 0:
            raise ValueError(f"SGD: invalid momentum={group['momentum']}; it must be >= 0")
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError("SGD: nesterov=True needs momentum > 0 and dampening = 0")

    def _update(self, p, state, group):
        g = self._grad_with_decay(p, group)
        mu = group["momentum"]
        if mu:
            v = state.get("momentum_buffer")
            if v is None:
                v = state["momentum_buffer"] = np.array(g, copy=True)  # v = g on the first step
            else:
                v *= mu
                v += np.multiply(g, 1.0 - group["dampening"], out=self._scratch(p, "sgd"))
            if group["nesterov"]:
                lookahead = np.multiply(v, mu, out=self._scratch(p, "sgd"))
                lookahead += g  # g + μv
                g = lookahead
            else:
                g = v
        step = np.multiply(g, group["lr"], out=self._scratch(p, "sgd_step"))
        p.data -= step  # θ ← θ - lr·g


class Momentum(Optimizer):
    """Momentum in the assignment's exponential-moving-average form (Ng's course):

        V ← β V + (1 - β) g,   θ ← θ - lr · V     (V starts at 0, no bias correction)

    Equivalent to PyTorch's SGD(momentum=β, dampening=β) except on the first step
    (PyTorch starts its buffer at g, this form at (1-β)g).
    """

    _decaying_state = ("velocity",)
    _state_names = ("velocity",)

    def __init__(self, params, lr: float = 1e-2, beta: float = 0.9, weight_decay: float = 0.0):
        super().__init__(params, dict(lr=lr, beta=beta, weight_decay=weight_decay))

    def _validate(self, group):
        super()._validate(group)
        if not 0.0 <= group["beta"] < 1.0:
            raise ValueError(f"Momentum: invalid beta={group['beta']}; it must be in [0, 1)")

    def _update(self, p, state, group):
        g = self._grad_with_decay(p, group)
        v = state.get("velocity")
        if v is None:
            v = state["velocity"] = np.zeros_like(p.data)
        b = group["beta"]
        v *= b
        v += np.multiply(g, 1.0 - b, out=self._scratch(p, "momentum"))  # V ← βV + (1-β)g
        step = np.multiply(v, group["lr"], out=self._scratch(p, "momentum"))
        p.data -= step  # θ ← θ - lr·V
