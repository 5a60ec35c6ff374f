"""RMSprop (Hinton's lecture 6e), in PyTorch's form."""
from __future__ import annotations

import numpy as np

from .optimizer import Optimizer


class RMSprop(Optimizer):
    """RMSprop.

        g ← ∇θ + λθ
        S ← α S + (1 - α) g²                    (S: running mean of squared gradients)
        θ ← θ - lr · g / (√S + ε)

    (The assignment writes V for this running average; it is the second moment S.)
    ``centered`` divides by √(S - ḡ²) instead; ``momentum`` > 0 adds a buffer
    b ← μ b + g/(√S + ε), θ ← θ - lr·b, as PyTorch does.

    Reference: https://pytorch.org/docs/stable/generated/torch.optim.RMSprop.html
    """

    _decaying_state = ("grad_avg", "momentum_buffer")
    _state_names = ("square_avg", "grad_avg", "momentum_buffer")

    def __init__(self, params, lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0.0, momentum: float = 0.0, centered: bool = False):
        super().__init__(params, dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay,
                                      momentum=momentum, centered=centered))

    def _validate(self, group):
        super()._validate(group)
        if not 0.0 <= group["alpha"] < 1.0:
            raise ValueError(f"RMSprop: invalid alpha={group['alpha']}; it must be in [0, 1)")
        if group["eps"] < 0 or group["momentum"] < 0:
            raise ValueError("RMSprop: eps and momentum must be >= 0")

    def _update(self, p, state, group):
        g = self._grad_with_decay(p, group)
        a = group["alpha"]
        tmp = self._scratch(p, "rmsprop")  # every update below runs in place
        s = state.get("square_avg")
        if s is None:
            s = state["square_avg"] = np.zeros_like(p.data)
        s *= a
        np.multiply(g, g, out=tmp)
        tmp *= 1.0 - a
        s += tmp  # S ← αS + (1-α)g²
        if group["centered"]:
            ga = state.get("grad_avg")
            if ga is None:
                ga = state["grad_avg"] = np.zeros_like(p.data)
            ga *= a
            ga += (1.0 - a) * g  # ḡ ← αḡ + (1-α)g
            np.multiply(ga, ga, out=tmp)
            np.subtract(s, tmp, out=tmp)
            denom = np.sqrt(tmp, out=tmp)  # √(S - ḡ²)
        else:
            denom = np.sqrt(s, out=tmp)
        denom += group["eps"]
        if group["momentum"] > 0:
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = state["momentum_buffer"] = np.zeros_like(p.data)
            buf *= group["momentum"]
            buf += np.divide(g, denom, out=denom)  # b ← μb + g/(√S + ε)
            np.multiply(buf, group["lr"], out=tmp)
            p.data -= tmp  # θ ← θ - lr·b
        else:
            step = np.divide(g, denom, out=denom)
            step *= group["lr"]
            p.data -= step  # θ ← θ - lr·g/(√S + ε)
