"""What a lab shows while it runs: the sub-experiment it is on, a bar per epoch, a line per epoch.

    [3/28] activations: train-tanh-d2
    epoch 4/15 ━━━━━━━━━━━━━━━━━━━━ 94/94 [00:01<00:00, 71.2 batch/s]
    epoch 4/15: train loss 0.0712, acc 97.55%; test acc 97.10% (1.4 s)

It prints to standard error, through tqdm, and only on a terminal: with ``--quiet``, or when
the output goes to a file or a pipe (CI, tests), a lab prints its first and last lines only.
Code deep inside a lab reaches the run's :class:`Progress` through :func:`current`.
"""
from __future__ import annotations

import contextlib
import contextvars
import sys
import time

from ..train.callbacks import Callback

_current: contextvars.ContextVar["Progress"] = contextvars.ContextVar("backproplab_progress")


class Progress:
    """Progress display of one run; ``enabled=None`` means: only when standard error is a terminal."""

    def __init__(self, enabled: bool | None = None, stream=None):
        self.stream = stream or sys.stderr
        if enabled is None:
            enabled = bool(getattr(self.stream, "isatty", lambda: False)())
        self.enabled = enabled

    def _write(self, text: str) -> None:
        if self.enabled:
            from tqdm import tqdm

            tqdm.write(text, file=self.stream)

    def task(self, k: int, n: int, key: str, label: str = "") -> None:
        """Announce sub-experiment ``k`` of ``n``."""
        self._write(f"[{k}/{n}] {label + ': ' if label else ''}{key}")

    def info(self, text: str) -> None:
        self._write(text)

    def bar(self, iterable, total: int | None = None, desc: str = "", unit: str = "it"):
        """``iterable`` wrapped in a tqdm bar (the iterable itself when disabled)."""
        if not self.enabled:
            return iterable
        from tqdm import tqdm

        return tqdm(iterable, total=total, desc=desc, unit=unit, leave=False, file=self.stream,
                    dynamic_ncols=True)

    def training(self, desc: str = "") -> "TrainingProgress":
        """A Trainer callback: a per-batch bar with rate and ETA, and a one-line summary per epoch."""
        return TrainingProgress(self, desc)


class TrainingProgress(Callback):
    """Trainer callback drawing :class:`Progress`'s training display (nothing when disabled)."""

    def __init__(self, progress: Progress, desc: str = ""):
        self.progress, self.desc = progress, desc
        self._bar = None
        self._t0 = 0.0

    def on_epoch_begin(self, trainer, epoch: int, logs=None) -> None:
        if not self.progress.enabled:
            return
        from tqdm import tqdm

        self._t0 = time.perf_counter()
        total = getattr(trainer, "steps_per_epoch", None)
        self._bar = tqdm(total=total, desc=f"{self.desc + ' ' if self.desc else ''}epoch {epoch + 1}/"
                                           f"{trainer.num_epochs}", unit="batch", leave=False,
                         file=self.progress.stream, dynamic_ncols=True)

    def on_batch_end(self, trainer, step: int, logs=None) -> None:
        if self._bar is not None:
            self._bar.update(1)

    def on_epoch_end(self, trainer, epoch: int, logs=None) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        if not self.progress.enabled:
            return
        h = trainer.history
        parts = [f"train loss {h.train_loss[-1]:.4g}"]
        if h.train_acc and h.train_acc[-1] is not None:  # None: a Trainer with metric=None (loss only)
            parts.append(f"acc {h.train_acc[-1]:.2%}")
        if h.test_loss and h.test_acc[-1] is None:
            parts.append(f"test loss {h.test_loss[-1]:.4g}")
        elif h.test_acc:
            parts.append(f"test acc {h.test_acc[-1]:.2%}")
        head = f"{self.desc + ' ' if self.desc else ''}epoch {epoch + 1}/{trainer.num_epochs}"
        self.progress.info(f"{head}: {', '.join(parts)} ({time.perf_counter() - self._t0:.1f} s)")

    def on_train_end(self, trainer, logs=None) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


_QUIET = Progress(enabled=False)


def current() -> Progress:
    """The Progress of the run in progress (a silent one outside a run)."""
    return _current.get(_QUIET)


@contextlib.contextmanager
def use(progress: Progress):
    token = _current.set(progress)
    try:
        yield progress
    finally:
        _current.reset(token)
