"""Conv (no bias) → BatchNorm2d with the conv weights or the input scaled by α: what the output becomes.

A convolution without bias is linear in its weights and in its input: conv(x, αW) = conv(αx, W) =
α·z. So scaling the weights and scaling the input are the same change to BN's input, and BN's
γ and β are untouched by either. What BN then does depends on which statistics it uses:

* training mode (statistics of the current batch): the batch mean and std scale with α, so
  y_α = γ·sign(α)·(z - μ)/sqrt(σ² + ε/α²) + β ≈ γ·sign(α)·x̂ + β: unchanged for α > 0 (up to ε),
  and for α < 0 only the γ·x̂ part flips sign; β does not.
* inference (running statistics μ_r, σ_r² stored during training):
  y_α = γ·(α z - μ_r)/sqrt(σ_r² + ε) + β: the stored statistics no longer fit and the output changes.

The calculator builds the layers from the library (float64), collects running statistics over
batches drawn like the test batch, and compares the actual outputs with four claims: unchanged,
α·y, sign(α)·y (β flipped too), and the formulas above.

Reference: Ioffe & Szegedy 2015, "Batch normalization", Algorithm 1 and §3.1 (inference with
population statistics); https://pytorch.org/docs/stable/generated/torch.nn.BatchNorm2d.html
"""
from __future__ import annotations

import numpy as np

from .result import CalcResult, check_float, check_int

#: a claim "matches" when it is within this fraction of the output's std (far above the ε effect of
#: a moderate α, far below the changes that matter)
MATCH_TOL = 1e-4


def _layers(seed: int):
    from .. import nn

    rng = np.random.default_rng(seed)
    conv = nn.Conv2d(3, 4, 3, bias=False, rng=rng, dtype=np.float64)
    conv.weight.data[...] = rng.normal(0.0, 1.0, conv.weight.data.shape)  # var(z) of order 30 ≫ ε
    bn = nn.BatchNorm2d(4, momentum=None, dtype=np.float64)  # momentum None: plain average of the batches
    bn.weight.data[...] = rng.uniform(0.5, 2.0, 4)           # γ and β away from 1 and 0, so a slip shows
    bn.bias.data[...] = rng.normal(0.0, 1.0, 4)
    return conv, bn, rng


def _draw(rng, batch_size: int) -> np.ndarray:
    # per-channel offsets make the conv outputs' means nonzero, so centring matters
    return rng.normal(0.0, 1.0, (batch_size, 3, 8, 8)) + np.array([0.5, -1.0, 2.0])[None, :, None, None]


def _bn(bn, z: np.ndarray, train: bool) -> np.ndarray:
    """BN output in train or eval mode, leaving the running statistics as they were."""
    saved = (bn.running_mean.copy(), bn.running_var.copy(), bn.num_batches_tracked.copy())
    bn.train(train)
    y = np.array(bn.forward(z))
    bn.running_mean, bn.running_var, bn.num_batches_tracked = saved
    return y


def _claims(bn, z: np.ndarray, y: np.ndarray, alpha: float, train: bool) -> dict[str, np.ndarray]:
    g, b = bn.weight.data[None, :, None, None], bn.bias.data[None, :, None, None]
    if train:
        mu = z.mean(axis=(0, 2, 3), keepdims=True)
        var = z.var(axis=(0, 2, 3), keepdims=True)
        correct = g * np.sign(alpha) * (z - mu) / np.sqrt(var + bn.eps / alpha ** 2) + b
    else:
        mu, var = bn.running_mean[None, :, None, None], bn.running_var[None, :, None, None]
        correct = g * (alpha * z - mu) / np.sqrt(var + bn.eps) + b
    return {"unchanged": y, "alpha_times_y": alpha * y, "sign_alpha_times_y": np.sign(alpha) * y,
            "correct": correct}


def bn_scale(alphas=(2.0, -2.0), seed=0, batch_size=16, stat_batches=50) -> CalcResult:
    """Outputs of conv → BN2d with weights or input scaled by each α, in training and eval mode.

    Returns values ``cases`` [{alpha, weights_vs_input_max_diff, train: {claim: {max_abs_diff, matches}},
    eval: {...}}], ``output_std``; the claims are unchanged, alpha_times_y, sign_alpha_times_y, correct.
    """
    alist = [alphas] if isinstance(alphas, (int, float)) else list(alphas)
    alist = [check_float(f"alpha[{k}]", a) for k, a in enumerate(alist)]
    if not alist or any(a == 0 for a in alist):
        raise ValueError("alpha must be a nonzero number (α = 0 removes the signal; BN then outputs β)")
    s = check_int("seed", seed, minimum=0)
    n = check_int("batch_size", batch_size, minimum=2)
    k = check_int("stat_batches", stat_batches)
    conv, bn, rng = _layers(s)
    bn.train()
    for _ in range(k):                                  # "training": running statistics of k batches
        bn.forward(np.array(conv.forward(_draw(rng, n))))
    x = _draw(rng, n)
    w0 = conv.weight.data.copy()
    z = np.array(conv.forward(x))
    ref = {mode: _bn(bn, z, mode == "train") for mode in ("train", "eval")}
    scale = float(ref["eval"].std())
    steps = [f"conv 3→4 (3x3, no bias) → BatchNorm2d(4), float64, seed {s}; running statistics from {k} "
             f"batches of {n}; γ = {np.round(bn.weight.data, 3).tolist()}, β = {np.round(bn.bias.data, 3).tolist()}",
             f"a claim matches when max |difference| ≤ {MATCH_TOL:g}·std(y) = {MATCH_TOL * scale:.3g}"]
    cases = []
    for a in alist:
        conv.weight.data[...] = a * w0
        z_w = np.array(conv.forward(x))
        conv.weight.data[...] = w0
        z_x = np.array(conv.forward(a * x))
        case = {"alpha": a, "weights_vs_input_max_diff": float(np.abs(z_w - z_x).max())}
        steps.append(f"α = {a:g}: conv(x, αW) vs conv(αx, W): max |difference| = "
                     f"{case['weights_vs_input_max_diff']:.2g} (the same BN input either way)")
        for mode in ("train", "eval"):
            y_a = _bn(bn, z_w, mode == "train")
            claims = _claims(bn, z, ref[mode], a, mode == "train")
            case[mode] = {}
            for name, c in claims.items():
                d = float(np.abs(y_a - c).max())
                case[mode][name] = {"max_abs_diff": d, "matches": d <= MATCH_TOL * scale}
            steps.append(f"  {mode:5s}: " + "; ".join(
                f"{name} {'matches' if v['matches'] else 'differs'} ({v['max_abs_diff']:.3g})"
                for name, v in case[mode].items()))
        cases.append(case)
    return CalcResult(name="bn-scale",
                      inputs={"alphas": alist, "seed": s, "batch_size": n, "stat_batches": k},
                      values={"cases": cases, "output_std": scale}, steps=steps)
