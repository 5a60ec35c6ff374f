"""Lab: batch normalization -- which statistics, why a bias before BN is wasted, and scale invariance.

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
from pathlib import Path

import numpy as np

from .common import LabRun, markdown_table, new_figure
from .heatmap import draw_heatmap, matrix_block

NAME = "batchnorm"
TITLE = "Batch normalization: per-feature vs per-channel statistics, bias cancellation, scale invariance"


@dataclass(frozen=True)
class Config:
    seed: int = 0                             # draws every input and weight
    quick: bool = False                       # fewer batches to collect running statistics
    batch_size: int = 8                       # N
    in_channels: int = 3
    out_channels: int = 4                     # C after the conv (BN2d's num_features)
    image_size: int = 6                       # H = W
    num_features: int = 5                     # F for the fully connected case
    alphas: tuple[float, ...] = (0.1, 0.5, 2.0, 10.0)   # scale factors for weights and inputs
    stat_batches: int = 100                   # training-mode batches that fill the running statistics
    echo: bool = True                         # print the statistics to stdout

    def __post_init__(self):
        if self.batch_size < 2:
            raise ValueError(f"batch_size must be >= 2 (BN needs a batch variance), got {self.batch_size}")
        if not self.alphas or any(a <= 0 for a in self.alphas):
            raise ValueError(f"alphas must be positive, got {self.alphas}")
        if min(self.in_channels, self.out_channels, self.image_size, self.num_features, self.stat_batches) < 1:
            raise ValueError("in_channels, out_channels, image_size, num_features and stat_batches must be >= 1")


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


def run(config: Config, out_dir: Path) -> dict:
    if config.quick:
        from dataclasses import replace

        config = replace(config, stat_batches=min(config.stat_batches, 30))
    lab = LabRun(out_dir, config)
    rng = np.random.default_rng(config.seed)
    part1 = fc_vs_conv(config, rng)
    part2 = bias_cancels(config, rng)
    rows, info = scaling(config, rng)
    lab.save_metrics("statistics", part1)
    lab.save_metrics("bias_cancel", part2)
    lab.save_metrics("scaling", rows)
    lab.save_metrics("running_stats", info)

    fig, axes = new_figure(1, 3, size=(14, 3.8))
    fc, cv = part1["fc"], part1["conv"]
    draw_heatmap(axes[0, 0], np.stack([fc["mean"], fc["var"]]), f"BN1d: per feature (F={config.num_features})\n"
                 "row 0 mean, row 1 var, over N", fmt=".2f")
    draw_heatmap(axes[0, 1], np.stack([cv["mean"], cv["var"]]), f"BN2d: per channel (C={config.out_channels})\n"
                 "row 0 mean, row 1 var, over N·H·W", fmt=".2f")
    ax = axes[0, 2]
    for what, marker in (("weights", "o"), ("inputs", "s")):
        r = [row for row in rows if row["scaled"] == what]
        a = [row["alpha"] for row in r]
        ax.loglog(a, [max(row["eval_max_abs_change"], 1e-17) for row in r], marker + "-", label=f"eval, {what}")
        ax.loglog(a, [max(row["train_max_abs_change"], 1e-17) for row in r], marker + "--", label=f"train, {what}")
    ax.set_xlabel("α")
    ax.set_ylabel("max |y_α - y_1|")
    ax.set_title("scaling weights or inputs by α", fontsize=9)
    ax.legend(fontsize=7)
    fig.tight_layout()
    lab.savefig(fig, "batchnorm")
    if config.echo:
        print("BN1d per-feature mean:", np.round(fc["mean"], 4), " var:", np.round(fc["var"], 4))
        print("BN2d per-channel mean:", np.round(cv["mean"], 4), " var:", np.round(cv["var"], 4))
        print(f"bias before BN: max |output difference| {part2['max_abs_output_diff']:.3g}, "
              f"max |bias grad| {part2['max_abs_bias_grad']:.3g}")
        for r in rows:
            print(r)

    # -- report ----------------------------------------------------------------------------------------------
    worst_row = max(rows, key=lambda r: r["train_max_abs_change"])
    train_worst = worst_row["train_max_abs_change"]
    eps_gap = max(abs(r["train_max_abs_change"] - r["train_change_from_eps"]) for r in rows)
    eval_best = min(r["eval_max_abs_change"] for r in rows)
    rm_err = float(np.max(np.abs(fc["running_mean"] - fc["expected_running_mean"])))
    rv_err = float(np.max(np.abs(fc["running_var"] - fc["expected_running_var"])))
    rep = [f"# {TITLE}\n", "![batchnorm](batchnorm.png)\n",
           "## 1. Fully connected (BatchNorm1d) vs convolutional (BatchNorm2d)\n",
           f"- BN1d on x of shape ({config.batch_size}, {config.num_features}): {fc['num_stats']} means and "
           f"variances, each over {fc['values_per_stat']} values (the batch). Library vs hand-normalized: max "
           f"difference {fc['max_diff_vs_hand']:.2g}. Output per-feature |mean| <= {np.max(np.abs(fc['out_mean'])):.2g}, "
           f"variances {', '.join(f'{v:.6f}' for v in fc['out_var'])}"
           + (" (just under 1: ε in sqrt(σ² + ε))." if np.all(fc['out_var'] < 1) else "."),
           f"- BN2d on x of shape ({config.batch_size}, {config.out_channels}, {config.image_size}, "
           f"{config.image_size}): {cv['num_stats']} means and variances, each over N·H·W = {cv['values_per_stat']} "
           f"values. Library vs hand: max difference {cv['max_diff_vs_hand']:.2g}. Normalizing per position "
           f"(BN1d on the flattened map) would need {cv['per_position_stats_if_bn1d']} statistics from "
           f"{config.batch_size} values each.",
           f"- Running statistics after one training step (momentum 0.1, unbiased variance): running_mean = "
           f"0.1·mean to {rm_err:.2g}, running_var = 0.9 + 0.1·var·N/(N-1) to {rv_err:.2g}.\n",
           matrix_block("BN1d means (per feature)", fc["mean"]), matrix_block("BN2d means (per channel)", cv["mean"]),
           "## 2. A conv bias before BN cancels\n",
           f"- Bias {np.round(part2['bias'], 3).tolist()} shifts the conv output means from "
           f"{np.round(part2['conv_out_mean_without_bias'], 3).tolist()} to "
           f"{np.round(part2['conv_out_mean_with_bias'], 3).tolist()}; after BN the outputs with and without the "
           f"bias differ by at most {part2['max_abs_output_diff']:.2g}.",
           f"- Its gradient through BN (random dL/dy) is at most {part2['max_abs_bias_grad']:.2g} in absolute value; "
           f"without BN it would be Σ dL/dy = {np.round(part2['bias_grad_without_bn'], 3).tolist()}. The bias is "
           "a wasted parameter: BN's β plays its role.\n",
           "## 3. Scaling weights or inputs by α\n", markdown_table(rows, floatfmt=".3g"),
           "\n## Observations (computed from this run)\n",
           f"- Training mode (batch statistics): the largest change over all α is {train_worst:.2g} (at α = "
           f"{worst_row['alpha']:g}); ε alone predicts {worst_row['train_change_from_eps']:.2g} there "
           f"((z-μ)/sqrt(σ² + ε/α²) instead of (z-μ)/sqrt(σ² + ε)), and the predicted and measured changes agree "
           f"to {eps_gap:.2g} over all rows"
           + (" -- apart from ε, BN undoes the scale exactly." if eps_gap < 1e-9 else
              " -- **more than ε explains**."),
           f"- Inference (running statistics from before the scaling): the smallest change is {eval_best:.3g}; "
           f"the output std goes from {info['eval_out_std_alpha1']:.3g} at α=1 to "
           + ", ".join(f"{r['eval_out_std']:.3g} (α={r['alpha']:g}, {r['scaled']})" for r in rows) + ".",
           f"- Even at α = 1, training-mode and inference outputs differ by up to {info['train_eval_gap_alpha1']:.3g}: "
           f"this batch's statistics are not the running ones ({config.stat_batches} batches, momentum 0.1).",
           "- Scaling the weights and scaling the inputs give the same numbers: the conv is linear and has no bias, "
           "so α·W ⋆ x = W ⋆ (α·x)." if all(abs(rows[i]["eval_max_abs_change"] - rows[i + 1]["eval_max_abs_change"])
                                            <= 1e-9 * max(1.0, rows[i]["eval_max_abs_change"])
                                            for i in range(0, len(rows), 2))
           else "- Scaling the weights and the inputs gave different numbers (unexpected for a bias-free conv)."]
    lab.write_report("\n".join(rep))
    summary = (f"bias before BN: output diff {part2['max_abs_output_diff']:.2g}, bias grad "
               f"{part2['max_abs_bias_grad']:.2g}; scaling: train change <= {train_worst:.2g}, eval change >= "
               f"{eval_best:.3g}")
    return {"summary": summary, "fc_vs_conv": part1, "bias_cancel": part2, "scaling": rows, "files": lab.files}
