"""The report of the cnn lab: its sentences (each computed from the run's numbers and tested on made-up
numbers both ways) and its figure."""
from __future__ import annotations

import numpy as np

from ..report.i18n import _, _n, join
from .plotting import colorbar, epoch_axis, new_figure
from .training_problems import findings_bullets


def data_sentence(facts: dict):
    return _("Data: Fashion-MNIST, {k} classes ({names}), {n_train} training and {n_test} test images (`{source}`).",
             k=facts["num_classes"], names=join(facts["class_names"], code=True), n_train=facts["n_train"],
             n_test=facts["n_test"], source=facts["source"])


def schedule_sentence(lr: float, decay: float, milestones, num_epochs: int):
    """The optimizer and its learning-rate schedule, naming only the decays that fall within the run."""
    within = sorted({m for m in milestones if m < num_epochs})
    if not within or decay == 1:
        return _("Adam at a constant learning rate {lr:g} (no decay within the {e} epochs).", lr=lr, e=num_epochs)
    return _n("Adam, learning rate {lr:g}, multiplied by {d:g} after epoch {m} (`MultiStepLR`).",
              "Adam, learning rate {lr:g}, multiplied by {d:g} after each of the epochs {m} (`MultiStepLR`).",
              len(within), lr=lr, d=decay, m=join(within))


def cores_sentence(threads: int, backend: str | None):
    if threads > 1:
        return _("{n} cores: one shard of each batch per core (`nn.DataParallel`, backend `{b}`).", n=threads,
                 b=backend)
    return _("One core, unsharded.")


def goal_sentence(goal: dict, test_acc: float | None):
    """A claim about the goal only in the goal's setting; elsewhere, why there is none."""
    if not goal["applies"]:
        return _("The goal of {g:.1%} test accuracy is set for all 10 classes, the full data (60000 training and "
                 "10000 test images) and the default recipe; this run differs ({diffs}), so its accuracy is not "
                 "compared with the goal.", g=goal["goal"], diffs=join(goal["differences"], code=True))
    if test_acc is None:
        return _("Training diverged, so the run does not meet the goal of {g:.1%} test accuracy (all 10 classes, "
                 "the full data, the default recipe).", g=goal["goal"])
    if goal["met"]:
        return _("Final test accuracy **{a:.4f}** meets the goal of {g:.1%} (set for all 10 classes, the full data "
                 "and the default recipe: the setting of this run).", a=test_acc, g=goal["goal"])
    return _("Final test accuracy **{a:.4f}** does not meet the goal of {g:.1%} (set for all 10 classes, the full "
             "data and the default recipe: the setting of this run).", a=test_acc, g=goal["goal"])


def accuracy_sentence(test_acc: float | None, best: float | None, best_epoch: int | None, epochs: int):
    if best is None:
        return _("No epoch finished, so there is no test accuracy.")
    if test_acc is None:
        return _("The best test accuracy before training diverged was {b:.4f}, at epoch {e}.", b=best, e=best_epoch)
    if best_epoch == epochs:
        return _("Final test accuracy {a:.4f}, the best of the run (epoch {e}).", a=test_acc, e=epochs)
    return _("Final test accuracy {a:.4f}; the best was {b:.4f}, first reached at epoch {e}.", a=test_acc, b=best,
             e=best_epoch)


def gap_sentence(train_acc: float | None, test_acc: float | None):
    if train_acc is None or test_acc is None:
        return None
    return _("Training accuracy (running mean over the last epoch, dropout on) {t:.4f}: the train - test gap is "
             "{g:+.4f}.", t=train_acc, g=train_acc - test_acc)


def classes_sentence(per_class: list, names: list):
    """The hardest and the easiest class by test accuracy, ties named as ties."""
    acc = [(a, n) for a, n in zip(per_class, names) if a is not None]
    if not acc:
        return None
    lo, hi = min(a for a, _n in acc), max(a for a, _n in acc)
    if lo == hi:
        return _("Every class has the same test accuracy, {a:.3f}.", a=lo)
    hardest = [n for a, n in acc if a == lo]
    easiest = [n for a, n in acc if a == hi]
    return _("Hardest class: {h} ({lo:.3f}); easiest: {e} ({hi:.3f}).", h=join(hardest, code=True), lo=lo,
             e=join(easiest, code=True), hi=hi)


def confusion_sentence(confusion, names: list):
    """The most frequent confusion (true class predicted as another), ties named."""
    c = np.asarray(confusion)
    off = c.copy()
    np.fill_diagonal(off, 0)
    most = int(off.max()) if off.size else 0
    if most == 0:
        return _("No test image was misclassified.")
    where = list(zip(*np.nonzero(off == most)))
    pairs = [_("true `{t}` predicted as `{p}`", t=names[i], p=names[j]) for i, j in where]
    if len(pairs) == 1:
        i = int(where[0][0])
        return _("Most frequent confusion: {pair} ({k} of {n} test images of that class).", pair=pairs[0], k=most,
                 n=int(c[i].sum()))
    return _n("Most frequent confusions, a tie at {k} image: {pairs}.",
              "Most frequent confusions, a tie at {k} images each: {pairs}.", most, k=most, pairs=join(pairs))


