"""Flatten: merge the dimensions start_dim..end_dim into one, as torch.nn.Flatten."""
from __future__ import annotations

import numpy as np

from .module import Module


class Flatten(Module):
    """Shapes: x (d0, ..., dk) -> the dims ``start_dim..end_dim`` (inclusive) merged into one.

    Defaults (start_dim=1, end_dim=-1) give (N, d1·...·dk). Negative dims count from the
    end. A dim outside [-ndim, ndim - 1] is an IndexError and ``start_dim`` after ``end_dim``
    a ValueError, where PyTorch raises (IndexError and RuntimeError). A 0-d input becomes
    shape (1,), as PyTorch. ``backward`` restores the input shape.

    Reference: https://pytorch.org/docs/stable/generated/torch.nn.Flatten.html
    """

    def __init__(self, start_dim: int = 1, end_dim: int = -1):
        super().__init__()
        for name, d in (("start_dim", start_dim), ("end_dim", end_dim)):
            if not isinstance(d, (int, np.integer)) or isinstance(d, bool):
                raise TypeError(f"Flatten: {name} must be an int, got {d!r}")
        if (start_dim < 0) == (end_dim < 0) and start_dim > end_dim:
            raise ValueError(f"Flatten: start_dim={start_dim} comes after end_dim={end_dim}")
        self.start_dim, self.end_dim = int(start_dim), int(end_dim)

    def _dims(self, ndim: int) -> tuple[int, int]:
        """(start, end) as non-negative dims of an ndim-dimensional input (0-d counts as 1-d)."""
        n = max(ndim, 1)
        out = []
        for name, d in (("start_dim", self.start_dim), ("end_dim", self.end_dim)):
            if not -n <= d < n:
                raise IndexError(f"Flatten: {name}={d} is out of range for a {ndim}-d input "
                                 f"(expected a dim in [{-n}, {n - 1}])")
            out.append(d % n)
        if out[0] > out[1]:
            raise ValueError(f"Flatten: start_dim={self.start_dim} comes after end_dim={self.end_dim} "
                             f"for a {ndim}-d input")
        return out[0], out[1]

    def forward(self, x: np.ndarray) -> np.ndarray:
        start, end = self._dims(x.ndim)
        self._shape = x.shape
        if x.ndim == 0:
            return x.reshape(1)
        merged = int(np.prod(x.shape[start:end + 1]))  # explicit, not -1: an empty batch stays reshapeable
        return x.reshape(x.shape[:start] + (merged,) + x.shape[end + 1:])

    def backward(self, dy: np.ndarray) -> np.ndarray:
        return dy.reshape(self._shape)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"
