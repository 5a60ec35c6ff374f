"""Lab: optimizers -- full-batch GD, mini-batch GD, SGD, momentum, RMSprop and Adam on a 4-layer MLP.

Question (document 004, gradient descent variants, optimizers and experiment 3): with the same
network and the same number of epochs, how do the batch size and the update rule change how
fast and how smoothly the loss falls, and what does each cost in time?

One epoch of full-batch GD is one step; mini-batch GD with batch b takes ceil(N/b) steps; SGD
(batch 1) takes N steps, so it runs on a random subsample (``sgd_subsample`` images) to keep
the lab short -- the report says so. Every step's loss, gradient norm and weight norm are kept:
they show the noise of small batches, and what happens inside an epoch whose end-of-epoch
evaluation looks like a collapse.

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

import functools
import os
from dataclasses import dataclass

import numpy as np

from ..models import make_mlp
from ..nn import ACTIVATIONS, INIT_NAMES
from ..optim import make_optimizer
from ..report import CodeText
from ..report.i18n import N_, _, join
from .config import option, quick
from .optimizers_plots import plot_steps, plot_time
from .optimizers_text import NOISE_MIN, adam_vs_sgd_text, batch_noise_text, noise_text, step_noise
from .training import (QUICK_TEST, QUICK_TRAIN, MLPConfig, best_of, best_text, curve_rows, data_facts,
                       data_sentence, fastest_text, in_english, load_data, plot_curves, reach_threshold,
                       stalled_text, summarize, train_run)
from .training_problems import problems_section, training_findings

NAME = "optimizers"
TITLE = N_("Optimizers: GD, mini-batch GD, SGD, momentum, RMSprop, Adam")
SUMMARY = N_("one 4-layer MLP trained by full-batch GD, mini-batch GD, SGD, momentum, RMSprop and Adam: speed, "
             "noise and time")
QUESTIONS = ("004/Q6.3", "004/Q3.1", "004/Q3.2", "004/Q3.3", "004/Q4.1", "004/Q4.2", "004/Q4.3")


@dataclass(frozen=True)
class Config(MLPConfig):
    num_epochs: int = option(15, "epochs per model", low=1, high=10000)
    hidden: tuple[int, ...] = option((128, 64, 32), "hidden widths (4 layers = 3 hidden + output)", min_len=1,
                                     each_low=1, each_high=100000)
    activation: str = option("relu", "activation of every hidden layer", choices=tuple(ACTIVATIONS))
    init: str = option("he", "weight init of every layer", choices=INIT_NAMES)
    batch_sizes: tuple[int, ...] = option((64, 128, 256, 512), "batch sizes of the mini-batch GD runs (plain SGD "
                                          "update)", each_low=1)
    batch_size: int = option(128, "batch of the momentum, RMSprop and Adam runs (and of the plain mini-batch run "
                                  "they are compared with)", low=1)
    lr_gd: float = option(0.05, "full-batch GD (0.1 and up oscillate on this net: the loss goes up on some steps)",
                          low=0, low_open=True)
    lr_sgd: float = option(0.05, "mini-batch GD, every batch size", low=0, low_open=True)
    lr_sgd1: float = option(0.005, "SGD with batch 1: one image's gradient is noisy, so a small step",
                            low=0, low_open=True)
    sgd_subsample: int | None = option(2000, "images SGD (batch 1) trains on (N steps per epoch); None = all",
                                       low=1)
    lr_momentum: float = option(0.1, "EMA momentum: V averages g, so lr is the step for a steady gradient",
                                low=0, low_open=True)
    beta: float = option(0.9, "momentum's β", low=0, high=1, high_open=True)
    lr_rmsprop: float = option(0.001, "RMSprop's learning rate", low=0, low_open=True)
    rmsprop_beta: float = option(0.9, "RMSprop's β (PyTorch calls it alpha)", low=0, high=1, high_open=True)
    lr_adam: float = option(0.001, "Adam's learning rate (betas 0.9, 0.999)", low=0, low_open=True)

    def quick(self) -> "Config":
        return quick(self, num_epochs=3, train_size=QUICK_TRAIN, test_size=QUICK_TEST,
                     sgd_subsample=QUICK_TRAIN // 2)  # batch-1 SGD: QUICK_TRAIN/2 Python-level steps per epoch


def plan_of(config: Config) -> list[dict]:
    """Every run: label, batch size (None = full batch), optimizer name and hyperparameters."""
    plan = [{"model": "GD (full batch)", "batch_size": None, "opt": "sgd", "hyper": {"lr": config.lr_gd}}]
    for b in config.batch_sizes:
        plan.append({"model": f"mini-batch b={b}", "batch_size": b, "opt": "sgd", "hyper": {"lr": config.lr_sgd}})
    plan.append({"model": "SGD b=1", "batch_size": 1, "opt": "sgd", "hyper": {"lr": config.lr_sgd1},
                 "subsample": True})
    b = config.batch_size
    plan.append({"model": f"momentum b={b}", "batch_size": b, "opt": "momentum",
                 "hyper": {"lr": config.lr_momentum, "beta": config.beta}})
    plan.append({"model": f"RMSprop b={b}", "batch_size": b, "opt": "rmsprop",
                 "hyper": {"lr": config.lr_rmsprop, "alpha": config.rmsprop_beta}})
    plan.append({"model": f"Adam b={b}", "batch_size": b, "opt": "adam", "hyper": {"lr": config.lr_adam}})
    return plan


def subsample_size(config: Config, n: int) -> int:
    return n if config.sgd_subsample is None else min(config.sgd_subsample, n)


def train_one(config: Config, p: dict) -> dict:
    """One run of the plan (a task). Every run starts from the same initial weights (seed ``config.seed``):
    only the optimizer and the batch size differ."""
    data = load_data(config)
    rng = np.random.default_rng(config.seed)
    model = make_mlp(data.x_train.shape[1], config.hidden, data.num_classes, config.activation, config.init,
                     rng=rng)
    xs = ys = None
    if p.get("subsample"):
        n = len(data.x_train)
        idx = np.random.default_rng([config.seed, 99]).permutation(n)[:subsample_size(config, n)]
        xs, ys = data.x_train[idx], data.y_train[idx]
    opt = make_optimizer(p["opt"], model.parameters(), **p["hyper"])
    return train_run(model, opt, data, loss=config.loss, batch_size=p["batch_size"], num_epochs=config.num_epochs,
                     rng=rng, record_steps=True, x_train=xs, y_train=ys, label=p["model"])


def _machine() -> dict:
    """CPU count and 1-minute load average while the lab ran, so a reader can judge the timings."""
    try:
        load = os.getloadavg()[0]
    except OSError:
        load = None
    return {"cpus": os.cpu_count(), "load": load}


def run(config: Config, out) -> dict:
    data = load_data(config)
    facts = data_facts(data, config)
    threshold = reach_threshold(config.reach_acc, data.num_classes)
    plan = plan_of(config)
    done = out.map({f"train-{p['model']}": functools.partial(train_one, config, p) for p in plan}, label=NAME)
    runs = {p["model"]: done[f"train-{p['model']}"] for p in plan}
    rows = []
    for p in plan:
        r = runs[p["model"]]
        row = summarize(p["model"], r, threshold, data.chance, optimizer=p["opt"],
                        batch_size=p["batch_size"] or r["n_train"], lr=p["hyper"]["lr"], n_train=r["n_train"],
                        steps_per_epoch=r["steps_per_epoch"])
        row["time_per_epoch_s"] = r["train_time_s"] / max(1, len(r["history"]["train_loss"]))
        row["step_noise"] = step_noise(r["history"]["step_loss"], r["steps_per_epoch"])
        row["steps_total"] = len(r["history"]["step_loss"])
        rows.append(row)
    out.save_metrics("summary", rows)
    out.save_metrics("curves", curve_rows(runs))
    out.save_metrics("steps", {m: {"loss": r["history"]["step_loss"], "grad_norm": r["history"]["step_grad_norm"],
                                   "weight_norm": r["step_weight_norm"]} for m, r in runs.items()})  # JSON only
    findings = {m: training_findings(r, data.chance) for m, r in runs.items()}
    best_acc, best_model = best_of(rows)
    by = {r["model"]: r for r in rows}
    b = config.batch_size
    adam, sgd = by.get(f"Adam b={b}"), by.get(f"mini-batch b={b}")
    numbers = None
    if adam and sgd and adam["final_train_loss"] is not None and sgd["final_train_loss"] is not None:
        numbers = {"adam_final_train_loss": adam["final_train_loss"], "sgd_final_train_loss": sgd["final_train_loss"],
                   "batch_size": b}
    result = {"best_test_acc": best_acc, "best_model": best_model, "num_epochs": config.num_epochs,
            "rows": rows, "runs": runs, "plan": plan, "data": facts, "threshold": threshold, "findings": findings,
            "adam_vs_sgd": numbers, "machine": _machine(), "sgd_subsample": subsample_size(config, facts["n_train"]),
            "train_time_s": sum(r["train_time_s"] for r in rows)}
    return {"summary": f"{NAME}: {in_english(summary_line(result))}", **result}


def summary_line(result: dict):
    """The lab's answer in one line (the index of `lab all` shows it in the report's language)."""
    if result["best_model"] is None:
        return _("no run finished an epoch")
    acc, model, nums = result["best_test_acc"], result["best_model"], result["adam_vs_sgd"]
    if not nums:
        return _("best test accuracy {acc:.2%} (`{model}`)", acc=acc, model=model)
    return _("best test accuracy {acc:.2%} (`{model}`); final training loss at batch {b}: Adam {a:.4g}, plain "
             "mini-batch SGD {s:.4g}", acc=acc, model=model, b=nums["batch_size"], a=nums["adam_final_train_loss"],
             s=nums["sgd_final_train_loss"])


# -- report ---------------------------------------------------------------------------------------
def _hyper_text(p: dict) -> str:
    return ", ".join(f"{k}={v:g}" for k, v in p["hyper"].items() if k != "lr")


def observations(result: dict, config: Config) -> list:
    rows = result["rows"]
    by = {r["model"]: r for r in rows}
    b = config.batch_size
    lines = [fastest_text(rows, result["threshold"]), best_text(rows), stalled_text(rows, result["data"]["chance"]),
             adam_vs_sgd_text(by.get(f"Adam b={b}"), by.get(f"mini-batch b={b}"), b),
             noise_text(rows), batch_noise_text(rows)]
    timed = sorted(rows, key=lambda r: r["time_per_epoch_s"])
    times = join([_("`{m}` {t:.2f} s", m=r["model"], t=r["time_per_epoch_s"]) for r in timed])
    machine = result["machine"]
    lines.append(_("Wall time per epoch (training and evaluation): {times}. Measured on {cpus} CPUs with a 1-minute "
                   "load average of {load:.1f} while the lab ran; other jobs on the machine make these times noisy.",
                   times=times, cpus=machine["cpus"], load=machine["load"] if machine["load"] is not None else float("nan")))
    n, sub_n = result["data"]["n_train"], result["sgd_subsample"]
    if sub_n < n:
        lines.append(_("SGD (batch 1) trained on a random subsample of {s} of the {n} training images ({s} steps per "
                       "epoch); its curves are not on the same data as the others'.", s=sub_n, n=n))
    return lines


def report(result: dict, config: Config, doc) -> None:
    rows, runs, plan = result["rows"], result["runs"], result["plan"]
    doc.para(_("**Question.** Same network, same epochs: how do the batch size and the update rule change speed, "
               "smoothness and time?"))
    doc.heading(_("Setup"))
    doc.bullets([
        data_sentence(result["data"]),
        _("Model: `make_mlp(784, {hidden}, {k}, \"{act}\", \"{init}\")` ({n} layers: {h} hidden and the output "
          "layer); every run starts from the same initial weights (seed {seed}).", hidden=tuple(config.hidden),
          k=result["data"]["num_classes"], act=config.activation, init=config.init, n=len(config.hidden) + 1,
          h=len(config.hidden), seed=config.seed),
        _("Loss `{loss}`; {e} epochs for every run.", loss=config.loss, e=config.num_epochs),
    ])
    doc.table([("model", _("run"), ""), ("opt", _("optimizer"), ""), ("batch", _("batch"), "d"),
               ("lr", _("learning rate"), "g"), ("other", _("other hyperparameters"), "")],
              [{"model": CodeText(p["model"]), "opt": CodeText(p["opt"]),
                "batch": p["batch_size"] or result["data"]["n_train"], "lr": p["hyper"]["lr"],
                "other": CodeText(_hyper_text(p)) if _hyper_text(p) else None} for p in plan])
    doc.para(_("Update rules, with g the gradient of the mini-batch loss:"))
    doc.math(r"\text{momentum: } V \leftarrow \beta V + (1-\beta) g,\quad \theta \leftarrow \theta - \mathrm{lr}\,V")
    doc.math(r"\text{RMSprop: } S \leftarrow \beta S + (1-\beta) g^2,\quad "
             r"\theta \leftarrow \theta - \mathrm{lr}\,g/(\sqrt{S}+\epsilon)")
    doc.math(r"\text{Adam: } \hat V = \frac{V}{1-\beta_1^t},\ \hat S = \frac{S}{1-\beta_2^t},\quad "
             r"\theta \leftarrow \theta - \mathrm{lr}\,\hat V/(\sqrt{\hat S}+\epsilon)")
    doc.para(_("The second-moment accumulator is S; the assignment's text writes V there."))
    doc.heading(_("Results"))
    doc.table([("model", _("run"), ""), ("steps_per_epoch", _("steps per epoch"), "d"),
               ("final_train_loss", _("final train loss"), ".4g"), ("final_train_acc", _("final train acc."), ".2%"),
               ("final_test_acc", _("final test acc."), ".2%"), ("best_test_acc", _("best test acc."), ".2%"),
               ("epochs_to_reach", _("epochs to {t:.0%}", t=result["threshold"]), "d"),
               ("step_noise", _("step noise"), ".3g"), ("train_time_s", _("time (s)"), ".1f"),
               ("stalled", _("stalled"), "")],
              [{**r, "model": CodeText(r["model"])} for r in rows],
              caption=_("Step noise: the standard deviation of ln(step loss) around a straight-line trend over the "
                        "last epoch's steps (at least {k}); empty where a run has fewer steps.", k=NOISE_MIN))
    problems_section(doc, result["findings"], runs)
    doc.heading(_("Observations (computed from this run)"))
    doc.bullets(observations(result, config))
    doc.heading(_("Figures"))
    doc.plot(plot_curves(runs, _("4-layer MLP {hidden}, {act}/{init}", hidden=tuple(config.hidden),
                                 act=config.activation, init=config.init)), "curves",
             _("Loss and accuracy per epoch, one line per run."))
    doc.plot(plot_steps(runs), "step_loss", _("The loss of every optimizer step (the mini-batch's loss), log scale; "
                                              "dots: the epoch's training loss."))
    doc.plot(plot_time(rows), "wall_time", _("Wall time of each run, training and per-epoch evaluation."))

