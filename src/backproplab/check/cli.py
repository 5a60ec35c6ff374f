"""``backproplab check FILE [FILE|FOLDER ...] [--task NAME ...]``: grade students' NumPy code.

Exit status: 0 when every check passes, 1 when any fails, 2 on bad input (missing file,
unknown task, malformed option).
"""
from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

from ..errors import run_command
from ..utils.io import atomic_write_text
from .report import format_table, parse_points, to_json, to_junit
from .runner import check_files
from .sandbox import Limits
from .tasks import TASKS


class _UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit 2 (argparse would print the whole usage first)
        raise _UsageError(message)


def _parser() -> argparse.ArgumentParser:
    tasks = "\n".join(f"  {name:<15}{t.summary}" for name, t in TASKS.items())
    p = _Parser(prog="backproplab check", formatter_class=argparse.RawDescriptionHelpFormatter,
                description="Check a student's own NumPy implementation against backproplab's layers and "
                            "optimizers. Each task runs in a separate process with time and memory limits.",
                epilog=f"tasks:\n{tasks}\n\nThe names looked for in a submission: docs/check.md")
    p.add_argument("files", nargs="+", metavar="FILE", help="submission .py files, or folders of them")
    p.add_argument("--task", action="append", default=[], metavar="NAME",
                   help="check only these tasks (repeat, or comma-separate); default: every task the file defines")
    p.add_argument("--json", action="store_true", help="print the results as JSON instead of a table")
    p.add_argument("--junit", type=Path, metavar="FILE", help="also write JUnit XML (for autograders)")
    p.add_argument("--points", metavar="SPEC", help="task weights: 'dense=2,adam=1' or a .toml file")
    p.add_argument("--timeout", type=float, default=10.0, metavar="S", help="wall-clock seconds per task (10)")
    p.add_argument("--memory-mb", type=int, default=1024, metavar="MB", help="memory per task, MiB (1024)")
    p.add_argument("--jobs", type=int, default=1, metavar="N", help="tasks checked at the same time (1)")
    p.add_argument("--seed", type=int, default=0, help="seed of the random test inputs (0)")
    return p


def _files(items: list[str]) -> list[str]:
    out = []
    for item in items:
        path = Path(item)
        if path.is_dir():
            found = sorted(str(f) for f in path.glob("*.py"))
            if not found:
                raise _UsageError(f"no .py files in folder {item}")
            out += found
        elif path.is_file():
            out.append(item)
        else:
            raise _UsageError(f"no such file: {item}")
    return out


def _tasks(values: list[str]) -> list[str]:
    names = [n.strip() for v in values for n in v.split(",") if n.strip()]
    unknown = [n for n in names if n not in TASKS]
    if unknown:
        raise _UsageError(f"unknown task {unknown[0]!r}; choose from {', '.join(TASKS)}")
    return list(dict.fromkeys(names))


def main(argv: list[str] | None = None) -> int:
    try:
        args = _parser().parse_args(argv)
        files, tasks = _files(args.files), _tasks(args.task)
        points = parse_points(args.points) if args.points else None
        if args.jobs < 1:
            raise _UsageError(f"--jobs must be >= 1, got {args.jobs}")
        if not (math.isfinite(args.timeout) and args.timeout > 0):
            raise _UsageError(f"--timeout must be a finite number of seconds > 0, got {args.timeout}")
        if args.memory_mb < 64:
            raise _UsageError(f"--memory-mb must be >= 64 (MiB), got {args.memory_mb}")
        limits = Limits(timeout_s=args.timeout, memory_bytes=args.memory_mb << 20)
    except (_UsageError, ValueError) as e:
        print(f"backproplab check: error: {e}", file=sys.stderr)
        return 2

    def go() -> int:
        # a weighted task is graded even in a file that lacks its entry points (it then earns 0)
        reports = check_files(files, tasks or None, limits, parallel=args.jobs, seed=args.seed,
                              extra_tasks=list(points) if points else ())
        if args.json:
            print(json.dumps(to_json(reports, points), indent=1))
        else:
            print(format_table(reports, points))
        if args.junit:
            atomic_write_text(args.junit, to_junit(reports))
        return 0 if all(r.passed for r in reports) else 1

    return run_command("backproplab check", go, out="--junit")


if __name__ == "__main__":
    sys.exit(main())
