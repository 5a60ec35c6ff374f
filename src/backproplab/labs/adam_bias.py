"""Lab: Adam's bias correction -- m_t vs m̂_t over the first steps.

The question: Adam's moving averages start at zero. How far below the true mean
gradient is m_t in the first steps, and does m̂_t = m_t/(1-β₁ᵗ) remove the bias?

    m_t = β₁ m_{t-1} + (1-β₁) g_t,   m_0 = 0   ⇒   E[m_t] = (1-β₁ᵗ)·E[g]  (stationary g)
    v_t = β₂ v_{t-1} + (1-β₂) g_t²            ⇒   E[v_t] = (1-β₂ᵗ)·E[g²]
    m̂_t = m_t/(1-β₁ᵗ),  v̂_t = v_t/(1-β₂ᵗ),   θ ← θ - lr·m̂_t/(√v̂_t + ε)

The lab runs the library's :class:`backproplab.optim.Adam` on one scalar
Parameter whose gradient it sets each step (constant, then noisy), and reads m_t,
v_t and t from the optimizer's own state (``exp_avg``, ``exp_avg_sq``, ``step``);
m̂_t and v̂_t are computed from them with the optimizer's β's. The step the
optimizer actually took (θ_{t-1} - θ_t) is compared with lr·m̂_t/(√v̂_t + ε) and
with the uncorrected lr·m_t/(√v_t + ε).

What you should see: with a constant gradient g, m_t = (1-β₁ᵗ)g (0.1g at t = 1)
while m̂_t = g from the first step; the uncorrected step would be
(1-β₁)/√(1-β₂) ≈ 3.2 times too large at t = 1.

Exercises: (1) with β₂ = 0.999 and β₁ = 0.9, after how many steps is the
uncorrected step within 10% of the corrected one? (2) what happens to the
correction if the gradient's mean changes halfway?

Reference: Kingma & Ba 2015, "Adam: A method for stochastic optimization", §3.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .common import LabRun, markdown_table, new_figure

NAME = "adam-bias"
TITLE = "Adam's bias correction: m_t vs m̂_t over the first steps"


@dataclass(frozen=True)
class Config:
    seed: int = 0                # noise of the noisy gradient
    quick: bool = False          # fewer steps
    num_steps: int = 100         # Adam steps per run
    grad_mean: float = 1.0       # the (constant part of the) gradient
    grad_std: float = 1.0        # std of the noise in the noisy run
    lr: float = 0.01             # Adam's learning rate
    beta1: float = 0.9           # β₁ (PyTorch default)
    beta2: float = 0.999         # β₂ (PyTorch default)
    eps: float = 1e-8            # ε (PyTorch default)


def adam_moments(grads: np.ndarray, lr: float, betas: tuple[float, float], eps: float) -> list[dict]:
    """Feed ``grads`` (one per step) to the library's Adam on a scalar; record its state each step."""
    from ..nn import Parameter
    from ..optim import Adam

    theta = Parameter(np.zeros(1, dtype=np.float64))
    opt = Adam([theta], lr=lr, betas=betas, eps=eps)
    b1, b2 = opt.param_groups[0]["betas"]
    rows = []
    for g in grads:
        before = float(theta.data[0])
        opt.zero_grad()
        theta.grad += g
        opt.step()
        st = opt.state[0]  # the optimizer's own moment estimates for theta
        t = int(st["step"])
        m, v = float(st["exp_avg"][0]), float(st["exp_avg_sq"][0])
        m_hat, v_hat = m / (1.0 - b1 ** t), v / (1.0 - b2 ** t)
        rows.append({
            "t": t, "grad": float(g), "m": m, "m_hat": m_hat, "v": v, "v_hat": v_hat,
            "step_taken": before - float(theta.data[0]),
            "step_corrected": lr * m_hat / (np.sqrt(v_hat) + eps),
            "step_uncorrected": lr * m / (np.sqrt(v) + eps),
        })
    return rows


