"""Lab: activations and vanishing gradients.

Question (document 004, the activation functions part): how do identity, sigmoid, tanh, ReLU,
leaky ReLU, PReLU and ELU train as the MLP gets deeper, and why do deep sigmoid networks stall?

Every activation is trained on MLPs with several numbers of hidden layers (default 1, 2, 4, 5)
with plain mini-batch SGD. The Trainer keeps the norm of each layer's weight gradient
(``record_grad_norms``); at the deepest depth the lab plots them per layer on a log scale.
Backpropagation multiplies by σ'(z) <= 1/4 once per sigmoid layer, so the first layers of a
deep sigmoid net get gradients orders of magnitude smaller than the last layer's; ReLU's
derivative is 1 where a unit is active, so its layers get comparable gradients.

Reference: Glorot & Bengio (2010), "Understanding the difficulty of training deep feedforward
neural networks"; d2l.ai §5.4 (numerical stability and initialization).
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from ..nn import ACTIVATIONS
from ..report.i18n import N_, _, join
from .config import ConfigError, option, quick
from .plotting import epoch_axis, new_figure
from .training import (QUICK_TEST, QUICK_TRAIN, MLPConfig, best_of, best_text, curve_rows, data_facts,
                       data_sentence, fastest_text, in_english, load_data, plot_curves, reach_threshold, stalled_text,
                       summarize, train_run)
from .training_problems import problems_section, training_findings

NAME = "activations"
TITLE = N_("Activations and vanishing gradients")
SUMMARY = N_("seven activations on MLPs of 1-5 hidden layers: which train, and where gradients vanish")
QUESTIONS = ("004/A1",)

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
class Config(MLPConfig):
    num_epochs: int = option(15, "epochs per model", low=1, high=10000)
    activations: tuple[str, ...] = option(tuple(LR), "activations to compare", min_len=1, each_choices=tuple(LR))
    depths: tuple[int, ...] = option((1, 2, 4, 5), "numbers of hidden layers", min_len=1, each_low=1,
                                     each_high=50)
    width: int = option(64, "units per hidden layer", low=1, high=100000)
    batch_size: int = option(128, "plain mini-batch SGD", low=1)

    def check(self) -> None:
        super().check()
        missing = [a for a in self.activations if a not in ACTIVATIONS]
        if missing:
            raise ConfigError(f"--activations: {missing} are not in the library's ACTIVATIONS")

    def quick(self) -> "Config":
        return quick(self, num_epochs=3, train_size=QUICK_TRAIN, test_size=QUICK_TEST)


def train_one(config: Config, act: str, depth: int) -> dict:
    """One MLP with ``depth`` hidden layers of ``act``, trained (a task of the run; seeds its own generator)."""
    from ..models import linear_layer_indices, make_mlp
    from ..optim import SGD

    data = load_data(config)
    rng = np.random.default_rng([config.seed, depth, list(LR).index(act)])
    model = make_mlp(data.x_train.shape[1], (config.width,) * depth, data.num_classes, act, INIT[act], rng=rng)
    opt = SGD(model.parameters(), lr=LR[act])
    result = train_run(model, opt, data, loss=config.loss, batch_size=config.batch_size, num_epochs=config.num_epochs,
                       rng=rng, record_grad_norms=True, record_steps=True, label=f"{act}-d{depth}")
    result["weight_names"] = [f"{i}.weight" for i in linear_layer_indices(model)]
    return result


def grad_profile(run: dict, epoch: int) -> list[float]:
    """Weight-gradient norm of each Linear layer (first to output) at a 0-based epoch."""
    norms = run["history"]["grad_norms"]
    return [norms[name][epoch] for name in run["weight_names"]]


def vanishing(profile: list[float], threshold: float = VANISH) -> list[int]:
    """1-based hidden layers whose gradient norm is below ``threshold`` × the output layer's."""
    out = profile[-1]
    return [k + 1 for k, v in enumerate(profile[:-1]) if out > 0 and v < threshold * out]


