"""Lab: weight initialization (all-zeros, small, large, Xavier, He) on a 3-layer MLP.

Question (document 004, initialization and experiment 2): why does the starting point matter?
All-zeros makes every hidden unit compute the same function and receive the same gradient, so
they stay identical forever (the symmetry problem); tiny weights shrink the signal layer by
layer; large weights blow it up (saturating sigmoid/tanh, huge ReLU logits); Xavier/LeCun
(Var W = 1/fan_in) and He (Var W = 2/fan_in) keep the activations' scale roughly constant.

The lab records per-layer activation mean/std at initialization, trains each init with the
same optimizer, and measures the symmetry of the all-zeros models directly: the largest
difference between any two hidden units' incoming weights (with bias) and outputs, relative to
the layer's own scale. Float32 rounding leaves differences of a few units in the last place
between units that are copies of each other, so "identical" means: equal up to
:data:`SYMMETRY_RTOL` of the layer's largest value, not bit for bit.

References: Glorot & Bengio (2010); He et al. (2015), "Delving Deep into Rectifiers";
https://pytorch.org/docs/stable/nn.init.html
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from ..models import linear_layer_indices, make_mlp
from ..nn import ACTIVATIONS, INIT_NAMES, Linear, make_activation
from ..optim import make_optimizer
from ..report import CodeText
from ..report.i18n import N_, _, join
from .config import option, quick
from .init_lab_plots import plot_stats, plot_symmetry
from .training import (QUICK_TEST, QUICK_TRAIN, MLPConfig, best_of, best_text, curve_rows, data_facts,
                       data_sentence, fastest_text, in_english, load_data, plot_curves, reach_threshold, significant,
                       stalled_text, summarize, train_run)
from .training_problems import problems_section, training_findings

NAME = "init"
TITLE = N_("Weight initialization: symmetry, vanishing and exploding signals")
SUMMARY = N_("all-zeros, small, large, Xavier and He on a 3-layer MLP: which learn, and why all-zeros cannot")
QUESTIONS = ("004/Q6.2", "004/Q2.1", "004/Q2.2", "004/Q2.3", "004/Q2.4")

#: hidden units count as identical when they differ by at most this fraction of the layer's
#: largest |value| (float32 rounding leaves ~1e-7 relative; units that learned apart differ by O(1))
SYMMETRY_RTOL = 1e-5
#: test images the activation statistics and the symmetry check run on
PROBE_IMAGES = 1000


@dataclass(frozen=True)
class Config(MLPConfig):
    num_epochs: int = option(15, "epochs per model", low=1, high=10000)
    inits: tuple[str, ...] = option(("zeros", "small", "large", "xavier", "he"), "schemes of backproplab.nn.init",
                                    min_len=1, each_choices=INIT_NAMES)
    activation: str = option("relu", "activation of every hidden layer", choices=tuple(ACTIVATIONS))
    # sigmoid(0) = 1/2 != 0, so its zero weights DO move, yet every unit moves identically
    symmetry_activation: str | None = option("sigmoid", "activation of an extra all-zeros run; None = no such run",
                                             choices=tuple(ACTIVATIONS))
    hidden: tuple[int, ...] = option((64, 64), "hidden widths (3 layers = 2 hidden + the output layer)",
                                     min_len=1, each_low=1, each_high=100000)
    lr: float = option(0.05, "plain SGD learning rate, the same for every init", low=0, low_open=True)
    batch_size: int = option(128, "mini-batch size", low=1)
    # float32 weights: a std near 3e38 overflows to inf before any training (1000 already saturates every unit)
    large_scale: float = option(1.0, "std of the 'large' scheme, N(0, large_scale²)", low=0, low_open=True,
                                high=1000)

    def quick(self) -> "Config":
        return quick(self, num_epochs=3, train_size=QUICK_TRAIN, test_size=QUICK_TEST)


def models_of(config: Config) -> list[tuple[str, str, str]]:
    """(label, init, activation) of every run, in order (the order seeds each run's generator)."""
    out = [(init, init, config.activation) for init in config.inits]
    if config.symmetry_activation is not None:
        out.append((f"zeros+{config.symmetry_activation}", "zeros", config.symmetry_activation))
    return out


def activation_stats(model, x) -> list[dict]:
    """Mean, std and fraction of exact zeros of each hidden layer's output (after its activation)
    and of the logits, for input x (N, D)."""
    stats, h = [], x
    layers = list(model)
    k = 0
    for i, layer in enumerate(layers):
        h = layer.forward(h)
        is_output = i == len(layers) - 1
        if not isinstance(layer, Linear) or is_output:
            k += 1
            stats.append({"layer": "logits" if is_output else f"hidden {k}", "mean": float(h.mean()),
                          "std": float(h.std()), "frac_zero": float(np.mean(h == 0))})
    return stats


def _relative(diff: float, scale: float) -> float:
    """diff / scale, and 0 when both are 0 (an all-zero layer: its units are trivially equal)."""
    return 0.0 if scale == 0 else diff / scale


def unit_symmetry(model, x) -> list[dict]:
    """For each hidden layer: how far its units are from being copies of unit 0.

    ``max_weight_diff``/``max_bias_diff``/``max_output_diff``: the largest absolute difference
    from unit 0's incoming weights, bias and output (on the images x); ``rel_param_diff`` and
    ``rel_output_diff``: the same for (weights | bias) and outputs, divided by the layer's
    largest |value| (0 for an all-zero layer). ``weight_norm``: Σ W² of the layer's weights.
    """
    out, h = [], x
    layers = list(model)
    for n, i in enumerate(linear_layer_indices(model)[:-1]):  # hidden layers only
        lin = layers[i]
        h = layers[i + 1].forward(lin.forward(h))  # (N, units) after the activation
        w, b = lin.weight.data.astype(np.float64), lin.bias.data.astype(np.float64)
        rows = np.concatenate([w, b[:, None]], axis=1)  # (units, fan_in + 1)
        out.append({"layer": f"hidden {n + 1}",
                    "max_weight_diff": float(np.max(np.abs(w - w[:1]))),
                    "max_bias_diff": float(np.max(np.abs(b - b[0]))),
                    "max_output_diff": float(np.max(np.abs(h - h[:, :1]))),
                    "rel_param_diff": _relative(float(np.max(np.abs(rows - rows[:1]))), float(np.max(np.abs(rows)))),
                    "rel_output_diff": _relative(float(np.max(np.abs(h - h[:, :1]))), float(np.max(np.abs(h)))),
                    "weight_norm": float(np.vdot(w, w))})
    return out


def units_identical(layers: list[dict], rtol: float = SYMMETRY_RTOL) -> bool:
    """Every layer's units equal up to ``rtol`` of the layer's scale, in parameters and outputs."""
    return all(s["rel_param_diff"] <= rtol and s["rel_output_diff"] <= rtol for s in layers)


def activation_at_zero(name: str) -> float:
    """f(0) of an activation: 0 for ReLU and tanh (zero weights then give zero hidden outputs), 1/2 for sigmoid."""
    return float(make_activation(name).forward(np.zeros((1, 1)))[0, 0])


def train_one(config: Config, label: str, init: str, act: str, key: int) -> dict:
    """One run: statistics at initialization, training, the symmetry check (a task; seeds its own generator)."""
    data = load_data(config)
    rng = np.random.default_rng([config.seed, key])
    model = make_mlp(data.x_train.shape[1], config.hidden, data.num_classes, act, init, rng=rng,
                     scale=config.large_scale)
    x_probe = data.x_test[:PROBE_IMAGES]
    stats = activation_stats(model, x_probe)
    opt = make_optimizer("sgd", model.parameters(), lr=config.lr)
    result = train_run(model, opt, data, loss=config.loss, batch_size=config.batch_size,
                       num_epochs=config.num_epochs, rng=rng, record_steps=True, label=label)
    result["init_stats"] = stats
    result["symmetry_after"] = unit_symmetry(model, x_probe)
    return result


def run(config: Config, out) -> dict:
    data = load_data(config)
    facts = data_facts(data, config)
    threshold = reach_threshold(config.reach_acc, data.num_classes)
    models = models_of(config)
    done = out.map({f"train-{label}": functools.partial(train_one, config, label, init, act, key)
                    for key, (label, init, act) in enumerate(models)}, label=NAME)
    runs = {label: done[f"train-{label}"] for label, _init, _act in models}
    rows = [summarize(label, runs[label], threshold, data.chance, init=init, activation=act)
            for label, init, act in models]
    for row in rows:
        row["identical_units"] = units_identical(runs[row["model"]]["symmetry_after"])
    out.save_metrics("summary", rows)
    out.save_metrics("curves", curve_rows(runs))
    out.save_metrics("init_activation_stats", [{"model": m, **s} for m, r in runs.items() for s in r["init_stats"]])
    out.save_metrics("symmetry_after_training", [{"model": m, **s} for m, r in runs.items()
                                                 for s in r["symmetry_after"]])
    findings = {label: training_findings(r, data.chance) for label, r in runs.items()}
    best_acc, best_model = best_of(rows)
    result = {"best_test_acc": best_acc, "best_model": best_model, "num_epochs": config.num_epochs,
            "rows": rows, "runs": runs, "data": facts, "threshold": threshold, "findings": findings,
            "act_at_zero": {act: activation_at_zero(act) for _l, _i, act in models},
            "train_time_s": sum(r["train_time_s"] for r in rows)}
    return {"summary": f"{NAME}: {in_english(summary_line(result))}", **result}


def summary_line(result: dict):
    """The lab's answer in one line (the index of `lab all` shows it in the report's language)."""
    if result["best_model"] is None:
        return _("no run finished an epoch")
    zeros = join([_("`{m}` {rel:.2g}", m=m, rel=max(max(s["rel_param_diff"], s["rel_output_diff"])
                                                   for s in r["symmetry_after"]))
                  for m, r in result["runs"].items() if m.startswith("zeros")])
    return _("best test accuracy {acc:.2%} (`{model}`); all-zeros hidden units after training differ from unit 0 by "
             "at most (relative to the layer's largest |value|): {zeros}", acc=result["best_test_acc"],
             model=result["best_model"], zeros=zeros)


# -- sentences computed from the numbers (tested on made-up numbers) ----------------------------
def symmetry_text(model: str, layers: list[dict], act: str, act_at_zero: float, rtol: float = SYMMETRY_RTOL):
    """What the symmetry check of one all-zeros run shows, in one sentence."""
    rel = max(max(s["rel_param_diff"], s["rel_output_diff"]) for s in layers)
    norms = [s["weight_norm"] for s in layers]
    if not units_identical(layers, rtol):
        return _("`{m}`: after training its hidden units are NOT identical: a unit differs from unit 0 by up to "
                 "{rel:.2g} times the layer's largest |value|, more than the {tol:g} that float32 rounding "
                 "explains, so something broke the symmetry.", m=model, rel=rel, tol=rtol)
    same = _("`{m}`: after training its hidden units are identical up to rounding: a unit differs from unit 0 by "
             "at most {rel:.2g} times the layer's largest |value| (float32 rounding explains up to {tol:g}).",
             m=model, rel=rel, tol=rtol)
    if any(n > 0 for n in norms):
        return same + _("The hidden weights moved (Σ W² per layer: {norms}) but every unit moved the same way: "
                        "symmetry, not stillness.", norms=join(significant(norms)))
    if act_at_zero == 0:
        return same + _("The hidden weights never moved from 0: with zero weights above them they get a zero "
                        "gradient, and `{act}(0) = 0` gives the layers above nothing to learn from.", act=act)
    return same + _("The hidden weights never moved from 0.")


def he_vs_zeros_text(rows: list[dict]):
    """He against all-zeros at the last epoch; None when either did not run or finish."""
    by = {r["model"]: r for r in rows}
    he, zeros = by.get("he"), by.get("zeros")
    if not he or not zeros or he["final_test_acc"] is None or zeros["final_test_acc"] is None:
        return None
    a, z = he["final_test_acc"], zeros["final_test_acc"]
    if a > z:
        return _("He beats all-zeros at the last epoch: {a:.2%} against {z:.2%} test accuracy.", a=a, z=z)
    if a == z:
        return _("He and all-zeros end at the same test accuracy, {a:.2%}.", a=a)
    return _("He does NOT beat all-zeros at the last epoch: {a:.2%} against {z:.2%} test accuracy.", a=a, z=z)


def _layer_name(name: str):
    """A layer label of the statistics ("hidden 2", "logits") in the report's language."""
    if name == "logits":
        return _("logits")
    return _("hidden {k}", k=int(name.split()[-1]))


def observations(result: dict, config: Config) -> list:
    rows, runs = result["rows"], result["runs"]
    lines = [fastest_text(rows, result["threshold"]), best_text(rows), stalled_text(rows, result["data"]["chance"]),
             he_vs_zeros_text(rows)]
    by = {r["model"]: r for r in rows}
    for m, r in runs.items():
        if m.startswith("zeros"):
            act = by[m]["activation"]
            lines.append(symmetry_text(m, r["symmetry_after"], act, result["act_at_zero"][act]))
    contrast = [m for m in runs if not m.startswith("zeros")]
    if contrast:
        m = contrast[-1]
        rel = max(s["rel_param_diff"] for s in runs[m]["symmetry_after"])
        lines.append(_("For contrast, `{m}`'s hidden units differ from unit 0 by up to {rel:.2g} times the layer's "
                       "largest |value|.", m=m, rel=rel))
    for m, r in runs.items():
        stats = r["init_stats"]
        lines.append(_("`{m}` at initialization: hidden-layer std {hidden}; logits std {logits:.3g}.", m=m,
                       hidden=join(significant([s["std"] for s in stats[:-1]])), logits=stats[-1]["std"]))
    return lines


def report(result: dict, config: Config, doc) -> None:
    rows, runs = result["rows"], result["runs"]
    doc.para(_("**Question.** How does the initial weight distribution decide whether (and how fast) an MLP "
               "learns?"))
    doc.heading(_("Setup"))
    setup = [data_sentence(result["data"]),
             _("Model: `make_mlp(784, {hidden}, {k}, \"{act}\", init)`: {n} layers ({h} hidden and the output "
               "layer).", hidden=tuple(config.hidden), k=result["data"]["num_classes"], act=config.activation,
               n=len(config.hidden) + 1, h=len(config.hidden))]
    if config.symmetry_activation is not None:
        setup.append(_("Plus an all-zeros run with `{act}`, to show that symmetric units can move and still stay "
                       "identical.", act=config.symmetry_activation))
    setup += [_("Inits (biases start at 0): `zeros` W = 0; `small` N(0, 0.01²); `large` N(0, {s:g}²); `xavier` "
                "N(0, 1/fan_in) (what the assignment calls Xavier; it is LeCun's normal init); `he` N(0, 2/fan_in).",
                s=config.large_scale),
              _("Loss `{loss}`; plain `SGD` with learning rate {lr:g}, mini-batch {b}, {e} epochs, seed {seed}, the "
                "same for every init (the init is the only change).", loss=config.loss, lr=config.lr,
                b=config.batch_size, e=config.num_epochs, seed=config.seed)]
    doc.bullets(setup)
    doc.heading(_("Results"))
    doc.table([("model", _("model"), ""), ("final_train_loss", _("final train loss"), ".4g"),
               ("final_train_acc", _("final train acc."), ".2%"), ("final_test_acc", _("final test acc."), ".2%"),
               ("best_test_acc", _("best test acc."), ".2%"), ("best_epoch", _("best epoch"), "d"),
               ("epochs_to_reach", _("epochs to {t:.0%}", t=result["threshold"]), "d"),
               ("stalled", _("stalled"), ""), ("train_time_s", _("time (s)"), ".1f")],
              [{**r, "model": CodeText(r["model"])} for r in rows])
    doc.table([("model", _("model"), ""), ("layer", _("layer"), ""), ("mean", _("mean"), ".3g"),
               ("std", _("std"), ".3g"), ("frac_zero", _("exact zeros"), ".1%")],
              [{**s, "model": CodeText(m), "layer": _layer_name(s["layer"])} for m, r in runs.items()
               for s in r["init_stats"]],
              caption=_("Activations at initialization, on the first {n} test images.", n=PROBE_IMAGES))
    doc.table([("model", _("model"), ""), ("layer", _("layer"), ""),
               ("max_weight_diff", _("max |weight difference|"), ".3g"),
               ("max_bias_diff", _("max |bias difference|"), ".3g"),
               ("max_output_diff", _("max |output difference|"), ".3g"),
               ("rel_param_diff", _("relative, parameters"), ".2g"), ("rel_output_diff", _("relative, outputs"), ".2g"),
               ("weight_norm", _("Σ W²"), ".4g")],
              [{**s, "model": CodeText(m), "layer": _layer_name(s["layer"])} for m, r in runs.items()
               for s in r["symmetry_after"]],
              caption=_("Symmetry after training: each hidden unit against unit 0 (relative = divided by the layer's "
                        "largest |value|; at most {tol:g} counts as identical).", tol=SYMMETRY_RTOL))
    problems_section(doc, result["findings"], runs)
    doc.heading(_("Observations (computed from this run)"))
    doc.bullets(observations(result, config))
    doc.heading(_("Figures"))
    main = {m: r for m, r in runs.items() if "+" not in m}
    doc.plot(plot_curves(main, _("3-layer MLP ({act}), plain SGD, learning rate {lr:g}", act=config.activation,
                                 lr=config.lr)), "curves", _("Loss and accuracy per epoch, one line per init."))
    if len(main) != len(runs):
        doc.plot(plot_curves(runs, _("Every run, with the all-zeros symmetry check")), "curves_with_symmetry_run",
                 _("The same with the extra all-zeros run."))
    doc.plot(plot_stats({m: r["init_stats"] for m, r in runs.items()}, _layer_name), "init_activation_stats",
             _("Mean and std of every layer's output at initialization."))
    doc.plot(plot_symmetry({m: r["symmetry_after"] for m, r in runs.items()}, SYMMETRY_RTOL), "symmetry",
             _("How far the hidden units are from being copies of each other after training."))
