"""Lab: Adam line by line, and its bias correction -- m_t vs m̂_t over the first steps.

The questions (document 003, question 4): explain Adam line by line (4.1), and show why m_t,
started at m_0 = 0, is biased toward zero while m̂_t = m_t/(1-β₁ᵗ) is not (4.2).

    m_t = β₁ m_{t-1} + (1-β₁) g_t,   m_0 = 0   ⇒   E[m_t] = (1-β₁ᵗ)·E[g]  (stationary g)
    v_t = β₂ v_{t-1} + (1-β₂) g_t²            ⇒   E[v_t] = (1-β₂ᵗ)·E[g²]
    m̂_t = m_t/(1-β₁ᵗ),  v̂_t = v_t/(1-β₂ᵗ),   θ ← θ - lr·m̂_t/(√v̂_t + ε)

The lab runs the library's Adam (``optim.make_optimizer("adam", ...)``) on one scalar Parameter
whose gradient it sets each step (constant, then noisy), and reads m_t, v_t and t from the
optimizer's own state (``exp_avg``, ``exp_avg_sq``, ``step``); m̂_t and v̂_t are computed from them
with the optimizer's β's. The step the optimizer actually took (θ_{t-1} - θ_t) is compared with
lr·m̂_t/(√v̂_t + ε) and with the uncorrected lr·m_t/(√v_t + ε).

What you should see: with a constant gradient g, m_t = (1-β₁ᵗ)g (0.1g at t = 1) while m̂_t = g
from the first step; the uncorrected step would be (1-β₁)/√(1-β₂) ≈ 3.2 times too large at t = 1.

Exercises: (1) with β₂ = 0.999 and β₁ = 0.9, after how many steps is the uncorrected step within
10% of the corrected one? (2) what happens to the correction if the gradient's mean changes halfway?

Reference: Kingma & Ba 2015, "Adam: A method for stochastic optimization", §3.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..report.document import CodeText
from ..report.i18n import N_, _
from .config import ConfigError, LabConfig, option, quick
from .plotting import new_figure, readable_log_range

NAME = "adam-bias"
TITLE = N_("Adam line by line, and its bias correction: `m_t` against `m̂_t` over the first steps")
SUMMARY = N_("the library's Adam on a known gradient: m_t is biased toward 0 by (1-β₁ᵗ), m̂_t is not")
QUESTIONS = ("003/Q4.1", "003/Q4.2")

#: two computations of the same number agree when they differ by at most this × max(1, |number|)
AGREE_TOL = 1e-12
#: the uncorrected step is "close" to the corrected one within this relative difference
CLOSE = 0.1
#: steps over which the noisy run's mean error is taken
NOISY_WINDOW = 10


@dataclass(frozen=True)
class Config(LabConfig):
    num_steps: int = option(100, "Adam steps per run", low=1, high=100000)
    grad_mean: float = option(1.0, "the constant gradient g, also the mean of the noisy one (not 0)",
                              low=-1e3, high=1e3)
    grad_std: float = option(1.0, "standard deviation of the noisy run's gradient", low=0, high=1e3)
    lr: float = option(0.01, "Adam's learning rate", low=0, low_open=True, high=10)
    beta1: float = option(0.9, "β₁, decay of the first moment (PyTorch's default)", low=0, high=1, high_open=True)
    beta2: float = option(0.999, "β₂, decay of the second moment (PyTorch's default)", low=0, high=1,
                          high_open=True)
    eps: float = option(1e-8, "ε added to √v̂ (PyTorch's default)", low=0, high=1)

    def check(self) -> None:
        if self.grad_mean == 0:
            raise ConfigError("--grad-mean is 0: with a zero gradient Adam never moves and there is no bias to "
                              "see; give a nonzero gradient")

    def quick(self) -> "Config":
        return quick(self, num_steps=min(self.num_steps, 30))


def adam_moments(grads: np.ndarray, lr: float, betas: tuple[float, float], eps: float) -> list[dict]:
    """Feed ``grads`` (one per step) to the library's Adam on a scalar; record its state each step."""
    from ..nn import Parameter
    from ..optim import make_optimizer

    theta = Parameter(np.zeros(1, dtype=np.float64))
    opt = make_optimizer("adam", [theta], lr=lr, betas=betas, eps=eps)
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


