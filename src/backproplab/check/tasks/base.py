"""What a task is: the names that reveal it, its inputs, the child's probe and the parent's judge."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np


@dataclass(frozen=True)
class Task:
    """One piece of the assignment the checker can grade.

    Attributes:
        name: the task's name on the command line (``--task dense``).
        summary: one line for ``--help`` and the docs.
        entry_names: normalized names (see :func:`..probing.norm`) of the functions or classes
            whose presence in a submission makes the task run when no ``--task`` is given.
        make_inputs: rng -> (arrays, settings): what the child receives (arrays as .npy, settings as JSON).
        probe: (module, probe) -> None, runs in the sandboxed child: calls the student's code.
        judge: (arrays, settings, outputs) -> list of Check, runs in the checker: compares with
            backproplab's own layers and optimizers.
    """

    name: str
    summary: str
    entry_names: tuple[str, ...]
    make_inputs: Callable[[np.random.Generator], tuple[dict, dict]]
    probe: Callable
    judge: Callable


def away_from_zero(rng: np.random.Generator, shape, low: float = 0.1) -> np.ndarray:
    """Random values with |v| >= low: no kink of ReLU (or a near-zero gradient) within a difference step."""
    return rng.choice([-1.0, 1.0], size=shape) * (low + np.abs(rng.standard_normal(shape)))


def names_with(patterns: tuple[str, ...], bases: tuple[str, ...]) -> tuple[str, ...]:
    """Every pattern ("d{}", "{}derivative", ...) filled with every base name, in order."""
    return tuple(p.format(b) for b in bases for p in patterns)
