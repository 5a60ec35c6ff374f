"""What the Trainer trains and evaluates on: in-memory arrays, or an iterable of batches.

* :class:`ArrayData`: inputs x (N, ...) and targets y (N, ...) checked once; the Trainer
  batches them itself (its fastest path: one fancy-indexing copy per batch).
* :class:`BatchData`: a re-iterable of ``(inputs, targets)`` batches, e.g. a
  :class:`~backproplab.data.DataLoader`; ``inputs`` may be a tuple, passed to the model as
  ``model.forward(*inputs)`` (e.g. ``(ids, lengths)`` for a sequence classifier).

Both yield ``(inputs_tuple, targets)``. :class:`MetricSum` accumulates a metric over batches.
"""
from __future__ import annotations

import numpy as np


def class_ids(y: np.ndarray) -> np.ndarray:
    """Class ids (N,) from targets given as ids (N,), a column (N, 1) or one-hot rows (N, K)."""
    if y.ndim == 2:
        return y.argmax(axis=1) if y.shape[1] > 1 else y.reshape(len(y))
    return y


def _check_finite(name: str, what: str, a) -> None:
    a = np.asarray(a)
    if np.issubdtype(a.dtype, np.floating) and not np.all(np.isfinite(a)):
        fix = ("clean or impute them before training" if what.startswith("inputs")
               else "remove or fix those samples; a NaN target would be reported as a diverging loss")
        raise ValueError(f"{name}: the {what} contain NaN or inf; {fix}")


class ArrayData:
    """x (N, ...) and y (N, ...), checked: paired, non-empty, finite."""

    def __init__(self, name: str, x, y):
        if x is None or y is None:
            raise ValueError(f"{name}: both inputs and targets are needed")
        x, y = np.asarray(x), np.asarray(y)
        if len(x) != len(y):
            raise ValueError(f"{name}: {len(x)} inputs but {len(y)} targets; they must pair up one to one")
        if len(x) == 0:
            raise ValueError(f"{name}: the data set is empty")
        _check_finite(name, "inputs", x)
        _check_finite(name, "targets", y)
        self.x, self.y = x, y

    def eval_batches(self, batch_size: int):
        for start in range(0, len(self.x), batch_size):
            yield (self.x[start:start + batch_size],), self.y[start:start + batch_size]


class BatchData:
    """A re-iterable of (inputs, targets) batches; each batch is checked as it comes."""

    def __init__(self, name: str, source):
        if not hasattr(source, "__iter__"):
            raise TypeError(f"{name}: expected arrays (x, y) or an iterable of (inputs, targets) batches such as a "
                            f"DataLoader, got {type(source).__name__}")
        if iter(source) is source:
            raise ValueError(f"{name}: a one-shot iterator cannot be passed over every epoch; give a DataLoader "
                             "or a list of batches")
        self.name, self.source = name, source

    def batches(self, shuffle: bool | None = None):
        """(inputs tuple, targets) per batch; ``shuffle=False`` asks a DataLoader for its fixed order."""
        it = self.source.batches(shuffle) if hasattr(self.source, "batches") else iter(self.source)
        for k, batch in enumerate(it):
            if not isinstance(batch, (tuple, list)) or len(batch) != 2:
                raise ValueError(f"{self.name}: batch {k} is not a pair (inputs, targets); a collate_fn must "
                                 "return (x, y) or ((x, lengths), y)")
            inputs, y = batch
            inputs = tuple(inputs) if isinstance(inputs, (tuple, list)) else (inputs,)
            for a in inputs:
                _check_finite(self.name, f"inputs of batch {k}", a)
            _check_finite(self.name, f"targets of batch {k}", y)
            yield inputs, y

    def eval_batches(self, batch_size: int):
        return self.batches(shuffle=False)  # evaluation draws nothing from a loader's rng

    @property
    def batch_size(self):
        return getattr(self.source, "batch_size", None)


def as_data(name: str, x, y):
    """ArrayData for arrays (x, y); BatchData for an iterable of batches given alone (y None)."""
    if y is None and x is not None and not isinstance(x, np.ndarray):
        return BatchData(name, x)
    return ArrayData(name, x, y)


class MetricSum:
    """Accumulates a metric over batches: ``"accuracy"``, None (nothing) or a callable.

    A callable ``metric(outputs, targets)`` returns the batch's mean (weighted by the batch's
    number of samples when batches are combined) or a pair ``(total, count)`` when its
    denominator is not the number of samples (e.g. accuracy over the labelled steps only).
    """

    def __init__(self, metric, loss_fn):
        self.metric, self.predict = metric, getattr(loss_fn, "predict", None)
        self.total, self.count = 0.0, 0

    def add(self, out, y) -> None:
        if self.metric is None:
            return
        if self.metric == "accuracy":
            self.total += int(np.count_nonzero(self.predict(out) == class_ids(y)))
            self.count += len(y)
            return
        value = self.metric(out, y)
        if isinstance(value, tuple):
            self.total, self.count = self.total + float(value[0]), self.count + value[1]
        else:
            self.total, self.count = self.total + float(value) * len(y), self.count + len(y)

    def value(self) -> float | None:
        return None if self.metric is None or not self.count else self.total / self.count


def check_metric(metric, loss_fn) -> None:
    """ValueError unless ``metric`` is "accuracy" (with a loss that can predict), None or a callable."""
    if metric is None or callable(metric):
        return
    if metric != "accuracy":
        raise ValueError(f"unknown metric {metric!r}; use 'accuracy', None (loss only) or a callable "
                         "metric(outputs, targets) -> float")
    if not callable(getattr(loss_fn, "predict", None)):
        raise ValueError(f"metric='accuracy' needs loss_fn.predict(outputs), which {type(loss_fn).__name__} lacks; "
                         "pass metric=None (loss only) or a callable metric(outputs, targets)")