def problems_bullets(findings: list[dict]) -> list:
    """What ``train.diagnostics`` found in the run, or one sentence saying it found nothing."""
    if findings:
        return findings_bullets({"cnn": findings})
    return [_("`backproplab.train.diagnostics` found nothing: no divergence, no exploding loss, no accuracy at "
              "chance, no training loss above its first epoch's, no collapse and no spike.")]


def plot_curves(result: dict):
    """Loss and accuracy per epoch (goal line only where the goal applies) and the test confusion matrix."""
    fig, axes = new_figure(1, 3, size=(16, 4.4))
    rows = result["curves"]
    ep = [r["epoch"] for r in rows]
    ax = axes[0, 0]
    ax.plot(ep, [r["train_loss"] for r in rows], "o-", label=_("train (running mean over the epoch)"))
    ax.plot(ep, [r.get("test_loss") for r in rows], "s-", label=_("test"))
    ax.set_ylabel(_("cross-entropy"))
    ax.set_title(_("loss"))
    ax = axes[0, 1]
    ax.plot(ep, [r["train_acc"] for r in rows], "o-", label=_("train (running mean, dropout on)"))
    ax.plot(ep, [r.get("test_acc") for r in rows], "s-", label=_("test"))
    if result["goal"]["applies"]:
        goal = result["goal"]["goal"]
        ax.axhline(goal, color="grey", ls="--", lw=1, label=_("goal {g:.1%}", g=goal))
    ax.set_ylabel(_("accuracy"))
    ax.set_title(_("accuracy"))
    for ax in axes[0, :2]:
        epoch_axis(ax)
        ax.legend(fontsize=8)
    ax = axes[0, 2]
    if result["details"] is not None:
        names = result["model"]["class_names"]
        im = ax.imshow(result["details"]["confusion"], cmap="Blues")
        ax.grid(False)
        ax.set_title(_("test confusion matrix"))
        ax.set_xlabel(_("predicted"))
        ax.set_ylabel(_("true"))
        ax.set_xticks(range(len(names)))
        ax.set_yticks(range(len(names)))
        ax.set_yticklabels(names, fontsize=7)
        colorbar(fig, im, ax, _("test images"))
    else:
        ax.axis("off")
    fig.tight_layout()
    return fig


def report(result: dict, config, doc) -> None:
    from ..analysis.summary import format_summary

    h = result["history"]
    doc.para(_("**Question.** How far does a small convolutional network get on Fashion-MNIST, and which classes "
               "stay hard?"))
    doc.heading(_("Setup"))
    doc.bullets([
        data_sentence(result["data"]),
        schedule_sentence(config.lr, config.lr_decay, config.lr_decay_epochs, config.num_epochs),
        _("Batch {b}, {e} epochs, seed {s}; the core `Trainer` with a checkpoint after every epoch.",
          b=config.batch_size, e=config.num_epochs, s=config.seed),
        cores_sentence(result["threads"], result["backend"]),
    ])
    doc.heading(_("Model"))
    doc.code(format_summary(result["summary_table"]))
    doc.heading(_("Results"))
    details = result["details"]
    names = result["model"]["class_names"]
    doc.bullets([
        goal_sentence(result["goal"], result["test_acc"]),
        accuracy_sentence(result["test_acc"], result["best_test_acc"], result["best_epoch"], result["epochs_run"]),
        gap_sentence(h["train_acc"][-1] if h["train_acc"] else None, result["test_acc"]),
        _("Training took {t:.0f} s ({p:.0f} s per epoch, the test evaluation included; on a shared machine the "
          "times vary).", t=result["train_time_s"], p=result["train_time_s"] / max(result["epochs_run"], 1)),
        classes_sentence(details["per_class_acc"], names) if details else None,
        confusion_sentence(details["confusion"], names) if details else None,
    ])
    doc.heading(_("Training problems"))
    doc.bullets(problems_bullets(result["findings"]))
    doc.table([("epoch", _("epoch"), "d"), ("lr", _("learning rate"), "g"), ("train_loss", _("train loss"), ".4f"),
               ("train_acc", _("train acc."), ".4f"), ("test_loss", _("test loss"), ".4f"),
               ("test_acc", _("test acc."), ".4f"), ("epoch_time", _("time (s)"), ".1f")], result["curves"])
    doc.plot(plot_curves(result), "cnn_curves",
             _("Loss and accuracy per epoch; the test confusion matrix of the final model."))
    if result["model"]["weights"]:
        doc.para(_("Weights: `{f}` (load with `np.load(..., allow_pickle=False)` and "
                   "`backproplab.models.cnn.model_from_run(builder, state)`, `builder` being `result.json`'s "
                   "`model.builder`); explain them with `backproplab lab gradcam --cnn-run {out}`.",
                   f=result["model"]["weights"], out=str(doc.folder.path)))
