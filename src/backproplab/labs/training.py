"""What the training labs share: their data and settings, one trained model as JSON, and the
sentences every report computes from the numbers (best, fastest, stalled), ties named as ties.

* :class:`TrainingConfig`: the options of a lab that trains models on Fashion-MNIST (and
  :class:`MLPConfig`, those of the four MLP labs);
* :func:`load_data`: the :class:`~backproplab.data.Dataset` of a config (a random subset in quick mode),
  read once per process and shared by the tasks that run there;
* :func:`train_run`: one model trained by the library's :class:`~backproplab.train.Trainer`,
  returned as plain JSON values (so :meth:`RunFolder.step` caches it and a killed run resumes);
* :func:`reach_threshold`: the test accuracy that counts as "learned";
* :func:`summarize`, :func:`best_text`, :func:`fastest_text`, :func:`stalled_text`: a results row
  and the observations, as translatable messages.
"""
from __future__ import annotations

import functools
import time
from dataclasses import dataclass

import numpy as np

from ..nn import make_loss
from ..report.i18n import _, _n, join
from ..train import Callback, Trainer, TrainingDiverged
from . import progress
from .config import LabConfig, option

#: samples of a quick run (train, test): enough for every lab's claim, seconds per lab
QUICK_TRAIN, QUICK_TEST = 1000, 500
#: a model "stalled" when its final training accuracy is within this of the majority-class rate
STALL_MARGIN = 0.05


@dataclass(frozen=True)
class TrainingConfig(LabConfig):
    """Options of a lab that trains models on Fashion-MNIST."""

    classes: str = option("0,1", "Fashion-MNIST class ids (comma list) or 'all'")
    data_dir: str | None = option(None, "folder with the IDX or the assignment's npz files; None = the default")
    train_size: int | None = option(None, "random training images to use; None = all", low=1)
    test_size: int | None = option(None, "random test images to use; None = all", low=1)

    def check(self) -> None:
        from ..data import parse_classes
        from .config import ConfigError

        try:
            parse_classes(self.classes)
        except ValueError as e:
            raise ConfigError(f"--classes: {e}") from None


@dataclass(frozen=True)
class MLPConfig(TrainingConfig):
    """Options the MLP labs of document 004 (activations, init, optimizers, l2) share besides the data."""

    loss: str = option("cross_entropy", "the loss ('mse' is the assignment's 1/(2m) convention, one-hot targets)",
                       choices=("cross_entropy", "mse"))
    reach_acc: float | None = option(None, "test accuracy that counts as learned; None: 0.98 for 2 classes, "
                                           "else 0.85", low=0, high=1)


def load_data(config):
    """Fashion-MNIST for ``config.classes`` (flattened, in [0, 1]), subset to ``train_size``/``test_size``.

    The arrays are read once per process (the tasks of a lab run one after the other there) and
    shared: treat them as read-only. The cache is keyed by the folder the files are read from, so a
    changed ``$BACKPROPLAB_FASHION_MNIST`` is followed.
    """
    from ..data.fashion_mnist import data_folder

    return _dataset(config.classes, data_folder(config.data_dir), config.train_size, config.test_size, config.seed)


@functools.lru_cache(maxsize=2)
def _dataset(classes: str, folder: str, train_size, test_size, seed: int):
    from ..data import load_fashion_mnist, parse_classes

    ds = load_fashion_mnist(classes=parse_classes(classes), data_dir=folder)
    if train_size is None and test_size is None:
        return ds
    # its own generator (seed + 1): the subset does not shift any model's random numbers
    return ds.subset(train_size, np.random.default_rng(seed + 1), test_size)


def reach_threshold(reach_acc: float | None, num_classes: int) -> float:
    """Test accuracy that counts as "learned" (fastest learner): ``reach_acc``, else 0.98 for 2 classes
    and 0.85 for more."""
    if reach_acc is not None:
        return float(reach_acc)
    return 0.98 if num_classes == 2 else 0.85


def data_facts(ds, config) -> dict:
    """What a report says about the data (JSON-able)."""
    return {"classes": config.classes, "class_names": list(ds.class_names), "n_train": len(ds.x_train),
            "n_test": len(ds.x_test), "source": ds.source, "chance": ds.chance, "num_classes": ds.num_classes}


def data_sentence(facts: dict):
    return _("Data: Fashion-MNIST classes {classes} ({names}), {n_train} training and {n_test} test images; "
             "source: `{source}`.", classes=facts["classes"], names=join(facts["class_names"]),
             n_train=facts["n_train"], n_test=facts["n_test"], source=facts["source"])


def _blas_context():
    """One BLAS thread while a model of these labs trains.

    Why: the MLPs' matrices are small (batch x 784 x 256 at most), so a second thread gains
    little, while on a busy machine OpenBLAS's spinning threads slowed these labs 3-25x
    (measured on 2026-11-23 on the shared 2-core build machine). And the numbers then do not
    depend on the thread count: a multi-threaded BLAS dot product splits its sum (the gradient
    norms differed in the 8th digit between 1 and 2 threads), so a run gives the same numbers
    everywhere, on a cluster worker too.
    """
    from ..utils.cores import single_threaded_blas

    return single_threaded_blas()


