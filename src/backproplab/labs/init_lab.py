"""Lab: weight initialization (all-zeros, small, large, Xavier, He) on a 3-layer MLP.

Question: why does the starting point matter? All-zeros makes every hidden unit compute the
same function and receive the same gradient, so they stay identical forever (the symmetry
problem); tiny weights shrink the signal layer by layer; large weights blow it up (saturating
sigmoid/tanh, huge ReLU logits); Xavier/LeCun (Var W = 1/fan_in) and He (Var W = 2/fan_in)
keep the activations' scale roughly constant through the layers.

The lab records per-layer activation mean/std at initialization, trains each init with the
same optimizer, and measures the symmetry of the all-zeros model directly: the largest
difference between any two hidden units' incoming weights and outputs.

References: Glorot & Bengio (2010); He et al. (2015), "Delving Deep into Rectifiers";
https://pytorch.org/docs/stable/nn.init.html
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..models import linear_layer_indices, make_mlp
from ..nn import ACTIVATIONS, INIT_NAMES, Linear
from ..optim import SGD
from .common import LabRun, markdown_table, new_figure
from .mlp_common import (best_of, best_text, curve_rows, fastest_text, load_data, option, plot_curves,
                         reach_threshold, resolve_epochs, stalled_text, summarize, train_run)

NAME = "init"
TITLE = "Weight initialization: symmetry, vanishing and exploding signals"


@dataclass(frozen=True)
class Config:
    classes: str = option("0,1", "Fashion-MNIST class ids, comma list, or 'all'")
    epochs: int | None = option(None, "epochs per model; None: 15 (quick: 3)")
    seed: int = option(0, "one generator per model, seeded from this")
    quick: bool = option(False, "a random 1000 train / 500 test images and 3 epochs: seconds")
    data_dir: str | None = option(None, "folder with the IDX or the assignment's npz files; None = default")
    inits: tuple[str, ...] = option(("zeros", "small", "large", "xavier", "he"), "schemes of backproplab.nn.init")
    activation: str = option("relu", "activation of every hidden layer")
    # sigmoid(0) = 1/2 != 0, so its zero weights DO move, yet every unit moves identically
    symmetry_activation: str = option("sigmoid", "activation of an extra all-zeros run ('' = none)")
    hidden: tuple[int, ...] = option((64, 64), "3 layers = 2 hidden + the output layer")
    lr: float = option(0.05, "plain SGD, the same for every init")
    batch_size: int = option(128, "mini-batch size")
    large_scale: float = option(1.0, "std of the 'large' scheme, N(0, large_scale²)")
    loss: str = option("cross_entropy", "'cross_entropy' or 'mse' (the assignment's 1/(2m) convention)")
    reach_acc: float | None = option(None, "test accuracy that counts as learned; None: 0.98 for 2 classes, else 0.85")


def _models(config: Config) -> list[tuple[str, str, str]]:
    """(label, init, activation) of every run."""
    out = [(f"{i}", i, config.activation) for i in config.inits]
    if config.symmetry_activation:
        out.append((f"zeros+{config.symmetry_activation}", "zeros", config.symmetry_activation))
    return out


def _build(config, data, init, act, seed_key):
    rng = np.random.default_rng([config.seed, seed_key])
    model = make_mlp(data.x_train.shape[1], config.hidden, data.num_classes, act, init, rng=rng,
                     scale=config.large_scale)
    return model, rng


def activation_stats(model, x) -> list[dict]:
    """Mean and std of each hidden layer's output (after its activation) and of the logits, for input x (N, D)."""
    stats, h = [], x
    layers = list(model)
    k = 0
    for i, layer in enumerate(layers):
        h = layer.forward(h)
        after_act = not isinstance(layer, Linear)
        is_output = i == len(layers) - 1
        if after_act or is_output:
            k += 1
            stats.append({"layer": "logits" if is_output else f"hidden {k}", "mean": float(h.mean()),
                          "std": float(h.std()), "frac_zero": float(np.mean(h == 0))})
    return stats


def unit_symmetry(model, x) -> list[dict]:
    """For each hidden layer: max |difference| between any two units' incoming weights, biases and outputs.

    All zero means the layer's units are exact copies of each other (the symmetry problem).
    """
    out, h = [], x
    layers = list(model)
    idx = linear_layer_indices(model)
    for n, i in enumerate(idx[:-1]):  # hidden layers only
        lin = layers[i]
        h = layers[i + 1].forward(lin.forward(h))  # (N, units) after the activation
        w, b = lin.weight.data, lin.bias.data
        out.append({"layer": f"hidden {n + 1}",
                    "max_weight_diff": float(np.max(np.abs(w - w[:1]))),  # vs unit 0 (max over pairs <= 2x this)
                    "max_bias_diff": float(np.max(np.abs(b - b[0]))),
                    "max_output_diff": float(np.max(np.abs(h - h[:, :1]))),
                    "weight_norm": float(np.sqrt(np.vdot(w, w)))})
    return out


