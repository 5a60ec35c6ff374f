"""Batch normalization (Ioffe & Szegedy 2015) over features (1-D) or channels (2-D).

Training: per channel c, over the batch (and every spatial position),
    μ = mean(x),  σ² = mean((x - μ)²)  (biased),  x̂ = (x - μ) / sqrt(σ² + eps),
    y = γ x̂ + β,
    running_mean ← (1 - m)·running_mean + m·μ,
    running_var  ← (1 - m)·running_var  + m·σ²·n/(n-1)   (unbiased, as PyTorch),
with n the number of values per channel and m = momentum (0.1); momentum=None
uses the cumulative average m = 1/num_batches_tracked (as PyTorch).
Evaluation: x̂ uses the running statistics instead (a fixed affine map).

Backward in training (the batch statistics depend on x):
    dx = (γ / sqrt(σ² + eps)) · (dy - mean(dy) - x̂ · mean(dy · x̂)),
    dγ = Σ dy·x̂,  dβ = Σ dy.

Synchronized BN: when a batch is split into shards (:class:`~backproplab.nn.DataParallel`),
each copy of the layer sees part of the batch. While ``sync_group`` is set (DataParallel sets
it for the duration of a call), the per-channel sums behind μ, σ², mean(dy) and mean(dy·x̂),
and the count n, are added over the shards by ``sync_group.allreduce``, so every shard
normalizes with the statistics of the whole batch, as the unsplit layer does
(``torch.nn.SyncBatchNorm``). Only the copy with ``sync_group.rank == 0`` updates the running
statistics, once per batch.

Reference: https://pytorch.org/docs/stable/generated/torch.nn.BatchNorm2d.html
"""
from __future__ import annotations

import numpy as np

from .module import Module, Parameter


