"""Plots and report of the ``mobilenet`` lab (split from labs/mobilenet.py to keep each file short).

Every sentence of the report is computed from the run's numbers; where a claim
needs runs that were not made, the report says so.
"""
from __future__ import annotations

import numpy as np

from .common import markdown_table, new_figure

LABELS = {"cnn": "plain CNN", "v1": "MobileNet V1", "v2": "MobileNet V2"}
COLORS = {"cnn": "tab:gray", "v1": "tab:blue", "v2": "tab:orange"}
GOALS = {"Fashion-MNIST": 0.945, "CIFAR-10": 0.92}  # the course's targets for V2 at width 1.0


def _find(rows, model, width, resolution):
    for r in rows:
        if r["model"] == model and r["width"] == width and r["resolution"] == resolution:
            return r
    return None


def make_plots(lab, results: list[dict], base_w: float, base_r: int) -> None:
    fig, axes = new_figure(1, 2, size=(12, 4.4))
    ax = axes[0, 0]
    for model in LABELS:
        widths = sorted((r for r in results if r["model"] == model and r["resolution"] == base_r),
                        key=lambda r: r["macs"])
        res = sorted((r for r in results if r["model"] == model and r["width"] == base_w), key=lambda r: r["macs"])
        if widths:
            ax.plot([r["macs"] / 1e6 for r in widths], [100 * r["test_acc"] for r in widths], "o-",
                    color=COLORS[model], label=f"{LABELS[model]}: width alpha")
            for r in widths:
                ax.annotate(f"a={r['width']}", (r["macs"] / 1e6, 100 * r["test_acc"]), fontsize=7,
                            textcoords="offset points", xytext=(3, -9))
        if any(r["resolution"] != base_r for r in res):
            ax.plot([r["macs"] / 1e6 for r in res], [100 * r["test_acc"] for r in res], "s--",
                    color=COLORS[model], alpha=0.6, label=f"{LABELS[model]}: resolution")
            for r in res:
                if r["resolution"] != base_r:
                    ax.annotate(f"{r['resolution']}px", (r["macs"] / 1e6, 100 * r["test_acc"]), fontsize=7,
                                textcoords="offset points", xytext=(3, 4))
    ax.set_xscale("log")
    ax.set_xlabel("MACs per image (millions, log scale)")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title("accuracy vs multiply-accumulates")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7)
    ax = axes[0, 1]
    for r in results:
        if r["width"] == base_w and r["resolution"] == base_r:
            h = r["history"]
            ax.plot(h["epoch"], [100 * a for a in h["test_acc"]], color=COLORS[r["model"]], label=LABELS[r["model"]])
    ax.set_xlabel("epoch")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title(f"test accuracy per epoch (width {base_w}, {base_r}x{base_r})")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    lab.savefig(fig, "accuracy_vs_macs")

    fig, axes = new_figure(1, 3, size=(14, 3.8))
    for ax, key, title in zip(axes[0], ("latency_b1_ms", "latency_b128_ms", "cpu4_latency_b1_ms"),
                              ("batch 1, training device", "batch 128, training device", "batch 1, CPU (4 threads)")):
        for model in LABELS:
            pts = [r for r in results if r["model"] == model]
            ax.scatter([r["macs"] / 1e6 for r in pts], [r[key] for r in pts], color=COLORS[model],
                       label=LABELS[model], s=18)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("MACs (millions)")
        ax.set_ylabel("latency (ms)")
        ax.set_title(title)
        ax.grid(alpha=0.3, which="both")
    axes[0, 0].legend(fontsize=7)
    lab.savefig(fig, "latency_vs_macs")


def _spearman(a, b) -> float | None:
    if len(a) < 3:
        return None
    ra, rb = np.argsort(np.argsort(a)), np.argsort(np.argsort(b))
    return float(np.corrcoef(ra, rb)[0, 1])


