"""Lab: optimizers -- full-batch GD, mini-batch GD, SGD, momentum, RMSprop and Adam on a 4-layer MLP.

Question: with the same network and the same number of epochs, how do the batch size and the
update rule change how fast and how smoothly the loss falls, and what does each cost in time?

One epoch of full-batch GD is one step; mini-batch GD with batch b takes ceil(N/b) steps; SGD
(batch 1) takes N steps, so it runs on a random subsample (``sgd_subsample`` images) to keep
the lab short -- the report says so. The per-step losses show the noise of small batches.

Update rules (g = gradient of the mini-batch loss):
    SGD        θ ← θ - lr·g
    momentum   V ← βV + (1-β)g;       θ ← θ - lr·V              (the assignment's EMA form)
    RMSprop    S ← βS + (1-β)g²;      θ ← θ - lr·g/(√S + ε)     (S, the second moment; not V)
    Adam       V ← β₁V + (1-β₁)g;  S ← β₂S + (1-β₂)g²;  V̂ = V/(1-β₁ᵗ), Ŝ = S/(1-β₂ᵗ);
               θ ← θ - lr·V̂/(√Ŝ + ε)

References: Ruder (2016), "An overview of gradient descent optimization algorithms";
Kingma & Ba (2015); https://pytorch.org/docs/stable/optim.html
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..models import make_mlp
from ..optim import SGD, Adam, Momentum, RMSprop
from .common import LabRun, markdown_table, new_figure
from .mlp_common import (best_of, best_text, curve_rows, fastest_text, load_data, machine_note, option, plot_curves,
                         reach_threshold, resolve_epochs, stalled_text, summarize, train_run)

NAME = "optimizers"
TITLE = "Optimizers: GD, mini-batch GD, SGD, momentum, RMSprop, Adam"


@dataclass(frozen=True)
class Config:
    classes: str = option("0,1", "Fashion-MNIST class ids, comma list, or 'all'")
    epochs: int | None = option(None, "epochs per model; None: 15 (quick: 3)")
    seed: int = option(0, "every run starts from the same initial weights")
    quick: bool = option(False, "a random 1000 train / 500 test images and 3 epochs: seconds")
    data_dir: str | None = option(None, "folder with the IDX or the assignment's npz files; None = default")
    hidden: tuple[int, ...] = option((128, 64, 32), "4 layers = 3 hidden + output")
    activation: str = option("relu", "activation of every hidden layer")
    init: str = option("he", "weight init of every layer (backproplab.nn.init names)")
    batch_sizes: tuple[int, ...] = option((64, 128, 256, 512), "mini-batch GD runs (plain SGD update)")
    batch_size: int = option(128, "batch of the momentum, RMSprop and Adam runs (and the 'plain SGD' they are compared with)")
    lr_gd: float = option(0.05, "full-batch GD (0.1 and up oscillate on this net: the loss goes up on some steps)")
    lr_sgd: float = option(0.05, "mini-batch GD, every batch size")
    lr_sgd1: float = option(0.005, "SGD with batch 1: one image's gradient is noisy, so a small step")
    sgd_subsample: int = option(2000, "images SGD (batch 1) trains on (N steps per epoch); 0 = all")
    lr_momentum: float = option(0.1, "EMA momentum: V averages g, so lr is the step for a steady gradient")
    beta: float = option(0.9, "momentum's β")
    lr_rmsprop: float = option(0.001, "RMSprop's learning rate")
    rmsprop_beta: float = option(0.9, "RMSprop's β (PyTorch calls it alpha)")
    lr_adam: float = option(0.001, "Adam's learning rate (betas 0.9, 0.999)")
    loss: str = option("cross_entropy", "'cross_entropy' or 'mse' (the assignment's 1/(2m) convention)")
    reach_acc: float | None = option(None, "test accuracy that counts as learned; None: 0.98 for 2 classes, else 0.85")


def _plan(config: Config) -> list[dict]:
    """Every run: label, batch size, optimizer name and hyperparameters."""
    plan = [{"model": "GD (full batch)", "batch_size": None, "opt": "sgd", "lr": config.lr_gd}]
    for b in config.batch_sizes:
        plan.append({"model": f"mini-batch b={b}", "batch_size": b, "opt": "sgd", "lr": config.lr_sgd})
    plan.append({"model": "SGD b=1", "batch_size": 1, "opt": "sgd", "lr": config.lr_sgd1, "subsample": True})
    b = config.batch_size
    plan.append({"model": f"momentum b={b}", "batch_size": b, "opt": "momentum", "lr": config.lr_momentum,
                 "beta": config.beta})
    plan.append({"model": f"RMSprop b={b}", "batch_size": b, "opt": "rmsprop", "lr": config.lr_rmsprop,
                 "beta": config.rmsprop_beta})
    plan.append({"model": f"Adam b={b}", "batch_size": b, "opt": "adam", "lr": config.lr_adam, "betas": "(0.9, 0.999)"})
    return plan


def _optimizer(p: dict, params):
    if p["opt"] == "sgd":
        return SGD(params, lr=p["lr"])
    if p["opt"] == "momentum":
        return Momentum(params, lr=p["lr"], beta=p["beta"])
    if p["opt"] == "rmsprop":
        return RMSprop(params, lr=p["lr"], alpha=p["beta"])
    return Adam(params, lr=p["lr"])


def step_noise(step_loss: list[float], steps_per_epoch: int) -> float | None:
    """Relative spread (std/mean) of the step losses of the last epoch (at least the last 5 steps).

    Near 0 for full-batch GD (every step sees the same data); large for small batches,
    whose losses depend on which images the batch drew.
    """
    tail = np.asarray(step_loss[-max(5, steps_per_epoch):], dtype=float)
    tail = tail[np.isfinite(tail)]
    if len(tail) < 2 or tail.mean() <= 0:
        return None
    return float(tail.std() / tail.mean())


def run(config: Config, out_dir) -> dict:
    lab = LabRun(Path(out_dir), config)
    data = load_data(config)
    epochs = resolve_epochs(config, full=15, quick=3)
    threshold = reach_threshold(config, data.num_classes)
    n = len(data.x_train)
    sub_n = n if config.sgd_subsample <= 0 else min(config.sgd_subsample, n)
    if config.quick:
        sub_n = min(sub_n, n // 2)  # keep batch-1 SGD (sub_n Python-level steps per epoch) to a second
    sub_idx = np.random.default_rng([config.seed, 99]).permutation(n)[:sub_n]

    plan = _plan(config)
    runs, rows = {}, []
    for p in plan:
        def train(p=p):
            # the same initial weights for every run: only the optimizer and the batch size differ
            rng = np.random.default_rng(config.seed)
            model = make_mlp(data.x_train.shape[1], config.hidden, data.num_classes, config.activation, config.init,
                             rng=rng)
            xs, ys = (data.x_train[sub_idx], data.y_train[sub_idx]) if p.get("subsample") else (None, None)
            return train_run(model, _optimizer(p, model.parameters()), data, loss=config.loss,
                             batch_size=p["batch_size"], epochs=epochs, rng=rng, record_steps=True,
                             x_train=xs, y_train=ys)

        r = lab.step(f"train-{p['model']}", train)
        runs[p["model"]] = r
        row = summarize(p["model"], r, threshold, data.chance, optimizer=p["opt"], batch_size=p["batch_size"] or "full",
                        lr=p["lr"], n_train=r["n_train"], steps_per_epoch=r["steps_per_epoch"])
        row["time_per_epoch_s"] = r["train_time_s"] / max(1, len(r["history"]["train_loss"]))
        row["step_noise"] = step_noise(r["history"]["step_loss"], r["steps_per_epoch"])
        rows.append(row)

    lab.save_metrics("summary", rows)
    lab.save_metrics("curves", curve_rows(runs))
    lab.save_metrics("step_loss", {m: r["history"]["step_loss"] for m, r in runs.items()})  # JSON only (long)

    figures = [lab.savefig(plot_curves(runs, f"4-layer MLP {tuple(config.hidden)}, {config.activation}/{config.init}"),
                           "curves"),
               lab.savefig(_plot_steps(runs), "step_loss"),
               lab.savefig(_plot_time(rows), "wall_time")]
    obs = _observations(config, rows, threshold, data.chance, sub_n, n)
    best_acc, best_model = best_of(rows)
    best = {"best_test_acc": best_acc, "model": best_model} if best_model else None
    summary = (f"optimizers: best test accuracy {best['best_test_acc']:.2%} ({best['model']}); "
               f"{obs['adam_vs_sgd']}") if best else "optimizers: no run finished an epoch"
    _report(lab, config, data, epochs, rows, plan, obs, figures, sub_n, n)
    return {"summary": summary, "best_test_acc": best["best_test_acc"] if best else None,
            "best_model": best_model, "epochs": epochs, "rows": rows, "figures": figures,
            "train_time_s": sum(r["train_time_s"] for r in rows), "adam_vs_sgd": obs["adam_vs_sgd_numbers"]}


def _plot_steps(runs):
    """One panel per run: the loss of every step against epochs (noisy vs smooth), log scale."""
    n = len(runs)
    cols = 3
    nrows = -(-n // cols)
    fig, axes = new_figure(nrows, cols, size=(4.3 * cols, 2.9 * nrows))
    flat = list(axes.flat)
    ymin = min((min(v for v in r["history"]["step_loss"] if v > 0) for r in runs.values()
                if r["history"]["step_loss"]), default=1e-3)
    ymax = max((max(r["history"]["step_loss"]) for r in runs.values() if r["history"]["step_loss"]), default=1.0)
    for ax, (label, r) in zip(flat, runs.items()):
        sl = np.asarray(r["history"]["step_loss"], dtype=float)
        xs = np.arange(1, len(sl) + 1) / r["steps_per_epoch"]
        ax.plot(xs, np.maximum(sl, 1e-8), lw=0.5 if len(sl) > 500 else 1.0, alpha=0.8)
        ep = r["history"]["train_loss"]
        ax.plot(range(1, len(ep) + 1), ep, "k.", ms=4, label="epoch train loss")
        ax.set_yscale("log")
        ax.set_ylim(max(ymin, 1e-6), ymax * 1.5)
        ax.set_title(f"{label} ({r['steps_per_epoch']} steps/epoch)", fontsize=9)
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
    for ax in flat[n:]:
        ax.axis("off")
    flat[0].legend(fontsize=7)
    fig.suptitle("Loss of every optimizer step (mini-batch loss): noisy vs smooth", y=1.0)
    fig.subplots_adjust(hspace=0.45, wspace=0.3)  # fixed spacing: tight_layout costs a second full draw
    return fig


def _plot_time(rows):
    fig, axes = new_figure(1, 1, size=(8, 3.6))
    ax = axes[0, 0]
    labels = [r["model"] for r in rows]
    ax.barh(labels, [r["train_time_s"] for r in rows], color="tab:blue")
    for i, r in enumerate(rows):
        ax.text(r["train_time_s"], i, f" {r['train_time_s']:.1f}s", va="center", fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel("wall time of training, incl. per-epoch evaluation (s)")
    ax.set_title("Wall time per run")
    ax.grid(alpha=0.3, axis="x")
    return fig


def _observations(config, rows, threshold, chance, sub_n, n) -> dict:
    lines = [f"- {fastest_text(rows, threshold)}", f"- {best_text(rows)}", f"- {stalled_text(rows, chance)}"]
    by = {r["model"]: r for r in rows}
    b = config.batch_size
    adam, sgd = by.get(f"Adam b={b}"), by.get(f"mini-batch b={b}")
    numbers = None
    if adam and sgd and adam["final_train_loss"] is not None and sgd["final_train_loss"] is not None:
        a, s = adam["final_train_loss"], sgd["final_train_loss"]
        verdict = "lower than" if a < s else ("equal to" if a == s else "NOT lower than")
        text = (f"Adam's final training loss ({a:.4g}) is {verdict} plain mini-batch SGD's ({s:.4g}) "
                f"at the same batch ({b}) and epoch budget")
        numbers = {"adam_final_train_loss": a, "sgd_final_train_loss": s, "batch_size": b}
        lines.append(f"- {text}.")
    else:
        text = "Adam vs plain SGD: not both runs finished, no comparison"
        lines.append(f"- {text}.")
    noisy = sorted((r for r in rows if r["step_noise"] is not None), key=lambda r: r["step_noise"])
    if noisy:
        lines.append("- Step noise (std/mean of the step losses over the last epoch, at least 5 steps): "
                     + ", ".join(f"`{r['model']}` {r['step_noise']:.3g}" for r in noisy)
                     + f"; smoothest `{noisy[0]['model']}`, noisiest `{noisy[-1]['model']}`.")
    timed = sorted(rows, key=lambda r: r["time_per_epoch_s"])
    lines.append("- Wall time per epoch (training + evaluation): "
                 + ", ".join(f"`{r['model']}` {r['time_per_epoch_s']:.2f}s" for r in timed)
                 + f". Measured with {machine_note()}; other jobs on the machine make these times noisy.")
    if sub_n < n:
        lines.append(f"- SGD (batch 1) trained on a random subsample of {sub_n} of the {n} training images "
                     f"({sub_n} steps per epoch); its curves are not on the same data as the others'.")
    return {"lines": lines, "adam_vs_sgd": text, "adam_vs_sgd_numbers": numbers}


def _report(lab, config, data, epochs, rows, plan, obs, figures, sub_n, n):
    cols = ["model", "lr", "steps_per_epoch", "final_train_loss", "final_train_acc", "final_test_acc",
            "best_test_acc", "epochs_to_reach", "step_noise", "train_time_s", "stalled"]
    hp = "\n".join(f"| {p['model']} | {p['opt']} | {p['batch_size'] or 'full'} | {p['lr']} | "
                   f"{p.get('beta', p.get('betas', ''))} |" for p in plan)
    md = f"""# {TITLE}

