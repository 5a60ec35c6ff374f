"""backproplab.check: grade a student's own NumPy implementation against backproplab's layers and optimizers.

``backproplab check FILE [--task NAME ...]`` (see :mod:`.cli` and docs/check.md). Each task runs
in a child process with a wall-clock timeout and memory/CPU limits (:mod:`.sandbox`); the child
only calls the student's code and sends back arrays (:mod:`.worker`, :mod:`.exchange`); the
verdicts, with hints for typical mistakes, are computed here (:mod:`.judging`, :mod:`.tasks`).
:class:`.adapter.StudentLayer` lets ``analysis.check_module_grads`` run on a student's layer object.
"""


def check_files(*args, **kwargs):
    """See :func:`backproplab.check.runner.check_files` (imported lazily: the child imports this package too)."""
    from .runner import check_files as run

    return run(*args, **kwargs)
