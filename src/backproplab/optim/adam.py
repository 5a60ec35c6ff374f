"""Adam with bias correction (Kingma & Ba 2015), in PyTorch's form."""
from __future__ import annotations

import math

import numpy as np

from .optimizer import Optimizer


class Adam(Optimizer):
    """Adam.

        g ← ∇θ + λθ                          (L2 as a gradient term, not AdamW)
        V ← β₁ V + (1 - β₁) g                (first moment)
        S ← β₂ S + (1 - β₂) g²               (second moment; the assignment writes V here too)
        V̂ = V / (1 - β₁ᵗ),  Ŝ = S / (1 - β₂ᵗ)  (bias correction: V and S start at 0)
        θ ← θ - lr · V̂ / (√Ŝ + ε)

    t is the parameter's own step count (``state["step"]``), as PyTorch: a parameter skipped
    for lack of a gradient is not counted. ``amsgrad=True`` divides by the running maximum
    of S instead of S (Reddi et al., "On the Convergence of Adam and Beyond", ICLR 2018).

    Reference: Kingma & Ba, "Adam: A Method for Stochastic Optimization", ICLR 2015;
    https://pytorch.org/docs/stable/generated/torch.optim.Adam.html
    """

    _decaying_state = ("exp_avg",)
    _state_names = ("exp_avg", "exp_avg_sq", "max_exp_avg_sq", "step")

    def __init__(self, params, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0, amsgrad: bool = False):
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                                      amsgrad=bool(amsgrad)))

    def _validate(self, group):
        super()._validate(group)
        kind = type(self).__name__
        b1, b2 = group["betas"]
        if not (0.0 <= b1 < 1.0 and 0.0 <= b2 < 1.0):
            raise ValueError(f"{kind}: invalid betas={group['betas']}; both must be in [0, 1)")
        if group["eps"] < 0:
            raise ValueError(f"{kind}: invalid eps={group['eps']}; it must be >= 0")

    def _update(self, p, state, group):
        self._adam_step(p, state, group, self._grad_with_decay(p, group))

    def _adam_step(self, p, state, group, g):
        """The moment updates and the bias-corrected step for gradient ``g`` (in place)."""
        b1, b2 = group["betas"]
        if "exp_avg" not in state:
            state["exp_avg"] = np.zeros_like(p.data)
            state["exp_avg_sq"] = np.zeros_like(p.data)
            state["step"] = np.array(0)
        m, v = state["exp_avg"], state["exp_avg_sq"]
        state["step"] = np.array(int(state["step"]) + 1)
        t = int(state["step"])
        tmp = self._scratch(p, "adam")  # every update below runs in place: no temporaries
        np.multiply(g, 1.0 - b1, out=tmp)
        m *= b1
        m += tmp  # V ← β₁V + (1-β₁)g
        np.multiply(g, g, out=tmp)
        tmp *= 1.0 - b2
        v *= b2
        v += tmp  # S ← β₂S + (1-β₂)g²
        if group["amsgrad"]:
            v_max = state.get("max_exp_avg_sq")
            if v_max is None:
                v_max = state["max_exp_avg_sq"] = np.zeros_like(p.data)
            np.maximum(v_max, v, out=v_max)  # S_max ← max(S_max, S)
            v = v_max
        bias1 = 1.0 - b1 ** t
        c2 = math.sqrt(1.0 - b2 ** t)
        # lr·V̂/(√Ŝ + ε) = (lr·c2/bias1) · V/(√S + ε·c2) with c2 = √(1-β₂ᵗ): the bias
        # corrections become two scalars, which saves two passes over the arrays
        denom = np.sqrt(v, out=tmp)
        denom += group["eps"] * c2
        step = np.divide(m, denom, out=tmp)
        step *= group["lr"] * c2 / bias1
        p.data -= step  # θ ← θ - lr·V̂/(√Ŝ + ε)
