"""AdamW: Adam with decoupled weight decay (Loshchilov & Hutter 2019), in PyTorch's form."""
from __future__ import annotations

from .adam import Adam


class AdamW(Adam):
    """AdamW.

        θ ← θ · (1 - lr·λ)                   (decoupled weight decay, before the Adam step)
        V ← β₁ V + (1 - β₁) g,  S ← β₂ S + (1 - β₂) g²     (g = ∇θ: no λθ term)
        θ ← θ - lr · V̂ / (√Ŝ + ε)             (bias-corrected as :class:`Adam`)

    Unlike Adam's L2 term, the decay does not pass through the moment estimates, so every
    weight shrinks by the same factor whatever its gradient history. PyTorch's default
    weight_decay is 0.01 (Adam's is 0). ``amsgrad`` as in :class:`Adam`.

    Reference: Loshchilov & Hutter, "Decoupled Weight Decay Regularization", ICLR 2019;
    https://pytorch.org/docs/stable/generated/torch.optim.AdamW.html
    """

    def __init__(self, params, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 1e-2, amsgrad: bool = False):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad)

    def _update(self, p, state, group):
        decay = group["lr"] * group["weight_decay"]
        if decay:
            p.data *= 1.0 - decay  # θ ← θ(1 - lr·λ), in place
        self._adam_step(p, state, group, p.grad)
