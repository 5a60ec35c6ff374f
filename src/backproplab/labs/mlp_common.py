"""What the four MLP labs (activations, init, optimizers, l2) share.

* :func:`load_data`: Fashion-MNIST for ``config.classes`` (a seeded slice in quick mode);
* :func:`train_run`: one model trained by the library's :class:`~backproplab.train.Trainer`,
  returned as a JSON-able dict (so :meth:`LabRun.step` can cache it and a killed run resumes);
* :func:`summarize`, :func:`best_text`, :func:`fastest_text`, :func:`stalled_text`: the
  observations every report states, computed from the run's numbers (ties reported as ties);
* :func:`plot_curves`: train/test loss and accuracy per epoch, one line per model.
"""
from __future__ import annotations

import ctypes
import glob
import math
import os
import time
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np

from ..nn import LOSSES
from ..train import Trainer, TrainingDiverged
from .common import new_figure, parse_classes

#: samples kept in quick mode (train, test): enough for every lab's claim, seconds per lab
QUICK_TRAIN, QUICK_TEST = 1000, 500


def _openblas():
    """numpy's bundled OpenBLAS (scipy-openblas) as a ctypes library, or None if not found."""
    folder = os.path.dirname(np.__file__) + ".libs"  # where numpy's wheels keep their shared libraries
    for path in glob.glob(os.path.join(folder, "libscipy_openblas*.so*")):
        try:
            lib = ctypes.CDLL(path)
            return lib.scipy_openblas_get_num_threads64_, lib.scipy_openblas_set_num_threads64_
        except (OSError, AttributeError):
            continue
    return None


@contextmanager
def one_blas_thread():
    """Run the block with OpenBLAS on one thread, then restore the previous count.

    Why: the MLPs' matrices are small (batch x 784 x 256 at most), so a second thread gains
    little, while on a busy machine OpenBLAS's spinning threads slowed these labs 3-25x
    (measured on the shared 2-core build machine). Skipped when the user set
    ``OPENBLAS_NUM_THREADS`` or when numpy does not use the bundled OpenBLAS.
    """
    fns = None if "OPENBLAS_NUM_THREADS" in os.environ else _openblas()
    if fns is None:
        yield
        return
    get, set_ = fns
    before = get()
    set_(1)
    try:
        yield
    finally:
        set_(before)


def option(default, help: str):
    """A Config field with its CLI help text (``backproplab lab NAME --help`` shows it)."""
    return field(default=default, metadata={"help": help})


@dataclass
class LabData:
    """Arrays for one lab run. x: (N, 784) float32 in [0, 1]; y: (N,) int64 in 0..k-1."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    class_names: tuple
    source: str
    note: str  # what subset was used, for the report

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def chance(self) -> float:
        """Accuracy of always predicting the most frequent training class."""
        return float(np.bincount(self.y_train).max() / len(self.y_train))


def load_data(config) -> LabData:
    """Fashion-MNIST for ``config.classes`` from ``config.data_dir``; a random slice when ``config.quick``."""
    from ..data import load_fashion_mnist

    ds = load_fashion_mnist(classes=parse_classes(config.classes), data_dir=config.data_dir)
    x_train, y_train, x_test, y_test = ds.x_train, ds.y_train, ds.x_test, ds.y_test
    note = f"{len(x_train)} training and {len(x_test)} test images"
    if config.quick:
        # a seeded random slice (the files' order could be class-sorted in a user's npz)
        rng = np.random.default_rng(config.seed + 1)
        tr = rng.permutation(len(x_train))[:QUICK_TRAIN]
        te = rng.permutation(len(x_test))[:QUICK_TEST]
        x_train, y_train, x_test, y_test = x_train[tr], y_train[tr], x_test[te], y_test[te]
        note = (f"quick mode: a random {len(x_train)} of {len(ds.x_train)} training and "
                f"{len(x_test)} of {len(ds.x_test)} test images")
    return LabData(x_train, y_train, x_test, y_test, tuple(ds.class_names), ds.source, note)


def resolve_epochs(config, full: int, quick: int) -> int:
    """``config.epochs`` if given, else the lab's default for full or quick mode."""
    if config.epochs is not None:
        if config.epochs < 1:
            raise ValueError(f"--epochs must be >= 1, got {config.epochs}")
        return int(config.epochs)
    return quick if config.quick else full


