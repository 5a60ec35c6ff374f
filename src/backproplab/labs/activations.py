"""Lab: activations and vanishing gradients.

Question: how do identity, sigmoid, tanh, ReLU, leaky ReLU, PReLU and ELU train as the MLP
gets deeper, and why do deep sigmoid networks stall?

Every activation is trained on MLPs with several numbers of hidden layers (default 1, 2, 4, 5)
with plain mini-batch SGD. With ``record_grad_norms`` the Trainer keeps the norm of each
layer's weight gradient; at the deepest depth the lab plots them per layer on a log scale.
Backpropagation multiplies by σ'(z) <= 1/4 once per sigmoid layer, so the first layers of a
deep sigmoid net get gradients orders of magnitude smaller than the last layer's; ReLU's
derivative is 1 where a unit is active, so its layers get comparable gradients.

Reference: Glorot & Bengio (2010), "Understanding the difficulty of training deep feedforward
neural networks"; d2l.ai §5.4 (numerical stability and initialization).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..models import linear_layer_indices, make_mlp
from ..nn import ACTIVATIONS
from ..optim import SGD
from .common import LabRun, markdown_table, new_figure
from .mlp_common import (best_of, best_text, curve_rows, fastest_text, load_data, option, plot_curves,
                         reach_threshold, resolve_epochs, stalled_text, summarize, train_run)

NAME = "activations"
TITLE = "Activations and vanishing gradients"

#: learning rate of plain SGD per activation (chosen so the shallow nets train well; kept
#: the same at every depth so depth is the only change)
LR = {"identity": 0.05, "sigmoid": 0.5, "tanh": 0.1, "relu": 0.05, "leaky_relu": 0.05, "prelu": 0.05, "elu": 0.05}
#: weight init per activation: variance-preserving for each (LeCun/"xavier" N(0, 1/fan_in) for the
#: saturating ones, He N(0, 2/fan_in) for the rectifiers), so no activation is handicapped by its init
INIT = {"identity": "xavier", "sigmoid": "xavier", "tanh": "xavier", "relu": "he", "leaky_relu": "he",
        "prelu": "he", "elu": "he"}
#: a layer's gradient counts as vanished below this fraction of the output layer's
VANISH = 0.1


@dataclass(frozen=True)
class Config:
    classes: str = option("0,1", "Fashion-MNIST class ids, comma list, or 'all'")
    epochs: int | None = option(None, "epochs per model; None: 15 (quick: 3)")
    seed: int = option(0, "one generator per model, seeded from this")
    quick: bool = option(False, "a random 1000 train / 500 test images and 3 epochs: seconds")
    data_dir: str | None = option(None, "folder with the IDX or the assignment's npz files; None = default")
    activations: tuple[str, ...] = option(("identity", "sigmoid", "tanh", "relu", "leaky_relu", "prelu", "elu"),
                                            "activations to compare (backproplab.nn.ACTIVATIONS names)")
    depths: tuple[int, ...] = option((1, 2, 4, 5), "numbers of hidden layers")
    width: int = option(64, "units per hidden layer")
    batch_size: int = option(128, "plain mini-batch SGD")
    loss: str = option("cross_entropy", "'cross_entropy' or 'mse' (the assignment's 1/(2m) convention, one-hot targets)")
    reach_acc: float | None = option(None, "test accuracy that counts as learned; None: 0.98 for 2 classes, else 0.85")


def _check(config: Config) -> None:
    bad = [a for a in config.activations if a not in ACTIVATIONS or a not in LR]
    if bad:
        raise ValueError(f"unknown activation(s) {bad}; choose from {', '.join(LR)}")
    if not config.depths or any(d < 1 for d in config.depths):
        raise ValueError(f"depths must be positive numbers of hidden layers, got {config.depths}")


def _grad_profile(run: dict, n_linear: int, epoch: int) -> list[float]:
    """Weight-gradient norm of each Linear layer (first to output) at a 0-based epoch."""
    norms = run["history"]["grad_norms"]
    return [norms[name][epoch] for name in run["weight_names"]][:n_linear]


def run(config: Config, out_dir) -> dict:
    _check(config)
    lab = LabRun(Path(out_dir), config)
    data = load_data(config)
    epochs = resolve_epochs(config, full=15, quick=3)
    threshold = reach_threshold(config, data.num_classes)
    runs, rows = {}, []
    for depth in config.depths:
        for act in config.activations:
            label = f"{act}-d{depth}"

            def train(act=act, depth=depth):
                rng = np.random.default_rng([config.seed, depth, list(LR).index(act)])
                model = make_mlp(data.x_train.shape[1], (config.width,) * depth, data.num_classes, act, INIT[act],
                                 rng=rng)
                opt = SGD(model.parameters(), lr=LR[act])
                result = train_run(model, opt, data, loss=config.loss, batch_size=config.batch_size, epochs=epochs,
                                   rng=rng, record_grad_norms=True)
                result["weight_names"] = [f"{i}.weight" for i in linear_layer_indices(model)]
                return result

            r = lab.step(f"train-{label}", train)
            runs[label] = r
            row = summarize(label, r, threshold, data.chance, activation=act, depth=depth)
            if r["history"]["train_loss"]:
                first = _grad_profile(r, depth + 1, 0)
                last = _grad_profile(r, depth + 1, len(r["history"]["train_loss"]) - 1)
                row["grad_ratio_first_last_epoch1"] = first[0] / first[-1] if first[-1] > 0 else None
                row["grad_ratio_first_last_final"] = last[0] / last[-1] if last[-1] > 0 else None
            rows.append(row)

    lab.save_metrics("summary", rows)
    lab.save_metrics("curves", curve_rows(runs))
    grad_rows = []
    for label, r in runs.items():
        for e in range(len(r["history"]["train_loss"])):
            for k, name in enumerate(r["weight_names"]):
                grad_rows.append({"model": label, "epoch": e + 1, "layer": k + 1, "param": name,
                                  "grad_norm": r["history"]["grad_norms"][name][e]})
    lab.save_metrics("grad_norms", grad_rows)

    figures = []
    for depth in config.depths:
        sub = {r: runs[r] for r in runs if r.endswith(f"-d{depth}")}
        figures.append(lab.savefig(plot_curves(sub, f"{depth} hidden layer(s) x {config.width} units, plain SGD"),
                                   f"curves_depth{depth}"))
    deepest = max(config.depths)
    figures.append(lab.savefig(_plot_grad_norms(runs, config.activations, deepest), f"grad_norms_depth{deepest}"))
    figures.append(lab.savefig(_plot_ratio(rows, config), "grad_ratio"))

    obs = _observations(rows, runs, config, threshold, data.chance, deepest)
    best_acc, best_model = best_of(rows)
    best = {"best_test_acc": best_acc, "model": best_model} if best_model else None
    summary = (f"activations: best test accuracy {best['best_test_acc']:.2%} ({best['model']}); "
               + obs["vanish_short"]) if best else "activations: no run finished an epoch"
    _report(lab, config, data, epochs, threshold, rows, obs, figures, deepest)
    return {"summary": summary, "best_test_acc": best["best_test_acc"] if best else None,
            "best_model": best_model, "epochs": epochs, "rows": rows,
            "figures": figures, "train_time_s": sum(r["train_time_s"] for r in rows), "vanishing": obs["vanishing"]}


def _plot_grad_norms(runs, activations, depth):
    from matplotlib import cm

    n = len(activations)
    cols = min(4, n)
    rows_ = -(-n // cols)
    fig, axes = new_figure(rows_, cols, size=(4.2 * cols, 3.3 * rows_))
    for ax, act in zip(axes.flat, activations):
        r = runs[f"{act}-d{depth}"]
        epochs = range(1, len(r["history"]["train_loss"]) + 1)
        colors = [cm.viridis(k / max(1, depth)) for k in range(depth + 1)]
        for k, name in enumerate(r["weight_names"]):
            label = "output" if k == depth else f"layer {k + 1}"
            ys = np.maximum(np.asarray(r["history"]["grad_norms"][name], dtype=float), 1e-12)
            ax.plot(list(epochs), ys, color=colors[k], label=label, marker="o", ms=2.5)
        ax.set_yscale("log")
        ax.set_title(f"{act} ({depth} hidden layers)")
        ax.set_xlabel("epoch")
        ax.set_ylabel("‖∂L/∂W‖ (epoch mean)")
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=7)
    fig.suptitle("Gradient norm per layer during training (log scale): vanishing gradients", y=1.0)
    fig.subplots_adjust(hspace=0.45, wspace=0.45)  # fixed spacing: tight_layout costs a second full draw
    return fig


def _plot_ratio(rows, config):
    fig, axes = new_figure(1, 1, size=(6.5, 4))
    ax = axes[0, 0]
    for act in config.activations:
        pts = [(r["depth"], r.get("grad_ratio_first_last_epoch1")) for r in rows if r["activation"] == act]
        pts = [(d, v) for d, v in pts if v is not None and v > 0]
        if pts:
            ax.plot(*zip(*pts), marker="o", label=act)
    ax.axhline(VANISH, color="k", ls="--", lw=1, label=f"{VANISH:g} (vanished)")
    ax.set_yscale("log")
    ax.set_xlabel("hidden layers")
    ax.set_ylabel("‖∂L/∂W₁‖ / ‖∂L/∂W_out‖ (epoch 1)")
    ax.set_title("First-layer over output-layer gradient norm")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    return fig


def _observations(rows, runs, config, threshold, chance, deepest) -> dict:
    lines = []
    for depth in config.depths:
        sub = [r for r in rows if r["depth"] == depth]
        lines.append(f"- **{depth} hidden layer(s)**: {fastest_text(sub, threshold)} {best_text(sub)} "
                     f"{stalled_text(sub, chance)}")
    vanishing, vlines = {}, []
    for act in config.activations:
        r = runs[f"{act}-d{deepest}"]
        if not r["history"]["train_loss"]:
            continue
        prof = _grad_profile(r, deepest + 1, 0)
        out = prof[-1]
        gone = [k + 1 for k, v in enumerate(prof[:-1]) if out > 0 and v < VANISH * out]
        ratio = prof[0] / out if out > 0 else float("nan")
        vanishing[act] = {"ratio_first_last": ratio, "vanished_layers": gone, "profile_epoch1": prof}
        if gone:
            vlines.append(f"- `{act}`: layers {', '.join(map(str, gone))} of {deepest} got less than {VANISH:g}x the "
                          f"output layer's gradient norm in epoch 1; first/last = {ratio:.2e}.")
        else:
            vlines.append(f"- `{act}`: no layer below {VANISH:g}x the output layer's gradient norm in epoch 1; "
                          f"first/last = {ratio:.2e}.")
    van = [a for a, v in vanishing.items() if v["vanished_layers"]]
    short = (f"vanishing gradients at depth {deepest}: {', '.join(van)}" if van
             else f"no activation's first layer lost {1 / VANISH:g}x of its gradient at depth {deepest}")
    return {"depth_lines": lines, "vanish_lines": vlines, "vanishing": vanishing, "vanish_short": short}


def _report(lab, config, data, epochs, threshold, rows, obs, figures, deepest):
    cols = ["model", "final_train_loss", "final_train_acc", "final_test_acc", "best_test_acc", "best_epoch",
            "epochs_to_reach", "grad_ratio_first_last_epoch1", "stalled", "train_time_s"]
    hp = "\n".join(f"| {a} | {INIT[a]} | {LR[a]} |" for a in config.activations)
    md = f"""# {TITLE}

