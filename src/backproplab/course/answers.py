"""Run the command that answers a question and read the answer out of its output.

* ``backproplab calc ... --json``: run here; the answer is a dotted path into the JSON it prints
  (``values.rows.0.newton_bytes``); the working is what the same command prints without --json.
* ``backproplab lab NAME ...``: run into a run folder keyed by the command (so several questions
  answered by one run share it, and a second ``course show`` reuses the finished run); the answer
  is a dotted path into the run's result (``result.json``).
* Other commands (``check`` needs a student's file, ``data`` writes files): shown, not run.
"""
from __future__ import annotations

import contextlib
import hashlib
import io
import json
import math
import shlex
from dataclasses import dataclass, field
from pathlib import Path

from .map import Question

#: where `course show` and `course check` keep the runs of lab commands
RUNS = Path("runs") / "course"


@dataclass
class CommandRun:
    command: str
    ran: bool
    status: int = 0
    output: str = ""            # what the command printed (the working)
    data: object = None          # the JSON (calc) or the result (lab) the answer paths point into
    folder: Path | None = None   # a lab's run folder
    error: str = ""
    values: list = field(default_factory=list)


def _run_main(argv: list[str]) -> tuple[int, str, str]:
    """backproplab's main in this process, with its stdout and stderr captured."""
    from ..cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            status = main(argv)
        except SystemExit as e:  # argparse
            status = e.code if isinstance(e.code, int) else 2
    return int(status or 0), out.getvalue(), err.getvalue()


def lab_folder(argv: list[str], root: Path) -> Path:
    """The run folder of a lab command line: the lab's name and a hash of its options."""
    digest = hashlib.sha256(" ".join(argv).encode()).hexdigest()[:8]
    return root / f"{argv[1]}-{digest}"


def run(command: str, root: Path = RUNS, lang: str = "en") -> CommandRun:
    argv = shlex.split(command)
    if not argv or argv[0] != "backproplab" or len(argv) < 2:
        return CommandRun(command, False, error="not a backproplab command")
    argv = argv[1:]
    kind = argv[0]
    if kind == "calc":
        with_json = argv if "--json" in argv else argv + ["--json"]
        status, text, err = _run_main(with_json)
        data = None
        if status == 0:
            try:
                data = json.loads(text)
            except ValueError:
                return CommandRun(command, True, status, text, error="its --json output is not JSON")
        working = _run_main([a for a in argv if a != "--json"])[1] if status == 0 else ""
        return CommandRun(command, True, status, working, data, error=err.strip())
    if kind == "lab":
        return _run_lab(command, argv, root, lang, _run_main)
    return CommandRun(command, False, error="not run here (it needs your own files or writes files)")


def _run_subprocess(argv: list[str]) -> tuple[int, str, str]:
    """backproplab's main in a child process (labs run side by side with ``course run --jobs``)."""
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "backproplab.cli", *argv], capture_output=True, text=True)
    return done.returncode, done.stdout, done.stderr


def _run_lab(command: str, argv: list[str], root: Path, lang: str, runner) -> CommandRun:
    folder = lab_folder(argv, root)
    lab_argv = argv + ["--out", str(folder), "--quiet", "--lang", lang]
    status, text, err = runner(lab_argv)
    if status == 2 and "other settings" in err:  # a run of an older version of the lab: start afresh
        status, text, err = runner(lab_argv + ["--overwrite"])
    data = None
    try:
        data = json.loads((folder / "result.json").read_text())["result"]
    except (OSError, ValueError, KeyError):
        pass
    return CommandRun(command, True, status, text, data, folder, error=err.strip())


def run_lab_apart(command: str, root: Path = RUNS, lang: str = "en") -> CommandRun:
    """A ``backproplab lab ...`` command run in a child process (so several can run at once)."""
    argv = shlex.split(command)[1:]
    return _run_lab(command, argv, root, lang, _run_subprocess)


def extract(data, path: str):
    """The value at dotted ``path`` in nested dicts and lists (integer parts index lists)."""
    value = data
    for part in path.split("."):
        if isinstance(value, list):
            try:
                value = value[int(part)]
            except (ValueError, IndexError):
                raise KeyError(f"{path}: no item {part!r} in a list of {len(value)}") from None
        elif isinstance(value, dict):
            if part not in value:
                raise KeyError(f"{path}: no key {part!r} (keys: {', '.join(sorted(map(str, value))[:12])})")
            value = value[part]
        else:
            raise KeyError(f"{path}: {part!r} is below a {type(value).__name__}")
    return value


def matches(expected, got, tolerance: float) -> bool:
    """``got`` equals ``expected``: numbers within ``tolerance`` relative to max(|expected|, 1) (so an
    expected 0 takes it as absolute), lists element by element, anything else exactly."""
    if isinstance(expected, list):
        return isinstance(got, list) and len(got) == len(expected) and all(
            matches(e, g, tolerance) for e, g in zip(expected, got))
    if isinstance(expected, bool) or isinstance(got, bool):
        return expected is got or expected == got and type(expected) is type(got)
    if isinstance(expected, (int, float)):
        if not isinstance(got, (int, float)) or got is None or not math.isfinite(got):
            return False
        return abs(got - expected) <= tolerance * max(abs(expected), 1.0)
    return expected == got


@dataclass
class Answer:
    question: Question
    command: str
    run: CommandRun | None
    got: object = None
    verdict: str = "not checkable"  # "pass", "FAIL", "not checkable", "not run", "error"
    detail: str = ""


def answer(q: Question, quick: bool = True, root: Path = RUNS, lang: str = "en",
           cache: dict | None = None) -> Answer:
    """Run ``q``'s command (its quick form when ``quick`` and there is one) and compare with ``expected``.

    ``cache``: {command: CommandRun} of commands already run (filled as commands run).
    """
    command = q.command_for(quick)
    if not command:
        return Answer(q, "", None, verdict="not run", detail="answered by " + (q.call or q.docs))
    cache = {} if cache is None else cache
    if command not in cache:
        cache[command] = run(command, root, lang)
    done = cache[command]
    if not done.ran:
        return Answer(q, command, done, verdict="not run", detail=done.error)
    if done.status != 0 or done.data is None:
        return Answer(q, command, done, verdict="error", detail=done.error or f"exit status {done.status}")
    if not q.answer:
        return Answer(q, command, done)
    try:
        values = [extract(done.data, path) for path in q.answer]
    except KeyError as e:
        return Answer(q, command, done, verdict="error", detail=str(e.args[0]))
    got = values[0] if len(values) == 1 else values
    if q.expected is None:
        return Answer(q, command, done, got)
    return Answer(q, command, done, got, "pass" if matches(q.expected, got, q.tolerance) else "FAIL")
