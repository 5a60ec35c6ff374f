"""One training loop for full-batch GD, mini-batch GD and SGD (batch size 1), on arrays or batches.

    for epoch:
        shuffle the training set with ``rng``            (arrays; skipped for full batch)
        for each batch:  forward -> loss -> zero_grad -> backward -> (clip) -> optimizer.step()
        evaluate train/test loss and metric, record, scheduler step, callbacks, checkpoint

A killed run resumes from its last checkpoint (saved after every epoch) and ends
with bit-identical weights to an uninterrupted run: the checkpoint holds the model, the
optimizer state, the scheduler and callback states, and the state of every random
generator in play (the Trainer's, the model's, and those of a DataLoader it trains on).

Reference: d2l.ai's ``Trainer.fit``; https://pytorch.org/tutorials/beginner/basics/optimization_tutorial.html
"""
from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Callable

import numpy as np

from ..nn.clip import clip_grad_norm_
from ..utils.io import to_jsonable
from .batches import ArrayData, MetricSum, as_data, check_metric
from .callbacks import Callback
from .checkpoint import generators_in, generators_of, read_checkpoint, restore_checkpoint, save_checkpoint
from .history import History
from .resume import check_resumable


class TrainingDiverged(FloatingPointError):
    """The loss became NaN or inf."""


def _global_norm(params) -> float:
    """‖(∂L/∂θ)_all‖₂ over the parameters that have a gradient."""
    return math.sqrt(sum(float(np.vdot(p.grad, p.grad)) for p in params if p.has_grad))