def run(config: Config, out) -> dict:
    data = load_data(config)
    facts = data_facts(data, config)
    threshold = reach_threshold(config.reach_acc, data.num_classes)
    labels = {f"{act}-d{depth}": (act, depth) for depth in config.depths for act in config.activations}
    runs = out.map({f"train-{label}": functools.partial(train_one, config, act, depth)
                    for label, (act, depth) in labels.items()}, label=NAME)
    runs = {label: runs[f"train-{label}"] for label in labels}
    rows = []
    for label, (act, depth) in labels.items():
        r = runs[label]
        row = summarize(label, r, threshold, data.chance, activation=act, depth=depth)
        if r["history"]["train_loss"]:
            first, last = grad_profile(r, 0), grad_profile(r, len(r["history"]["train_loss"]) - 1)
            row["grad_ratio_first_last_epoch1"] = first[0] / first[-1] if first[-1] > 0 else None
            row["grad_ratio_first_last_final"] = last[0] / last[-1] if last[-1] > 0 else None
            row["vanished_layers"] = vanishing(first)
        rows.append(row)
    out.save_metrics("summary", rows)
    out.save_metrics("curves", curve_rows(runs))
    out.save_metrics("grad_norms", [
        {"model": label, "epoch": e + 1, "layer": k + 1, "param": name, "grad_norm": r["history"]["grad_norms"][name][e]}
        for label, r in runs.items() for e in range(len(r["history"]["train_loss"]))
        for k, name in enumerate(r["weight_names"])])
    findings = {label: training_findings(r, data.chance) for label, r in runs.items()}
    best_acc, best_model = best_of(rows)
    deepest = max(config.depths)
    vanished = [a for a in config.activations if any(r["activation"] == a and r["depth"] == deepest
                                                     and r.get("vanished_layers") for r in rows)]
    result = {"best_test_acc": best_acc, "best_model": best_model, "num_epochs": config.num_epochs,
            "rows": rows, "runs": runs, "data": facts, "threshold": threshold, "deepest": deepest,
            "vanished": vanished, "findings": findings, "train_time_s": sum(r["train_time_s"] for r in rows)}
    return {"summary": f"{NAME}: {in_english(summary_line(result))}", **result}


def summary_line(result: dict):
    """The lab's answer in one line (the index of `lab all` shows it in the report's language)."""
    if result["best_model"] is None:
        return _("no run finished an epoch")
    acts = join(result["vanished"], code=True) if result["vanished"] else _("none")
    return _("best test accuracy {acc:.2%} (`{model}`); vanishing gradients at depth {d}: {acts}",
             acc=result["best_test_acc"], model=result["best_model"], d=result["deepest"], acts=acts)


# -- report ---------------------------------------------------------------------------------------
def vanish_lines(result: dict, config: Config) -> list:
    deepest, lines = result["deepest"], []
    for act in config.activations:
        r = result["runs"][f"{act}-d{deepest}"]
        if not r["history"]["train_loss"]:
            continue
        prof = grad_profile(r, 0)
        ratio = prof[0] / prof[-1] if prof[-1] > 0 else float("nan")
        gone = vanishing(prof)
        if gone:
            lines.append(_("`{act}`: layers {layers} of {depth} got less than {v:g}× the output layer's gradient norm "
                           "in epoch 1; first/last = {ratio:.2e}.", act=act, layers=join(gone), depth=deepest,
                           v=VANISH, ratio=ratio))
        else:
            lines.append(_("`{act}`: no layer below {v:g}× the output layer's gradient norm in epoch 1; first/last "
                           "= {ratio:.2e}.", act=act, v=VANISH, ratio=ratio))
    return lines