def run(config: Config, out_dir) -> dict:
    bad = [i for i in config.inits if i not in INIT_NAMES]
    if bad:
        raise ValueError(f"unknown init(s) {bad}; choose from {', '.join(INIT_NAMES)}")
    for a in (config.activation, config.symmetry_activation):
        if a and a not in ACTIVATIONS:
            raise ValueError(f"unknown activation {a!r}; choose from {', '.join(ACTIVATIONS)}")
    lab = LabRun(Path(out_dir), config)
    data = load_data(config)
    epochs = resolve_epochs(config, full=15, quick=3)
    threshold = reach_threshold(config, data.num_classes)
    x_probe = data.x_test[:1000]  # fixed images for the statistics and the symmetry check

    runs, rows, init_stats, symmetry = {}, {}, {}, {}
    for key, (label, init, act) in enumerate(_models(config)):
        def train(init=init, act=act, key=key):
            model, rng = _build(config, data, init, act, key)
            stats = activation_stats(model, x_probe)
            result = train_run(model, SGD(model.parameters(), lr=config.lr), data, loss=config.loss,
                               batch_size=config.batch_size, epochs=epochs, rng=rng)
            result["init_stats"] = stats
            result["symmetry_after"] = unit_symmetry(model, x_probe)
            return result

        r = lab.step(f"train-{label}", train)
        runs[label] = r
        init_stats[label] = r["init_stats"]
        symmetry[label] = r["symmetry_after"]
        rows[label] = summarize(label, r, threshold, data.chance, init=init, activation=act)
    rows = list(rows.values())

    stat_rows = [{"model": m, **s} for m, ss in init_stats.items() for s in ss]
    sym_rows = [{"model": m, **s} for m, ss in symmetry.items() for s in ss]
    lab.save_metrics("summary", rows)
    lab.save_metrics("curves", curve_rows(runs))
    lab.save_metrics("init_activation_stats", stat_rows)
    lab.save_metrics("symmetry_after_training", sym_rows)

    main = {l: r for l, r in runs.items() if "+" not in l}
    figures = [lab.savefig(plot_curves(main, f"3-layer MLP ({config.activation}), plain SGD lr={config.lr}"), "curves"),
               lab.savefig(_plot_stats(init_stats), "init_activation_stats"),
               lab.savefig(_plot_symmetry(symmetry), "symmetry")]
    if len(main) != len(runs):
        figures.insert(1, lab.savefig(plot_curves(runs, "all runs, including the all-zeros symmetry check"),
                                      "curves_with_symmetry_run"))

    obs = _observations(config, rows, symmetry, init_stats, threshold, data.chance)
    best_acc, best_model = best_of(rows)
    best = {"best_test_acc": best_acc, "model": best_model} if best_model else None
    zero_sym = {m: max(s["max_weight_diff"] for s in ss) for m, ss in symmetry.items() if m.startswith("zeros")}
    summary = (f"init: best test accuracy {best['best_test_acc']:.2%} ({best['model']}); all-zeros max |unit weight "
               f"difference| after training: " + ", ".join(f"{m} {v:.3g}" for m, v in zero_sym.items())) if best \
        else "init: no run finished an epoch"
    _report(lab, config, data, epochs, rows, stat_rows, sym_rows, obs, figures)
    return {"summary": summary, "best_test_acc": best["best_test_acc"] if best else None,
            "best_model": best_model, "epochs": epochs, "rows": rows, "figures": figures,
            "train_time_s": sum(r["train_time_s"] for r in rows), "symmetry": symmetry, "init_stats": init_stats}


def _plot_stats(init_stats):
    fig, axes = new_figure(1, 2, size=(11, 4))
    for label, stats in init_stats.items():
        xs = range(1, len(stats) + 1)
        axes[0, 0].plot(xs, [s["mean"] for s in stats], marker="o", label=label)
        axes[0, 1].plot(xs, [s["std"] for s in stats], marker="o", label=label)
    names = [s["layer"] for s in next(iter(init_stats.values()))]
    for ax, what in zip(axes[0], ("mean", "std")):
        ax.set_xticks(range(1, len(names) + 1), names)
        ax.set_title(f"activation {what} at initialization")
        ax.set_yscale("symlog", linthresh=1e-3)  # zeros init gives exact 0s: a log axis would drop them
        ax.grid(alpha=0.3)
    axes[0, 1].set_ylim(bottom=0)  # a std is never negative
    axes[0, 0].legend(fontsize=7)
    fig.subplots_adjust(hspace=0.45, wspace=0.3)  # fixed spacing: tight_layout costs a second full draw
    return fig


