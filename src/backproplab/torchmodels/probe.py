"""The study's first phase: measure how to train fastest on this machine, then choose.

Each row prepares one or more copies of a probe model (warm-up, cuDNN autotuning, graph
capture: timed as ``prepare_s``), then times ``steps`` steps of all of them side by side
(:func:`~backproplab.torchmodels.lanes.time_steps`). Model-images per second compare
the options:

1. engine: eager, CUDA graph (and torch.compile when asked: its compile time is kept);
2. memory format: channels_last or NCHW, with the faster engine;
3. lanes: 2, 4, 8 jobs on their own streams against one;
4. stacking: k seeds of the model as one grouped network against k lanes (used when the
   study trains several seeds of each model).

A choice needs a 5% gain over the simpler option, so noise does not flip it. The
probe's best single-job rate also calibrates :class:`CostModel`, which predicts how
long each model will take -- the time budget's guard.
"""
from __future__ import annotations

import contextlib
import dataclasses
import gc
from dataclasses import dataclass

import torch

from .gpu_data import StudyData
from .job import JobOptions, JobSpec, Recipe, TrainJob
from .lanes import make_streams, time_steps
from .timing import synchronize

GAIN = 1.05  # an option must be 5% faster than the simpler one to be chosen


@contextlib.contextmanager
def _jobs(data: StudyData, recipe: Recipe, options: JobOptions, device: torch.device, specs: list[JobSpec]):
    """Prepared jobs of ``specs`` (one stream each, a schedule that never ends), freed afterwards."""
    long = dataclasses.replace(recipe, num_epochs=10**6)
    streams = make_streams(len(specs), device)
    jobs = [TrainJob(spec, data, long, options, device, stream) for spec, stream in zip(specs, streams)]
    try:
        for job in jobs:
            job.prepare()
        yield jobs
    finally:
        for job in jobs:
            job.release()
        del jobs
        gc.collect()
        if device.type == "cuda":
            torch.cuda.empty_cache()


def _failure(e: BaseException) -> str:
    return f"failed: {type(e).__name__}: {str(e).splitlines()[0][:200] if str(e) else ''}"


def measure(data: StudyData, recipe: Recipe, options: JobOptions, device: torch.device, spec: JobSpec, steps: int,
            label: str, copies: int = 1) -> dict:
    """Prepare ``copies`` jobs of ``spec`` (copy i with seeds shifted by i) and time ``steps`` steps of them."""
    specs = [dataclasses.replace(spec, seeds=tuple(s + i for s in spec.seeds)) for i in range(copies)]
    row = dict(option=label, engine=options.engine, channels_last=options.channels_last, jobs=copies,
               stacked=len(spec.seeds), steps=steps, images_per_s=0.0)
    try:
        with _jobs(data, recipe, options, device, specs) as jobs:
            seconds = time_steps(jobs, steps)
            row.update(engine=jobs[0].train_run.engine, seconds=seconds,
                       images_per_s=copies * len(spec.seeds) * steps * recipe.batch_size / seconds,
                       prepare_s=max(j.prepare_s for j in jobs), compile_s=jobs[0].train_run.compile_s,
                       note=jobs[0].notes())
    except Exception as e:  # noqa: BLE001 -- an option that fails here is reported, not chosen
        row["note"] = _failure(e)
    return row


