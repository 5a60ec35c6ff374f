"""Lab: a 2-class softmax IS a logistic regression: W_l = W_s2 - W_s1, b_l = b_s2 - b_s1.

The question (document 003, question 1.5): a binary task can be solved by logistic regression (one
neuron) or by a 2-class softmax (two neurons, twice the parameters). Does the softmax learn more
complex functions, or can its parameters always be written as logistic ones?

    softmax:  p(class 2 | x) = e^{z₂} / (e^{z₁} + e^{z₂}) = 1 / (1 + e^{-(z₂ - z₁)}) = σ(z₂ - z₁)
    z₂ - z₁ = (W_s2 - W_s1)·x + (b_s2 - b_s1) = W_l·x + b_l

so the logistic model with W_l = W_s2 - W_s1, b_l = b_s2 - b_s1 gives the same probabilities,
hence the same predictions and the same cross-entropy. The softmax has twice the parameters but
only their difference matters: adding the same vector to both rows changes nothing (shown too).

The softmax is the library's Linear(784, 2) + CrossEntropyLoss trained with the Trainer; the
logistic model is a Linear(784, 1) whose weights are set from it, evaluated with Sigmoid and
BCEWithLogitsLoss. A logistic model trained directly (BCE, same seed and settings) is fitted for
comparison: it reaches a similar, not identical, solution, because SGD on the softmax moves the
difference W_s2 - W_s1 by twice the logistic model's gradient (measured too).

Exercises: (1) for K classes, how many of the K·(d+1) softmax parameters are redundant? (2) show
that the softmax's cross-entropy gradient for the difference W_s2 - W_s1 is twice the logistic one.

Reference: Bishop, Pattern Recognition and Machine Learning (2006), §4.3.4; Goodfellow et al.,
Deep Learning (2016), §6.2.2.3.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from ..report.i18n import N_, _, _n
from .config import ConfigError, option, quick
from .training import QUICK_TEST, QUICK_TRAIN, TrainingConfig, data_facts, data_sentence, load_data, train_run
from .training_problems import problems_section, training_findings

NAME = "logistic-vs-softmax"
TITLE = N_("A 2-class softmax converted to a logistic model: identical predictions on Fashion-MNIST")
SUMMARY = N_("a trained 2-class softmax equals the logistic model W_l = W_s2 - W_s1, b_l = b_s2 - b_s1: "
             "same probabilities, predictions and loss")
QUESTIONS = ("003/Q1.5",)

#: probabilities that differ by at most this are equal up to float64 rounding
ROUNDING = 1e-12
#: weight directions with a cosine at least this are "similar"
SIMILAR = 0.9
#: the random vector added to both softmax rows, and the number added to both biases
SHIFT_SEED, SHIFT_BIAS = 2, 3.0


@dataclass(frozen=True)
class Config(TrainingConfig):
    classes: str = option("0,6", "exactly two Fashion-MNIST class ids; 0,6 = T-shirt/top vs Shirt (hard to separate)")
    num_epochs: int = option(10, "epochs of SGD for each model", low=1, high=10000)
    batch_size: int = option(64, "mini-batch size", low=1, high=100000)
    lr: float = option(0.01, "SGD learning rate of both models", low=0, low_open=True, high=100)

    def check(self) -> None:
        from ..data import parse_classes

        super().check()
        classes = parse_classes(self.classes)
        if classes is None or len(classes) != 2:
            raise ConfigError(f"--classes must name exactly two classes, e.g. 0,6; got {self.classes!r}")

    def quick(self) -> "Config":
        return quick(self, num_epochs=2, train_size=QUICK_TRAIN, test_size=QUICK_TEST)


def train_model(config: Config, kind: str) -> dict:
    """The softmax (``kind="softmax"``: Linear(d, 2) + cross-entropy) or the logistic model trained
    directly (``"logistic"``: Linear(d, 1) + BCE), from a generator seeded with the lab's seed."""
    from ..nn import Linear
    from ..optim import make_optimizer

    data = load_data(config)
    rng = np.random.default_rng(config.seed)
    model = Linear(data.x_train.shape[1], 2 if kind == "softmax" else 1, rng=rng)
    opt = make_optimizer("sgd", model.parameters(), lr=config.lr)
    result = train_run(model, opt, data, loss="cross_entropy" if kind == "softmax" else "bce",
                       batch_size=config.batch_size, num_epochs=config.num_epochs, rng=rng, label=kind)
    return {**result, "weight": model.weight.data.tolist(), "bias": model.bias.data.tolist()}


