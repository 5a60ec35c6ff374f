"""Callbacks: code the Trainer runs at fixed points of training, Keras-style.

    class PrintLoss(Callback):
        def on_epoch_end(self, trainer, epoch, logs):
            print(epoch, logs["train_loss"])

Order within an epoch: ``on_epoch_begin`` -> (every step) ``on_batch_end`` -> the epoch's
evaluation -> the scheduler's epoch step -> ``on_epoch_end`` -> the checkpoint -> plain
functions ``f(trainer, epoch, history)``. A callback stops training by setting
``trainer.stop_training = True``; the checkpoint records that and the state of every
callback (:meth:`Callback.state_dict`), so a resumed run stops where the first one would have.

Reference: https://keras.io/api/callbacks/
"""
from __future__ import annotations

import math

import numpy as np


class Callback:
    """Base class: override the hooks you need. ``logs`` is a dict of numbers.

    * ``on_train_begin(trainer, logs)``: ``fit`` starts (before a checkpoint is restored).
    * ``on_epoch_begin(trainer, epoch, logs)``: epoch (0-based) starts.
    * ``on_batch_end(trainer, step, logs)``: after an optimizer step; logs: ``loss``,
      ``batch_size`` and ``grad_norm`` (pre-clipping global norm, when the Trainer computed it).
    * ``on_epoch_end(trainer, epoch, logs)``: logs: ``train_loss``, ``train_acc``,
      ``test_loss``/``test_acc`` with a test set, ``lr`` (first group, during the epoch).
    * ``on_train_end(trainer, logs)``: ``fit`` ends normally.

    A callback with state a resumed run needs returns it from :meth:`state_dict` (JSON values
    and NumPy arrays) and takes it back in :meth:`load_state_dict`.
    """

    def on_train_begin(self, trainer, logs: dict) -> None:
        pass

    def on_epoch_begin(self, trainer, epoch: int, logs: dict) -> None:
        pass

    def on_batch_end(self, trainer, step: int, logs: dict) -> None:
        pass

    def on_epoch_end(self, trainer, epoch: int, logs: dict) -> None:
        pass

    def on_train_end(self, trainer, logs: dict) -> None:
        pass

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state: dict) -> None:
        pass


class EarlyStopping(Callback):
    """Stop when ``monitor`` has not improved for ``patience`` epochs (Keras's rule).

    An epoch improves on the best value so far when ``value < best - min_delta`` (mode
    'min') or ``value > best + min_delta`` (mode 'max'); 'auto' picks 'max' for names
    containing "acc" and 'min' otherwise. After ``patience`` epochs in a row without
    improvement, ``trainer.stop_training`` is set. A NaN or missing value never improves.

    ``restore_best_weights=True`` keeps a copy of the model's state at the best epoch and
    loads it when training ends, stopped or not (the model is the best one seen, e.g. by
    dev accuracy). Its state (best value and epoch, the wait, the copy) is checkpointed.

    Reference: https://keras.io/api/callbacks/early_stopping/
    """

    def __init__(self, monitor: str = "test_loss", patience: int = 0, min_delta: float = 0.0, mode: str = "auto",
                 restore_best_weights: bool = False):
        if mode not in ("min", "max", "auto"):
            raise ValueError(f"EarlyStopping: mode must be 'min', 'max' or 'auto', got {mode!r}")
        if patience < 0 or min_delta < 0:
            raise ValueError(f"EarlyStopping: patience and min_delta must be >= 0, got {patience}, {min_delta}")
        self.monitor, self.patience, self.min_delta = monitor, int(patience), float(min_delta)
        self.mode = ("max" if "acc" in monitor else "min") if mode == "auto" else mode
        self.restore_best_weights = bool(restore_best_weights)
        self.on_train_begin(None, {})

    def on_train_begin(self, trainer, logs):
        self.best, self.best_epoch, self.wait, self.stopped_epoch = None, None, 0, None
        self.best_weights: dict | None = None

    def _improves(self, value: float) -> bool:
        if value is None or math.isnan(value):
            return False
        if self.best is None:
            return True
        if self.mode == "min":
            return value < self.best - self.min_delta
        return value > self.best + self.min_delta

    def on_epoch_end(self, trainer, epoch, logs):
        if self.monitor not in logs:
            raise ValueError(f"EarlyStopping monitors {self.monitor!r} but the epoch's logs hold {sorted(logs)}; "
                             "pass a test set to fit() or monitor one of those")
        value = logs[self.monitor]
        if self._improves(value):
            self.best, self.best_epoch, self.wait = float(value), epoch, 0
            if self.restore_best_weights:
                self.best_weights = trainer.model.state_dict()
            return
        self.wait += 1
        if self.wait >= self.patience:
            self.stopped_epoch = epoch
            trainer.stop_training = True

    def on_train_end(self, trainer, logs):
        if self.restore_best_weights and self.best_weights is not None:
            trainer.model.load_state_dict(self.best_weights)

    def state_dict(self) -> dict:
        state = {"best": self.best, "best_epoch": self.best_epoch, "wait": self.wait,
                 "stopped_epoch": self.stopped_epoch}
        for name, value in (self.best_weights or {}).items():
            state[f"best_weights:{name}"] = value
        return state

    def load_state_dict(self, state: dict) -> None:
        self.best, self.best_epoch = state["best"], state["best_epoch"]
        self.wait, self.stopped_epoch = state["wait"], state["stopped_epoch"]
        weights = {k.split(":", 1)[1]: np.array(v) for k, v in state.items() if k.startswith("best_weights:")}
        self.best_weights = weights or None