def reach_threshold(config, num_classes: int) -> float:
    """Test accuracy that counts as 'learned' for the fastest-learner observation."""
    if getattr(config, "reach_acc", None) is not None:
        return float(config.reach_acc)
    return 0.98 if num_classes == 2 else 0.85


def machine_note() -> str:
    """CPU count and 1-minute load average, so a reader can judge the timings."""
    try:
        load = f"load average {os.getloadavg()[0]:.1f}"
    except OSError:
        load = "load average unknown"
    return f"{os.cpu_count()} CPUs, {load} when the report was written"


def make_loss(name: str):
    try:
        return LOSSES[name]()
    except KeyError:
        raise ValueError(f"unknown loss {name!r}; choose one of {', '.join(LOSSES)}") from None


def cosine_factor(done: int, total: int) -> float:
    """(1 + cos(π·done/total))/2: the cosine schedule's lr multiplier once ``done`` of ``total`` epochs are done.

    Reference: Loshchilov & Hutter (2017), SGDR (cosine annealing without restarts).
    """
    return 0.5 * (1.0 + math.cos(math.pi * done / total))


def cosine_lr(optimizer, epochs: int):
    """A Trainer callback: after epoch e (0-based) set every group's lr to lr₀·cosine_factor(e + 1, epochs)."""
    base = [g["lr"] for g in optimizer.param_groups]

    def callback(trainer, epoch, history):
        f = cosine_factor(epoch + 1, epochs)
        for g, lr0 in zip(optimizer.param_groups, base):
            g["lr"] = lr0 * f
    return callback


def train_run(model, optimizer, data: LabData, *, loss: str, batch_size, epochs: int, rng: np.random.Generator,
              record_grad_norms: bool = False, record_steps: bool = False, x_train=None, y_train=None,
              callbacks=None) -> dict:
    """Train ``model`` and return its history and timing as plain JSON values.

    Epoch 0 of the returned curves is the untrained model, so every curve starts where training did.
    A run whose loss becomes NaN/inf is not an error: it is returned with ``diverged`` set and
    the epochs it finished.
    """
    x_train = data.x_train if x_train is None else x_train
    y_train = data.y_train if y_train is None else y_train
    trainer = Trainer(model, make_loss(loss), optimizer, batch_size=batch_size, num_epochs=epochs, rng=rng,
                      record_steps=record_steps, record_grad_norms=record_grad_norms, callbacks=callbacks)
    init = {}
    diverged = None
    with one_blas_thread():
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
    return {"history": history.to_dict(), "init": init, "diverged": diverged, "train_time_s": wall,
            "steps_per_epoch": steps, "n_train": n}


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
    n_done = len(h["train_loss"])
    row = {"model": label, **extra}
    if n_done:
        best_i = int(np.argmax(test_acc))
        row.update(final_train_loss=h["train_loss"][-1], final_train_acc=h["train_acc"][-1],
                   final_test_loss=h["test_loss"][-1], final_test_acc=test_acc[-1],
                   best_test_acc=test_acc[best_i], best_epoch=best_i + 1)
    else:
        row.update(final_train_loss=None, final_train_acc=None, final_test_loss=None, final_test_acc=None,
                   best_test_acc=None, best_epoch=None)
    row["epochs_to_reach"] = epochs_to_reach(test_acc, threshold)
    row["train_time_s"] = run["train_time_s"]
    row["diverged"] = bool(run["diverged"])
    # stalled: no better than guessing the majority class (within 5 points) at the end, or diverged
    row["stalled"] = row["diverged"] or (row["final_train_acc"] is not None and row["final_train_acc"] <= chance + 0.05)
    return row


