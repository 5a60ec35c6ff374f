"""Run each (submission, task) pair in its own child process, with limits.

The child (``python -m backproplab.check.worker``) gets, before it starts: an address-space limit
(RLIMIT_AS: "used more than 1 GiB"), a CPU-time limit (RLIMIT_CPU) and a file-size limit
(RLIMIT_FSIZE: a submission printing without end); the parent kills the child's whole process
group at the wall-clock timeout. Data goes both ways as JSON + ``.npy`` files in a temporary
folder (no pickle); the child's working directory is that folder. One failing, hanging or
memory-hungry check fails that task only. Jobs of a file whose import failed are not started.
"""
from __future__ import annotations

import json
import math
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from .exchange import Outputs, read_folder, write_folder
from .probing import format_bytes
from .worker import IMPORTING


@dataclass(frozen=True)
class Limits:
    """Per-task limits. timeout_s: wall clock; memory_bytes: address space; file_bytes: any file written."""

    timeout_s: float = 10.0
    memory_bytes: int = 1 << 30
    file_bytes: int = 16 << 20

    def __post_init__(self):
        if not (math.isfinite(self.timeout_s) and self.timeout_s > 0) or self.memory_bytes < (64 << 20):
            raise ValueError(f"need a finite timeout > 0 s and memory >= 64 MiB, got {self.timeout_s} s and "
                             f"{format_bytes(self.memory_bytes)}")


@dataclass
class Job:
    file: str
    task: str
    arrays: dict
    settings: dict


@dataclass
class Outcome:
    """What came back. Exactly one of outputs / import_error / failure is set."""

    job: Job
    outputs: Outputs | None = None
    import_error: str | None = None
    failure: str | None = None
    seconds: float = 0.0
    extra: dict = field(default_factory=dict)


def _cap(limit: int, which: int) -> int:
    hard = resource.getrlimit(which)[1]
    return limit if hard == resource.RLIM_INFINITY else min(limit, hard)


def _set_limits(limits: Limits):
    cpu = int(math.ceil(limits.timeout_s)) + 1

    def apply():  # runs in the child between fork and exec
        resource.setrlimit(resource.RLIMIT_AS, (_cap(limits.memory_bytes, resource.RLIMIT_AS),) * 2)
        resource.setrlimit(resource.RLIMIT_CPU, (_cap(cpu, resource.RLIMIT_CPU), _cap(cpu + 1, resource.RLIMIT_CPU)))
        resource.setrlimit(resource.RLIMIT_FSIZE, (_cap(limits.file_bytes, resource.RLIMIT_FSIZE),) * 2)

    return apply


def _child_env() -> dict:
    env = dict(os.environ)
    # one BLAS thread per check: the checks run side by side, and a thread pool's reserved memory
    # would count against the address-space limit
    env.update(OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", PYTHONDONTWRITEBYTECODE="1")
    package_root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH", "")) if p)
    return env


class _Running:
    def __init__(self, job: Job, limits: Limits):
        self.job, self.limits = job, limits
        self.dir = Path(tempfile.mkdtemp(prefix="backproplab-check-"))
        write_folder(self.dir / "inputs", job.arrays, {"settings": job.settings})
        (self.dir / "job.json").write_text(json.dumps(
            {"task": job.task, "file": job.file, "memory_limit": limits.memory_bytes}))
        self.start = time.monotonic()
        with open(self.dir / "stdout", "wb") as out, open(self.dir / "stderr", "wb") as err:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "backproplab.check.worker", str(self.dir)], cwd=self.dir,
                stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=_child_env(),
                preexec_fn=_set_limits(limits), start_new_session=True)

    def kill(self) -> None:
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait()

    def _read(self, name: str) -> str:
        try:
            return (self.dir / name).read_text(errors="replace")
        except OSError:
            return ""

    def outcome(self, timed_out: bool) -> Outcome:
        o = Outcome(self.job, seconds=time.monotonic() - self.start)
        doing = self._read("progress").strip()
        if (self.dir / "import_error.json").exists() and not timed_out:
            o.import_error = json.loads(self._read("import_error.json"))["text"]
            return o
        if not timed_out and self.proc.returncode == 0 and (self.dir / "outputs" / "manifest.json").exists():
            o.outputs = Outputs(*read_folder(self.dir / "outputs"))
            return o
        reason = f"timed out after {self.limits.timeout_s:g} s" if timed_out else self._death()
        if doing == IMPORTING:
            o.import_error = (f"{reason} while importing the submission: move experiment code under "
                              "`if __name__ == \"__main__\":`")
        else:
            o.failure = reason + (f" (while {doing})" if doing else "")
        return o

    def _death(self) -> str:
        rc = self.proc.returncode
        stderr = self._read("stderr").strip().splitlines()
        last = stderr[-1][:300] if stderr else ""
        if rc == -signal.SIGXCPU or rc == -signal.SIGKILL:
            return f"used more than its CPU-time limit ({int(math.ceil(self.limits.timeout_s)) + 1} s)"
        if rc == -signal.SIGXFSZ:
            return f"wrote more than {format_bytes(self.limits.file_bytes)} (printing in a loop?)"
        if "MemoryError" in last or "Cannot allocate memory" in last:
            return f"used more than {format_bytes(self.limits.memory_bytes)} of memory"
        if rc is not None and rc < 0:
            return f"the check process died from signal {signal.Signals(-rc).name}"
        return f"the check process stopped with exit status {rc}" + (f": {last}" if last else "")

    def cleanup(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)


def run_jobs(jobs: list[Job], limits: Limits, parallel: int = 1, on_done=None) -> list[Outcome]:
    """Run ``jobs`` in child processes, at most ``parallel`` at a time; outcomes in the order of ``jobs``.

    A job whose file already failed to import is not started; it gets the same import error.
    ``on_done(outcome)`` is called as each finishes (progress display).
    """
    pending = list(enumerate(jobs))
    running: dict[int, _Running] = {}
    results: dict[int, Outcome] = {}
    broken: dict[str, str] = {}
    try:
        while pending or running:
            while pending and len(running) < max(1, parallel):
                i, job = pending.pop(0)
                if job.file in broken:
                    results[i] = Outcome(job, import_error=broken[job.file])
                    continue
                running[i] = _Running(job, limits)
            time.sleep(0.01)
            for i, r in list(running.items()):
                timed_out = r.proc.poll() is None and time.monotonic() - r.start > limits.timeout_s
                if timed_out:
                    r.kill()
                if r.proc.returncode is None:
                    continue
                outcome = results[i] = r.outcome(timed_out)
                r.cleanup()
                del running[i]
                if outcome.import_error:
                    broken.setdefault(r.job.file, outcome.import_error)
                if on_done:
                    on_done(outcome)
    finally:
        for r in running.values():
            r.kill()
            r.cleanup()
    return [results[i] for i in range(len(jobs))]
