"""Lab: batch normalization -- which statistics, why a bias before BN is wasted, and scale invariance.

The questions (document 001, question 1(b)): how does batch normalization differ between a fully
connected and a convolutional layer, does removing the conv bias before BN disturb the network, and
what does scaling the weights or the inputs by α change?

1. FC vs conv. BatchNorm1d on (N, F) normalizes each feature over the N samples
   (F means); BatchNorm2d on (N, C, H, W) normalizes each channel over N·H·W values
   (C means, shared by every position, as a convolution shares its weights).
2. A conv bias before BN cancels: BN subtracts the per-channel batch mean, which
   contains the bias; outputs with and without bias are identical and the bias
   gradient is zero.
3. Scaling by α. Training mode (batch statistics): BN(α·Wx) = BN(Wx) (up to ε), so
   scaling the weights or the inputs changes nothing. Inference (running statistics
   collected before the scaling): the stored mean and variance no longer fit, and the
   output changes: y_α - β = γ(α z - μ)/sqrt(σ² + ε).

Reference: Ioffe & Szegedy 2015, "Batch normalization"; PyTorch BatchNorm1d/2d docs
(momentum 0.1, eps 1e-5, biased variance to normalize, unbiased variance in running_var).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..report.i18n import N_, _, join
from .batchnorm_plots import plot_batchnorm
from .config import LabConfig, option, quick
from .heatmap import format_matrix

NAME = "batchnorm"
TITLE = N_("Batch normalization: per-feature against per-channel statistics, bias cancellation, scale invariance")
SUMMARY = N_("BN in FC and conv layers, why a conv bias before BN is wasted, and scaling in training and inference")
QUESTIONS = ("001/Q1.b.2",)

#: differences below this are float64 rounding (the quantities compared are of order 1-10)
ROUNDING_TOL = 1e-9


@dataclass(frozen=True)
class Config(LabConfig):
    batch_size: int = option(8, "N, the batch (BN needs a batch variance)", low=2, high=100000)
    in_channels: int = option(3, "input channels of the conv", low=1, high=1000)
    out_channels: int = option(4, "C, the conv's output channels (BatchNorm2d's num_features)", low=1, high=1000)
    image_size: int = option(6, "H = W of the conv's input", low=1, high=1000)
    num_features: int = option(5, "F, the features of the fully connected case", low=1, high=100000)
    alphas: tuple[float, ...] = option((0.1, 0.5, 2.0, 10.0), "scale factors α of the weights and the inputs",
                                       min_len=1, each_low=0, each_low_open=True, each_high=1e6)
    stat_batches: int = option(100, "training-mode batches that fill the running statistics", low=1, high=100000)

    def quick(self) -> "Config":
        return quick(self, stat_batches=min(self.stat_batches, 30))


def _bn(kind: str, n: int):
    from ..nn.batchnorm import BatchNorm1d, BatchNorm2d

    return (BatchNorm1d if kind == "1d" else BatchNorm2d)(n, dtype=np.float64)


def _conv(cfg: Config, rng, bias: bool):
    from ..nn.conv import Conv2d

    return Conv2d(cfg.in_channels, cfg.out_channels, kernel_size=3, padding=1, bias=bias, rng=rng, dtype=np.float64)


def fc_vs_conv(cfg: Config, rng) -> dict:
    """Statistics of BN1d on (N, F) and BN2d on (N, C, H, W), checked against hand-computed normalization."""
    x_fc = rng.standard_normal((cfg.batch_size, cfg.num_features)) * np.arange(1, cfg.num_features + 1) + 3.0
    bn1 = _bn("1d", cfg.num_features).train()
    y_fc = bn1.forward(x_fc)
    mu1, var1 = x_fc.mean(axis=0), x_fc.var(axis=0)  # per feature, over N
    hand_fc = (x_fc - mu1) / np.sqrt(var1 + 1e-5)
    x_cv = rng.standard_normal((cfg.batch_size, cfg.out_channels, cfg.image_size, cfg.image_size))
    x_cv = x_cv * np.arange(1, cfg.out_channels + 1)[None, :, None, None] - 2.0
    bn2 = _bn("2d", cfg.out_channels).train()
    y_cv = bn2.forward(x_cv)
    mu2, var2 = x_cv.mean(axis=(0, 2, 3)), x_cv.var(axis=(0, 2, 3))  # per channel, over N, H, W
    hand_cv = (x_cv - mu2[None, :, None, None]) / np.sqrt(var2[None, :, None, None] + 1e-5)
    n_vals = cfg.batch_size * cfg.image_size ** 2
    return {
        "fc": {"mean": mu1, "var": var1, "num_stats": cfg.num_features, "values_per_stat": cfg.batch_size,
               "max_diff_vs_hand": float(np.max(np.abs(y_fc - hand_fc))),
               "out_mean": y_fc.mean(axis=0), "out_var": y_fc.var(axis=0),
               "running_mean": np.array(bn1.running_mean), "running_var": np.array(bn1.running_var),
               "expected_running_mean": 0.1 * mu1,
               "expected_running_var": 0.9 + 0.1 * var1 * cfg.batch_size / (cfg.batch_size - 1)},
        "conv": {"mean": mu2, "var": var2, "num_stats": cfg.out_channels, "values_per_stat": n_vals,
                 "max_diff_vs_hand": float(np.max(np.abs(y_cv - hand_cv))),
                 "out_mean": y_cv.mean(axis=(0, 2, 3)), "out_var": y_cv.var(axis=(0, 2, 3)),
                 "per_position_stats_if_bn1d": cfg.out_channels * cfg.image_size ** 2},
    }


def bias_cancels(cfg: Config, rng) -> dict:
    """Conv(bias) -> BN2d vs Conv(no bias) -> BN2d with the same weights, training mode."""
    with_b, without_b = _conv(cfg, rng, True), _conv(cfg, rng, False)
    without_b.weight.data[...] = with_b.weight.data
    with_b.bias.data[...] = rng.standard_normal(cfg.out_channels) * 5.0  # a large bias: cancellation is not luck
    bn_a, bn_b = _bn("2d", cfg.out_channels), _bn("2d", cfg.out_channels)
    x = rng.standard_normal((cfg.batch_size, cfg.in_channels, cfg.image_size, cfg.image_size))
    ya = bn_a.forward(with_b.forward(x))
    yb = bn_b.forward(without_b.forward(x))
    dy = rng.standard_normal(ya.shape)  # random: Σ of a BN output is constant, ones would hide everything
    with_b.zero_grad()
    with_b.backward(bn_a.backward(dy))
    # the same bias without BN gets a real gradient: Σ dy over (N, H, W)
    return {"bias": with_b.bias.data.copy(), "max_abs_output_diff": float(np.max(np.abs(ya - yb))),
            "max_abs_bias_grad": float(np.max(np.abs(with_b.bias.grad))),
            "bias_grad_without_bn": dy.sum(axis=(0, 2, 3)),
            "conv_out_mean_with_bias": with_b.forward(x).mean(axis=(0, 2, 3)),
            "conv_out_mean_without_bias": without_b.forward(x).mean(axis=(0, 2, 3))}


def scaling(cfg: Config, rng) -> tuple[list[dict], dict]:
    """Train-mode vs eval-mode output change when the conv weights or the inputs are scaled by α."""
    conv, bn = _conv(cfg, rng, False), _bn("2d", cfg.out_channels)
    # fill the running statistics in training mode, from batches of the same distribution
    shape = (cfg.batch_size, cfg.in_channels, cfg.image_size, cfg.image_size)
    for _ in range(cfg.stat_batches):
        bn.forward(conv.forward(rng.standard_normal(shape) + 0.5))
    saved_w, saved_bn = conv.weight.data.copy(), bn.state_dict()
    x = rng.standard_normal(shape) + 0.5

    def output(mode: str, alpha_w: float, alpha_x: float) -> np.ndarray:
        conv.weight.data[...] = saved_w * alpha_w
        bn.load_state_dict(saved_bn)  # a train-mode forward moves the running stats: start fresh each time
        bn.train(mode == "train")
        try:
            return bn.forward(conv.forward(x * alpha_x))
        finally:
            conv.weight.data[...] = saved_w
            bn.load_state_dict(saved_bn)

    base = {m: output(m, 1.0, 1.0) for m in ("train", "eval")}
    # in training mode only ε breaks the invariance: (αz - αμ)/sqrt(α²σ² + ε) = (z - μ)/sqrt(σ² + ε/α²)
    z = conv.forward(x)
    mu = z.mean(axis=(0, 2, 3), keepdims=True)
    var = z.var(axis=(0, 2, 3), keepdims=True)
    gamma = bn.weight.data.reshape(1, -1, 1, 1)
    rows = []
    for alpha in cfg.alphas:
        eps_effect = float(np.max(np.abs(gamma * (z - mu) * (1 / np.sqrt(var + bn.eps / alpha ** 2)
                                                             - 1 / np.sqrt(var + bn.eps)))))
        for what, aw, ax in (("weights", alpha, 1.0), ("inputs", 1.0, alpha)):
            row = {"alpha": alpha, "scaled": what, "train_change_from_eps": eps_effect}
            for mode in ("train", "eval"):
                y = output(mode, aw, ax)
                row[f"{mode}_max_abs_change"] = float(np.max(np.abs(y - base[mode])))
                row[f"{mode}_out_std"] = float(y.std())
            rows.append(row)
    info = {"running_mean": np.array(bn.running_mean), "running_var": np.array(bn.running_var),
            "eval_out_std_alpha1": float(base["eval"].std()), "train_out_std_alpha1": float(base["train"].std()),
            "train_eval_gap_alpha1": float(np.max(np.abs(base["train"] - base["eval"])))}
    return rows, info


def run(config: Config, out) -> dict:
    rng = np.random.default_rng(config.seed)
    part1 = fc_vs_conv(config, rng)
    part2 = bias_cancels(config, rng)
    rows, info = scaling(config, rng)
    out.save_metrics("statistics", part1)
    out.save_metrics("bias_cancel", part2)
    out.save_metrics("scaling", rows)
    out.save_metrics("running_stats", info)
    fc = part1["fc"]
    worst = max(rows, key=lambda r: r["train_max_abs_change"])
    facts = {"train_worst": worst["train_max_abs_change"], "train_worst_alpha": worst["alpha"],
             "train_worst_eps": worst["train_change_from_eps"],
             "eps_gap": max(abs(r["train_max_abs_change"] - r["train_change_from_eps"]) for r in rows),
             "eval_best": min(r["eval_max_abs_change"] for r in rows),
             "running_mean_err": float(np.max(np.abs(fc["running_mean"] - fc["expected_running_mean"]))),
             "running_var_err": float(np.max(np.abs(fc["running_var"] - fc["expected_running_var"]))),
             # relative: the changes grow to tens at large α
             "weights_inputs_gap": max(abs(a["eval_max_abs_change"] - b["eval_max_abs_change"])
                                       / max(1.0, abs(a["eval_max_abs_change"]))
                                       for a, b in zip(rows[0::2], rows[1::2]))}
    summary = (f"bias before BN: output diff {part2['max_abs_output_diff']:.2g}, bias grad "
               f"{part2['max_abs_bias_grad']:.2g}; scaling: train change <= {facts['train_worst']:.2g}, eval change "
               f">= {facts['eval_best']:.3g}")
    return {"summary": summary, "fc_vs_conv": part1, "bias_cancel": part2, "scaling": rows, "running_stats": info,
            **facts}


# -- report ---------------------------------------------------------------------------------------
def variance_sentence(out_var) -> object:
    if np.all(np.asarray(out_var) < 1):
        return _("The output variances are just under 1: `ε` in `sqrt(σ² + ε)`.")
    return None


def running_sentence(mean_err: float, var_err: float, tol: float = ROUNDING_TOL):
    if max(mean_err, var_err) <= tol:
        return _("Running statistics after one training step (momentum 0.1): `running_mean = 0.1·mean` and "
                 "`running_var = 0.9 + 0.1·var·N/(N-1)` (the unbiased variance), to {a:.2g} and {b:.2g}.",
                 a=mean_err, b=var_err)
    return _("Running statistics after one training step differ from `0.1·mean` by {a:.3g} and from "
             "`0.9 + 0.1·var·N/(N-1)` by {b:.3g}: **not PyTorch's update**.", a=mean_err, b=var_err)


def bias_sentence(output_diff: float, bias_grad: float, tol: float = ROUNDING_TOL):
    if output_diff <= tol and bias_grad <= tol:
        return _("After BN the outputs with and without the bias differ by at most {d:.2g}, and the bias's "
                 "gradient through BN (random `dL/dy`) is at most {g:.2g}: rounding. The bias is a wasted parameter; "
                 "BN's `β` plays its role.", d=output_diff, g=bias_grad)
    return _("After BN the outputs with and without the bias differ by up to {d:.3g}, and the bias's gradient "
             "through BN is up to {g:.3g}: **the bias did not cancel**.", d=output_diff, g=bias_grad)


def train_sentence(result: dict, tol: float = ROUNDING_TOL):
    parts = dict(w=result["train_worst"], a=result["train_worst_alpha"], e=result["train_worst_eps"],
                 g=result["eps_gap"])
    if result["eps_gap"] < tol:
        return _("Training mode (batch statistics): the largest change over all α is {w:.2g} (at α = {a:g}); `ε` "
                 "alone predicts {e:.2g} there (`(z-μ)/sqrt(σ² + ε/α²)` instead of `(z-μ)/sqrt(σ² + ε)`), and "
                 "prediction and measurement agree to {g:.2g} over all rows: apart from `ε`, BN undoes the scale "
                 "exactly.", **parts)
    return _("Training mode (batch statistics): the largest change over all α is {w:.2g} (at α = {a:g}); `ε` "
             "alone predicts {e:.2g} there, but prediction and measurement differ by up to {g:.2g}: **more than "
             "`ε` explains**.", **parts)


def eval_sentence(result: dict, tol: float = ROUNDING_TOL):
    info = result["running_stats"]
    stds = join([_("{s:.3g} (α = {a:g}, {what})", s=r["eval_out_std"], a=r["alpha"], what=_(SCALED[r["scaled"]]))
                 for r in result["scaling"]])
    if result["eval_best"] > tol:
        return _("Inference (running statistics from before the scaling): every α changes the output, by at least "
                 "{b:.3g}; the output std goes from {s:.3g} at α = 1 to {stds}.", b=result["eval_best"],
                 s=info["eval_out_std_alpha1"], stds=stds)
    return _("Inference (running statistics from before the scaling): the smallest change is only {b:.3g}; the "
             "output std goes from {s:.3g} at α = 1 to {stds}.", b=result["eval_best"],
             s=info["eval_out_std_alpha1"], stds=stds)


def mode_gap_sentence(gap: float, stat_batches: int, tol: float = ROUNDING_TOL):
    if gap > tol:
        return _("Even at α = 1, training-mode and inference outputs differ by up to {g:.3g}: this batch's "
                 "statistics are not the running ones ({n} batches, momentum 0.1).", g=gap, n=stat_batches)
    return _("At α = 1, training-mode and inference outputs agree (difference {g:.2g}).", g=gap)


def weights_inputs_sentence(gap: float, tol: float = ROUNDING_TOL):
    if gap <= tol:  # relative to the change
        return _("Scaling the weights and scaling the inputs give the same numbers: the conv is linear and has no "
                 "bias, so `α·W ⋆ x = W ⋆ (α·x)`.")
    return _("Scaling the weights and scaling the inputs gave different numbers (by up to {g:.3g} of the change), "
             "unexpected for a bias-free conv.", g=gap)


SCALED = {"weights": N_("weights"), "inputs": N_("inputs")}


def report(result: dict, config: Config, doc) -> None:
    fc, cv = result["fc_vs_conv"]["fc"], result["fc_vs_conv"]["conv"]
    b = result["bias_cancel"]
    doc.para(_("**Question.** How does batch normalization differ between fully connected and convolutional "
               "layers, is a conv bias before BN of any use, and what does scaling the weights or the inputs by α "
               "change in training and at inference?"))
    doc.plot(plot_batchnorm(result, config), "batchnorm",
             _("Left and middle: the statistics BN keeps (row 0 mean, row 1 variance). Right: the largest output "
               "change when the weights or the inputs are scaled by α."))
    doc.heading(_("1. Fully connected (`BatchNorm1d`) against convolutional (`BatchNorm2d`)"))
    doc.bullets([
        _("`BatchNorm1d` on x of shape ({n}, {f}): {k} means and variances, each over {v} values (the batch). "
          "Library against the hand-normalized x: largest difference {d:.2g}. Output per-feature `|mean|` ≤ "
          "{m:.2g}, variances `{var}`.", n=config.batch_size, f=config.num_features, k=fc["num_stats"],
          v=fc["values_per_stat"], d=fc["max_diff_vs_hand"], m=float(np.max(np.abs(fc["out_mean"]))),
          var=", ".join(f"{v:.6f}" for v in fc["out_var"])),
        variance_sentence(fc["out_var"]),
        _("`BatchNorm2d` on x of shape ({n}, {c}, {s}, {s}): {k} means and variances, each over `N·H·W` = {v} "
          "values. Library against hand: largest difference {d:.2g}. Normalizing each position separately "
          "(`BatchNorm1d` on the flattened map) would need {p} statistics from {n} values each.",
          n=config.batch_size, c=config.out_channels, s=config.image_size, k=cv["num_stats"],
          v=cv["values_per_stat"], d=cv["max_diff_vs_hand"], p=cv["per_position_stats_if_bn1d"]),
        running_sentence(result["running_mean_err"], result["running_var_err"]),
    ])
    doc.para(_("`BatchNorm1d` means (per feature):"))
    doc.code(format_matrix(fc["mean"]))
    doc.para(_("`BatchNorm2d` means (per channel):"))
    doc.code(format_matrix(cv["mean"]))
    doc.heading(_("2. A conv bias before BN cancels"))
    doc.bullets([
        _("The bias `{b}` moves the conv output means from `{m0}` to `{m1}`.", b=_round(b["bias"]),
          m0=_round(b["conv_out_mean_without_bias"]), m1=_round(b["conv_out_mean_with_bias"])),
        bias_sentence(b["max_abs_output_diff"], b["max_abs_bias_grad"]),
        _("Without BN the bias's gradient would be `Σ dL/dy` = `{g}`.", g=_round(b["bias_grad_without_bn"])),
    ])
    doc.heading(_("3. Scaling the weights or the inputs by α"))
    doc.table([("alpha", "α", "g"), ("scaled", _("scaled"), ""),
               ("train_max_abs_change", _("largest change, training mode"), ".3g"),
               ("train_change_from_eps", _("predicted by `ε`"), ".3g"),
               ("eval_max_abs_change", _("largest change, inference"), ".3g"),
               ("train_out_std", _("output std, training"), ".3g"),
               ("eval_out_std", _("output std, inference"), ".3g")],
              [{**r, "scaled": _(SCALED[r["scaled"]])} for r in result["scaling"]])
    doc.heading(_("Observations (computed from this run)"))
    doc.bullets([train_sentence(result), eval_sentence(result),
                 mode_gap_sentence(result["running_stats"]["train_eval_gap_alpha1"], config.stat_batches),
                 weights_inputs_sentence(result["weights_inputs_gap"])])


def _round(values) -> str:
    return ", ".join(f"{v:.3f}" for v in np.ravel(values))
