"""Lab: a 2-class softmax IS a logistic regression: W_l = W_s2 - W_s1, b_l = b_s2 - b_s1.

The question: fit a 2-class softmax classifier, convert it to a logistic model and
check that both give the same predictions on real data.

    softmax:  p(class 2 | x) = e^{z₂} / (e^{z₁} + e^{z₂}) = 1 / (1 + e^{-(z₂ - z₁)}) = σ(z₂ - z₁)
    z₂ - z₁ = (W_s2 - W_s1)·x + (b_s2 - b_s1) = W_l·x + b_l

so the logistic model with W_l = W_s2 - W_s1, b_l = b_s2 - b_s1 gives the same
probabilities, hence the same predictions and the same cross-entropy. The softmax
has twice the parameters but only their difference matters: adding the same vector
to both rows changes nothing (shown too).

The softmax is the library's Linear(784, 2) + CrossEntropyLoss trained with the
Trainer; the logistic model is a Linear(784, 1) whose weights are set from it,
evaluated with Sigmoid and BCEWithLogitsLoss. A logistic model trained directly
(BCE) is fitted for comparison: it reaches a similar, not identical, solution.

Exercises: (1) for K classes, how many of the K·(d+1) softmax parameters are
redundant? (2) show that the softmax's cross-entropy gradient for the difference
W_s2 - W_s1 is twice the logistic model's.

Reference: Bishop, Pattern Recognition and Machine Learning (2006), §4.3.4;
Goodfellow et al., Deep Learning (2016), §6.2.2.3.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .common import LabRun, markdown_table, new_figure, parse_classes, replace_known

NAME = "logistic-vs-softmax"
TITLE = "A 2-class softmax converted to a logistic model: identical predictions on Fashion-MNIST"


@dataclass(frozen=True)
class Config:
    seed: int = 0                 # initial weights and batch order
    quick: bool = False           # train on a subset for fewer epochs
    data_dir: str | None = None   # Fashion-MNIST folder (None: the default location)
    classes: str = "0,6"          # exactly two class ids; 0,6 = T-shirt/top vs Shirt (hard to separate)
    num_epochs: int = 10          # epochs of SGD
    batch_size: int = 64          # mini-batch size
    lr: float = 0.01              # SGD learning rate (the softmax moves W_s2 - W_s1 at 2x this rate)


QUICK = dict(num_epochs=2)


def softmax_to_logistic(weight: np.ndarray, bias: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(2, d) softmax weight and (2,) bias -> (1, d) logistic weight and (1,) bias: row 2 minus row 1."""
    if weight.shape[0] != 2 or bias.shape != (2,):
        raise ValueError(f"a 2-class softmax has weight (2, d) and bias (2,), got {weight.shape} and {bias.shape}")
    return (weight[1] - weight[0])[None, :], np.array([bias[1] - bias[0]])


def compare(softmax_layer, x, y) -> dict:
    """Probabilities, predictions and losses of the softmax and its logistic conversion (float64)."""
    from ..nn import BCEWithLogitsLoss, CrossEntropyLoss, Linear, Sigmoid, Softmax

    x = x.astype(np.float64)
    ws, bs = softmax_layer.weight.data.astype(np.float64), softmax_layer.bias.data.astype(np.float64)
    sm = Linear(x.shape[1], 2, rng=np.random.default_rng(0), dtype=np.float64)
    sm.weight.data[...], sm.bias.data[...] = ws, bs
    logits = sm.forward(x)  # (N, 2)
    p_soft = Softmax(dim=1).forward(logits)[:, 1]  # p(second class)
    ce = CrossEntropyLoss()(logits, y)
    wl, bl = softmax_to_logistic(ws, bs)
    lg = Linear(x.shape[1], 1, rng=np.random.default_rng(0), dtype=np.float64)
    lg.weight.data[...], lg.bias.data[...] = wl, bl
    z = lg.forward(x)  # (N, 1)
    p_log = Sigmoid().forward(z)[:, 0]
    bce = BCEWithLogitsLoss()(z, y.astype(np.float64))
    pred_soft, pred_log = logits.argmax(axis=1), (z[:, 0] > 0).astype(np.int64)
    return {"max_abs_prob_diff": float(np.max(np.abs(p_soft - p_log))), "ce_softmax": float(ce),
            "bce_logistic": float(bce), "pred_agree": int(np.sum(pred_soft == pred_log)), "n": len(y),
            "acc_softmax": float(np.mean(pred_soft == y)), "acc_logistic": float(np.mean(pred_log == y)),
            "p_soft": p_soft, "p_log": p_log}


