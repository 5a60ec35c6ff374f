"""One training loop for full-batch GD, mini-batch GD and SGD (batch size 1).

    for epoch:
        shuffle the training set with ``rng``            (skipped for full batch)
        for each batch:  forward -> loss -> zero_grad -> backward -> optimizer.step()
        evaluate train/test loss and accuracy, record, checkpoint

A killed run resumes from its last checkpoint (saved after every epoch) and ends
with bit-identical weights to an uninterrupted run: the checkpoint holds the
model, the optimizer state and the state of every random generator in play.

Reference: d2l.ai's ``Trainer.fit``; https://pytorch.org/tutorials/beginner/basics/optimization_tutorial.html
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

import numpy as np

from ..nn.parallel import DataParallel
from ..utils.memory import retain_freed_memory
from .checkpoint import generators_of, load_checkpoint, save_checkpoint
from .history import History


class TrainingDiverged(FloatingPointError):
    """The loss became NaN or inf."""


def _class_ids(y: np.ndarray) -> np.ndarray:
    """Class ids (N,) from targets given as ids (N,), a column (N, 1) or one-hot rows (N, K)."""
    if y.ndim == 2:
        return y.argmax(axis=1) if y.shape[1] > 1 else y.reshape(len(y))
    return y


def _check_data(name: str, x, y) -> tuple[np.ndarray, np.ndarray]:
    if x is None or y is None:
        raise ValueError(f"{name}: both inputs and targets are needed")
    x, y = np.asarray(x), np.asarray(y)
    if len(x) != len(y):
        raise ValueError(f"{name}: {len(x)} inputs but {len(y)} targets; they must pair up one to one")
    if len(x) == 0:
        raise ValueError(f"{name}: the data set is empty")
    if np.issubdtype(x.dtype, np.floating) and not np.all(np.isfinite(x)):
        raise ValueError(f"{name}: the inputs contain NaN or inf; clean or impute them before training")
    return x, y


class Trainer:
    """Train ``model`` with ``loss_fn`` and ``optimizer``.

    Args:
        model: a :class:`~backproplab.nn.Module` mapping x (N, ...) to outputs the loss takes.
        loss_fn: e.g. ``CrossEntropyLoss()``; must offer ``backward()`` and ``predict(output)``.
        optimizer: any :class:`~backproplab.optim.Optimizer` over the model's parameters.
        batch_size: ``None`` = full batch (gradient descent), 1 = SGD, else mini-batch GD.
        num_epochs: passes over the training set.
        rng: shuffles the training set (required: explicit randomness).
        shuffle: reshuffle every epoch (mini-batch and SGD modes).
        record_steps: keep the loss of every step in ``history.step_loss``.
        record_grad_norms: keep the per-parameter gradient norm (epoch mean) in ``history.grad_norms``.
        eval_train: after each epoch, evaluate the whole training set in eval mode (exact
            curves); ``False`` reports the running mean of the epoch's batch losses instead.
        progress: show a tqdm progress bar.
        checkpoint_path: ``.npz`` written after every epoch; if it exists, ``fit`` resumes from it.
        callbacks: functions ``f(trainer, epoch, history)`` called after each epoch.
        max_steps_per_epoch: cap on steps per epoch (e.g. SGD on a big set); ``None`` = no cap.

    ``fit`` also asks glibc's malloc to keep freed memory in the process
    (:func:`backproplab.utils.memory.retain_freed_memory`): each step re-allocates the same
    arrays, and fresh pages from the kernel cost 5-9% of a CNN step (measured).
    """

    def __init__(self, model, loss_fn, optimizer, *, batch_size: int | None = None, num_epochs: int = 10,
                 rng: np.random.Generator, shuffle: bool = True, record_steps: bool = False,
                 record_grad_norms: bool = False, eval_train: bool = True, progress: bool = False,
                 checkpoint_path=None, callbacks: list[Callable] | None = None,
                 max_steps_per_epoch: int | None = None, eval_batch_size: int = 2048, metric: str = "accuracy"):
        if batch_size is not None and (not isinstance(batch_size, (int, np.integer)) or batch_size < 1):
            raise ValueError(f"batch_size must be a positive integer or None (full batch), got {batch_size!r}")
        if num_epochs < 0:
            raise ValueError(f"num_epochs must be >= 0, got {num_epochs}")
        if not isinstance(rng, np.random.Generator):
            raise TypeError("Trainer needs rng=np.random.Generator (e.g. np.random.default_rng(seed))")
        if metric != "accuracy":
            raise ValueError(f"unknown metric {metric!r}; only 'accuracy' is supported")
        self.model, self.loss_fn, self.optimizer = model, loss_fn, optimizer
        self.batch_size, self.num_epochs, self.rng = batch_size, int(num_epochs), rng
        self.shuffle, self.record_steps, self.record_grad_norms = shuffle, record_steps, record_grad_norms
        self.eval_train, self.progress = eval_train, progress
        self.checkpoint_path = Path(checkpoint_path) if checkpoint_path else None
        self.callbacks = list(callbacks or [])
        self.max_steps_per_epoch = max_steps_per_epoch
        self.eval_batch_size = eval_batch_size
        self.history = History()

    # -- evaluation ----------------------------------------------------------
    def evaluate(self, x, y) -> tuple[float, float]:
        """Mean loss and accuracy of the model on (x, y), in eval mode, in chunks."""
        x, y = _check_data("evaluate", x, y)
        was_training = self.model.training
        self.model.eval()
        total_loss, correct = 0.0, 0
        try:
            for start in range(0, len(x), self.eval_batch_size):
                xb, yb = x[start:start + self.eval_batch_size], y[start:start + self.eval_batch_size]
                out = self.model.forward(xb)
                total_loss += self.loss_fn(out, yb) * len(xb)
                correct += int(np.count_nonzero(self.loss_fn.predict(out) == _class_ids(yb)))
        finally:
            self.model.train(was_training)
        return total_loss / len(x), correct / len(x)

    # -- training ----------------------------------------------------------------
    def _rngs(self) -> dict[str, np.random.Generator]:
        return {"trainer": self.rng, **generators_of(self.model)}

    def _resume(self) -> int:
        if not (self.checkpoint_path and self.checkpoint_path.exists()):
            return 0
        meta = load_checkpoint(self.checkpoint_path, self.model, self.optimizer, self._rngs(),
                               validate=self._check_resumable)
        self.history = History.from_dict(meta["history"])
        return int(meta["epoch"])

    def _sharding(self) -> tuple[bool, int]:
        """(wrapped in nn.DataParallel, shards per batch): what a resumed run must repeat."""
        if isinstance(self.model, DataParallel):
            return True, self.model.threads
        return False, 1

    def _check_resumable(self, meta: dict) -> None:
        """Refuse a checkpoint written with other settings (before anything is restored)."""
        path = self.checkpoint_path
        wrapped_then, threads_then = bool(meta.get("data_parallel", False)), meta.get("threads", 1)
        wrapped_now, threads_now = self._sharding()
        if (wrapped_then, threads_then) != (wrapped_now, threads_now):
            if wrapped_then != wrapped_now:
                what = (f"written {'with' if wrapped_then else 'without'} nn.DataParallel, "
                        f"this run is {'with' if wrapped_now else 'without'} it")
            else:
                what = f"written with {threads_then} thread(s) (nn.DataParallel shards), this run has {threads_now}"
            raise ValueError(f"checkpoint {path} was {what}; a resumed run repeats the interrupted one only with "
                             "the same thread count: use the same --threads, or delete the checkpoint")
        if meta.get("batch_size") != self.batch_size:
            raise ValueError(
                f"checkpoint {path} was written with batch_size={meta.get('batch_size')}, "
                f"this run has batch_size={self.batch_size}; use the same settings or delete the checkpoint"
            )

    def _batches(self, n: int):
        if self.batch_size is None or self.batch_size >= n:
            return [None]  # full batch: no copy, no shuffle
        order = self.rng.permutation(n) if self.shuffle else np.arange(n)
        batches = [order[i:i + self.batch_size] for i in range(0, n, self.batch_size)]
        if self.max_steps_per_epoch is not None:
            batches = batches[: self.max_steps_per_epoch]
        return batches

    def fit(self, x_train, y_train, x_test=None, y_test=None) -> History:
        """Train for ``num_epochs`` (resuming from the checkpoint if there is one); return the history."""
        x_train, y_train = _check_data("fit (training set)", x_train, y_train)
        retain_freed_memory()  # every step frees and re-allocates the same arrays: keep the pages
        has_test = x_test is not None
        if has_test:
            x_test, y_test = _check_data("fit (test set)", x_test, y_test)
        start_epoch = self._resume()
        named = list(self.model.named_parameters())
        weights = [p for _, p in named if p.data.ndim >= 2]
        epochs = range(start_epoch, self.num_epochs)
        if self.progress:
            from tqdm.auto import tqdm

            epochs = tqdm(epochs, desc="train", unit="epoch", initial=start_epoch, total=self.num_epochs)
        params = [p for _, p in named]
        self.model.train()
        # the input is data: no layer needs to compute the gradient w.r.t. it (restored below)
        needed = self.model.needs_input_grad
        self.model.needs_input_grad = False
        try:
            self._run_epochs(epochs, x_train, y_train, x_test, y_test, named, params, weights)
        finally:
            self.model.needs_input_grad = needed
        return self.history

    def _run_epochs(self, epochs, x_train, y_train, x_test, y_test, named, params, weights) -> None:
        has_test = x_test is not None
        for epoch in epochs:
            t0 = time.perf_counter()
            loss_sum, correct, seen, steps = 0.0, 0, 0, 0
            norm_sums = {name: 0.0 for name, _ in named} if self.record_grad_norms else None
            for idx in self._batches(len(x_train)):
                xb, yb = (x_train, y_train) if idx is None else (x_train[idx], y_train[idx])
                out = self.model.forward(xb)
                try:
                    loss = self.loss_fn(out, yb)
                except FloatingPointError as e:
                    raise self._diverged(epoch, steps, float("nan")) from e
                if not np.isfinite(loss):
                    raise self._diverged(epoch, steps, loss)
                for p in params:  # = model.zero_grad(), without walking the module tree every step
                    p.zero_grad()
                self.model.backward(self.loss_fn.backward())
                if norm_sums is not None:
                    for name, p in named:
                        norm_sums[name] += float(np.sqrt(np.vdot(p.grad, p.grad)))
                self.optimizer.step()
                steps += 1
                loss_sum += loss * len(xb)
                seen += len(xb)
                if not self.eval_train:
                    correct += int(np.count_nonzero(self.loss_fn.predict(out) == _class_ids(yb)))
                if self.record_steps:
                    self.history.step_loss.append(loss)
            h = self.history
            if self.eval_train:
                tl, ta = self.evaluate(x_train, y_train)
            else:
                tl, ta = loss_sum / seen, correct / seen
            h.train_loss.append(tl)
            h.train_acc.append(ta)
            if has_test:
                vl, va = self.evaluate(x_test, y_test)
                h.test_loss.append(vl)
                h.test_acc.append(va)
            h.weight_norm.append(float(sum(np.vdot(w.data, w.data) for w in weights)))
            if norm_sums is not None:
                for name, s in norm_sums.items():
                    h.grad_norms.setdefault(name, []).append(s / steps)
            h.epoch_time.append(time.perf_counter() - t0)
            if self.progress:
                post = {"loss": f"{tl:.4f}", "acc": f"{ta:.4f}"}
                if has_test:
                    post["test_acc"] = f"{h.test_acc[-1]:.4f}"
                epochs.set_postfix(post)
            if self.checkpoint_path:
                wrapped, threads = self._sharding()
                save_checkpoint(self.checkpoint_path, self.model, self.optimizer,
                                {"epoch": epoch + 1, "batch_size": self.batch_size, "data_parallel": wrapped,
                                 "threads": threads, "history": h.to_dict()},
                                self._rngs())
            for cb in self.callbacks:
                cb(self, epoch, h)

    def _diverged(self, epoch: int, step: int, loss: float) -> TrainingDiverged:
        lrs = sorted({g["lr"] for g in self.optimizer.param_groups})
        return TrainingDiverged(
            f"training diverged: the loss became {loss} at epoch {epoch + 1}, step {step + 1} "
            f"(lr={lrs[0] if len(lrs) == 1 else lrs}); lower the learning rate, use a smaller init "
            "or check the inputs"
        )