def _plot_symmetry(symmetry):
    fig, axes = new_figure(1, 1, size=(7, 3.8))
    ax = axes[0, 0]
    labels = list(symmetry)
    n_layers = len(symmetry[labels[0]])
    width = 0.8 / n_layers
    for k in range(n_layers):
        vals = [max(symmetry[m][k]["max_weight_diff"], 1e-12) for m in labels]
        ax.bar(np.arange(len(labels)) + k * width, vals, width, label=f"hidden {k + 1}")
    ax.set_xticks(np.arange(len(labels)) + width * (n_layers - 1) / 2, labels, rotation=20)
    ax.set_yscale("log")
    ax.set_ylabel("max |W_unit - W_unit0| after training")
    ax.set_title("Hidden units identical? (1e-12 floor = exactly identical)")
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3, axis="y")
    return fig


def _observations(config, rows, symmetry, init_stats, threshold, chance) -> list[str]:
    lines = [f"- {fastest_text(rows, threshold)}", f"- {best_text(rows)}", f"- {stalled_text(rows, chance)}"]
    by = {r["model"]: r for r in rows}
    if "he" in by and "zeros" in by and by["he"]["best_test_acc"] is not None:
        he, z = by["he"]["final_test_acc"], by["zeros"]["final_test_acc"]
        verdict = "beats" if he > z else ("ties with" if he == z else "does NOT beat")
        lines.append(f"- He {verdict} all-zeros at the last epoch: {he:.2%} vs {z:.2%} test accuracy.")
    for m, ss in symmetry.items():
        if not m.startswith("zeros"):
            continue
        diffs = [s["max_weight_diff"] for s in ss]
        outs = [s["max_output_diff"] for s in ss]
        norms = [s["weight_norm"] for s in ss]
        same = all(d == 0 for d in diffs) and all(o == 0 for o in outs)
        moved = any(n > 0 for n in norms)
        text = (f"- `{m}`: after training, max |difference| between hidden units = {max(diffs):.3g} (weights), "
                f"{max(outs):.3g} (outputs) -> units are {'exactly identical' if same else 'NOT identical'}; ")
        text += (f"the hidden weights moved (norms {', '.join(f'{n:.3g}' for n in norms)}) but every unit moved the same way."
                 if moved else "the hidden weights never moved from 0 (their gradient is exactly 0: with zero weights "
                               "the next layer sends back zero, and ReLU(0) = 0 blocks the rest).")
        lines.append(text)
    contrast = [m for m in symmetry if not m.startswith("zeros")]
    if contrast:
        m = contrast[-1]
        lines.append(f"- For contrast, `{m}`'s hidden units differ by up to "
                     f"{max(s['max_weight_diff'] for s in symmetry[m]):.3g} in their weights.")
    for m, stats in init_stats.items():
        logit = stats[-1]
        hidden_std = ", ".join(f"{s['std']:.3g}" for s in stats[:-1])
        lines.append(f"- `{m}` at init: hidden std {hidden_std}; logits std {logit['std']:.3g}.")
    return lines


def _report(lab, config, data, epochs, rows, stat_rows, sym_rows, obs, figures):
    cols = ["model", "final_train_loss", "final_train_acc", "final_test_acc", "best_test_acc", "best_epoch",
            "epochs_to_reach", "stalled", "train_time_s"]
    md = f"""# {TITLE}

**Question.** How does the initial weight distribution decide whether (and how fast) an MLP learns?

## Setup
- Data: Fashion-MNIST classes {config.classes} ({', '.join(data.class_names)}), {data.note}.
- Model: `make_mlp(784, {tuple(config.hidden)}, {data.num_classes}, "{config.activation}", init)` -- 3 layers
  (2 hidden + output); plus an all-zeros run with `{config.symmetry_activation}` to show that symmetric
  units can move and still stay identical.
- Inits (biases start at 0): zeros W = 0; small N(0, 0.01²); large N(0, {config.large_scale}²);
  xavier N(0, 1/fan_in) (the assignment's "Xavier", = LeCun normal); he N(0, 2/fan_in).
- Loss `{config.loss}`; plain SGD lr={config.lr}, mini-batch {config.batch_size}, {epochs} epochs, seed {config.seed},
  the same for every init (so the init is the only change).

## Results
{markdown_table(rows, cols)}
### Activations at initialization (first 1000 test images)
{markdown_table(stat_rows, ["model", "layer", "mean", "std", "frac_zero"])}
### Symmetry after training
{markdown_table(sym_rows, ["model", "layer", "max_weight_diff", "max_bias_diff", "max_output_diff", "weight_norm"])}
## Observations (computed from this run)
{chr(10).join(obs)}

## Figures
""" + "\n".join(f"![{f}]({f})" for f in figures) + "\n"
    lab.write_report(md)
