"""Check submissions: find their tasks, run each in the sandbox, judge what came back.

The submission is never imported here. Its tasks are found by reading its syntax tree
(:func:`discover`); a syntax error is reported from that parse, with its line.
"""
from __future__ import annotations

import ast
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .judging import Check
from .probing import norm
from .sandbox import Job, Limits, run_jobs
from .tasks import TASKS

#: tasks whose gradient may carry the batch's 1/m (checked for agreement with the dense layer)
LOSS_TASKS = ("softmax-ce", "mse")


@dataclass
class FileReport:
    """The verdicts on one submission. error: why it could not be imported at all (then no task ran)."""

    path: str
    tasks: list[str]
    checks: list[Check] = field(default_factory=list)
    error: str | None = None

    @property
    def passed(self) -> bool:
        return self.error is None and bool(self.checks) and all(c.passed for c in self.checks)

    def task_checks(self, task: str) -> list[Check]:
        return [c for c in self.checks if c.task == task]


def _top_level_names(body) -> set[str]:
    names: set[str] = set()
    for node in body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names.update(t.id for t in targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.ImportFrom):
            names.update(a.asname or a.name for a in node.names)
        elif isinstance(node, (ast.If, ast.Try, ast.With)):
            for part in ("body", "orelse", "finalbody", "handlers"):
                names |= _top_level_names(getattr(node, part, []) or [])
        elif isinstance(node, ast.ExceptHandler):
            names |= _top_level_names(node.body)
    return names


def discover(path: str) -> tuple[list[str], str | None]:
    """(tasks whose entry points the file defines, syntax error text or None), without running the file."""
    source = Path(path).read_bytes()
    try:
        tree = ast.parse(source, filename=path)
    except SyntaxError as e:
        return [], f"SyntaxError: {e.msg} (line {e.lineno})"
    except ValueError as e:  # null bytes
        return [], f"not a Python source file: {e}"
    names = {norm(n) for n in _top_level_names(tree.body)}
    return [name for name, task in TASKS.items() if names & set(task.entry_names)], None


def task_inputs(seed: int, names) -> dict[str, tuple[dict, dict]]:
    """Each task's inputs, from its own generator (adding a task changes no other task's numbers)."""
    return {name: task.make_inputs(np.random.default_rng([seed, i]))
            for i, (name, task) in enumerate(TASKS.items()) if name in names}


def _judge(task: str, arrays: dict, settings: dict, outputs) -> list[Check]:
    try:
        return TASKS[task].judge(arrays, settings, outputs)
    except Exception as e:  # a checker bug must not hide the other tasks' verdicts
        if os.environ.get("BACKPROPLAB_TRACEBACK"):
            raise
        return [Check(task, "checker", "error", message=f"internal error in the checker: {type(e).__name__}: {e}")]


def _one_m_agreement(report: FileReport) -> None:
    """When the dense layer or a loss uses Ng's convention (1/m in the layer's dW, db), both must."""
    dense = next((c.convention for c in report.task_checks("dense") if c.convention), "")
    for loss in LOSS_TASKS:
        conv = next((c.convention for c in report.task_checks(loss) if c.convention), "")
        if not dense or not conv or dense == conv == "loss":
            continue
        name = f"1/m counted once (dense with {loss})"
        if dense == conv:
            report.checks.append(Check("dense", name, "pass", note="both use Ng's convention: the loss gradient "
                                                                    "omits 1/m and the layer's dW, db carry it"))
        else:
            where = "both in the loss gradient and in dW, db" if dense == "layer" else "neither in the loss " \
                    "gradient nor in dW, db"
            report.checks.append(Check("dense", name, "fail", hint=f"1/m is applied {where}: keep exactly one"))


def check_files(paths: list[str], tasks: list[str] | None = None, limits: Limits = Limits(), parallel: int = 1,
                seed: int = 0, on_done=None, extra_tasks=()) -> list[FileReport]:
    """Check every submission in ``paths`` on ``tasks`` (default: the tasks each file defines, plus ``extra_tasks``)."""
    reports: list[FileReport] = []
    jobs: list[Job] = []
    for path in paths:
        path = str(Path(path).resolve())
        found, syntax_error = discover(path)
        chosen = list(tasks) if tasks else [t for t in TASKS if t in found or t in extra_tasks]
        report = FileReport(path, chosen, error=syntax_error)
        reports.append(report)
        if syntax_error:
            continue
        if not report.tasks:
            report.error = "no entry point of any task found (see docs/check.md for the names looked for)"
        jobs += [Job(path, t, {}, {}) for t in report.tasks]
    inputs = task_inputs(seed, {job.task for job in jobs})
    for job in jobs:
        job.arrays, job.settings = inputs[job.task]
    by_path = {r.path: r for r in reports}
    for outcome in run_jobs(jobs, limits, parallel, on_done):
        report, task = by_path[outcome.job.file], outcome.job.task
        if outcome.import_error:
            report.error = outcome.import_error
        elif outcome.failure:
            report.checks.append(Check(task, "all checks", "error", message=outcome.failure))
        else:
            report.checks += _judge(task, outcome.job.arrays, outcome.job.settings, outcome.outputs)
    for report in reports:
        if report.error:
            report.checks = [Check(t, "not run", "error", message="the submission could not be imported")
                             for t in report.tasks] or [Check("file", "import", "error", message=report.error)]
        else:
            _one_m_agreement(report)
    return reports