**Question.** How do the activations train as the MLP gets deeper, and where do gradients vanish?

## Setup
- Data: Fashion-MNIST classes {config.classes} ({', '.join(data.class_names)}), {data.note}; source: {data.source}.
- Model: `make_mlp(784, ({config.width},) * depth, {data.num_classes}, activation, init)` for depth in {list(config.depths)}
  (depth = number of hidden layers; the output layer is linear and gives logits).
- Loss: `{config.loss}`; optimizer: plain `SGD` (no momentum), mini-batch {config.batch_size}, {epochs} epochs, seed {config.seed}.
- Hyperparameters (same at every depth, so depth is the only change):

| activation | init | lr |
|---|---|---|
{hp}

Epoch 0 in the curves is the untrained model. Gradient norms are ‖∂L/∂W‖₂ of each Linear weight,
averaged over the steps of an epoch (`Trainer(record_grad_norms=True)`).

## Results
{markdown_table(rows, cols)}
## Observations (computed from this run)
{chr(10).join(obs['depth_lines'])}

**Vanishing gradients at {deepest} hidden layers** (ratio = first layer's weight-gradient norm over the
output layer's, epoch 1; "vanished" = below {VANISH:g}):
{chr(10).join(obs['vanish_lines'])}

Why: backpropagation multiplies the gradient by the activation's derivative once per layer.
σ'(z) = σ(z)(1-σ(z)) <= 1/4, so {deepest} sigmoid layers can shrink it by up to 4^{deepest} = {4 ** deepest};
tanh'(z) = 1 - tanh²(z) <= 1 (tanh outputs lie in (-1, 1), not (0, 1)); ReLU's derivative is exactly 1
wherever a unit is active.

## Figures
""" + "\n".join(f"![{f}]({f})" for f in figures) + "\n"
    lab.write_report(md)
