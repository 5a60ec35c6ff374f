"""The checker's tasks, in the order of the assignment. Each module defines ``TASK`` (or ``TASKS``).

Only NumPy is imported at the top of a task module: the sandboxed child imports them to probe a
submission; the reference layers (``backproplab.nn``, ``backproplab.optim``) are imported inside the
judges, which run in the checker.
"""
from __future__ import annotations

from . import activations, conv, dense, init, l2, losses, optimizers, residual

TASKS = {t.name: t for t in (activations.TASK, init.TASK, dense.TASK, *losses.TASKS, *optimizers.TASKS, l2.TASK,
                            conv.TASK, residual.TASK)}