def report(result: dict, config: Config, doc) -> None:
    rows, deepest = result["rows"], result["deepest"]
    doc.para(_("**Question.** How do the activations train as the MLP gets deeper, and where do gradients vanish?"))
    doc.heading(_("Setup"))
    doc.bullets([
        data_sentence(result["data"]),
        _("Model: `make_mlp(784, ({w},) * depth, {k}, activation, init)` for depth in {depths} (depth = number of "
          "hidden layers; the output layer is linear and gives logits).", w=config.width,
          k=result["data"]["num_classes"], depths=join(config.depths)),
        _("Loss `{loss}`; plain `SGD` (no momentum), mini-batch {b}, {e} epochs, seed {s}.", loss=config.loss,
          b=config.batch_size, e=config.num_epochs, s=config.seed),
    ])
    doc.table([("activation", _("activation"), ""), ("init", _("initialization"), ""), ("lr", _("learning rate"), "g")],
              [{"activation": a, "init": INIT[a], "lr": LR[a]} for a in config.activations],
              caption=_("The same at every depth, so depth is the only change."))
    doc.para(_("Epoch 0 in the curves is the untrained model. Gradient norms are `‖∂L/∂W‖₂` of each Linear weight, "
               "averaged over the steps of an epoch."))
    doc.heading(_("Results"))
    doc.table([("model", _("model"), ""), ("final_train_loss", _("final train loss"), ".4g"),
               ("final_train_acc", _("final train acc."), ".2%"), ("final_test_acc", _("final test acc."), ".2%"),
               ("best_test_acc", _("best test acc."), ".2%"), ("best_epoch", _("best epoch"), "d"),
               ("epochs_to_reach", _("epochs to {t:.0%}", t=result["threshold"]), "d"),
               ("grad_ratio_first_last_epoch1", _("first/last layer gradient (epoch 1)"), ".2e"),
               ("stalled", _("stalled"), ""), ("train_time_s", _("time (s)"), ".1f")], rows)
    problems_section(doc, result["findings"], result["runs"])
    doc.heading(_("Observations (computed from this run)"))
    depth_lines = []
    for depth in config.depths:
        sub = [r for r in rows if r["depth"] == depth]
        depth_lines.append(_("**{d} hidden layer(s)**: {fastest} {best} {stalled}", d=depth,
                             fastest=fastest_text(sub, result["threshold"]), best=best_text(sub),
                             stalled=stalled_text(sub, result["data"]["chance"])))
    doc.bullets(depth_lines)
    doc.para(_("**Vanishing gradients at {d} hidden layers** (ratio = first layer's weight-gradient norm over the "
               "output layer's, epoch 1; \"vanished\" = below {v:g}):", d=deepest, v=VANISH))
    doc.bullets(vanish_lines(result, config))
    doc.para(_("Why: backpropagation multiplies the gradient by the activation's derivative once per layer. "
               "`σ'(z) = σ(z)(1-σ(z)) ≤ 1/4`, so {d} sigmoid layers can shrink it by up to `4^{d}` = {p}; "
               "`tanh'(z) = 1 - tanh²(z) ≤ 1` (tanh's outputs lie in (-1, 1), not (0, 1)); ReLU's derivative is "
               "exactly 1 wherever a unit is active.", d=deepest, p=4 ** deepest))
    doc.heading(_("Figures"))
    for depth in config.depths:
        sub = {r: result["runs"][r] for r in result["runs"] if r.endswith(f"-d{depth}")}
        doc.plot(plot_curves(sub, _("{d} hidden layer(s) × {w} units, plain SGD", d=depth, w=config.width)),
                 f"curves_depth{depth}", _("Loss and accuracy per epoch, {d} hidden layer(s).", d=depth))
    doc.plot(plot_grad_norms(result["runs"], config.activations, deepest), f"grad_norms_depth{deepest}",
             _("Gradient norm of every layer per epoch, {d} hidden layers (log scale).", d=deepest))
    doc.plot(plot_ratio(rows, config), "grad_ratio",
             _("First-layer over output-layer gradient norm in epoch 1, against depth."))


def plot_grad_norms(runs, activations, depth):
    from matplotlib import cm

    n = len(activations)
    cols = min(4, n)
    nrows = -(-n // cols)
    fig, axes = new_figure(nrows, cols, size=(4.2 * cols, 3.3 * nrows))
    for ax, act in zip(axes.flat, activations):
        r = runs[f"{act}-d{depth}"]
        epochs = range(1, len(r["history"]["train_loss"]) + 1)
        colors = [cm.viridis(k / max(1, depth)) for k in range(depth + 1)]
        for k, name in enumerate(r["weight_names"]):
            label = _("output") if k == depth else _("layer {k}", k=k + 1)
            ys = np.maximum(np.asarray(r["history"]["grad_norms"][name], dtype=float), 1e-12)
            ax.plot(list(epochs), ys, color=colors[k], label=label, marker="o", ms=2.5)
        ax.set_yscale("log")
        ax.set_title(_("{act} ({d} hidden layers)", act=act, d=depth))
        epoch_axis(ax)
        ax.set_ylabel(_("‖∂L/∂W‖ (epoch mean)"))
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=7)
    fig.suptitle(_("Gradient norm per layer during training (log scale): vanishing gradients"), y=1.0)
    fig.subplots_adjust(hspace=0.45, wspace=0.45)  # fixed spacing: tight_layout costs a second full draw
    return fig


def plot_ratio(rows, config):
    from matplotlib.ticker import MaxNLocator

    fig, axes = new_figure(1, 1, size=(6.5, 4))
    ax = axes[0, 0]
    for act in config.activations:
        pts = [(r["depth"], r.get("grad_ratio_first_last_epoch1")) for r in rows if r["activation"] == act]
        pts = [(d, v) for d, v in pts if v is not None and v > 0]
        if pts:
            ax.plot(*zip(*pts), marker="o", label=act)
    ax.axhline(VANISH, color="k", ls="--", lw=1, label=_("{v:g} (vanished)", v=VANISH))
    ax.set_yscale("log")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel(_("hidden layers"))
    ax.set_ylabel(_("‖∂L/∂W₁‖ / ‖∂L/∂W_out‖ (epoch 1)"))
    ax.set_title(_("First-layer over output-layer gradient norm"))
    ax.legend(fontsize=7)
    return fig
