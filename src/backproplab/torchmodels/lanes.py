"""Train several jobs at once on one GPU: one CUDA stream per lane, one Python thread feeding them.

A small model's step leaves most of the GPU idle (short kernels, gaps between them).
Kernels queued on different streams may run at the same time, so with ``lanes`` jobs
running side by side the GPU fills the gaps of one job with the work of another.

The loop visits the running jobs in turn and queues one step of each job that has fewer
than ``in_flight`` unfinished steps (checked with CUDA events, without waiting), so a
slow job cannot fill the launch queue and starve the others; when no job may advance it
sleeps 0.1 ms. A lane that frees up takes the next job of the queue -- if
``can_start(job)`` allows it (the time budget). At ``deadline`` (``time.monotonic()``)
the running jobs are stopped and reported as unfinished with the epochs they completed.
On the CPU there are no streams: the jobs simply take turns, step by step.
"""
from __future__ import annotations

import time
import traceback
from typing import Callable

import torch

from .job import TrainJob


class _Lanes:
    """The streams and which of them are free; ``lane_of[id(job)]`` for the running jobs."""

    def __init__(self, n: int, device: torch.device):
        self.streams = make_streams(n, device)
        self.free = list(range(n))
        self.lane_of: dict[int, int] = {}

    def take(self, job: TrainJob) -> int:
        lane = self.free.pop(0)
        job.stream, self.lane_of[id(job)] = self.streams[lane], lane
        return lane

    def give_back(self, job: TrainJob) -> None:
        self.free.append(self.lane_of.pop(id(job)))


def run_lanes(jobs: list[TrainJob], lanes: int, *, on_finish: Callable[[TrainJob, list[dict]], None],
              can_start: Callable[[TrainJob], str] = lambda job: "", on_skip=None, deadline: float | None = None,
              log: Callable[[str], None] = print, progress_every_s: float = 10.0) -> None:
    """Run ``jobs`` in order, ``lanes`` at a time; ``on_finish(job, results)`` as each ends.

    ``can_start(job)`` returns '' to start the job or the reason not to; ``on_skip(job, reason)``
    is then called. A job whose preparation or training raises is finished with status
    'failed: ...' (the others go on).
    """
    if lanes < 1:
        raise ValueError(f"lanes must be >= 1, got {lanes}")
    pending, active = list(jobs), []
    skip = on_skip or (lambda job, reason: None)
    pool = _Lanes(lanes, jobs[0].device if jobs else torch.device("cpu"))
    last_report = time.monotonic()
    while pending or active:
        while pool.free and pending:
            job = pending.pop(0)
            reason = can_start(job)
            if reason:
                skip(job, reason)
            elif _start(job, pool, on_finish, log):
                active.append(job)
        moved = _step_each(active, pool, on_finish, log)
        if deadline is not None and time.monotonic() > deadline:
            for job in active:
                log(f"deadline: stopping {job.spec.name} after {job.poll()} finished epochs")
                on_finish(job, job.finish(status="unfinished"))
            for job in pending:
                skip(job, "deadline reached before it started")
            return
        if active and time.monotonic() - last_report > progress_every_s:
            last_report = time.monotonic()
            log("progress: " + ", ".join(f"{j.spec.name} {j.poll()}/{j.recipe.num_epochs}" for j in active))
        if not moved:
            time.sleep(1e-4)


def _start(job: TrainJob, pool: _Lanes, on_finish, log) -> bool:
    """Prepare ``job`` on a free lane; False (and a 'failed' result) when preparing raises."""
    lane = pool.take(job)
    try:
        job.prepare()
    except Exception as e:  # noqa: BLE001 -- one broken job must not stop the study
        pool.give_back(job)
        on_finish(job, _failed(job, e, log))
        return False
    note = job.notes()
    log(f"[lane {lane}] start {job.spec.name}: engine {job.train_run.engine}, prepared in {job.prepare_s:.1f} s"
        + (f" ({note})" if note else ""))
    return True


def _step_each(active: list[TrainJob], pool: _Lanes, on_finish, log) -> bool:
    """Queue one step of every running job that may take one; finish those done. True if any moved."""
    moved = False
    for job in list(active):
        if not job.ready():
            continue
        moved = True
        try:
            done, failure = job.advance(), None
        except Exception as e:  # noqa: BLE001
            done, failure = True, e
        if done:
            active.remove(job)
            pool.give_back(job)
            on_finish(job, _failed(job, failure, log) if failure else job.finish())
    return moved


def make_streams(n: int, device: torch.device) -> list:
    """n CUDA streams on a CUDA device, else n Nones (the CPU runs everything in order)."""
    return [torch.cuda.Stream(device) for _ in range(n)] if device.type == "cuda" else [None] * n


def time_steps(jobs: list[TrainJob], steps: int) -> float:
    """Wall seconds for every (prepared) job to do ``steps`` more steps, side by side on their streams."""
    if not jobs:
        return 0.0
    device = jobs[0].device
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    t0, left = time.perf_counter(), {id(j): steps for j in jobs}
    while any(left.values()):
        moved = False
        for job in jobs:
            if left[id(job)] and job.ready():
                job.advance()
                left[id(job)] -= 1
                moved = True
        if not moved:
            time.sleep(1e-4)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter() - t0


def _failed(job: TrainJob, error: BaseException, log) -> list[dict]:
    """One 'failed' record per seed, with the error's last line; the traceback goes to the log."""
    log(f"{job.spec.name} failed: {type(error).__name__}: {error}\n{''.join(traceback.format_exception(error))}")
    job.release()
    job.status = f"failed: {type(error).__name__}: {str(error).splitlines()[0][:300] if str(error) else ''}"
    return [dict(model=job.spec.model, width=job.spec.width, resolution=job.spec.resolution, seed=seed,
                 stacked_with=len(job.spec.seeds), status=job.status) for seed in job.spec.seeds]