def engines_agree(data: StudyData, recipe: Recipe, options: JobOptions, device: torch.device, spec: JobSpec,
                  engine: str, steps: int = 3, tolerance: float = 0.05) -> dict:
    """Do ``steps`` training steps under ``engine`` change the weights as eager steps do?

    Both runs start from the same weights and see the same batches; the measure is
    ||update - eager update|| / ||eager update|| over all parameters. bf16 kernels with
    atomic reductions differ in their last bits from run to run, hence the tolerance;
    a step that is replayed wrongly (stale batch, lost update) is off by about 1.
    ``spec`` should have no dropout (its masks would differ).
    """
    updates = []
    try:
        for e in ("eager", engine):
            with _jobs(data, recipe, dataclasses.replace(options, engine=e), device, [spec]) as (job,):
                before = torch.cat([p.detach().flatten().float() for p in job.model.parameters()])
                for _ in range(steps):
                    job.advance()
                synchronize(device)
                after = torch.cat([p.detach().flatten().float() for p in job.model.parameters()])
                updates.append(((after - before).cpu(), job.train_run.engine))
    except Exception as e:  # noqa: BLE001
        return {"engine": engine, "ok": False, "note": _failure(e)}
    (eager, _), (other, actual) = updates
    error = float((other - eager).norm() / eager.norm().clamp_min(1e-30))
    return {"engine": engine, "ran_as": actual, "relative_difference": error, "ok": error < tolerance,
            "steps": steps, "tolerance": tolerance}


def _better(new: dict, old: dict) -> bool:
    return new["images_per_s"] > GAIN * old["images_per_s"]


def probe(data: StudyData, recipe: Recipe, options: JobOptions, device: torch.device, spec: JobSpec, steps: int,
          lanes: tuple[int, ...] = (2, 4, 8), stack: int = 4, compile_too: bool = False, plan_images: float = 0.0,
          architectures: int = 1, log=print) -> dict:
    """Measure the options on ``spec`` and return {'rows': [...], 'choice': {...}, 'reasons': [...], ...}.

    ``plan_images`` (model-images the study will train) and ``architectures`` (how many
    models would each pay a compile) decide whether a faster compiled step pays for its compile time.
    """
    p = _Probe(data, recipe, options, device, spec, steps, log)
    best = p.choose_engine(compile_too, plan_images, architectures)
    engine = best["option"]  # the engine rows are labelled by the engine they ask for
    nchw = p.run("NCHW", engine=engine, channels_last=False)
    channels_last = not _better(nchw, best)
    if not channels_last:
        best = nchw
        p.reasons.append("NCHW beat channels_last by more than 5%")
    single, chosen_lanes = best, 1
    for n in lanes:
        row = p.run(f"{n} lanes", copies=n, engine=engine, channels_last=channels_last)
        if _better(row, best):
            best, chosen_lanes = row, n
    stack_row = p.run(f"stacked x{stack}", seeds=tuple(range(stack)), engine=engine, channels_last=channels_last)
    lanes_row = next((r for r in p.rows if r["option"] == f"{stack} lanes"), single)
    stack_seeds = _better(stack_row, lanes_row)
    p.reasons.append(f"{chosen_lanes} lane(s): each step up in lanes must gain 5%; seeds stacked: "
                     f"{'yes' if stack_seeds else 'no'} (stacked x{stack} {stack_row['images_per_s']:.0f} vs "
                     f"{lanes_row['option']} {lanes_row['images_per_s']:.0f} model-images/s)")
    return {"model": spec.name, "steps": steps, "rows": p.rows, "reasons": p.reasons, "checks": p.checks,
            "choice": {"engine": engine, "channels_last": channels_last, "lanes": chosen_lanes,
                       "stack_seeds": stack_seeds},
            "single_images_per_s": single["images_per_s"], "best_images_per_s": best["images_per_s"]}