def _scaled(a: float, b: float) -> float:
    return abs(a - b) / max(1.0, abs(a), abs(b))


def run(config: Config, out) -> dict:
    n, mu, betas = config.num_steps, config.grad_mean, (config.beta1, config.beta2)
    rng = np.random.default_rng(config.seed)
    const = adam_moments(np.full(n, mu), config.lr, betas, config.eps)
    noisy = adam_moments(mu + config.grad_std * rng.standard_normal(n), config.lr, betas, config.eps)
    out.save_metrics("constant", const)
    out.save_metrics("noisy", noisy)
    first = const[0]
    expected_m = [(1 - config.beta1 ** r["t"]) * mu for r in const]  # E[m_t] = (1-β₁ᵗ)·g
    k = min(NOISY_WINDOW, n)
    ratio = [r["step_uncorrected"] / r["step_taken"] for r in const]
    result = {
        "first_step": {"m": first["m"], "m_hat": first["m_hat"], "v": first["v"], "v_hat": first["v_hat"],
                       "step_taken": first["step_taken"], "step_uncorrected": first["step_uncorrected"]},
        "first_step_ratio": ratio[0], "first_step_ratio_theory": (1 - config.beta1) / math.sqrt(1 - config.beta2),
        "max_err_m": max(_scaled(r["m"], e) for r, e in zip(const, expected_m)),
        "max_err_m_hat": max(_scaled(r["m_hat"], mu) for r in const),
        "max_step_err": max(_scaled(r["step_taken"], r["step_corrected"]) for r in const + noisy),
        "close_at": next((r["t"] for r, q in zip(const, ratio) if abs(q - 1) < CLOSE), None),
        "noisy_window": k,
        "noisy_err_m": float(np.mean([r["m"] for r in noisy[:k]]) - mu),
        "noisy_err_m_hat": float(np.mean([r["m_hat"] for r in noisy[:k]]) - mu),
        "noisy_expected_err_m": float(-mu * np.mean([config.beta1 ** r["t"] for r in noisy[:k]])),
        "num_steps": n, "constant": const, "noisy": noisy,
    }
    result["summary"] = (f"constant g = {mu:g}: m_1 = {first['m']:.4g}, m̂_1 = {first['m_hat']:.4g}; "
                         f"max|m̂_t - g| (scaled) = {result['max_err_m_hat']:.1e}; the uncorrected first step "
                         f"would be {ratio[0]:.3g}x the corrected one")
    return result


# -- report ---------------------------------------------------------------------------------------
def agree_sentence(ok_text: str, bad_text: str, err: float, tol: float = AGREE_TOL, **params):
    """``ok_text`` if ``err`` <= ``tol`` else ``bad_text`` (both messages take ``err`` and ``tol``)."""
    return _(ok_text if err <= tol else bad_text, err=err, tol=tol, **params)


def close_sentence(close_at: int | None, num_steps: int, close: float = CLOSE):
    """When the uncorrected step comes within ``close`` of the corrected one, if it does in this run."""
    if close_at is None:
        return _("Without the correction the step is still more than {c:.0%} off the corrected one at "
                 "t = {n}, the last step of this run.", c=close, n=num_steps)
    return _("The uncorrected step first comes within {c:.0%} of the corrected one at t = {t}.", c=close, t=close_at)