class Trainer:
    """Train ``model`` with ``loss_fn`` and ``optimizer``.

    Args:
        model: a :class:`~backproplab.nn.Module` mapping inputs to outputs the loss takes.
        loss_fn: e.g. ``CrossEntropyLoss()``; must offer ``backward()`` (and ``predict(output)``
            for ``metric="accuracy"``).
        optimizer: any :class:`~backproplab.optim.Optimizer` over the model's parameters.
        batch_size: for arrays: ``None`` = full batch (gradient descent), 1 = SGD, else
            mini-batch GD. A DataLoader brings its own (leave this None).
        num_epochs: passes over the training set.
        rng: shuffles training arrays (needed when they are shuffled; explicit randomness).
        shuffle: reshuffle training arrays every epoch (mini-batch and SGD modes).
        record_steps: keep the loss of every step in ``history.step_loss``.
        record_step_grad_norms: keep every step's global gradient norm, before clipping, in
            ``history.step_grad_norm``.
        record_grad_norms: keep the per-parameter gradient norm (epoch mean) in ``history.grad_norms``.
        eval_train: after each epoch, evaluate the whole training set in eval mode (exact
            curves); ``False`` reports the running mean of the epoch's batch losses instead.
        progress: show a tqdm progress bar.
        checkpoint_path: ``.npz`` written after every epoch; if it exists, ``fit`` resumes from it.
        checkpoint_tag: any JSON value naming the configuration (e.g. a config hash); a
            checkpoint with another tag is refused.
        callbacks: :class:`~backproplab.train.Callback` objects, or plain functions
            ``f(trainer, epoch, history)`` run after each epoch's checkpoint.
        max_steps_per_epoch: cap on steps per epoch (e.g. SGD on a big set); ``None`` = no cap.
        eval_batch_size: chunk size when evaluating arrays.
        metric: ``"accuracy"`` (``loss_fn.predict`` against the targets' class ids), ``None``
            (loss only; the history's accuracy lists hold None), or a callable
            ``metric(outputs, targets)`` returning the batch mean, or ``(total, count)``
            when its denominator is not the batch size (see :class:`~backproplab.train.batches.MetricSum`).
        clip_grad_norm: rescale the gradients to this global 2-norm at most, every step
            (:func:`~backproplab.nn.clip_grad_norm_`); ``None`` = no clipping.
        scheduler: a :mod:`backproplab.optim.lr_scheduler` scheduler over ``optimizer``.
        scheduler_interval: ``"epoch"`` (step it after every epoch) or ``"step"`` (after every
            optimizer step, e.g. OneCycleLR).

    Each ``fit`` call appends to ``history``. Set ``trainer.stop_training = True`` (from a
    callback) to end training after the current epoch.

    Process-wide memory settings are the caller's business: the lab CLI calls
    :func:`backproplab.utils.memory.retain_freed_memory` once at start-up.
    """

    def __init__(self, model, loss_fn, optimizer, *, batch_size: int | None = None, num_epochs: int = 10,
                 rng: np.random.Generator | None = None, shuffle: bool = True, record_steps: bool = False,
                 record_step_grad_norms: bool = False, record_grad_norms: bool = False, eval_train: bool = True,
                 progress: bool = False, checkpoint_path=None, checkpoint_tag=None,
                 callbacks: list[Callable | Callback] | None = None, max_steps_per_epoch: int | None = None,
                 eval_batch_size: int = 2048, metric="accuracy", clip_grad_norm: float | None = None,
                 scheduler=None, scheduler_interval: str = "epoch"):
        if batch_size is not None and (not isinstance(batch_size, (int, np.integer)) or batch_size < 1):
            raise ValueError(f"batch_size must be a positive integer or None (full batch), got {batch_size!r}")
        if num_epochs < 0:
            raise ValueError(f"num_epochs must be >= 0, got {num_epochs}")
        if rng is not None and not isinstance(rng, np.random.Generator):
            raise TypeError("Trainer needs rng=np.random.Generator (e.g. np.random.default_rng(seed))")
        check_metric(metric, loss_fn)
        if clip_grad_norm is not None and not clip_grad_norm > 0:
            raise ValueError(f"clip_grad_norm must be > 0 (or None for no clipping), got {clip_grad_norm}")
        if scheduler_interval not in ("epoch", "step"):
            raise ValueError(f"scheduler_interval must be 'epoch' or 'step', got {scheduler_interval!r}")
        if scheduler is not None and getattr(scheduler, "optimizer", None) is not optimizer:
            raise ValueError("the scheduler drives another optimizer than the Trainer's")
        self.model, self.loss_fn, self.optimizer = model, loss_fn, optimizer
        self.batch_size, self.num_epochs, self.rng = batch_size, int(num_epochs), rng
        self.shuffle, self.record_steps, self.record_grad_norms = shuffle, record_steps, record_grad_norms
        self.record_step_grad_norms = record_step_grad_norms
        self.eval_train, self.progress = eval_train, progress
        self.checkpoint_path = Path(checkpoint_path) if checkpoint_path else None
        self.checkpoint_tag = to_jsonable(checkpoint_tag)
        callbacks = list(callbacks or [])
        for cb in callbacks:
            if not (isinstance(cb, Callback) or callable(cb)):
                raise TypeError(f"callbacks must be Callback objects or functions f(trainer, epoch, history), "
                                f"got {type(cb).__name__}")
        self.callbacks = [cb for cb in callbacks if isinstance(cb, Callback)]
        self.epoch_functions = [cb for cb in callbacks if not isinstance(cb, Callback)]
        self.max_steps_per_epoch = max_steps_per_epoch
        self.eval_batch_size = eval_batch_size
        self.metric, self.clip_grad_norm = metric, clip_grad_norm
        self.scheduler, self.scheduler_interval = scheduler, scheduler_interval
        self.stop_training = False
        self.history = History(metric=metric if metric is None or isinstance(metric, str)
                               else getattr(metric, "__name__", type(metric).__name__))

    # -- evaluation ----------------------------------------------------------
    def evaluate(self, x, y=None) -> tuple[float, float | None]:
        """Mean loss and metric of the model in eval mode, on arrays (x, y) or on batches x (y None)."""
        return self._evaluate(as_data("evaluate", x, y))

    def _evaluate(self, data) -> tuple[float, float | None]:
        was_training = self.model.training
        self.model.eval()
        total_loss, n, metric = 0.0, 0, MetricSum(self.metric, self.loss_fn)
        try:
            for inputs, yb in data.eval_batches(self.eval_batch_size):
                out = self.model.forward(*inputs)
                total_loss += self.loss_fn(out, yb) * len(yb)
                n += len(yb)
                metric.add(out, yb)
        finally:
            self.model.train(was_training)
        return total_loss / n, metric.value()

    # -- data and resume -----------------------------------------------------------
    def _rngs(self, *datasets) -> dict[str, np.random.Generator]:
        found = {"trainer": self.rng} if self.rng is not None else {}
        found.update(generators_of(self.model))
        for label, data in zip(("train_data", "test_data"), datasets):
            if data is not None and not isinstance(data, ArrayData):
                found.update(generators_in(data.source, label))
        unique, seen = {}, set()
        for name, g in found.items():  # one generator shared by several holders is saved once
            if id(g) not in seen:
                seen.add(id(g))
                unique[name] = g
        return unique

    def _batch_size_of(self, train) -> int | None:
        return self.batch_size if isinstance(train, ArrayData) else train.batch_size

    def _meta(self, epoch: int, train) -> tuple[dict, dict]:
        """(meta, arrays) the checkpoint records beside model, optimizer and generators."""
        meta = {"epoch": epoch, "batch_size": self._batch_size_of(train), "history": self.history.to_dict(),
                "settings": to_jsonable(self.model.checkpoint_settings()), "tag": self.checkpoint_tag,
                "stop_training": self.stop_training,
                "scheduler": None if self.scheduler is None else to_jsonable(self.scheduler.state_dict()),
                "callbacks": []}
        arrays = {}
        for i, cb in enumerate(self.callbacks):
            state = cb.state_dict()
            meta["callbacks"].append({"type": type(cb).__name__, "state": to_jsonable(
                {k: v for k, v in state.items() if not isinstance(v, np.ndarray)})})
            arrays.update({f"callback.{i}.{k}": v for k, v in state.items() if isinstance(v, np.ndarray)})
        return meta, arrays

    def _save(self, epoch: int, train, test) -> None:
        meta, arrays = self._meta(epoch, train)
        save_checkpoint(self.checkpoint_path, self.model, self.optimizer, meta, self._rngs(train, test), arrays)

    def _resume(self, train, test) -> int:
        if not (self.checkpoint_path and self.checkpoint_path.exists()):
            return 0
        path = self.checkpoint_path
        meta, arrays = read_checkpoint(path)
        check_resumable(self, path, meta, self._batch_size_of(train))  # before anything is restored
        extra = restore_checkpoint(path, meta, arrays, self.model, self.optimizer, self._rngs(train, test))
        if self.scheduler is not None:
            self.scheduler.load_state_dict(meta["scheduler"])
        for i, (cb, saved) in enumerate(zip(self.callbacks, meta["callbacks"])):
            prefix = f"callback.{i}."
            cb.load_state_dict({**saved["state"], **{k[len(prefix):]: v for k, v in extra.items()
                                                      if k.startswith(prefix)}})
        self.history = History.from_dict(meta["history"])
        self.stop_training = bool(meta.get("stop_training", False))
        return int(meta["epoch"])

    # -- training ----------------------------------------------------------------
    def fit(self, x_train, y_train=None, x_test=None, y_test=None) -> History:
        """Train for ``num_epochs`` (resuming from the checkpoint if there is one); return the history.

        ``x_train``/``x_test``: arrays with their targets ``y_train``/``y_test``, or an iterable
        of ``(inputs, targets)`` batches (a :class:`~backproplab.data.DataLoader`) with no targets.
        """
        train = as_data("fit (training set)", x_train, y_train)
        test = None if x_test is None else as_data("fit (test set)", x_test, y_test)
        if self.batch_size is not None and not isinstance(train, ArrayData):
            raise ValueError(f"Trainer(batch_size={self.batch_size}) batches arrays; a DataLoader brings its own "
                             "batch size: leave batch_size=None")
        if isinstance(train, ArrayData) and self.shuffle and self.rng is None and \
                self.batch_size is not None and self.batch_size < len(train.x):
            raise ValueError("Trainer(shuffle=True) needs rng=np.random.Generator to shuffle the training set "
                             "(or shuffle=False)")
        self.stop_training = False
        self.steps_per_epoch = self._steps_per_epoch(train)
        for cb in self.callbacks:
            cb.on_train_begin(self, {})
        start_epoch = self._resume(train, test)
        epochs = range(start_epoch, self.num_epochs)
        if self.progress:
            from tqdm.auto import tqdm

            epochs = tqdm(epochs, desc="train", unit="epoch", initial=start_epoch, total=self.num_epochs)
        self.model.train()
        # the input is data: no layer needs to compute the gradient w.r.t. it (restored below)
        needed = self.model.needs_input_grad
        self.model.needs_input_grad = False
        try:
            if not self.stop_training:
                self._run_epochs(epochs, train, test)
        finally:
            self.model.needs_input_grad = needed
        for cb in self.callbacks:
            cb.on_train_end(self, {})
        return self.history

    def _steps_per_epoch(self, train) -> int | None:
        """Optimizer steps in one epoch (None for a loader without a length): for progress displays."""
        if isinstance(train, ArrayData):
            n = len(train.x)
            steps = 1 if self.batch_size is None or self.batch_size >= n else -(-n // self.batch_size)
        else:
            try:
                steps = len(train.source)
            except TypeError:
                return None
        return steps if self.max_steps_per_epoch is None else min(steps, self.max_steps_per_epoch)

    def _array_batches(self, data: ArrayData):
        x, y = data.x, data.y
        n = len(x)
        if self.batch_size is None or self.batch_size >= n:
            yield (x,), y  # full batch: no copy, no shuffle
            return
        order = self.rng.permutation(n) if self.shuffle else np.arange(n)
        batches = [order[i:i + self.batch_size] for i in range(0, n, self.batch_size)]
        for idx in batches[: self.max_steps_per_epoch]:
            yield (x[idx],), y[idx]

    def _run_epochs(self, epochs, train, test) -> None:
        h, named = self.history, list(self.model.named_parameters())
        params, weights = [p for _, p in named], [p for _, p in named if p.data.ndim >= 2]
        forward, backward, loss_fn, opt = self.model.forward, self.model.backward, self.loss_fn, self.optimizer
        clip, cap = self.clip_grad_norm, self.max_steps_per_epoch
        want_norm = clip is not None or self.record_step_grad_norms
        step_scheduler = self.scheduler if self.scheduler_interval == "step" else None
        batch_callbacks = [cb for cb in self.callbacks if type(cb).on_batch_end is not Callback.on_batch_end]
        for epoch in epochs:
            for cb in self.callbacks:
                cb.on_epoch_begin(self, epoch, {})
            t0 = time.perf_counter()
            lr = self.optimizer.param_groups[0]["lr"]
            loss_sum, seen, steps, running = 0.0, 0, 0, MetricSum(self.metric, loss_fn)
            norm_sums = {name: 0.0 for name, _ in named} if self.record_grad_norms else None
            batches = self._array_batches(train) if isinstance(train, ArrayData) else train.batches()
            for inputs, yb in batches:
                if cap is not None and steps >= cap:
                    break
                out = forward(*inputs)
                try:
                    loss = loss_fn(out, yb)
                except FloatingPointError as e:
                    raise self._diverged(epoch, steps, float("nan")) from e
                if not np.isfinite(loss):
                    raise self._diverged(epoch, steps, loss)
                for p in params:  # = model.zero_grad(), without walking the module tree every step
                    p.zero_grad()
                backward(loss_fn.backward())
                if norm_sums is not None:
                    for name, p in named:
                        norm_sums[name] += float(np.sqrt(np.vdot(p.grad, p.grad))) if p.has_grad else 0.0
                grad_norm = None
                if want_norm:
                    grad_norm = clip_grad_norm_(params, clip) if clip is not None else _global_norm(params)
                    if self.record_step_grad_norms:
                        h.step_grad_norm.append(grad_norm)
                opt.step()
                if step_scheduler is not None:
                    step_scheduler.step()
                steps += 1
                loss_sum += loss * len(yb)
                seen += len(yb)
                if not self.eval_train:
                    running.add(out, yb)
                if self.record_steps:
                    h.step_loss.append(loss)
                for cb in batch_callbacks:
                    cb.on_batch_end(self, steps - 1, {"loss": loss, "batch_size": len(yb), "grad_norm": grad_norm})
            self._end_epoch(epoch, epochs, train, test, steps, (loss_sum / seen, running.value()), t0, lr,
                            norm_sums, weights)
            if self.stop_training:
                break

    def _end_epoch(self, epoch, epochs, train, test, steps, running, t0, lr, norm_sums, weights) -> None:
        """Evaluate and record the epoch, step the scheduler, run the callbacks, write the checkpoint."""
        h = self.history
        # both evaluated before either is recorded: a diverged epoch leaves no half-recorded row
        tl, ta = self._evaluate_after_steps(train, epoch, steps) if self.eval_train else running
        if test is not None:
            vl, va = self._evaluate_after_steps(test, epoch, steps)
        h.train_loss.append(tl)
        h.train_acc.append(ta)
        logs = {"train_loss": tl, "train_acc": ta}
        if test is not None:
            h.test_loss.append(vl)
            h.test_acc.append(va)
            logs.update(test_loss=vl, test_acc=va)
        logs["lr"] = lr
        h.epoch_steps.append(steps)
        h.weight_norm.append(float(sum(np.vdot(w.data, w.data) for w in weights)))
        if norm_sums is not None:
            for name, s in norm_sums.items():
                h.grad_norms.setdefault(name, []).append(s / steps)
        h.epoch_time.append(time.perf_counter() - t0)
        if self.scheduler is not None and self.scheduler_interval == "epoch":
            self.scheduler.step()
        for cb in self.callbacks:
            cb.on_epoch_end(self, epoch, logs)
        if self.progress:
            epochs.set_postfix({k: f"{v:.4f}" for k, v in logs.items() if k != "lr" and v is not None})
        if self.checkpoint_path:
            self._save(epoch + 1, train, test)
        stopped = self.stop_training
        for f in self.epoch_functions:
            f(self, epoch, h)
        if self.stop_training and not stopped and self.checkpoint_path:
            self._save(epoch + 1, train, test)  # a plain function stopped the run: record that too

    def _evaluate_after_steps(self, data, epoch: int, steps: int) -> tuple[float, float | None]:
        """The end-of-epoch evaluation. The epoch's last step can leave NaN or inf weights while every
        step's loss was finite: the run diverged at that step."""
        try:
            loss, metric = self._evaluate(data)
        except FloatingPointError as e:
            raise self._diverged(epoch, steps - 1, float("nan")) from e
        if not np.isfinite(loss):
            raise self._diverged(epoch, steps - 1, loss)
        return loss, metric

    def _diverged(self, epoch: int, step: int, loss: float) -> TrainingDiverged:
        self.history.diverged_at = {"epoch": epoch + 1, "step": step + 1, "loss": to_jsonable(float(loss))}
        lrs = sorted({g["lr"] for g in self.optimizer.param_groups})
        return TrainingDiverged(
            f"training diverged: the loss became {loss} at epoch {epoch + 1}, step {step + 1} "
            f"(lr={lrs[0] if len(lrs) == 1 else lrs}); lower the learning rate, use a smaller init "
            "or check the inputs"
        )