class _Probe:
    """The probe's rows, reasons and correctness checks as they accumulate."""

    def __init__(self, data, recipe, options, device, spec, steps, log):
        self.data, self.recipe, self.options, self.device, self.spec, self.steps = data, recipe, options, device, \
            spec, steps
        self.log, self.rows, self.reasons, self.checks = log, [], [], []
        self.check_spec = JobSpec("v1", spec.width, spec.resolution)  # V1 has no dropout, whose masks would differ

    def run(self, label: str, copies: int = 1, seeds=None, **changes) -> dict:
        row = measure(self.data, self.recipe, dataclasses.replace(self.options, **changes), self.device,
                      dataclasses.replace(self.spec, seeds=seeds or self.spec.seeds), self.steps, label, copies)
        self.log(f"probe {label}: {row['images_per_s']:.0f} model-images/s ({row['engine']}"
                 f"{', ' + row['note'] if row.get('note') else ''})")
        self.rows.append(row)
        return row

    def agrees(self, engine: str) -> bool:
        """Does ``engine`` change the weights as eager steps do? (Logged and kept in ``checks``.)"""
        check = engines_agree(self.data, self.recipe, self.options, self.device, self.check_spec, engine)
        self.checks.append(check)
        self.log(f"probe: {engine} vs eager updates after {check.get('steps')} steps: relative difference "
                 f"{check.get('relative_difference', float('nan')):.2g} ({'ok' if check['ok'] else 'NOT ok'}"
                 f"{', ' + check['note'] if check.get('note') else ''})")
        return check["ok"]

    def choose_engine(self, compile_too: bool, plan_images: float, architectures: int) -> dict:
        """The row of the fastest engine that computes the same numbers (compile only when it pays)."""
        graph_ok = self.agrees("graph")  # a graph that replays wrongly must not win however fast it is
        eager = self.run("eager", engine="eager", channels_last=True)
        graph = self.run("graph", engine="graph", channels_last=True)
        best = graph if graph_ok and _better(graph, eager) else eager
        if best is eager:
            self.reasons.append("eager: CUDA graphs gave less than 5% over eager, failed, or changed the numbers")
        if not compile_too:
            return best
        comp = self.run("compile", engine="compile", channels_last=True)
        if comp["images_per_s"] and comp.get("compile_s") is not None and best["images_per_s"]:
            saved = plan_images * (1 / best["images_per_s"] - 1 / comp["images_per_s"])
            cost = comp["compile_s"] * architectures
            self.reasons.append(f"torch.compile: would save {saved:.0f} s of training and cost {cost:.0f} s of "
                                f"compiling ({comp['compile_s']:.1f} s x {architectures} models)")
            if saved > cost and _better(comp, best):
                if self.agrees("compile"):
                    return comp
                self.reasons.append("torch.compile changed the numbers: not used")
        return best


@dataclass
class CostModel:
    """Seconds to train one image: ``per_activation`` x activations + training FLOPs / ``flops_per_s``.

    Small MobileNets are bound by memory traffic, which grows with the activations (the
    conv outputs each step writes and reads back); the plain CNN by arithmetic. The
    activation coefficient is fitted to the probe model's measured rate; the arithmetic
    rate is half the measured bf16 matmul rate. ``correction`` scales predictions by how
    far off the finished jobs were (their median ratio of measured to predicted).
    """

    per_activation: float
    flops_per_s: float
    correction: float = 1.0
    ratios: tuple = ()

    @classmethod
    def fit(cls, seconds_per_image: float, activations: int, train_flops: float, flops_per_s: float) -> "CostModel":
        rest = max(seconds_per_image - train_flops / flops_per_s, 0.1 * seconds_per_image)
        return cls(per_activation=rest / max(activations, 1), flops_per_s=flops_per_s)

    def raw_seconds(self, activations: int, train_flops: float, images: float) -> float:
        """The fitted prediction, without the correction learned from finished jobs."""
        return images * (self.per_activation * activations + train_flops / self.flops_per_s)

    def seconds(self, activations: int, train_flops: float, images: float) -> float:
        return self.correction * self.raw_seconds(activations, train_flops, images)

    def observe(self, raw_predicted_s: float, measured_s: float) -> None:
        """Learn from a finished job: ``correction`` becomes the median measured/raw-predicted ratio."""
        if raw_predicted_s > 0 and measured_s > 0:
            self.ratios = tuple(sorted((*self.ratios, measured_s / raw_predicted_s)))
            self.correction = self.ratios[len(self.ratios) // 2]