def run(config: Config, out_dir: Path) -> dict:
    from ..data import load_fashion_mnist
    from ..nn import BCEWithLogitsLoss, CrossEntropyLoss, Linear
    from ..optim import SGD
    from ..train.trainer import Trainer

    if config.quick:
        config = replace_known(config, **QUICK)
    lab = LabRun(out_dir, config)
    classes = parse_classes(config.classes)
    if classes is None or len(classes) != 2:
        raise ValueError(f"classes must name exactly two classes, e.g. 0,6; got {config.classes!r}")
    ds = load_fashion_mnist(classes=classes, data_dir=config.data_dir)
    rng = np.random.default_rng(config.seed)
    x_tr, y_tr = ds.x_train, ds.y_train
    if config.quick:
        keep = rng.choice(len(x_tr), 2000, replace=False)
        x_tr, y_tr = x_tr[keep], y_tr[keep]

    softmax = Linear(x_tr.shape[1], 2, rng=rng)
    hist_s = Trainer(softmax, CrossEntropyLoss(), SGD(softmax.parameters(), lr=config.lr),
                     batch_size=config.batch_size, num_epochs=config.num_epochs, rng=rng).fit(
        x_tr, y_tr, ds.x_test, ds.y_test)
    logistic = Linear(x_tr.shape[1], 1, rng=rng)
    hist_l = Trainer(logistic, BCEWithLogitsLoss(), SGD(logistic.parameters(), lr=config.lr),
                     batch_size=config.batch_size, num_epochs=config.num_epochs, rng=rng).fit(
        x_tr, y_tr, ds.x_test, ds.y_test)

    rows, cmp = [], {}
    for split, x, y in (("train", x_tr, y_tr), ("test", ds.x_test, ds.y_test)):
        c = cmp[split] = compare(softmax, x, y)
        rows.append({"split": split, **{k: v for k, v in c.items() if not k.startswith("p_")}})
    # the softmax's redundancy: shift both rows by the same vector, nothing changes
    shifted = Linear(x_tr.shape[1], 2, rng=np.random.default_rng(1), dtype=np.float64)
    shift_w, shift_b = np.random.default_rng(2).normal(0, 1, x_tr.shape[1]), 3.0
    shifted.weight.data[...] = softmax.weight.data.astype(np.float64) + shift_w
    shifted.bias.data[...] = softmax.bias.data.astype(np.float64) + shift_b  # float64: float32 + 3.0 would round
    c_shift = compare(shifted, ds.x_test, ds.y_test)
    shift_diff = float(np.max(np.abs(c_shift["p_soft"] - cmp["test"]["p_soft"])))
    direct_acc = float(hist_l.test_acc[-1])
    wl, _ = softmax_to_logistic(softmax.weight.data.astype(np.float64), softmax.bias.data.astype(np.float64))
    cos = float(wl[0] @ logistic.weight.data[0] / (np.linalg.norm(wl) * np.linalg.norm(logistic.weight.data)))
    lab.save_metrics("comparison", rows)
    lab.save_metrics("result", {"shift_max_diff": shift_diff, "direct_logistic_test_acc": direct_acc,
                                "weight_cosine": cos})
    lab.save_metrics("history_softmax", hist_s.epoch_rows())
    lab.save_metrics("history_logistic", hist_l.epoch_rows())

    fig, axes = new_figure(1, 2, size=(11, 4.2))
    ax = axes[0][0]
    ax.plot(cmp["test"]["p_soft"], cmp["test"]["p_log"], ".", ms=2)
    ax.plot([0, 1], [0, 1], "k:", lw=0.8)
    ax.set_xlabel("softmax p(second class)")
    ax.set_ylabel("converted logistic σ(W_l x + b_l)")
    ax.set_title(f"test set: max |difference| = {cmp['test']['max_abs_prob_diff']:.1e}")
    ax = axes[0][1]
    side = int(np.sqrt(x_tr.shape[1]))
    if side * side == x_tr.shape[1]:
        im = ax.imshow(wl[0].reshape(side, side), cmap="coolwarm")
        fig.colorbar(im, ax=ax)
        ax.set_title(f"W_l = W_s2 - W_s1 ({ds.class_names[1]} vs {ds.class_names[0]})")
        ax.axis("off")
    lab.savefig(fig, "logistic_vs_softmax")

    agree_all = all(r["pred_agree"] == r["n"] for r in rows)
    max_p = max(r["max_abs_prob_diff"] for r in rows)
    max_loss = max(abs(r["ce_softmax"] - r["bce_logistic"]) for r in rows)
    summary = (f"{ds.class_names[0]} vs {ds.class_names[1]}: converted logistic model agrees on "
               f"{sum(r['pred_agree'] for r in rows)}/{sum(r['n'] for r in rows)} predictions, max |Δp| = "
               f"{max_p:.1e}, |CE - BCE| ≤ {max_loss:.1e}; test accuracy {cmp['test']['acc_softmax']:.4f}.")
    report = [f"# {TITLE}\n",
              f"Classes {ds.class_names[0]} (label 0) vs {ds.class_names[1]} (label 1); {len(x_tr)} training "
              f"images, {len(ds.x_test)} test images ({ds.source}); SGD lr {config.lr}, batch {config.batch_size}, "
              f"{config.num_epochs} epochs.\n", markdown_table(rows), "\n## Observations (from the numbers)\n",
              f"- Predictions of the softmax and the converted logistic model "
              f"{'agree on every' if agree_all else 'DISAGREE on some'} image; largest probability difference "
              f"{max_p:.1e}, cross-entropy vs BCE differ by at most {max_loss:.1e}.",
              f"- Adding one random vector to both softmax rows (and 3 to both biases) changes the test "
              f"probabilities by at most {shift_diff:.1e}: only W_s2 - W_s1 matters.",
              f"- A logistic model trained directly with BCE reaches test accuracy {direct_acc:.4f} (softmax "
              f"{cmp['test']['acc_softmax']:.4f}); cosine between its weights and W_l: {cos:.3f} "
              f"({'close' if cos > 0.9 else 'clearly different'} directions; the two are different fits, not a "
              "conversion: the softmax's gradient on the difference is twice the logistic one, so SGD with the "
              "same lr follows a different path).",
              "\n![logistic vs softmax](logistic_vs_softmax.png)\n"]
    lab.write_report("\n".join(report))
    return {"summary": summary, "rows": rows, "shift_max_diff": shift_diff, "direct_logistic_test_acc": direct_acc,
            "weight_cosine": cos}
