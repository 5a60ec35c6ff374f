"""Losses with their gradients fused: ``loss = loss_fn(pred, target)`` then ``dpred = loss_fn.backward()``.

Each loss also knows how to turn the network's output into class predictions
(:meth:`predict`), so the Trainer can report accuracy for any of them.

References: https://pytorch.org/docs/stable/nn.html#loss-functions ;
the assignment's MSE convention J = 1/(2m) Σ_i ||h_i - y_i||².
"""
from __future__ import annotations

import inspect

import numpy as np


def _check_finite(name: str, a: np.ndarray) -> None:
    if not np.all(np.isfinite(a)):
        raise FloatingPointError(
            f"{name}: the network output contains NaN or inf; lower the learning rate or check the inputs for NaN"
        )


def _as_column_target(pred: np.ndarray, target: np.ndarray, name: str) -> np.ndarray:
    """Targets for an output of shape (N, 1) or (N,): float, same shape as pred."""
    target = np.asarray(target)
    if target.shape != pred.shape:
        if target.size == pred.size and target.shape[0] == pred.shape[0]:
            target = target.reshape(pred.shape)
        else:
            raise ValueError(f"{name}: target shape {target.shape} does not match the output shape {pred.shape}")
    return target.astype(pred.dtype, copy=False)


class MSELoss:
    """J = 1/(2m) Σ_i Σ_k (pred_ik - y_ik)², m = batch size (the assignment's convention).

    Note: torch.nn.MSELoss() averages over all N·K entries and has no ½; in PyTorch
    terms J = ``0.5 * MSELoss(reduction='sum')(pred, y) / N``.

    Shapes: pred (N, K) or (N,); target same shape, or int class ids (N,) when K > 1
    (then one-hot encoded). dpred = (pred - y)/m.
    """

    def __call__(self, pred, target) -> float:
        return self.forward(pred, target)

    def forward(self, pred: np.ndarray, target: np.ndarray) -> float:
        _check_finite("MSELoss", pred)
        target = np.asarray(target)
        if pred.ndim == 2 and pred.shape[1] > 1 and target.ndim == 1:
            onehot = np.zeros_like(pred)
            onehot[np.arange(len(target)), target.astype(np.int64)] = 1
            target = onehot
        else:
            target = _as_column_target(pred, target, "MSELoss")
        self._diff = pred - target
        self._m = pred.shape[0]
        return float(0.5 * np.vdot(self._diff, self._diff) / self._m)

    def backward(self, dloss: float = 1.0) -> np.ndarray:
        return self._diff * (dloss / self._m)

    @staticmethod
    def predict(pred: np.ndarray) -> np.ndarray:
        if pred.ndim == 2 and pred.shape[1] > 1:
            return pred.argmax(axis=1)
        return (pred.reshape(len(pred)) > 0.5).astype(np.int64)


class BCEWithLogitsLoss:
    """Binary cross-entropy on logits z, mean over all entries (as PyTorch):
    ℓ = max(z, 0) - z·y + log(1 + e^{-|z|})  (stable for any z); dℓ/dz = σ(z) - y.

    Shapes: logits (N,) or (N, 1); target same number of entries, values in [0, 1].
    """

    def __call__(self, logits, target) -> float:
        return self.forward(logits, target)

    def forward(self, logits: np.ndarray, target: np.ndarray) -> float:
        _check_finite("BCEWithLogitsLoss", logits)
        y = _as_column_target(logits, target, "BCEWithLogitsLoss")
        z = logits
        self._y = y
        e = np.exp(-np.abs(z))
        self._sig = np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e)).astype(z.dtype, copy=False)
        loss = np.maximum(z, 0) - z * y + np.log1p(e)
        return float(loss.mean())

    def backward(self, dloss: float = 1.0) -> np.ndarray:
        return (self._sig - self._y) * (dloss / self._y.size)

    @staticmethod
    def predict(logits: np.ndarray) -> np.ndarray:
        return (logits.reshape(len(logits)) > 0).astype(np.int64)


class CrossEntropyLoss:
    """Softmax cross-entropy fused with its gradient, mean over the batch (as PyTorch).

    ℓ_i = log Σ_j e^{z_ij} - z_{i,y_i};  dℓ/dz = (softmax(z) - onehot(y)) / N.
    The max is subtracted before exp, so any finite logits are safe.

    Shapes: logits (N, C); target int class ids (N,) in [0, C).
    Reference: https://pytorch.org/docs/stable/generated/torch.nn.CrossEntropyLoss.html
    """

    def __call__(self, logits, target) -> float:
        return self.forward(logits, target)

    def forward(self, logits: np.ndarray, target: np.ndarray) -> float:
        if logits.ndim != 2:
            raise ValueError(f"CrossEntropyLoss expects logits of shape (N, C), got {logits.shape}")
        target = np.asarray(target)
        if target.shape != (logits.shape[0],) or not np.issubdtype(target.dtype, np.integer):
            raise ValueError(
                f"CrossEntropyLoss expects integer class ids of shape ({logits.shape[0]},), got {target.dtype} {target.shape}"
            )
        n, c = logits.shape
        if n and (target.min() < 0 or target.max() >= c):
            raise ValueError(f"CrossEntropyLoss: class ids must lie in [0, {c}), got range [{target.min()}, {target.max()}]")
        _check_finite("CrossEntropyLoss", logits)
        z = logits - logits.max(axis=1, keepdims=True)  # (N, C), max entry 0 per row
        rows = self._rows(n)
        picked = z[rows, target]  # fancy indexing: already a copy
        np.exp(z, out=z)
        s = z.sum(axis=1)
        z /= s[:, None]  # softmax probabilities, in place
        self._probs, self._target = z, target
        return float(np.mean(np.log(s) - picked))

    def backward(self, dloss: float = 1.0) -> np.ndarray:
        d = self._probs.copy()
        n = d.shape[0]
        d[self._rows(n), self._target] -= 1
        d *= dloss / n
        return d

    def _rows(self, n: int) -> np.ndarray:
        """0..n-1, kept between calls (every training step has the same batch size)."""
        rows = getattr(self, "_row_ids", None)
        if rows is None or len(rows) != n:
            rows = self._row_ids = np.arange(n)
        return rows

    @staticmethod
    def predict(logits: np.ndarray) -> np.ndarray:
        return logits.argmax(axis=1)


#: name -> loss class
LOSSES = {"mse": MSELoss, "bce": BCEWithLogitsLoss, "cross_entropy": CrossEntropyLoss}


def make_loss(name: str, **options):
    """A new loss by name (one of :data:`LOSSES`), e.g. ``make_loss("cross_entropy")``.

    Raises ValueError for an unknown name (listing the known ones) or an option the loss
    does not take (listing those it does).
    """
    try:
        cls = LOSSES[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown loss {name!r}; choose one of {', '.join(LOSSES)}") from None
    known = list(inspect.signature(cls).parameters)
    unknown = sorted(set(options) - set(known))
    if unknown:
        takes = f"it takes {', '.join(known)}" if known else "it takes none"
        raise ValueError(f"loss {name!r} ({cls.__name__}) has no option(s) {unknown}; {takes}")
    return cls(**options)
