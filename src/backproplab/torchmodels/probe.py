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

import dataclasses
import gc
from dataclasses import dataclass

import torch

from .gpu_data import StudyData
from .job import JobOptions, JobSpec, Recipe, TrainJob
from .lanes import make_streams, time_steps

GAIN = 1.05  # an option must be 5% faster than the simpler one to be chosen


def measure(data: StudyData, recipe: Recipe, options: JobOptions, device: torch.device, spec: JobSpec, steps: int,
            label: str, copies: int = 1) -> dict:
    """Prepare ``copies`` jobs of ``spec`` (copy i with seeds shifted by i) and time ``steps`` steps of them."""
    long = dataclasses.replace(recipe, num_epochs=10**6)  # never reach the end of the schedule
    streams = make_streams(copies, device)
    jobs = [TrainJob(dataclasses.replace(spec, seeds=tuple(s + i for s in spec.seeds)), data, long, options, device,
                     streams[i]) for i in range(copies)]
    try:
        for job in jobs:
            job.prepare()
        seconds = time_steps(jobs, steps)
        images = copies * len(spec.seeds) * steps * recipe.batch_size
        return dict(option=label, engine=jobs[0].train_run.engine, channels_last=options.channels_last,
                    jobs=copies, stacked=len(spec.seeds), steps=steps, seconds=seconds, images_per_s=images / seconds,
                    prepare_s=max(j.prepare_s for j in jobs), compile_s=jobs[0].train_run.compile_s,
                    note=jobs[0].notes())
    except Exception as e:  # noqa: BLE001 -- an option that fails here is reported, not chosen
        return dict(option=label, engine=options.engine, channels_last=options.channels_last, jobs=copies,
                    stacked=len(spec.seeds), steps=steps, images_per_s=0.0,
                    note=f"failed: {type(e).__name__}: {str(e).splitlines()[0][:200] if str(e) else ''}")
    finally:
        for job in jobs:
            job.release()
        del jobs
        gc.collect()
        if device.type == "cuda":
            torch.cuda.empty_cache()


def _better(new: dict, old: dict) -> bool:
    return new["images_per_s"] > GAIN * old["images_per_s"]


def probe(data: StudyData, recipe: Recipe, options: JobOptions, device: torch.device, spec: JobSpec, steps: int,
          lanes: tuple[int, ...] = (2, 4, 8), stack: int = 4, compile_too: bool = False, plan_images: float = 0.0,
          architectures: int = 1, log=print) -> dict:
    """Measure the options on ``spec`` and return {'rows': [...], 'choice': {...}, 'reasons': [...]}.

    ``plan_images`` (model-images the study will train) and ``architectures`` (how many
    models would each pay a compile) decide whether a faster compiled step pays for its compile time.
    """
    rows, reasons = [], []

    def run(label, copies=1, seeds=None, **changes):
        row = measure(data, recipe, dataclasses.replace(options, **changes), device,
                      dataclasses.replace(spec, seeds=seeds or spec.seeds), steps, label, copies)
        log(f"probe {label}: {row['images_per_s']:.0f} model-images/s ({row['engine']}"
            f"{', ' + row['note'] if row.get('note') else ''})")
        rows.append(row)
        return row

    eager = run("eager", engine="eager", channels_last=True)
    graph = run("graph", engine="graph", channels_last=True)
    best = graph if _better(graph, eager) else eager
    if best is eager:
        reasons.append("CUDA graphs gave less than 5% over eager (or failed): eager")
    if compile_too:
        comp = run("compile", engine="compile", channels_last=True)
        if comp["images_per_s"] and comp.get("compile_s") is not None and best["images_per_s"]:
            saved = plan_images * (1 / best["images_per_s"] - 1 / comp["images_per_s"])
            cost = comp["compile_s"] * architectures
            reasons.append(f"torch.compile: would save {saved:.0f} s of training and cost {cost:.0f} s of "
                           f"compiling ({comp['compile_s']:.1f} s x {architectures} models)")
            if saved > cost and _better(comp, best):
                best = comp
    engine = best["option"]  # the first rows are labelled by the engine they ask for
    nchw = run("NCHW", engine=engine, channels_last=False)
    channels_last = not _better(nchw, best)
    if not channels_last:
        best = nchw
        reasons.append("NCHW beat channels_last by more than 5%")
    single, chosen_lanes = best, 1
    for n in lanes:
        row = run(f"{n} lanes", copies=n, engine=engine, channels_last=channels_last)
        if _better(row, best):
            best, chosen_lanes = row, n
    stack_row = run(f"stacked x{stack}", seeds=tuple(range(stack)), engine=engine, channels_last=channels_last)
    lanes_row = next((r for r in rows if r["option"] == f"{stack} lanes"), single)
    stack_seeds = _better(stack_row, lanes_row)
    reasons.append(f"{chosen_lanes} lane(s): each step up in lanes must gain 5%; seeds stacked: "
                   f"{'yes' if stack_seeds else 'no'} (stacked x{stack} {stack_row['images_per_s']:.0f} vs "
                   f"{lanes_row['option']} {lanes_row['images_per_s']:.0f} model-images/s)")
    return {"model": spec.name, "steps": steps, "rows": rows, "reasons": reasons,
            "choice": {"engine": engine, "channels_last": channels_last, "lanes": chosen_lanes,
                       "stack_seeds": stack_seeds},
            "single_images_per_s": single["images_per_s"], "best_images_per_s": best["images_per_s"]}


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