def run(config: Config, out_dir: Path) -> dict:
    lab = LabRun(out_dir, config)
    n = min(config.num_steps, 30) if config.quick else config.num_steps
    if n < 1:
        raise ValueError(f"num_steps must be >= 1, got {config.num_steps}")
    betas = (config.beta1, config.beta2)
    rng = np.random.default_rng(config.seed)
    mu = config.grad_mean
    const = adam_moments(np.full(n, mu), config.lr, betas, config.eps)
    noisy_g = mu + config.grad_std * rng.standard_normal(n)
    noisy = adam_moments(noisy_g, config.lr, betas, config.eps)
    lab.save_metrics("constant", const)
    lab.save_metrics("noisy", noisy)

    # expected values from the formula E[m_t] = (1-β₁ᵗ)·μ
    t = np.arange(1, n + 1)
    expected_m = (1 - config.beta1 ** t) * mu
    fig, axes = new_figure(1, 3, size=(16, 4.4))
    ax = axes[0][0]
    ax.plot(t, [r["m"] for r in const], label="m_t (library Adam)")
    ax.plot(t, [r["m_hat"] for r in const], label="m̂_t = m_t/(1-β₁ᵗ)")
    ax.plot(t, expected_m, "k:", label="(1-β₁ᵗ)·g")
    ax.axhline(mu, color="0.5", lw=0.8)
    ax.set_title(f"constant gradient g = {mu:g}")
    ax.set_xlabel("step t")
    ax.legend(fontsize=8)
    ax = axes[0][1]
    ax.plot(t, noisy_g, ".", color="0.7", ms=3, label="g_t")
    ax.plot(t, [r["m"] for r in noisy], label="m_t")
    ax.plot(t, [r["m_hat"] for r in noisy], label="m̂_t")
    ax.axhline(mu, color="k", lw=0.8, label=f"E[g] = {mu:g}")
    ax.set_title(f"noisy gradient g_t ~ N({mu:g}, {config.grad_std:g}²)")
    ax.set_xlabel("step t")
    ax.legend(fontsize=8)
    ax = axes[0][2]
    ax.semilogy(t, [r["step_uncorrected"] for r in const], label="lr·m_t/(√v_t+ε) (no correction)")
    ax.semilogy(t, [r["step_taken"] for r in const], label="step taken by the library's Adam")
    ax.axhline(config.lr, color="k", ls=":", lw=0.8, label="lr")
    ax.set_title("step size, constant gradient")
    ax.set_xlabel("step t")
    ax.legend(fontsize=8)
    lab.savefig(fig, "adam_bias")

    first = const[0]
    err_m_hat = max(abs(r["m_hat"] - mu) for r in const)
    err_m = max(abs(r["m"] - e) for r, e in zip(const, expected_m))
    step_err = max(abs(r["step_taken"] - r["step_corrected"]) for r in const + noisy)
    ratio1 = first["step_uncorrected"] / first["step_taken"]
    within10 = next((r["t"] for r in const if abs(r["step_uncorrected"] / r["step_taken"] - 1) < 0.1), None)
    k = min(10, n)
    bias_m = float(np.mean([r["m"] for r in noisy[:k]]) - mu)
    bias_m_hat = float(np.mean([r["m_hat"] for r in noisy[:k]]) - mu)
    shown = [r for r in const if r["t"] in (1, 2, 3, 5, 10, 20, 50, 100)]
    summary = (f"constant g={mu:g}: m_1 = {first['m']:.4g}, m̂_1 = {first['m_hat']:.4g}; max|m̂_t - g| = "
               f"{err_m_hat:.1e}; the uncorrected first step would be {ratio1:.3g}x the corrected one.")
    report = [f"# {TITLE}\n", f"β₁ = {config.beta1}, β₂ = {config.beta2}, ε = {config.eps}, lr = {config.lr}, "
              f"{n} steps; m_t, v_t read from the library Adam's state.\n",
              "## Constant gradient (selected steps)\n",
              markdown_table(shown, ["t", "m", "m_hat", "v", "v_hat", "step_taken", "step_uncorrected"]),
              "\n## Observations (from the numbers)\n",
              f"- m_t follows (1-β₁ᵗ)·g to {err_m:.1e}: at t = 1 it is {first['m']:.4g}, "
              f"{first['m'] / mu:.3g} of the true gradient.",
              f"- m̂_t equals g at every step to {err_m_hat:.1e}.",
              f"- The step the library took equals lr·m̂/(√v̂+ε) to {step_err:.1e} (both runs).",
              f"- Without correction the first step would be {ratio1:.3g}x larger "
              f"((1-β₁)/√(1-β₂) = {(1 - config.beta1) / np.sqrt(1 - config.beta2):.3g}); "
              + (f"it comes within 10% of the corrected step at t = {within10}." if within10 is not None else
                 f"it is still more than 10% off at t = {n}, the last step of this run."),
              f"- Noisy gradient, mean over the first {k} steps: m_t - μ = {bias_m:+.3f}, m̂_t - μ = {bias_m_hat:+.3f} "
              "(one noise draw; the bias of m_t is systematic, m̂_t's error is noise).",
              "\n![adam bias](adam_bias.png)\n"]
    lab.write_report("\n".join(report))
    return {"summary": summary, "constant": const, "noisy": noisy, "max_err_m_hat": err_m_hat,
            "max_step_err": step_err, "first_step_ratio": ratio1}
