"""Train/validation split with an explicit random generator, optionally stratified.

Stratified: each class gives ``round(val_fraction * its count)`` samples to validation,
so class proportions match in both parts (as scikit-learn's ``train_test_split(stratify=y)``
aims for). Both parts keep the input order; the trainer shuffles.
"""
from __future__ import annotations

import numpy as np


def train_val_split(x: np.ndarray, y: np.ndarray, val_fraction: float, rng: np.random.Generator,
                    stratify: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Split (x, y) into training and validation parts.

    Args:
        x: (N, ...) inputs.
        y: (N,) integer labels (any (N, ...) array when ``stratify=False``).
        val_fraction: share of samples for validation, 0 < val_fraction < 1.
        rng: the generator that picks the validation samples (same seed, same split).
        stratify: keep each class's share in both parts.
    Returns:
        ``(x_train, y_train, x_val, y_val)``, copies, samples in input order.
    """
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a np.random.Generator (np.random.default_rng(seed)), got {type(rng).__name__}")
    if not 0.0 < val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in (0, 1), got {val_fraction}")
    n = len(x)
    if len(y) != n:
        raise ValueError(f"x has {n} samples but y has {len(y)}")
    if stratify:
        y_arr = np.asarray(y)
        if y_arr.ndim != 1:
            raise ValueError(f"stratify=True needs labels of shape (N,), got {y_arr.shape}")
        val_parts = []
        for c in np.unique(y_arr):  # sorted: the rng draws in a fixed order
            members = np.flatnonzero(y_arr == c)
            n_val = int(round(val_fraction * len(members)))
            val_parts.append(rng.permutation(members)[:n_val])
        val_idx = np.concatenate(val_parts)
    else:
        val_idx = rng.permutation(n)[: int(round(val_fraction * n))]
    is_val = np.zeros(n, dtype=bool)
    is_val[val_idx] = True
    if is_val.all() or not is_val.any():
        raise ValueError(f"val_fraction={val_fraction} of {n} samples leaves one part empty")
    return x[~is_val], y[~is_val], x[is_val], y[is_val]
