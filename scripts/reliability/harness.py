"""One probe of bad input or a fault: what to run, what must come back, and how it is judged.

A probe runs in a fresh temporary folder (its working directory) with a timeout, as a
``backproplab`` command line (``argv``), a shell command (``shell``; ``$BPL`` is the
``backproplab`` command, ``$PY`` the Python interpreter) or a Python snippet (``python``; an
exception it raises is printed as ``Type: message`` on one line, exit status 1).

The *message* of a run is the first line of stderr; when stderr is empty, the first line of
stdout that holds the first expected word (else stdout's first line). A probe passes when the
exit status is the expected one, the message holds every expected word, no traceback was printed,
an error (status != 0) is one line on stderr, and the file check (if any) holds.
"""
from __future__ import annotations

import contextlib
import io
import os
import re
import shlex
import subprocess
import sys
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parents[2]

#: runs a snippet and turns an escaping exception into one line "Type: message" and exit 1
SNIPPET_RUNNER = """\
import sys
code = sys.argv[1]
try:
    exec(compile(code, "<probe>", "exec"), {"__name__": "__main__"})
except SystemExit:
    raise
except BaseException as e:
    print(f"{type(e).__name__}: {e}".splitlines()[0] if str(e) else type(e).__name__, file=sys.stderr)
    sys.exit(1)
"""


@dataclass(frozen=True)
class Probe:
    """One input and what it must get.

    Args:
        id: short unique name (``family-what``).
        family: the heading it is listed under in docs/reliability.md.
        what: one line: the input, in words.
        argv / shell / python: what to run (exactly one).
        status: the exit status it must end with (0 success, 1 failure, 2 usage error).
        words: texts the message must hold (the option or file, and the fix).
        setup: ``setup(folder)`` prepares the temporary folder before the run.
        check: ``check(folder) -> str | None``: after the run, a problem in words (None: fine).
        fast: under a second: tests/test_probes.py runs it in the test suite (argv probes only).
        timeout: seconds before the run counts as a hang.
        env: extra environment variables.
        lines: most non-empty stderr lines an error may have (1: a one-line error).
        traceback: a traceback is what the probe asks for (``--debug``).
    """

    id: str
    family: str
    what: str
    argv: tuple = ()
    shell: str = ""
    python: str = ""
    status: int = 2
    words: tuple = ()
    setup: Callable[[Path], None] | None = None
    check: Callable[[Path], str | None] | None = None
    fast: bool = False
    timeout: float = 60.0
    env: dict = field(default_factory=dict)
    lines: int = 1
    traceback: bool = False

    def shown(self) -> str:
        """The command, as a reader would type it."""
        if self.argv:
            return "backproplab " + shlex.join(self.argv)
        if self.shell:
            return self.shell.replace("$BPL", "backproplab").replace("$PY", "python")
        return "python: " + "; ".join(line.strip() for line in self.python.strip().splitlines())


@dataclass
class Result:
    status: int | None  # None: timed out
    stdout: str
    stderr: str
    seconds: float
    problems: list[str] = field(default_factory=list)
    message: str = ""

    @property
    def ok(self) -> bool:
        return not self.problems


def normalize(text: str, folder: Path) -> str:
    """``text`` without what changes from run to run: the temporary folder, process ids, times."""
    for root in sorted({str(folder), os.path.realpath(folder)}, key=len, reverse=True):
        text = text.replace(root + "/", "").replace(root, ".")
    text = text.replace(str(ROOT), "<repo>")
    text = re.sub(r"pid \d+ since [\d: -]+", "pid N since TIME", text)
    text = re.sub(r" at 0x[0-9a-f]{6,}", " at 0x…", text)  # object addresses
    return text


def _command(probe: Probe) -> list[str] | str:
    if probe.argv:
        return [sys.executable, "-m", "backproplab", *probe.argv]
    if probe.shell:
        return probe.shell
    return [sys.executable, "-c", SNIPPET_RUNNER, probe.python]


def _environment(probe: Probe) -> dict:
    env = dict(os.environ)
    env.pop("BACKPROPLAB_DEBUG", None)
    bpl = shlex.join([sys.executable, "-m", "backproplab"])
    env.update(BPL=bpl, PY=shlex.quote(sys.executable), PYTHONDONTWRITEBYTECODE="1",
               OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", **probe.env)
    return env


def run_subprocess(probe: Probe, folder: Path) -> Result:
    """Run ``probe`` in ``folder`` as its own process (process group killed on timeout)."""
    if probe.setup:
        probe.setup(folder)
    cmd = _command(probe)
    start = time.monotonic()
    proc = subprocess.Popen(cmd, shell=isinstance(cmd, str), cwd=folder, env=_environment(probe),
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, errors="replace", start_new_session=True)
    try:
        out, err = proc.communicate(timeout=probe.timeout)
        status = proc.returncode
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, 9)
        out, err = proc.communicate()
        status = None
    return judge(probe, folder, Result(status, out, err, time.monotonic() - start))


def run_inprocess(probe: Probe, folder: Path) -> Result:
    """Run an argv probe by calling ``backproplab.cli.main`` here (for the fast probes in the tests)."""
    from backproplab.cli import main

    if not probe.argv or probe.env:
        raise ValueError(f"{probe.id}: only argv probes without env run in-process")
    if probe.setup:
        probe.setup(folder)
    out, err = io.StringIO(), io.StringIO()
    start, cwd = time.monotonic(), os.getcwd()
    os.chdir(folder)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                status = int(main(list(probe.argv)) or 0)
            except SystemExit as e:
                status = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
                if isinstance(e.code, str):
                    print(e.code, file=sys.stderr)
            except Exception:  # what the interpreter does with an exception that escapes main()
                traceback.print_exc()
                status = 1
    finally:
        os.chdir(cwd)
    return judge(probe, folder, Result(status, out.getvalue(), err.getvalue(), time.monotonic() - start))


def _message(result: Result, words: tuple) -> str:
    out_lines = [line.strip() for line in result.stdout.splitlines() if line.strip()]
    err_lines = [line.strip() for line in result.stderr.splitlines() if line.strip()]
    if result.status == 0 or not err_lines:  # a success: the line of stdout it looks for
        found = [line for line in out_lines if words and words[0] in line]
        if found or not err_lines:
            return (found or out_lines or [""])[0]
    return err_lines[0]


def judge(probe: Probe, folder: Path, result: Result) -> Result:
    """Fill ``result.message`` and ``result.problems`` (empty: the probe passes)."""
    result.stdout, result.stderr = normalize(result.stdout, folder), normalize(result.stderr, folder)
    result.message = _message(result, probe.words)
    problems = result.problems
    if result.status is None:
        problems.append(f"hang: no exit within {probe.timeout:g} s")
    elif result.status != probe.status:
        problems.append(f"exit {result.status}, expected {probe.status}")
    if "Traceback (most recent call last)" in result.stderr and not probe.traceback:
        problems.append("raw traceback")
    err_lines = [line for line in result.stderr.splitlines() if line.strip()]
    if result.status and len(err_lines) > probe.lines:
        problems.append(f"{len(err_lines)} lines on stderr")
    if result.status == 0 and any("Warning:" in line for line in err_lines):
        problems.append("warnings on stderr: " + next(line for line in err_lines if "Warning:" in line)[-120:])
    missing = [w for w in probe.words if w not in result.message]
    if missing:
        problems.append("message lacks " + ", ".join(repr(w) for w in missing))
    if probe.check and result.status is not None:
        found = probe.check(folder)
        if found:
            problems.append(found)
    return result