def observations(rows, data_name, table, ratios, quick, base_w, base_r) -> list[str]:
    obs = []
    ok = sum(r["matches"] for r in table)
    obs.append(f"The MAC counter reproduces {ok} of {len(table)} rows of the papers' ImageNet tables within "
               "max(1M, 0.05%) mult-adds and 0.05M parameters (V2: 3.40-3.55M), the papers' printed precision.")
    per_block = [r for r in ratios if r["formula_ratio"] is not None]
    worst = max(abs(r["measured_ratio"] - r["formula_ratio"]) for r in per_block)
    whole = ratios[-1]["measured_ratio"]
    obs.append(f"Per block, measured separable/standard MACs equal 1/N + 1/9 to within {worst:.1e}; over the whole "
               f"network V1 needs {whole:.3f} of the plain CNN's MACs ({1 / whole:.1f}x fewer), since the stem and "
               "classifier are shared.")
    v2, v1, cnn = (_find(rows, m, base_w, base_r) for m in ("v2", "v1", "cnn"))
    goal = GOALS.get(data_name)
    if v2 is not None and goal is not None and not quick and base_w == 1.0:
        verdict = "meets" if v2["test_acc"] >= goal else "misses"
        obs.append(f"MobileNet V2 (width 1.0) reached {100 * v2['test_acc']:.2f}% test accuracy on {data_name} "
                   f"(best epoch {100 * v2['best_test_acc']:.2f}%): it {verdict} the {100 * goal:.1f}% goal.")
    if v1 is not None and cnn is not None:
        d = 100 * (v1["test_acc"] - cnn["test_acc"])
        obs.append(f"V1 uses {cnn['macs'] / v1['macs']:.1f}x fewer MACs and {cnn['params'] / v1['params']:.1f}x fewer "
                   f"parameters than the plain CNN; its accuracy is {abs(d):.2f} points "
                   f"{'higher' if d >= 0 else 'lower'} ({100 * v1['test_acc']:.2f}% vs {100 * cnn['test_acc']:.2f}%).")
    for model in LABELS:
        full = _find(rows, model, base_w, base_r)
        thin = min((r for r in rows if r["model"] == model and r["resolution"] == base_r and r["width"] < base_w),
                   key=lambda r: r["width"], default=None)
        if full and thin:
            a2 = (thin["width"] / base_w) ** 2
            obs.append(f"{LABELS[model]}: width {thin['width']} costs {thin['macs'] / full['macs']:.3f} of width "
                       f"{base_w}'s MACs (alpha^2 = {a2:.4f}) and {thin['params'] / full['params']:.3f} of its "
                       f"parameters, for {100 * (full['test_acc'] - thin['test_acc']):.2f} points of accuracy.")
        small = min((r for r in rows if r["model"] == model and r["width"] == base_w and r["resolution"] < base_r),
                    key=lambda r: r["resolution"], default=None)
        if full and small:
            rho2 = (small["resolution"] / base_r) ** 2
            obs.append(f"{LABELS[model]}: input {small['resolution']}px costs {small['macs'] / full['macs']:.3f} of "
                       f"{base_r}px's MACs (rho^2 = {rho2:.3f}) for "
                       f"{100 * (full['test_acc'] - small['test_acc']):.2f} points of accuracy.")
            peers = [r for r in rows if r["model"] == model and r["resolution"] == base_r and r["width"] < base_w]
            if peers:
                peer = min(peers, key=lambda r: abs(np.log(r["macs"] / small["macs"])))
                if peer["test_acc"] == small["test_acc"]:
                    verdict = "both lost the same"
                else:
                    verdict = "reducing " + ("width" if peer["test_acc"] > small["test_acc"] else "resolution") \
                              + " lost less here"
                obs.append(f"At similar cost, {LABELS[model]} width {peer['width']} at {base_r}px "
                           f"({peer['macs'] / 1e6:.1f}M MACs, {100 * peer['test_acc']:.2f}%) vs width {base_w} at "
                           f"{small['resolution']}px ({small['macs'] / 1e6:.1f}M, {100 * small['test_acc']:.2f}%): "
                           f"{verdict}.")
    for key, what in (("latency_b1_ms", "batch-1 latency on the training device"),
                      ("cpu4_latency_b1_ms", "batch-1 latency on 4 CPU threads")):
        rho = _spearman([r["macs"] for r in rows], [r[key] for r in rows])
        if rho is not None:
            obs.append(f"Rank correlation of MACs with {what}: {rho:+.2f} over {len(rows)} runs"
                       + (" (MACs predict it poorly: small layers are launch- and memory-bound)." if rho < 0.7
                          else "."))
    if v2 and cnn:
        obs.append(f"Width {base_w}, {base_r}px, batch 1: plain CNN {cnn['latency_b1_ms']:.2f} ms vs V2 "
                   f"{v2['latency_b1_ms']:.2f} ms on "
                   f"{v2['device']}; on 4 CPU threads {cnn['cpu4_latency_b1_ms']:.2f} ms vs "
                   f"{v2['cpu4_latency_b1_ms']:.2f} ms.")
    return obs