def softmax_to_logistic(weight: np.ndarray, bias: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(2, d) softmax weight and (2,) bias -> (1, d) logistic weight and (1,) bias: row 2 minus row 1."""
    if weight.shape[0] != 2 or bias.shape != (2,):
        raise ValueError(f"a 2-class softmax has weight (2, d) and bias (2,), got {weight.shape} and {bias.shape}")
    return (weight[1] - weight[0])[None, :], np.array([bias[1] - bias[0]])


def _linear(weight: np.ndarray, bias: np.ndarray):
    from ..nn import Linear

    lin = Linear(weight.shape[1], weight.shape[0], rng=np.random.default_rng(0), dtype=np.float64)
    lin.weight.data[...], lin.bias.data[...] = weight, bias
    return lin


def compare(weight: np.ndarray, bias: np.ndarray, x, y) -> dict:
    """Probabilities, predictions, losses and loss gradients of the softmax (``weight`` (2, d), ``bias`` (2,))
    and of its logistic conversion, in float64."""
    from ..nn import BCEWithLogitsLoss, CrossEntropyLoss, Sigmoid
    from ..nn.functional import softmax

    x = x.astype(np.float64)
    ws, bs = np.asarray(weight, dtype=np.float64), np.asarray(bias, dtype=np.float64)
    sm = _linear(ws, bs)
    logits = sm.forward(x)  # (N, 2)
    p_soft = softmax(logits, axis=1)[:, 1]  # p(second class)
    ce_fn = CrossEntropyLoss()
    ce = ce_fn(logits, y)
    sm.backward(ce_fn.backward())
    lg = _linear(*softmax_to_logistic(ws, bs))
    z = lg.forward(x)  # (N, 1)
    p_log = Sigmoid().forward(z)[:, 0]
    bce_fn = BCEWithLogitsLoss()
    bce = bce_fn(z, y.astype(np.float64))
    lg.backward(bce_fn.backward())
    # SGD on the softmax moves W_s2 - W_s1 by -lr·(g₂ - g₁); on the logistic model W_l moves by -lr·g_l
    g_diff, g_log = sm.weight.grad[1] - sm.weight.grad[0], lg.weight.grad[0]
    pred_soft, pred_log = logits.argmax(axis=1), (z[:, 0] > 0).astype(np.int64)
    return {"max_abs_prob_diff": float(np.max(np.abs(p_soft - p_log))), "ce_softmax": float(ce),
            "bce_logistic": float(bce), "pred_agree": int(np.sum(pred_soft == pred_log)), "n": len(y),
            "acc_softmax": float(np.mean(pred_soft == y)), "acc_logistic": float(np.mean(pred_log == y)),
            "grad_ratio": float(np.linalg.norm(g_diff) / np.linalg.norm(g_log)),
            "p_soft": p_soft, "p_log": p_log}


def run(config: Config, out) -> dict:
    data = load_data(config)
    runs = out.map({kind: functools.partial(train_model, config, kind) for kind in ("softmax", "logistic")},
                   label=NAME)
    ws, bs = np.asarray(runs["softmax"]["weight"], np.float32), np.asarray(runs["softmax"]["bias"], np.float32)
    rows, probs = [], {}
    for split, x, y in (("train", data.x_train, data.y_train), ("test", data.x_test, data.y_test)):
        c = compare(ws, bs, x, y)
        probs[split] = (c.pop("p_soft"), c.pop("p_log"))
        rows.append({"split": split, **c})
    # the softmax's redundancy: shift both rows by the same vector, nothing changes
    shift_w = np.random.default_rng(SHIFT_SEED).normal(0, 1, ws.shape[1])
    shifted = compare(ws.astype(np.float64) + shift_w, bs.astype(np.float64) + SHIFT_BIAS, data.x_test, data.y_test)
    shift_diff = float(np.max(np.abs(shifted["p_soft"] - probs["test"][0])))
    wl, _bl = softmax_to_logistic(ws.astype(np.float64), bs.astype(np.float64))
    w_direct = np.asarray(runs["logistic"]["weight"], np.float32)
    cos = float(wl[0] @ w_direct[0] / (np.linalg.norm(wl) * np.linalg.norm(w_direct)))
    direct_acc = runs["logistic"]["history"]["test_acc"][-1]
    out.save_metrics("comparison", rows)
    out.save_arrays("arrays", p_soft=probs["test"][0], p_log=probs["test"][1], w_l=wl[0])
    facts = data_facts(data, config)
    test = rows[1]
    summary = (f"{facts['class_names'][0]} vs {facts['class_names'][1]}: converted logistic model agrees on "
               f"{sum(r['pred_agree'] for r in rows)}/{sum(r['n'] for r in rows)} predictions, max |Δp| = "
               f"{max(r['max_abs_prob_diff'] for r in rows):.1e}, |CE - BCE| ≤ "
               f"{max(abs(r['ce_softmax'] - r['bce_logistic']) for r in rows):.1e}; test accuracy "
               f"{test['acc_softmax']:.4f}")
    return {"summary": summary, "data": facts, "rows": rows, "test": test, "shift_max_diff": shift_diff,
            "direct_logistic_test_acc": direct_acc, "weight_cosine": cos,
            "all_predictions_agree": all(r["pred_agree"] == r["n"] for r in rows),
            "max_abs_prob_diff": max(r["max_abs_prob_diff"] for r in rows),
            "max_loss_diff": max(abs(r["ce_softmax"] - r["bce_logistic"]) for r in rows),
            "runs": {k: {key: v for key, v in r.items() if key not in ("weight", "bias")} for k, r in runs.items()},
            "findings": {k: training_findings(r, facts["chance"]) for k, r in runs.items()}}


# -- report ---------------------------------------------------------------------------------------
def agreement_sentence(rows: list[dict], max_p: float, max_loss: float, rounding: float = ROUNDING):
    """Whether the converted logistic model predicts as the softmax, with the largest differences."""
    disagree = sum(r["n"] - r["pred_agree"] for r in rows)
    total = sum(r["n"] for r in rows)
    if disagree == 0 and max_p <= rounding and max_loss <= rounding:
        return _("The softmax and the converted logistic model agree on all {n} predictions (training and test); "
                 "their probabilities differ by at most {p:.1e} and their losses by {l:.1e}: float64 rounding.",
                 n=total, p=max_p, l=max_loss)
    if disagree == 0:
        return _("The softmax and the converted logistic model agree on all {n} predictions, but their "
                 "probabilities differ by up to {p:.2e} and their losses by {l:.2e}: more than float64 rounding.",
                 n=total, p=max_p, l=max_loss)
    return _n("The softmax and the converted logistic model DISAGREE on {n} of {total} prediction; probabilities "
              "differ by up to {p:.2e}, losses by {l:.2e}.",
              "The softmax and the converted logistic model DISAGREE on {n} of {total} predictions; probabilities "
              "differ by up to {p:.2e}, losses by {l:.2e}.", disagree, total=total, p=max_p, l=max_loss)


def shift_sentence(shift_diff: float, rounding: float = ROUNDING):
    if shift_diff <= rounding:
        return _("Adding one random vector to both softmax rows (and {b:g} to both biases) changes the test "
                 "probabilities by at most {d:.1e}: only `W_s2 - W_s1` and `b_s2 - b_s1` matter.", b=SHIFT_BIAS,
                 d=shift_diff)
    return _("Adding one random vector to both softmax rows (and {b:g} to both biases) changed the test "
             "probabilities by up to {d:.2e}, more than rounding.", b=SHIFT_BIAS, d=shift_diff)


def direct_sentence(direct_acc: float, softmax_acc: float, cos: float, similar: float = SIMILAR):
    """The logistic model trained directly against the softmax: accuracy and weight direction."""
    params = dict(a=direct_acc, s=softmax_acc, c=cos)
    if cos >= similar:
        return _("A logistic model trained directly with BCE (same seed, learning rate and epochs) reaches test "
                 "accuracy {a:.4f} against the softmax's {s:.4f}; its weights point in a similar direction to "
                 "`W_l` (cosine {c:.3f}).", **params)
    return _("A logistic model trained directly with BCE (same seed, learning rate and epochs) reaches test accuracy "
             "{a:.4f} against the softmax's {s:.4f}; its weights point in a different direction from `W_l` "
             "(cosine {c:.3f}): the same family of functions, but another fit.", **params)


def grad_ratio_sentence(ratio: float, rounding: float = 1e-9):
    """The measured ratio of the softmax's gradient on its row difference to the logistic gradient (2 in theory)."""
    if abs(ratio - 2.0) <= rounding:
        return _("At the trained weights, the softmax's loss gradient for `W_s2 - W_s1` is {r:.6g} times the "
                 "converted logistic model's (test set): SGD with the same learning rate moves the softmax's "
                 "difference twice as fast, so the two trainings follow different paths.", r=ratio)
    return _("At the trained weights, the softmax's loss gradient for `W_s2 - W_s1` is {r:.6g} times the converted "
             "logistic model's (test set), NOT the 2 the derivation gives.", r=ratio)


def report(result: dict, config: Config, doc) -> None:
    names = result["data"]["class_names"]
    doc.para(_("**Question** (document 003, question 1.5). Does a 2-class softmax (two neurons, twice the "
               "parameters) learn more complex functions than logistic regression, or can its parameters always be "
               "written as logistic ones?"))
    doc.bullets([
        data_sentence(result["data"]),
        _("Label 0 = {a}, label 1 = {b}. Both models: plain `SGD` with `lr` = {lr:g}, batch {bs}, {e} epochs, seed "
          "{s}.", a=names[0], b=names[1], lr=config.lr, bs=config.batch_size, e=config.num_epochs, s=config.seed),
        _("The conversion: `p(label 1) = σ(z₂ - z₁)`, so `W_l = W_s2 - W_s1` and `b_l = b_s2 - b_s1`."),
    ])
    doc.table([("split", _("split"), ""), ("acc_softmax", _("softmax accuracy"), ".4f"),
               ("acc_logistic", _("converted logistic accuracy"), ".4f"), ("pred_agree", _("same prediction"), "d"),
               ("n", _("images"), "d"), ("max_abs_prob_diff", _("largest |Δp|"), ".2e"),
               ("ce_softmax", _("softmax cross-entropy"), ".10g"), ("bce_logistic", _("logistic BCE"), ".10g")],
              [{**r, "split": _(SPLITS[r["split"]])} for r in result["rows"]])
    doc.heading(_("Observations (computed from this run)"))
    doc.bullets([
        agreement_sentence(result["rows"], result["max_abs_prob_diff"], result["max_loss_diff"]),
        shift_sentence(result["shift_max_diff"]),
        direct_sentence(result["direct_logistic_test_acc"], result["test"]["acc_softmax"], result["weight_cosine"]),
        grad_ratio_sentence(result["test"]["grad_ratio"]),
    ])
    problems_section(doc, result["findings"], result["runs"])
    doc.plot(plot_comparison(doc.folder.load_arrays("arrays"), names), "logistic_vs_softmax",
             _("Left: each test image's probability of label 1, softmax against the converted logistic model. Right: "
               "`W_l = W_s2 - W_s1` as an image (red pushes toward label 1)."))


SPLITS = {"train": N_("training"), "test": N_("test")}


def plot_comparison(arrays: dict, names: list[str]):
    from .plotting import colorbar, new_figure

    fig, axes = new_figure(1, 2, size=(11, 4.2))
    ax = axes[0][0]
    ax.plot(arrays["p_soft"], arrays["p_log"], ".", ms=2)
    ax.plot([0, 1], [0, 1], "k:", lw=0.8)
    ax.set_xlabel(_("softmax p(label 1)"))
    ax.set_ylabel(_("converted logistic σ(W_l x + b_l)"))
    ax.set_title(_("test set: largest |difference| = {d:.1e}",
                   d=float(np.max(np.abs(arrays["p_soft"] - arrays["p_log"])))))
    ax = axes[0][1]
    w_l = arrays["w_l"]
    side = int(np.sqrt(len(w_l)))
    if side * side == len(w_l):
        lim = float(np.abs(w_l).max()) or 1.0
        im = ax.imshow(w_l.reshape(side, side), cmap="coolwarm", vmin=-lim, vmax=lim)
        colorbar(fig, im, ax, _("weight"))
        ax.set_title(_("W_l = W_s2 - W_s1 ({b} vs {a})", a=names[0], b=names[1]))
    ax.axis("off")
    return fig