**Question.** Same network, same epochs: how do batch size and update rule change speed, smoothness and time?

## Setup
- Data: Fashion-MNIST classes {config.classes} ({', '.join(data.class_names)}), {data.note}.
  SGD (batch 1) uses a random subsample of {sub_n} of the {n} training images.
- Model: `make_mlp(784, {tuple(config.hidden)}, {data.num_classes}, "{config.activation}", "{config.init}")`
  (4 layers = 3 hidden + output); every run starts from the same initial weights (seed {config.seed}).
- Loss `{config.loss}`; {epochs} epochs for every run.

| run | optimizer | batch | lr | β |
|---|---|---|---|---|
{hp}

Formulas: momentum V ← βV + (1-β)g, θ ← θ - lr·V; RMSprop S ← βS + (1-β)g², θ ← θ - lr·g/(√S+ε);
Adam V ← β₁V + (1-β₁)g, S ← β₂S + (1-β₂)g², θ ← θ - lr·V̂/(√Ŝ+ε) with V̂ = V/(1-β₁ᵗ), Ŝ = S/(1-β₂ᵗ).
(The second-moment accumulator is S; the assignment's text writes V there.)

## Results
{markdown_table(rows, cols)}
## Observations (computed from this run)
{chr(10).join(obs['lines'])}

## Figures
""" + "\n".join(f"![{f}]({f})" for f in figures) + "\n"
    lab.write_report(md)