def best_of(rows: list[dict]) -> tuple[float | None, str | None]:
    """(best test accuracy, the model(s) that reached it, ties joined by ' = ')."""
    done = [r for r in rows if r.get("best_test_acc") is not None]
    if not done:
        return None, None
    top = max(r["best_test_acc"] for r in done)
    return top, " = ".join(r["model"] for r in done if r["best_test_acc"] == top)


def _names(rows: list[dict]) -> str:
    return ", ".join(f"`{r['model']}`" for r in rows)


def best_text(rows: list[dict]) -> str:
    """'Best test accuracy: ...' with ties named as ties."""
    done = [r for r in rows if r.get("best_test_acc") is not None]
    if not done:
        return "No run finished an epoch, so no best test accuracy can be named."
    top = max(r["best_test_acc"] for r in done)
    winners = [r for r in done if r["best_test_acc"] == top]
    if len(winners) > 1:
        finals = ", ".join(f"`{r['model']}` {r['final_test_acc']:.2%}" for r in winners)
        return f"Best test accuracy {top:.2%} is a tie between {_names(winners)} (at the last epoch: {finals})."
    w = winners[0]
    return (f"Best test accuracy: {_names(winners)} with {top:.2%} at epoch {w['best_epoch']} "
            f"({w['final_test_acc']:.2%} at the last epoch).")


def fastest_text(rows: list[dict], threshold: float) -> str:
    """Fastest learner = fewest epochs to reach ``threshold`` test accuracy; ties named."""
    reached = [r for r in rows if r.get("epochs_to_reach") is not None]
    if not reached:
        return f"No run reached {threshold:.0%} test accuracy, so no fastest learner can be named."
    fewest = min(r["epochs_to_reach"] for r in reached)
    winners = [r for r in reached if r["epochs_to_reach"] == fewest]
    missed = [r for r in rows if r.get("epochs_to_reach") is None]
    ep = "epoch" if fewest == 1 else "epochs"
    if len(winners) > 1:
        text = f"Fastest to {threshold:.0%} test accuracy: a tie between {_names(winners)} ({fewest} {ep})."
    else:
        text = f"Fastest to {threshold:.0%} test accuracy: {_names(winners)} ({fewest} {ep})."
    if missed:
        text += f" Never reached it: {_names(missed)}."
    return text


def stalled_text(rows: list[dict], chance: float) -> str:
    stalled = [r for r in rows if r["stalled"]]
    if not stalled:
        return f"No run stalled (every final training accuracy is above {chance + 0.05:.0%}, chance + 5 points)."
    parts = []
    for r in stalled:
        if r["diverged"]:
            parts.append(f"`{r['model']}` diverged (loss became NaN/inf)")
        else:
            parts.append(f"`{r['model']}` ended at {r['final_train_acc']:.1%} training accuracy")
    return (f"Stalled (final training accuracy within 5 points of the majority-class rate {chance:.1%}, "
            f"or diverged): " + "; ".join(parts) + ".")


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


def plot_curves(runs: dict[str, dict], title: str, log_loss: bool = True):
    """A 2x2 figure: train loss, test loss, train accuracy, test accuracy vs epoch (0 = untrained)."""
    fig, axes = new_figure(2, 2, size=(11, 7.5))
    panels = [("train_loss", "train loss"), ("test_loss", "test loss"),
              ("train_acc", "train accuracy"), ("test_acc", "test accuracy")]
    for ax, (key, name) in zip(axes.flat, panels):
        for label, run in runs.items():
            ys = curve(run, key)
            ax.plot(range(len(ys)), ys, label=label, lw=1.4)
        ax.set_title(name)
        ax.set_xlabel("epoch")
        if key.endswith("loss") and log_loss:
            ax.set_yscale("log")
        ax.grid(alpha=0.3)
    axes[0, 0].legend(fontsize=7, ncol=2)
    fig.suptitle(title, y=1.0)
    fig.subplots_adjust(hspace=0.45, wspace=0.3)  # fixed spacing: tight_layout costs a second full draw
    return fig
