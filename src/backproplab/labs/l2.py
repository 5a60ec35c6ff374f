"""Lab: L2 regularization on the 4-layer MLP -- with and without, and a sweep over γ.

Question: what does the penalty γ/(2m)·Σθ² do to the weights, the train/test gap and the
test accuracy?

The assignment's regularized cost is J = 1/(2m)[Σᵢ(hᵢ-yᵢ)² + γ Σθ²] over the weights (not the
biases); its gradient adds (γ/m)·θ to each weight's gradient, which is exactly an optimizer's
``weight_decay = γ/m`` on the weights (:func:`backproplab.optim.l2_param_groups`). Here the
data term is the mean cross-entropy (or the 1/(2m) MSE with ``--loss mse``); m is the number of
training images, so γ means the same thing for every batch size. The curves show the data term
only, so runs with and without the penalty are compared on the same scale.

Reference: Goodfellow, Bengio and Courville, *Deep Learning*, §7.1.1 (L2 parameter regularization);
https://pytorch.org/docs/stable/generated/torch.optim.SGD.html (weight_decay).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..models import make_mlp
from ..optim import SGD, Adam, l2_param_groups
from .common import LabRun, markdown_table, new_figure
from .mlp_common import (best_of, best_text, cosine_lr, curve, curve_rows, load_data, option, plot_curves,
                         reach_threshold, resolve_epochs, stalled_text, summarize, train_run)

NAME = "l2"
TITLE = "L2 regularization: weight norm, train/test gap, γ sweep"


@dataclass(frozen=True)
class Config:
    classes: str = option("0,1", "Fashion-MNIST class ids, comma list, or 'all'")
    epochs: int | None = option(None, "epochs per model; None: 20 (quick: 3)")
    seed: int = option(0, "every run starts from the same initial weights")
    quick: bool = option(False, "a random 1000 train / 500 test images and 3 epochs: seconds")
    data_dir: str | None = option(None, "folder with the IDX or the assignment's npz files; None = default")
    hidden: tuple[int, ...] = option((256, 128, 64), "4 layers = 3 hidden + output")
    activation: str = option("relu", "activation of every hidden layer")
    init: str = option("he", "weight init of every layer (backproplab.nn.init names)")
    optimizer: str = option("sgd", "'sgd' (momentum 0.9, PyTorch form) or 'adam'; one optimizer for every γ")
    lr: float = option(0.02, "learning rate")
    momentum: float = option(0.9, "SGD only")
    batch_size: int = option(128, "mini-batch size")
    lr_schedule: str = option("constant", "'constant' or 'cosine' (lr decays to 0 over the epochs)")
    dropout: float = option(0.0, "drop probability after each hidden layer (0 = none; the assignment has none)")
    gamma: float = option(10.0, "the 'with L2' run of the with/without comparison (must be in gammas)")
    gammas: tuple[float, ...] = option((0.0, 1.0, 10.0, 100.0, 1000.0), "the sweep; weight decay = γ/m")
    loss: str = option("cross_entropy", "'cross_entropy' or 'mse' (the assignment's 1/(2m) convention)")
    reach_acc: float | None = option(None, "test accuracy that counts as learned; None: 0.98 for 2 classes, else 0.85")


def _label(gamma: float) -> str:
    return f"γ={gamma:g}"


def run(config: Config, out_dir) -> dict:
    if config.gamma not in config.gammas or 0.0 not in config.gammas:
        raise ValueError(f"gammas {config.gammas} must contain 0 and gamma={config.gamma}")
    if any(g < 0 for g in config.gammas):
        raise ValueError(f"γ must be >= 0, got {config.gammas}")
    if config.lr_schedule not in ("constant", "cosine"):
        raise ValueError(f"lr_schedule must be 'constant' or 'cosine', got {config.lr_schedule!r}")
    if config.optimizer not in ("sgd", "adam"):
        raise ValueError(f"optimizer must be 'sgd' or 'adam', got {config.optimizer!r}")
    lab = LabRun(Path(out_dir), config)
    data = load_data(config)
    epochs = resolve_epochs(config, full=20, quick=3)
    threshold = reach_threshold(config, data.num_classes)
    m = len(data.x_train)

    runs, rows = {}, []
    for gamma in config.gammas:
        def train(gamma=gamma):
            rng = np.random.default_rng(config.seed)  # same initial weights for every γ
            model = make_mlp(data.x_train.shape[1], config.hidden, data.num_classes, config.activation, config.init,
                             rng=rng, dropout=config.dropout)
            groups = l2_param_groups(model, gamma, m)
            opt = (SGD(groups, lr=config.lr, momentum=config.momentum) if config.optimizer == "sgd"
                   else Adam(groups, lr=config.lr))
            schedule = [cosine_lr(opt, epochs)] if config.lr_schedule == "cosine" else None
            return train_run(model, opt, data, loss=config.loss, batch_size=config.batch_size, epochs=epochs, rng=rng,
                             callbacks=schedule)

        r = lab.step(f"train-gamma{gamma:g}", train)
        runs[_label(gamma)] = r
        h = r["history"]
        row = summarize(_label(gamma), r, threshold, data.chance, gamma=gamma, weight_decay=gamma / m)
        row["final_weight_norm"] = h["weight_norm"][-1] if h["weight_norm"] else None
        row["final_gap"] = (h["test_loss"][-1] - h["train_loss"][-1]) if h["test_loss"] else None
        rows.append(row)

    lab.save_metrics("summary", rows)
    lab.save_metrics("curves", curve_rows(runs))
    pair = {_label(0.0): runs[_label(0.0)], _label(config.gamma): runs[_label(config.gamma)]}
    figures = [lab.savefig(_plot_pair(pair), "with_without_l2"),
               lab.savefig(_plot_weight_norm(runs), "weight_norm"),
               lab.savefig(_plot_sweep(rows), "gamma_sweep"),
               lab.savefig(plot_curves(runs, "every γ"), "curves")]
    obs = _observations(config, rows, threshold, data.chance)
    best_acc, best_model = best_of(rows)
    best = {"best_test_acc": best_acc, "model": best_model} if best_model else None
    summary = (f"l2: best test accuracy {best['best_test_acc']:.2%} ({best['model']}); {obs['norm_short']}"
               if best else "l2: no run finished an epoch")
    _report(lab, config, data, epochs, m, rows, obs, figures)
    by = {r["gamma"]: r for r in rows}
    return {"summary": summary, "best_test_acc": best["best_test_acc"] if best else None,
            "best_model": best_model, "epochs": epochs, "rows": rows, "figures": figures,
            "train_time_s": sum(r["train_time_s"] for r in rows),
            "weight_norm": {"without": by[0.0]["final_weight_norm"], "with": by[config.gamma]["final_weight_norm"],
                            "gamma": config.gamma}}


def _plot_pair(pair):
    fig, axes = new_figure(1, 2, size=(11, 4))
    styles = {"train_loss": "-", "test_loss": "--"}
    for color, (label, r) in zip(("tab:blue", "tab:red"), pair.items()):
        for key, ls in styles.items():
            ys = curve(r, key)
            axes[0, 0].plot(range(len(ys)), ys, ls, color=color, label=f"{label} {key.replace('_', ' ')}")
        ys = curve(r, "test_acc")
        axes[0, 1].plot(range(len(ys)), ys, color=color, label=f"{label} test accuracy")
        ys = curve(r, "train_acc")
        axes[0, 1].plot(range(len(ys)), ys, ":", color=color, label=f"{label} train accuracy")
    axes[0, 0].set_yscale("log")
    axes[0, 0].set_title("train (solid) and test (dashed) loss, data term only")
    axes[0, 1].set_title("accuracy")
    for ax in axes[0]:
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    axes[0, 1].set_ylim(max(0.0, min(min(curve(r, "test_acc")[1:] or [0]) for r in pair.values()) - 0.01), 1.0005)
    fig.suptitle("Without vs with L2", y=1.0)
    fig.subplots_adjust(hspace=0.45, wspace=0.3)  # fixed spacing: tight_layout costs a second full draw
    return fig


def _plot_weight_norm(runs):
    fig, axes = new_figure(1, 1, size=(6.5, 4))
    ax = axes[0, 0]
    for label, r in runs.items():
        wn = r["history"]["weight_norm"]
        ax.plot(range(1, len(wn) + 1), wn, marker="o", ms=3, label=label)
    ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("Σ W² over the weights")
    ax.set_title("Weight norm during training")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return fig


def _plot_sweep(rows):
    fig, axes = new_figure(1, 2, size=(11, 4))
    done = [r for r in rows if r["final_test_acc"] is not None]
    xs = np.arange(len(done))
    names = [f"{r['gamma']:g}" for r in done]
    axes[0, 0].plot(xs, [r["final_test_acc"] for r in done], "o-", label="test, last epoch")
    axes[0, 0].plot(xs, [r["best_test_acc"] for r in done], "s--", label="test, best epoch")
    axes[0, 0].plot(xs, [r["final_train_acc"] for r in done], "^:", label="train, last epoch")
    axes[0, 0].set_ylabel("accuracy")
    axes[0, 0].set_title("accuracy vs γ")
    axes[0, 1].plot(xs, [r["final_weight_norm"] for r in done], "o-")
    axes[0, 1].set_yscale("log")
    axes[0, 1].set_ylabel("Σ W² at the last epoch")
    axes[0, 1].set_title("weight norm vs γ")
    for ax in axes[0]:
        ax.set_xticks(xs, names)
        ax.set_xlabel("γ")
        ax.grid(alpha=0.3)
    axes[0, 0].legend(fontsize=8)
    fig.subplots_adjust(hspace=0.45, wspace=0.3)  # fixed spacing: tight_layout costs a second full draw
    return fig


def _observations(config, rows, threshold, chance) -> dict:
    lines = [f"- {best_text(rows)}", f"- {stalled_text(rows, chance)}"]
    by = {r["gamma"]: r for r in rows}
    r0, r1 = by[0.0], by[config.gamma]
    norm_short = "weight norm: no comparison (a run did not finish)"
    if config.gamma == 0:
        norm_short = "no L2 run (gamma=0): nothing to compare"
        lines.append(f"- {norm_short}.")
    elif r0["final_weight_norm"] is not None and r1["final_weight_norm"] is not None:
        w0, w1 = r0["final_weight_norm"], r1["final_weight_norm"]
        verb = "lowers" if w1 < w0 else "does NOT lower"
        norm_short = f"L2 (γ={config.gamma:g}) {verb} the weight norm: Σ W² {w0:.4g} -> {w1:.4g}"
        lines.append(f"- {norm_short} at the last epoch (x{w1 / w0:.3g}).")
        g0, g1 = r0["final_gap"], r1["final_gap"]
        lines.append(f"- Test minus train loss at the last epoch: {g0:.4g} without, {g1:.4g} with L2 "
                     f"({'smaller' if g1 < g0 else 'not smaller'} with L2).")
        a0, a1 = r0["final_test_acc"], r1["final_test_acc"]
        verdict = "higher" if a1 > a0 else ("the same" if a1 == a0 else "lower")
        lines.append(f"- Test accuracy at the last epoch: {a0:.2%} without, {a1:.2%} with L2 ({verdict} with L2).")
    done = [r for r in rows if r["final_test_acc"] is not None]
    if done:
        top = max(r["final_test_acc"] for r in done)
        winners = [f"{r['gamma']:g}" for r in done if r["final_test_acc"] == top]
        tie = " (tie)" if len(winners) > 1 else ""
        lines.append(f"- Sweep: last-epoch test accuracy is highest for γ = {', '.join(winners)}{tie} at {top:.2%}; "
                     + ", ".join(f"γ={r['gamma']:g}: {r['final_test_acc']:.2%}" for r in done) + ".")
        norms = [r["final_weight_norm"] for r in done]
        mono = all(b <= a for a, b in zip(norms, norms[1:]))
        if len(done) > 1:
            lines.append(f"- The final weight norm {'falls' if mono else 'does not fall'} monotonically as γ grows: "
                         + ", ".join(f"{n:.3g}" for n in norms) + ".")
    return {"lines": lines, "norm_short": norm_short}


def _report(lab, config, data, epochs, m, rows, obs, figures):
    cols = ["model", "weight_decay", "final_train_loss", "final_test_loss", "final_gap", "final_train_acc",
            "final_test_acc", "best_test_acc", "final_weight_norm", "train_time_s"]
    opt = (f"SGD lr={config.lr}, momentum={config.momentum}" if config.optimizer == "sgd"
           else f"Adam lr={config.lr}")
    opt += f", {config.lr_schedule} learning rate"
    if config.dropout:
        opt += f", dropout p={config.dropout} after each hidden layer"
    md = f"""# {TITLE}

**Question.** What does the L2 penalty do to the weights, the train/test gap and the test accuracy?

## Setup
- Data: Fashion-MNIST classes {config.classes} ({', '.join(data.class_names)}), {data.note}; m = {m}.
- Model: `make_mlp(784, {tuple(config.hidden)}, {data.num_classes}, "{config.activation}", "{config.init}")`
  (4 layers), the same initial weights for every γ (seed {config.seed}).
- Cost: data term (`{config.loss}`) + γ/(2m)·ΣW² over the weights (biases are not penalized); its gradient
  adds (γ/m)·W, so the optimizer's weight decay on the weights is γ/m.
- One optimizer for every γ: {opt}, mini-batch {config.batch_size}, {epochs} epochs.
- Plotted and tabulated losses are the data term only (no penalty), so runs are comparable.

## Results
{markdown_table(rows, cols)}
## Observations (computed from this run)
{chr(10).join(obs['lines'])}

## Figures
""" + "\n".join(f"![{f}]({f})" for f in figures) + "\n"
    lab.write_report(md)