def noisy_sentence(err_m: float, err_m_hat: float, expected_m: float, window: int):
    """The noisy run: mean errors of m_t and m̂_t over the first steps, and which one was closer."""
    params = dict(k=window, a=err_m, e=expected_m, b=err_m_hat)
    if abs(err_m_hat) < abs(err_m):
        return _("Noisy gradient, mean over the first {k} steps: `m_t - μ` = {a:+.3f} (its expected value is "
                 "{e:+.3f}), `m̂_t - μ` = {b:+.3f} (expected 0): in this draw `m̂_t` is the closer one.", **params)
    return _("Noisy gradient, mean over the first {k} steps: `m_t - μ` = {a:+.3f} (its expected value is {e:+.3f}), "
             "`m̂_t - μ` = {b:+.3f} (expected 0): in this draw the noise outweighs the bias and `m̂_t` is not the "
             "closer one.", **params)


#: Adam's lines (document 003, question 4), where the library keeps each quantity
LINES = [("g_t ← ∇θ f_t(θ_{t-1})", "theta.grad", N_("the gradient of this step")),
         ("m_t ← β₁ m_{t-1} + (1-β₁) g_t", "state['exp_avg']", N_("moving average of the gradient (momentum)")),
         ("v_t ← β₂ v_{t-1} + (1-β₂) g_t²", "state['exp_avg_sq']", N_("moving average of the squared gradient")),
         ("m̂_t ← m_t / (1-β₁ᵗ)", "t = state['step']", N_("removes the bias toward `m_0 = 0`")),
         ("v̂_t ← v_t / (1-β₂ᵗ)", "t = state['step']", N_("removes the bias toward `v_0 = 0`")),
         ("θ_t ← θ_{t-1} - lr·m̂_t / (√v̂_t + ε)", "theta.data", N_("a step of about `lr` per coordinate, scaled by "
                                                                  "the gradient's recent size"))]


def report(result: dict, config: Config, doc) -> None:
    mu, first = config.grad_mean, result["first_step"]
    doc.para(_("**Questions** (document 003, question 4). Explain Adam line by line; show why `m_t`, started at "
               "`m_0 = 0`, is biased toward 0 and why `m̂_t = m_t/(1-β₁ᵗ)` is not."))
    doc.para(_("The library's `Adam` with `β₁` = {b1:g}, `β₂` = {b2:g}, `ε` = {eps:g}, `lr` = {lr:g}, run for "
               "{n} steps on one scalar whose gradient is set each step: constant `g` = {g:g}, then noisy "
               "`g_t ~ N({g:g}, {s:g}²)` (seed {seed}). `m_t`, `v_t` and `t` are read from the optimizer's state.",
               b1=config.beta1, b2=config.beta2, eps=config.eps, lr=config.lr, n=result["num_steps"], g=mu,
               s=config.grad_std, seed=config.seed))
    doc.heading(_("Adam, line by line"))
    doc.table([("line", _("line"), ""), ("where", _("in the library's Adam"), ""), ("role", _("what it does"), ""),
               ("value", _("value at `t = 1`, constant `g`"), ".6g")],
              [{"line": CodeText(f), "where": CodeText(w), "role": _(role), "value": v}
               for (f, w, role), v in zip(LINES, [mu, first["m"], first["v"], first["m_hat"], first["v_hat"],
                                                  -first["step_taken"]])],
              caption=_("The last row's value is the change of θ in the first step."))
    doc.heading(_("Constant gradient (selected steps)"))
    shown = [r for r in result["constant"] if r["t"] in (1, 2, 3, 5, 10, 20, 50, 100, 200, 500, 1000)]
    doc.table([("t", "t", "d"), ("m", "`m_t`", ".6g"), ("m_hat", "`m̂_t`", ".6g"), ("v", "`v_t`", ".6g"),
               ("v_hat", "`v̂_t`", ".6g"), ("step_taken", _("step taken"), ".6g"),
               ("step_uncorrected", _("step without correction"), ".6g")], shown)
    doc.heading(_("Observations (computed from this run)"))
    doc.bullets([
        agree_sentence(N_("`m_t` equals `(1-β₁ᵗ)·g` at every step (largest difference {err:.1e}, tolerance "
                          "{tol:.0e}): at t = 1 it is {m1:.4g}, that is {frac:.3g} × the gradient."),
                       N_("`m_t` does NOT follow `(1-β₁ᵗ)·g`: the largest difference is {err:.2e} (tolerance "
                          "{tol:.0e}); at t = 1 it is {m1:.4g}, that is {frac:.3g} × the gradient."),
                       result["max_err_m"], m1=first["m"], frac=first["m"] / mu),
        agree_sentence(N_("`m̂_t` equals `g` from the first step on (largest difference {err:.1e}, tolerance "
                          "{tol:.0e})."),
                       N_("`m̂_t` does NOT equal `g`: the largest difference is {err:.2e} (tolerance {tol:.0e})."),
                       result["max_err_m_hat"]),
        agree_sentence(N_("The step the library took equals `lr·m̂_t/(√v̂_t + ε)` in both runs (largest difference "
                          "{err:.1e}, tolerance {tol:.0e})."),
                       N_("The step the library took does NOT equal `lr·m̂_t/(√v̂_t + ε)`: the largest difference is "
                          "{err:.2e} (tolerance {tol:.0e})."), result["max_step_err"]),
        _("Without the correction the first step would be {r:.4g} times larger (theory `(1-β₁)/√(1-β₂)` = "
          "{th:.4g}).", r=result["first_step_ratio"], th=result["first_step_ratio_theory"]),
        close_sentence(result["close_at"], result["num_steps"]),
        noisy_sentence(result["noisy_err_m"], result["noisy_err_m_hat"], result["noisy_expected_err_m"],
                       result["noisy_window"]),
    ])
    doc.plot(plot_moments(result, config), "adam_bias",
             _("Left: constant gradient, `m_t` climbs as `(1-β₁ᵗ)g` while `m̂_t = g`. Middle: a noisy gradient. "
               "Right: the step with and without the correction (log scale)."))