def write_report(lab, config, data_name, data_note, rows, table, ratios, base_w, base_r, wall_s,
                 missing=()) -> str:
    obs = observations(rows, data_name, table, ratios, config.quick, base_w, base_r)
    show = [dict(model=LABELS[r["model"]], width=r["width"], input=f"{r['resolution']}px",
                 test_acc=f"{100 * r['test_acc']:.2f}%", params_M=f"{r['params'] / 1e6:.3f}",
                 MACs_M=f"{r['macs'] / 1e6:.1f}", s_per_epoch=f"{r['epoch_time_s']:.2f}",
                 run_s_per_epoch=f"{r['run_epoch_time_s']:.2f}",
                 b1_ms=f"{r['latency_b1_ms']:.2f}", b128_ms=f"{r['latency_b128_ms']:.2f}",
                 cpu4_b1_ms=f"{r['cpu4_latency_b1_ms']:.2f}",
                 timed=f"{r.get('timed_weights', '')} on {r.get('timing_device', '?')}") for r in rows]
    device = ", ".join(sorted({r["device"] for r in rows})) or "?"
    md = [f"# MobileNet V1/V2 vs a plain CNN ({data_name})", "",
          "**Question.** What do depthwise separable convolutions (V1) and inverted residuals with linear "
          "bottlenecks (V2) give up in accuracy for their savings in MACs and parameters, and how do the width "
          "multiplier alpha and the resolution multiplier rho trade accuracy for cost?", "",
          f"**Data.** {data_note}." + (" Quick mode: a few hundred images, numbers are not meaningful." if config.quick
                                        else ""), "",
          f"**Recipe.** {config.num_epochs} epochs, batch {config.batch_size}, {config.optimizer.upper()} "
          f"(peak lr {config.lr}, cosine schedule with 1 warm-up epoch, weight decay {config.weight_decay} on "
          f"conv/linear weights), random crop (zero padding 4 px at 32px, scaled with the input) "
          f"{'+ horizontal flip ' if config.flip else ''}, CIFAR-style stems (first two strides 1: 32x32 ends at "
          f"4x4). Trained on: {device}. Wall time {wall_s / 60:.1f} min.", "",
          *([f"**Not trained** (--only-cached reported the finished runs only): {', '.join(missing)}.", ""]
            if missing else []),
          "## Observations", ""] + [f"- {o}" for o in obs] + [
          "", "## Results", "",
          "MACs are multiply-accumulates per image (FLOPs = 2 x MACs), counted by forward hooks on Conv2d and "
          "Linear (BatchNorm, activations and pooling not counted). Latency: median forward time in eval mode "
          "(bfloat16 autocast on CUDA), on the device named in the `timed` column. s_per_epoch: median time of "
          "20 training steps (3 on a CPU) measured with the "
          "device to itself, times the steps per epoch; run_s_per_epoch: the mean epoch time during the run "
          f"(epochs 2+), when up to {max([r.get('workers', config.workers) for r in rows] or [1])} run(s) "
          "shared the device. Timings marked untrained were "
          "taken on the untrained net (the run was trained in an earlier session whose weights were not kept; "
          "a dense net's cost does not depend on its weights' values).", "",
          markdown_table(show), "",
          "![accuracy vs MACs](accuracy_vs_macs.png)", "", "![latency vs MACs](latency_vs_macs.png)", "",
          "## The papers' ImageNet configurations (224x224, 1000 classes)", "",
          markdown_table(table), "",
          "## Depthwise separable vs standard 3x3 convolution, per V1 block at 32x32", "",
          "The paper's eq. 5: (D_K^2 M D_F^2 + M N D_F^2) / (D_K^2 M N D_F^2) = 1/N + 1/D_K^2.", "",
          markdown_table(ratios, floatfmt=".5g"), "",
          "## Try next", "",
          "- Retrain V2 without the linear bottleneck (add ReLU6 after the projection) and compare.",
          "- Halve the epochs: which model loses most?",
          "- Set `--widths 1.0,0.5 --resolutions 32,16` and plot the two ways to reach a quarter of the MACs."]
    lab.write_report("\n".join(md))
    parts = [f"{LABELS[r['model']]} {r['width']}-{r['resolution']}px {100 * r['test_acc']:.2f}%"
             for r in rows if r["width"] == base_w and r["resolution"] == base_r]
    return f"{data_name} on {device}: " + "; ".join(parts)
