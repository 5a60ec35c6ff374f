"""Lab: L2 regularization on the 4-layer MLP -- with and without, and a sweep over γ.

Question (document 004, L2 regularization and experiment 4): what does the penalty γ/(2m)·Σθ²
do to the weights, the train/test gap and the test accuracy?

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

import functools
from dataclasses import dataclass

import numpy as np

from ..models import make_mlp
from ..nn import ACTIVATIONS, INIT_NAMES
from ..optim import l2_param_groups, make_optimizer
from ..optim.lr_scheduler import CosineAnnealingLR
from ..report import CodeText
from ..report.i18n import N_, _, _n, join
from .config import ConfigError, option, quick
from .l2_plots import plot_pair, plot_sweep, plot_weight_norm
from .training import (QUICK_TEST, QUICK_TRAIN, MLPConfig, best_of, best_text, curve_rows, data_facts,
                       data_sentence, in_english, load_data, plot_curves, reach_threshold, significant, stalled_text,
                       summarize, train_run)
from .training_problems import problems_section, training_findings

NAME = "l2"
TITLE = N_("L2 regularization: weight norm, train/test gap, γ sweep")
SUMMARY = N_("the 4-layer MLP with and without the L2 penalty, and a sweep over γ: weights, gap, accuracy")
QUESTIONS = ("004/Q6.4", "004/Q5")


@dataclass(frozen=True)
class Config(MLPConfig):
    num_epochs: int = option(20, "epochs per model", low=1, high=10000)
    hidden: tuple[int, ...] = option((256, 128, 64), "hidden widths (4 layers = 3 hidden + output)", min_len=1,
                                     each_low=1, each_high=100000)
    activation: str = option("relu", "activation of every hidden layer", choices=tuple(ACTIVATIONS))
    init: str = option("he", "weight init of every layer", choices=INIT_NAMES)
    optimizer: str = option("sgd", "one optimizer for every γ: 'sgd' (PyTorch's momentum form) or 'adam'",
                            choices=("sgd", "adam"))
    lr: float = option(0.02, "learning rate", low=0, low_open=True)
    momentum: float = option(0.9, "SGD's momentum (not used by Adam)", low=0, high=1, high_open=True)
    batch_size: int = option(128, "mini-batch size", low=1)
    lr_schedule: str = option("constant", "'cosine': CosineAnnealingLR down to 0 over the epochs",
                              choices=("constant", "cosine"))
    dropout: float = option(0.0, "drop probability after each hidden layer (the assignment has none)", low=0,
                            high=1, high_open=True)
    gamma: float = option(10.0, "γ of the 'with L2' run of the with/without comparison (one of --gammas)", low=0)
    gammas: tuple[float, ...] = option((0.0, 1.0, 10.0, 100.0, 1000.0), "the sweep (must hold 0); weight decay "
                                       "= γ/m", min_len=1, each_low=0)

    def check(self) -> None:
        super().check()
        if 0.0 not in self.gammas or self.gamma not in self.gammas:
            raise ConfigError(f"--gammas {','.join(f'{g:g}' for g in self.gammas)} must hold 0 (the run without "
                              f"L2) and --gamma {self.gamma:g} (the run with it)")

    def quick(self) -> "Config":
        return quick(self, num_epochs=3, train_size=QUICK_TRAIN, test_size=QUICK_TEST)


def label_of(gamma: float) -> str:
    return f"γ={gamma:g}"


def train_one(config: Config, gamma: float) -> dict:
    """The model trained with penalty γ (a task). Every γ starts from the same initial weights."""
    data = load_data(config)
    rng = np.random.default_rng(config.seed)
    model = make_mlp(data.x_train.shape[1], config.hidden, data.num_classes, config.activation, config.init,
                     rng=rng, dropout=config.dropout)
    hyper = {"lr": config.lr, **({"momentum": config.momentum} if config.optimizer == "sgd" else {})}
    opt = make_optimizer(config.optimizer, l2_param_groups(model, gamma, len(data.x_train)), **hyper)
    # CosineAnnealingLR stepped after epoch e sets lr₀·(1 + cos(π(e+1)/T_max))/2: 0 after the last epoch
    scheduler = CosineAnnealingLR(opt, T_max=config.num_epochs) if config.lr_schedule == "cosine" else None
    return train_run(model, opt, data, loss=config.loss, batch_size=config.batch_size, num_epochs=config.num_epochs,
                     rng=rng, scheduler=scheduler, record_steps=True, label=label_of(gamma))


def run(config: Config, out) -> dict:
    data = load_data(config)
    facts = data_facts(data, config)
    threshold = reach_threshold(config.reach_acc, data.num_classes)
    m = len(data.x_train)
    done = out.map({f"train-gamma{g:g}": functools.partial(train_one, config, g) for g in config.gammas}, label=NAME)
    runs = {label_of(g): done[f"train-gamma{g:g}"] for g in config.gammas}
    rows = []
    for g in config.gammas:
        r = runs[label_of(g)]
        h = r["history"]
        row = summarize(label_of(g), r, threshold, data.chance, gamma=g, weight_decay=g / m)
        row["final_weight_norm"] = h["weight_norm"][-1] if h["weight_norm"] else None
        row["final_gap"] = (h["test_loss"][-1] - h["train_loss"][-1]) if h["test_loss"] else None
        rows.append(row)
    out.save_metrics("summary", rows)
    out.save_metrics("curves", curve_rows(runs))
    findings = {label: training_findings(r, data.chance) for label, r in runs.items()}
    best_acc, best_model = best_of(rows)
    by = {r["gamma"]: r for r in rows}
    norms = {"without": by[0.0]["final_weight_norm"], "with": by[config.gamma]["final_weight_norm"],
             "gamma": config.gamma}
    result = {"best_test_acc": best_acc, "best_model": best_model, "num_epochs": config.num_epochs,
            "rows": rows, "runs": runs, "data": facts, "threshold": threshold, "findings": findings, "m": m,
            "weight_norm": norms, "train_time_s": sum(r["train_time_s"] for r in rows)}
    return {"summary": f"{NAME}: {in_english(summary_line(result))}", **result}


def summary_line(result: dict):
    """The lab's answer in one line (the index of `lab all` shows it in the report's language)."""
    if result["best_model"] is None:
        return _("no run finished an epoch")
    acc, model, wn = result["best_test_acc"], result["best_model"], result["weight_norm"]
    if wn["gamma"] == 0 or wn["without"] is None or wn["with"] is None:
        return _("best test accuracy {acc:.2%} (`{model}`)", acc=acc, model=model)
    return _("best test accuracy {acc:.2%} (`{model}`); Σ W² at the last epoch: {w0:.4g} without L2, {w1:.4g} with "
             "γ = {g:g}", acc=acc, model=model, w0=wn["without"], w1=wn["with"], g=wn["gamma"])


# -- sentences computed from the numbers (tested on made-up numbers) ----------------------------
def with_without_lines(r0: dict, r1: dict, gamma: float, n_test: int) -> list:
    """Weight norm, train/test gap and test accuracy at the last epoch, without (r0) and with (r1) L2."""
    if gamma == 0:
        return [_("The run \"with L2\" has γ = 0: there is nothing to compare.")]
    if r0["final_weight_norm"] is None or r1["final_weight_norm"] is None:
        return [_("Without against with L2: a run did not finish an epoch, so there is no comparison.")]
    w0, w1 = r0["final_weight_norm"], r1["final_weight_norm"]
    if w1 < w0:
        lines = [_("L2 (γ = {g:g}) lowers the weights' Σ W² at the last epoch: {w0:.4g} without, {w1:.4g} with "
                   "(×{ratio:.3g}).", g=gamma, w0=w0, w1=w1, ratio=w1 / w0)]
    else:
        lines = [_("L2 (γ = {g:g}) does NOT lower the weights' Σ W² at the last epoch: {w0:.4g} without, {w1:.4g} "
                   "with.", g=gamma, w0=w0, w1=w1)]
    g0, g1 = r0["final_gap"], r1["final_gap"]
    if g1 < g0:
        lines.append(_("Test minus training loss at the last epoch: {g0:.4g} without, {g1:.4g} with L2 (smaller "
                       "with L2).", g0=g0, g1=g1))
    else:
        lines.append(_("Test minus training loss at the last epoch: {g0:.4g} without, {g1:.4g} with L2 (NOT smaller "
                       "with L2).", g0=g0, g1=g1))
    a0, a1 = r0["final_test_acc"], r1["final_test_acc"]
    images = round(abs(a1 - a0) * n_test)
    if images == 0:
        lines.append(_("Test accuracy at the last epoch: {a:.2%} both without and with L2.", a=a0))
    else:
        word = _("higher") if a1 > a0 else _("lower")
        lines.append(_n("Test accuracy at the last epoch: {a0:.2%} without, {a1:.2%} with L2 ({word} with L2, "
                        "by {n} test image).", "Test accuracy at the last epoch: {a0:.2%} without, {a1:.2%} with L2 "
                        "({word} with L2, by {n} test images).", images, a0=a0, a1=a1, word=word))
    return lines


def sweep_lines(rows: list[dict]) -> list:
    """The γ sweep: where the last-epoch test accuracy is highest, and whether Σ W² falls as γ grows."""
    done = sorted((r for r in rows if r["final_test_acc"] is not None), key=lambda r: r["gamma"])
    if not done:
        return []
    top = max(r["final_test_acc"] for r in done)
    winners = [r["gamma"] for r in done if r["final_test_acc"] == top]
    values = join([_("γ = {g:g}: {a:.2%}", g=r["gamma"], a=r["final_test_acc"]) for r in done])
    if len(winners) > 1:
        lines = [_("Sweep: the last-epoch test accuracy is highest, {a:.2%}, for γ = {gs} (a tie); {values}.",
                   a=top, gs=join(winners), values=values)]
    else:
        lines = [_("Sweep: the last-epoch test accuracy is highest, {a:.2%}, for γ = {g:g}; {values}.", a=top,
                   g=winners[0], values=values)]
    if len(done) > 1:
        norms = [r["final_weight_norm"] for r in done]
        shown = join(significant(norms))
        if all(b < a for a, b in zip(norms, norms[1:])):
            lines.append(_("Σ W² at the last epoch falls at every larger γ: {norms}.", norms=shown))
        else:
            lines.append(_("Σ W² at the last epoch does NOT fall at every larger γ: {norms}.", norms=shown))
    return lines


def report(result: dict, config: Config, doc) -> None:
    rows, runs, m = result["rows"], result["runs"], result["m"]
    doc.para(_("**Question.** What does the L2 penalty do to the weights, the train/test gap and the test accuracy?"))
    doc.heading(_("Setup"))
    opt = (_("`SGD` with learning rate {lr:g} and momentum {mom:g}", lr=config.lr, mom=config.momentum)
           if config.optimizer == "sgd" else _("`Adam` with learning rate {lr:g}", lr=config.lr))
    schedule = (_("a constant learning rate") if config.lr_schedule == "constant"
                else _("the learning rate annealed to 0 on a cosine (`CosineAnnealingLR`, T_max = {e})",
                       e=config.num_epochs))
    doc.bullets([
        data_sentence(result["data"]) + _("m = {m}.", m=m),
        _("Model: `make_mlp(784, {hidden}, {k}, \"{act}\", \"{init}\")` ({n} layers); every γ starts from the "
          "same initial weights (seed {seed}).", hidden=tuple(config.hidden), k=result["data"]["num_classes"],
          act=config.activation, init=config.init, n=len(config.hidden) + 1, seed=config.seed),
        _("Cost: the data term (`{loss}`) plus γ/(2m)·Σ W² over the weights (biases are not penalized); its gradient "
          "adds (γ/m)·W, so the optimizer's weight decay on the weights is γ/m.", loss=config.loss),
        _("One optimizer for every γ: {opt}, {schedule}, mini-batch {b}, {e} epochs.", opt=opt, schedule=schedule,
          b=config.batch_size, e=config.num_epochs),
        _("Dropout with p = {p:g} after each hidden layer.", p=config.dropout) if config.dropout else None,
        _("The losses in the table and the figures are the data term only (no penalty), so the runs compare."),
    ])
    doc.heading(_("Results"))
    doc.table([("model", _("model"), ""), ("weight_decay", _("weight decay γ/m"), ".3g"),
               ("final_train_loss", _("final train loss"), ".4g"), ("final_test_loss", _("final test loss"), ".4g"),
               ("final_gap", _("test − train loss"), ".4g"), ("final_train_acc", _("final train acc."), ".2%"),
               ("final_test_acc", _("final test acc."), ".2%"), ("best_test_acc", _("best test acc."), ".2%"),
               ("final_weight_norm", _("Σ W²"), ".4g"), ("train_time_s", _("time (s)"), ".1f")],
              [{**r, "model": CodeText(r["model"])} for r in rows])
    problems_section(doc, result["findings"], runs)
    doc.heading(_("Observations (computed from this run)"))
    by = {r["gamma"]: r for r in rows}
    doc.bullets([best_text(rows), stalled_text(rows, result["data"]["chance"]),
                 *with_without_lines(by[0.0], by[config.gamma], config.gamma, result["data"]["n_test"]),
                 *sweep_lines(rows)])
    doc.heading(_("Figures"))
    pair = {label_of(0.0): runs[label_of(0.0)], label_of(config.gamma): runs[label_of(config.gamma)]}
    doc.plot(plot_pair(pair), "with_without_l2", _("Training and test loss (data term) and accuracy, without and "
                                                   "with L2."))
    doc.plot(plot_weight_norm(runs), "weight_norm", _("Σ W² over the weights after every epoch."))
    doc.plot(plot_sweep(rows), "gamma_sweep", _("Accuracy and Σ W² at the last epoch against γ."))
    doc.plot(plot_curves(runs, _("every γ")), "curves", _("Loss and accuracy per epoch for every γ."))