def plot_moments(result: dict, config: Config):
    const, noisy, mu = result["constant"], result["noisy"], config.grad_mean
    t = np.array([r["t"] for r in const])
    fig, axes = new_figure(1, 3, size=(16, 4.4))
    ax = axes[0][0]
    ax.plot(t, [r["m"] for r in const], label=_("m_t (library's Adam)"))
    ax.plot(t, [r["m_hat"] for r in const], label="m̂_t = m_t/(1-β₁ᵗ)")
    ax.plot(t, (1 - config.beta1 ** t) * mu, "k:", label="(1-β₁ᵗ)·g")
    ax.axhline(mu, color="0.5", lw=0.8)
    ax.set_title(_("constant gradient g = {g:g}", g=mu))
    ax.set_xlabel(_("step t"))
    ax.legend(fontsize=8)
    ax = axes[0][1]
    ax.plot(t, [r["grad"] for r in noisy], ".", color="0.7", ms=3, label="g_t")
    ax.plot(t, [r["m"] for r in noisy], label="m_t")
    ax.plot(t, [r["m_hat"] for r in noisy], label="m̂_t")
    ax.axhline(mu, color="k", lw=0.8, label=f"E[g] = {mu:g}")
    ax.set_title(_("noisy gradient g_t ~ N({g:g}, {s:g}²)", g=mu, s=config.grad_std))
    ax.set_xlabel(_("step t"))
    ax.legend(fontsize=8)
    ax = axes[0][2]
    uncorrected = np.abs([r["step_uncorrected"] for r in const])
    taken = np.abs([r["step_taken"] for r in const])
    ax.semilogy(t, uncorrected, label=_("lr·m_t/(√v_t+ε) (no correction)"))
    ax.semilogy(t, taken, label=_("step taken by the library's Adam"))
    ax.axhline(config.lr, color="k", ls=":", lw=0.8, label="lr")
    ax.set_ylim(*readable_log_range(np.concatenate([uncorrected, taken, [config.lr]])))
    ax.set_title(_("|step|, constant gradient"))
    ax.set_xlabel(_("step t"))
    ax.legend(fontsize=8)
    return fig