def train_run(model, optimizer, data, *, loss: str, batch_size, num_epochs: int, rng: np.random.Generator,
              record_grad_norms: bool = False, record_steps: bool = False, x_train=None, y_train=None,
              scheduler=None, callbacks=None, label: str = "") -> dict:
    """Train ``model`` and return its history and timing as plain JSON values.

    Epoch 0 of the returned curves is the untrained model, so every curve starts where training
    did. A run whose loss becomes NaN/inf is not an error: it is returned with ``diverged`` set
    and the epochs it finished. ``record_steps`` keeps every step's loss, global gradient norm
    (``history.step_grad_norm``) and, after the step, the weights' Σθ² (``step_weight_norm``):
    what shows a spike or a collapse between two evaluations. ``scheduler`` (of
    :mod:`backproplab.optim.lr_scheduler`) is stepped after every epoch.
    """
    x_train = data.x_train if x_train is None else x_train
    y_train = data.y_train if y_train is None else y_train
    extra = [progress.current().training(label)]
    weight_norms = StepWeightNorm(model) if record_steps else None
    if weight_norms is not None:
        extra.append(weight_norms)
    trainer = Trainer(model, make_loss(loss), optimizer, batch_size=batch_size, num_epochs=num_epochs, rng=rng,
                      record_steps=record_steps, record_step_grad_norms=record_steps,
                      record_grad_norms=record_grad_norms, scheduler=scheduler,
                      callbacks=list(callbacks or []) + extra)
    init, diverged = {}, None
    with _blas_context():
        init["train_loss"], init["train_acc"] = trainer.evaluate(x_train, y_train)
        init["test_loss"], init["test_acc"] = trainer.evaluate(data.x_test, data.y_test)
        t0 = time.perf_counter()
        try:
            # overflow on the way to a NaN loss is expected for a diverging run: the Trainer catches the NaN
            with np.errstate(over="ignore", invalid="ignore"):
                history = trainer.fit(x_train, y_train, data.x_test, data.y_test)
        except TrainingDiverged as e:
            history, diverged = trainer.history, str(e)
        wall = time.perf_counter() - t0
    n = len(x_train)
    steps = 1 if batch_size is None or batch_size >= n else -(-n // batch_size)
    result = {"history": history.to_dict(), "init": init, "diverged": diverged, "train_time_s": wall,
              "steps_per_epoch": steps, "n_train": n}
    if weight_norms is not None:
        result["step_weight_norm"] = weight_norms.values
    return result


class StepWeightNorm(Callback):
    """Σθ² over the model's weights (parameters of 2+ dimensions) after every optimizer step."""

    def __init__(self, model):
        self.weights = [p for p in model.parameters() if p.data.ndim >= 2]
        self.values: list[float] = []

    def on_batch_end(self, trainer, step: int, logs: dict) -> None:
        self.values.append(float(sum(np.vdot(w.data, w.data) for w in self.weights)))


def curve(run: dict, key: str) -> list:
    """Per-epoch values of ``key`` with the untrained model as epoch 0."""
    return [run["init"][key]] + list(run["history"][key])


def epochs_to_reach(test_acc: list, threshold: float) -> int | None:
    """First epoch (1-based) whose test accuracy is >= threshold, or None."""
    for e, a in enumerate(test_acc, start=1):
        if a is not None and a >= threshold:
            return e
    return None


def summarize(label: str, run: dict, threshold: float, chance: float, **extra) -> dict:
    """One results-table row: final and best numbers of a run, and whether it stalled."""
    h = run["history"]
    test_acc = h["test_acc"]
    row = {"model": label, **extra}
    if h["train_loss"]:
        best_i = int(np.argmax([a if a is not None else -1 for a in test_acc]))
        row.update(final_train_loss=h["train_loss"][-1], final_train_acc=h["train_acc"][-1],
                   final_test_loss=h["test_loss"][-1], final_test_acc=test_acc[-1],
                   best_test_acc=test_acc[best_i], best_epoch=best_i + 1)
    else:
        row.update(final_train_loss=None, final_train_acc=None, final_test_loss=None, final_test_acc=None,
                   best_test_acc=None, best_epoch=None)
    row["epochs_to_reach"] = epochs_to_reach(test_acc, threshold)
    row["train_time_s"] = run["train_time_s"]
    row["diverged"] = bool(run["diverged"])
    # stalled: no better than guessing the majority class (within the margin) at the end, or diverged
    row["stalled"] = row["diverged"] or (row["final_train_acc"] is not None
                                         and row["final_train_acc"] <= chance + STALL_MARGIN)
    return row


def significant(values, digits: int = 3) -> list[float]:
    """``values`` rounded to ``digits`` significant digits, for :func:`join` (which writes each number
    with the reader's digits)."""
    return [float(f"{v:.{digits}g}") for v in values]


def in_english(msg) -> str:
    """A message as English text (the one-line summary a lab prints and keeps in its result)."""
    from ..report.i18n import language

    with language("en"):
        return str(msg)


def best_of(rows: list[dict]) -> tuple[float | None, str | None]:
    """(best test accuracy, the model(s) that reached it, ties joined by ' = ')."""
    done = [r for r in rows if r.get("best_test_acc") is not None]
    if not done:
        return None, None
    top = max(r["best_test_acc"] for r in done)
    return top, " = ".join(r["model"] for r in done if r["best_test_acc"] == top)


def _models(rows):
    return join([r["model"] for r in rows], code=True)


def best_text(rows: list[dict]):
    """'Best test accuracy: ...' with ties named as ties."""
    done = [r for r in rows if r.get("best_test_acc") is not None]
    if not done:
        return _("No run finished an epoch, so no best test accuracy can be named.")
    top = max(r["best_test_acc"] for r in done)
    winners = [r for r in done if r["best_test_acc"] == top]
    if len(winners) > 1:
        finals = join([_("`{m}` {acc:.2%}", m=r["model"], acc=r["final_test_acc"]) for r in winners])
        return _("Best test accuracy {acc:.2%} is a tie between {models} (at the last epoch: {finals}).",
                 acc=top, models=_models(winners), finals=finals)
    w = winners[0]
    return _("Best test accuracy: {models} with {acc:.2%} at epoch {epoch} ({final:.2%} at the last epoch).",
             models=_models(winners), acc=top, epoch=w["best_epoch"], final=w["final_test_acc"])


def fastest_text(rows: list[dict], threshold: float):
    """Fastest learner = fewest epochs to reach ``threshold`` test accuracy; ties named."""
    reached = [r for r in rows if r.get("epochs_to_reach") is not None]
    if not reached:
        return _("No run reached {t:.0%} test accuracy, so no fastest learner can be named.", t=threshold)
    fewest = min(r["epochs_to_reach"] for r in reached)
    winners = [r for r in reached if r["epochs_to_reach"] == fewest]
    missed = [r for r in rows if r.get("epochs_to_reach") is None]
    if len(winners) > 1:
        text = _n("Fastest to {t:.0%} test accuracy: a tie between {models} ({n} epoch).",
                  "Fastest to {t:.0%} test accuracy: a tie between {models} ({n} epochs).", fewest,
                  t=threshold, models=_models(winners))
    else:
        text = _n("Fastest to {t:.0%} test accuracy: {models} ({n} epoch).",
                  "Fastest to {t:.0%} test accuracy: {models} ({n} epochs).", fewest,
                  t=threshold, models=_models(winners))
    if missed:
        return text + _("Never reached it: {models}.", models=_models(missed))
    return text


def stalled_text(rows: list[dict], chance: float):
    stalled = [r for r in rows if r["stalled"]]
    if not stalled:
        return _("No run stalled (every final training accuracy is above {a:.1%}, the majority-class rate plus "
                 "{m:g} percentage points).", a=chance + STALL_MARGIN, m=STALL_MARGIN * 100)
    parts = []
    for r in stalled:
        if r["diverged"]:
            parts.append(_("`{m}` diverged (its loss became NaN or infinite)", m=r["model"]))
        else:
            parts.append(_("`{m}` ended at {a:.1%} training accuracy", m=r["model"], a=r["final_train_acc"]))
    return _("Stalled (final training accuracy at most {m:g} percentage points above the majority-class rate "
             "{c:.1%}, or diverged): {parts}.", m=STALL_MARGIN * 100, c=chance, parts=join(parts))


def curve_rows(runs: dict[str, dict], **extra_of) -> list[dict]:
    """Flat per-epoch rows (epoch 0 = untrained) of every run, for metrics CSV."""
    rows = []
    for label, run in runs.items():
        n = len(run["history"]["train_loss"])
        for e in range(n + 1):
            row = {"model": label, **{k: v[label] for k, v in extra_of.items()}, "epoch": e}
            for key in ("train_loss", "train_acc", "test_loss", "test_acc"):
                row[key] = curve(run, key)[e]
            row["weight_norm"] = run["history"]["weight_norm"][e - 1] if e else None
            rows.append(row)
    return rows


def plot_curves(runs: dict[str, dict], title, log_loss: bool = True):
    """A 2x2 figure: train loss, test loss, train accuracy, test accuracy vs epoch (0 = untrained)."""
    from .plotting import epoch_axis, new_figure

    fig, axes = new_figure(2, 2, size=(11, 7.5))
    panels = [("train_loss", _("train loss")), ("test_loss", _("test loss")),
              ("train_acc", _("train accuracy")), ("test_acc", _("test accuracy"))]
    for ax, (key, name) in zip(axes.flat, panels):
        for label, run in runs.items():
            ys = [np.nan if v is None else v for v in curve(run, key)]
            ax.plot(range(len(ys)), ys, label=label, lw=1.4)
        ax.set_title(name)
        epoch_axis(ax)
        if key.endswith("loss") and log_loss:
            ax.set_yscale("log")
    axes[0, 0].legend(fontsize=7, ncol=2)
    fig.suptitle(title, y=1.0)
    fig.subplots_adjust(hspace=0.45, wspace=0.3)  # fixed spacing: tight_layout costs a second full draw
    return fig