class _BatchNorm(Module):
    _buffers = ("running_mean", "running_var", "num_batches_tracked")
    _ndims: tuple[int, ...] = ()
    #: None, or while the batch is split into shards (DataParallel sets it for one call) this
    #: shard's group, a :class:`~backproplab.nn.shards.ShardGroup`: ``sync_group.allreduce(a)``
    #: returns Σ over the shards of ``a`` (float64, same shape); ``sync_group.rank`` is this
    #: shard (rank 0 updates the running statistics).
    sync_group = None

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1, affine: bool = True,
                 dtype=np.float32):
        super().__init__()
        if num_features <= 0:
            raise ValueError(f"{type(self).__name__} needs num_features > 0, got {num_features}")
        if eps <= 0:
            raise ValueError(f"{type(self).__name__}: eps must be positive, got {eps}")
        if momentum is not None and not 0.0 <= momentum <= 1.0:
            raise ValueError(f"{type(self).__name__}: momentum must lie in [0, 1] or be None, got {momentum}")
        self.num_features, self.eps, self.momentum, self.affine = num_features, float(eps), momentum, affine
        self.weight = Parameter(np.ones(num_features, dtype=dtype)) if affine else None
        self.bias = Parameter(np.zeros(num_features, dtype=dtype)) if affine else None
        self.running_mean = np.zeros(num_features, dtype=dtype)
        self.running_var = np.ones(num_features, dtype=dtype)
        self.num_batches_tracked = np.zeros((), dtype=np.int64)

    def _batch_sum(self, a: np.ndarray) -> np.ndarray:
        """``a`` (a per-channel partial sum) summed over every shard of the batch (just ``a`` unsplit)."""
        if self.sync_group is None:
            return a
        return self.sync_group.allreduce(a).astype(a.dtype, copy=False)

    def _check(self, x: np.ndarray) -> None:
        if x.ndim not in self._ndims or x.shape[1] != self.num_features:
            dims = " or ".join(f"{d}-D" for d in self._ndims)
            raise ValueError(f"{type(self).__name__}({self.num_features}) expects {dims} input with "
                             f"{self.num_features} channels in dim 1, got shape {x.shape}")

    @staticmethod
    def _channel_first_order(a: np.ndarray) -> tuple[int, ...]:
        """Axes of ``a`` as (channel, then the others in memory order): the order that makes
        :meth:`_channel_rows` a view for channel-major arrays, as the convolutions' outputs are."""
        rest = sorted((ax for ax in range(a.ndim) if ax != 1), key=lambda ax: -a.strides[ax])
        return (1, *rest)

    def _channel_rows(self, a: np.ndarray) -> np.ndarray:
        """(N, C, *S) -> (C, N·prod(S)) contiguous, values in the axis order chosen in forward:
        every per-channel sum becomes a fast row sum."""
        return np.ascontiguousarray(a.transpose(self._order)).reshape(a.shape[1], -1)  # (C, L)

    def _back_to_input_shape(self, rows: np.ndarray) -> np.ndarray:
        """(C, L) -> (N, C, *S) view (memory stays channel-major)."""
        return rows.reshape(self._tshape).transpose(np.argsort(self._order))

    def forward(self, x: np.ndarray) -> np.ndarray:
        self._check(x)
        self._order = self._channel_first_order(x)
        self._tshape = tuple(x.shape[ax] for ax in self._order)
        x2 = self._channel_rows(x)  # (C, L)
        n = x2.shape[1]  # values per channel
        if self.training:
            if self.sync_group is not None:  # statistics of the whole batch, not of this shard
                n = int(self._batch_sum(np.array([n], dtype=np.float64))[0])
            if n < 2:
                raise ValueError(f"{type(self).__name__}: expected more than 1 value per channel in training, "
                                 f"got input shape {x.shape}")
            mean = x2.mean(axis=1) if self.sync_group is None else self._batch_sum(x2.sum(axis=1)) / n
            xhat = x2 - mean[:, None]  # (C, L), centred; normalized in place below
            var = self._batch_sum(np.einsum("ij,ij->i", xhat, xhat)) / n  # biased: the normalization uses it
            if self.sync_group is None or self.sync_group.rank == 0:  # one update per batch
                self._update_running(mean, var, n)
        else:
            mean, var = self.running_mean, self.running_var
            xhat = x2 - mean[:, None].astype(x2.dtype, copy=False)
        invstd = (1.0 / np.sqrt(var + self.eps)).astype(x2.dtype, copy=False)
        xhat *= invstd[:, None]
        self._xhat, self._invstd, self._n = xhat, invstd, n
        self._batch_stats = self.training
        if not self.affine:
            return self._back_to_input_shape(xhat.copy())
        y = xhat * self.weight.data[:, None]
        y += self.bias.data[:, None]
        return self._back_to_input_shape(y)

    def _update_running(self, mean: np.ndarray, var: np.ndarray, n: int) -> None:
        self.num_batches_tracked += 1
        m = 1.0 / float(self.num_batches_tracked) if self.momentum is None else self.momentum
        unbiased = var * (n / (n - 1))
        dt = self.running_mean.dtype
        self.running_mean = ((1 - m) * self.running_mean + m * mean).astype(dt)
        self.running_var = ((1 - m) * self.running_var + m * unbiased).astype(dt)

    def backward(self, dy: np.ndarray) -> np.ndarray:
        xhat, invstd, n = self._xhat, self._invstd, self._n
        dy2 = self._channel_rows(dy)  # (C, L)
        dbeta = dy2.sum(axis=1)
        dgamma = np.einsum("ij,ij->i", dy2, xhat)  # Σ dy·x̂ per channel
        if self.affine:
            self.weight.grad += dgamma
            self.bias.grad += dbeta
            g = self.weight.data * invstd
        else:
            g = invstd
        if not self._batch_stats:
            return self._back_to_input_shape(dy2 * g[:, None])  # eval: a fixed affine map
        if self.sync_group is not None:  # this shard's sums went into the gradients; dx needs the batch's
            dbeta, dgamma = self._batch_sum(dbeta), self._batch_sum(dgamma)
        # g · (dy - mean(dy) - x̂·mean(dy·x̂)), written to touch each (C, L) array as few times as possible
        dx = xhat * (-dgamma / n)[:, None]
        dx += dy2
        dx -= (dbeta / n)[:, None]
        dx *= g[:, None]
        return self._back_to_input_shape(dx)

    def extra_repr(self) -> str:
        return f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}"


class BatchNorm1d(_BatchNorm):
    """Per-feature BN. Shapes: x (N, C) or (N, C, L) -> same; weight, bias, running stats (C,)."""

    _ndims = (2, 3)


class BatchNorm2d(_BatchNorm):
    """Per-channel BN over (N, H, W). Shapes: x (N, C, H, W) -> same; weight, bias, running stats (C,)."""

    _ndims = (4,)
