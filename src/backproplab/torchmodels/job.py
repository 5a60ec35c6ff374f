"""One training run of the study -- a model, or k seeds of one model stacked -- advanced one step at a time.

A :class:`TrainJob` never waits for the GPU while it trains: each :meth:`TrainJob.advance`
queues one step (refill the batch, set the learning rate, run the step) on the job's
own CUDA stream, and epoch results (statistics copied to pinned host memory, CUDA
event timestamps) are read by :meth:`TrainJob.poll` only once the stream has passed
them. So one Python thread can keep several jobs' streams busy at once
(:mod:`~backproplab.torchmodels.lanes`). On the CPU the same code runs synchronously.

Per epoch: the whole epoch's shuffled, cropped and flipped images are made in a few
kernels (:func:`~backproplab.torchmodels.gpu_data.augmented_epoch`), whole batches only
(a partial last batch would be a new shape: new cuDNN autotuning, a new graph), then the
test set is evaluated in batches of ``eval_batch``.
"""
from __future__ import annotations

import collections
import contextlib
import dataclasses
import statistics
import time
from dataclasses import dataclass

import torch

from . import build_model
from .counting import count_macs
from .gpu_data import StudyData, augmented_epoch, padded_test_set
from .sgd import NesterovSGD, decay_groups
from .stacked import stack_models
from .step import EvalStep, TrainStep, prepare
from .timing import Mark
from .training import warmup_cosine_lr


@dataclass(frozen=True)
class Recipe:
    """How every model of the study is trained (the fields a result depends on)."""

    num_epochs: int = 30
    batch_size: int = 256
    lr: float = 0.2                      # peak rate: 0.1 per 128 images (Goyal et al. 2017 linear scaling)
    momentum: float = 0.9                # Nesterov
    weight_decay: float = 5e-4           # on dense conv and linear weights
    depthwise_weight_decay: bool = False  # MobileNets sec. 3.2: little or none on depthwise filters
    warmup_epochs: float = 2.0           # linear warm-up, then cosine to 0
    label_smoothing: float = 0.1
    crop_pad: int = 4                    # random-crop padding at 32 px, scaled with the input side
    flip: bool = True
    amp: bool = True                     # bf16 autocast


@dataclass(frozen=True)
class JobOptions:
    """How a job runs (not part of what it computes)."""

    engine: str = "graph"        # 'eager', 'graph' or 'compile' (see step.py)
    channels_last: bool = True   # NHWC activations: cuDNN's tensor-core kernels want them
    warmup_steps: int = 2        # before capture or timing (cuDNN autotunes in the first)
    eval_batch: int = 0          # 0: the training batch size, whose conv shapes cuDNN has already tuned
    in_flight: int = 8           # steps queued ahead per job before the scheduler moves on


@dataclass(frozen=True)
class JobSpec:
    """Which model: family ('cnn', 'v1', 'v2'), width multiplier, input side, and the seeds trained together."""

    model: str
    width: float
    resolution: int
    seeds: tuple[int, ...] = (0,)

    @property
    def name(self) -> str:
        seeds = ",".join(map(str, self.seeds))
        return f"{self.model}-w{self.width}-r{self.resolution}-s{seeds}"


@dataclass
class _Epoch:
    train: torch.Tensor   # (k, 2) loss sum, correct; host memory
    test: torch.Tensor    # (k, 2)
    start: Mark
    train_end: Mark
    end: Mark
    lr: float


class TrainJob:
    """Train ``spec`` on ``data`` with ``recipe``; ``stream`` (CUDA) is where all its work is queued."""

    def __init__(self, spec: JobSpec, data: StudyData, recipe: Recipe, options: JobOptions,
                 device: torch.device, stream=None):
        self.spec, self.data, self.recipe, self.options, self.device = spec, data, recipe, options, device
        self.stream = stream
        self.k = len(spec.seeds)
        self.epoch = self.batch = 0
        self.history = [collections.defaultdict(list) for _ in spec.seeds]
        self._pending: list[_Epoch] = []
        self._inflight: collections.deque[Mark] = collections.deque()
        self.status = "new"

    def context(self):
        return torch.cuda.stream(self.stream) if self.stream is not None else contextlib.nullcontext()

    def build_one(self, seed: int) -> torch.nn.Module:
        """Model for one seed, initialized from ``torch.manual_seed(seed)`` (as a lone run would be)."""
        torch.manual_seed(seed)
        return build_model(self.spec.model, self.spec.width, self.data.num_classes, self.spec.resolution,
                           in_channels=self.data.channels, variant="cifar")

    def prepare(self) -> None:
        """Build, move, make the steps ready (warm-up, capture); the first epoch's images are made here."""
        with self.context():
            self._prepare()

    def _prepare(self) -> None:
        t0, s, r, o = time.perf_counter(), self.spec, self.recipe, self.options
        models = [self.build_one(seed) for seed in s.seeds]
        self.cost = count_macs(models[0], (self.data.channels, s.resolution, s.resolution))
        fmt = torch.channels_last if o.channels_last else torch.contiguous_format
        model = (models[0] if self.k == 1 else stack_models(models)).to(self.device, memory_format=fmt)
        self.model = model
        x_train, x_test = self.data.at(s.resolution)
        self.steps_per_epoch = max(1, len(x_train) // r.batch_size)
        self.crop_pad = round(r.crop_pad * s.resolution / 32)
        self._epoch_data = augmented_epoch(x_train, self.data.y_train, s.seeds, 0, self.crop_pad, r.flip)
        # the steps' own buffers: clone, never a view (a view would let each refill overwrite the data it reads)
        bx = self._epoch_data[0][:r.batch_size].clone(memory_format=fmt)  # (B, k*C, H, W)
        by = self._epoch_data[1][:r.batch_size].clone()  # (B, k)
        self.optimizer = NesterovSGD(decay_groups(model, r.weight_decay, r.depthwise_weight_decay), r.momentum)
        self.step = TrainStep(model, self.optimizer, bx, by, self.k, r.label_smoothing, r.amp)
        model.train()
        self.train_run = prepare(self.step, o.engine, o.warmup_steps)
        eval_batch = min(o.eval_batch or r.batch_size, len(x_test))
        self.test_x, self.test_y, self.test_valid = padded_test_set(x_test, self.data.y_test, self.k, eval_batch)
        self.tested = len(x_test)
        self.eval_step = EvalStep(model, self.test_x[:eval_batch].clone(memory_format=fmt),
                                  self.test_y[:eval_batch].clone(), self.test_valid[:eval_batch].clone(), self.k, r.amp)
        model.eval()
        self.eval_run = prepare(self.eval_step, "eager" if o.engine == "eager" else "graph", warmup=1)
        model.train()
        self.prepare_s = time.perf_counter() - t0
        self.started = time.perf_counter()
        self.status = "running"

    def ready(self) -> bool:
        """May another step be queued (fewer than ``in_flight`` of this job's steps unfinished)?"""
        while self._inflight and self._inflight[0].done():
            self._inflight.popleft()
        return len(self._inflight) < self.options.in_flight

    def advance(self) -> bool:
        """Queue one training step (and the epoch's evaluation after its last step); True when all epochs are queued."""
        with self.context():
            return self._advance()

    def _advance(self) -> bool:
        r, b = self.recipe, self.batch
        if b == 0:
            self._start_epoch()
        x, y = self._epoch_data
        self.step.x.copy_(x[b * r.batch_size:(b + 1) * r.batch_size])
        self.step.y.copy_(y[b * r.batch_size:(b + 1) * r.batch_size])
        total = r.num_epochs * self.steps_per_epoch
        self.lr = warmup_cosine_lr(self.epoch * self.steps_per_epoch + b, total,
                                   int(r.warmup_epochs * self.steps_per_epoch), r.lr)
        self.optimizer.set_lr(self.lr)
        self.train_run.run()
        if self.device.type == "cuda":
            self._inflight.append(Mark(self.device))
        self.batch += 1
        if self.batch == self.steps_per_epoch:
            self._end_epoch()
            self.batch, self.epoch = 0, self.epoch + 1
        return self.epoch == r.num_epochs

    def _start_epoch(self) -> None:
        if self.epoch > 0:
            x_train, _ = self.data.at(self.spec.resolution)
            self._epoch_data = augmented_epoch(x_train, self.data.y_train, self.spec.seeds, self.epoch,
                                               self.crop_pad, self.recipe.flip)
        self.step.stats.zero_()
        self._start = Mark(self.device)

    def _end_epoch(self) -> None:
        train_end = Mark(self.device)
        e = self.eval_step
        e.stats.zero_()
        self.model.eval()
        n = len(e.x)
        for i in range(0, len(self.test_x), n):
            e.x.copy_(self.test_x[i:i + n])
            e.y.copy_(self.test_y[i:i + n])
            e.valid.copy_(self.test_valid[i:i + n])
            self.eval_run.run()
        self.model.train()
        self._pending.append(_Epoch(self._to_host(self.step.stats), self._to_host(e.stats), self._start, train_end,
                                    Mark(self.device), self.lr))

    def _to_host(self, t: torch.Tensor) -> torch.Tensor:
        """A host copy that arrives when the stream gets there (pinned memory, no wait) on CUDA."""
        if t.device.type != "cuda":
            return t.clone()
        host = torch.empty(t.shape, dtype=t.dtype, pin_memory=True)
        host.copy_(t, non_blocking=True)
        return host

    def poll(self) -> int:
        """Move finished epochs into ``history``; returns how many epochs are in it."""
        seen, tested = self.steps_per_epoch * self.recipe.batch_size, self.tested
        while self._pending and self._pending[0].end.done():
            ep = self._pending.pop(0)
            for j, h in enumerate(self.history):
                h["epoch"].append(len(h["epoch"]) + 1)
                h["train_loss"].append(float(ep.train[j, 0]) / seen)
                h["train_acc"].append(float(ep.train[j, 1]) / seen)
                h["test_loss"].append(float(ep.test[j, 0]) / tested)
                h["test_acc"].append(float(ep.test[j, 1]) / tested)
                h["train_s"].append(ep.train_end.seconds_since(ep.start))
                h["eval_s"].append(ep.end.seconds_since(ep.train_end))
                h["lr"].append(ep.lr)
        return len(self.history[0]["epoch"])

    def finish(self, status: str = "finished") -> list[dict]:
        """Wait for the job's queued work, read every epoch, free the GPU memory; one result per seed."""
        with self.context():
            if self.device.type == "cuda":
                torch.cuda.current_stream().synchronize()
        self.poll()
        self.status = status
        results = [self._result(j, seed) for j, seed in enumerate(self.spec.seeds)]
        self.release()
        return results

    def release(self) -> None:
        """Drop the job's GPU tensors, graphs (and their memory pools) and model; its results stay."""
        self.model = self.step = self.eval_step = self.optimizer = self._epoch_data = None
        self.test_x = self.test_y = self.test_valid = None
        for name in ("train_run", "eval_run"):
            if getattr(self, name, None) is not None:
                setattr(self, name, dataclasses.replace(getattr(self, name), run=None))

    def _result(self, j: int, seed: int) -> dict:
        h, s = dict(self.history[j]), self.spec
        epochs = len(h.get("epoch", []))
        s_per_epoch = statistics.median(h["train_s"]) if epochs else None
        per_image = self.cost.macs
        return dict(
            model=s.model, width=s.width, resolution=s.resolution, seed=seed, stacked_with=self.k,
            params=self.cost.params, macs=per_image, train_flops_per_image=6 * per_image,
            activations=sum(int(torch.Size(layer.out_shape).numel()) for layer in self.cost.layers),
            status=self.status, epochs_done=epochs,
            test_acc=h["test_acc"][-1] if epochs else None, best_test_acc=max(h["test_acc"]) if epochs else None,
            train_acc=h["train_acc"][-1] if epochs else None, train_loss=h["train_loss"][-1] if epochs else None,
            s_per_epoch=s_per_epoch,
            images_per_s=self.steps_per_epoch * self.recipe.batch_size / s_per_epoch if s_per_epoch else None,
            eval_s_per_epoch=statistics.median(h["eval_s"]) if epochs else None,
            engine=self.train_run.engine, engine_note=self.notes(),
            compile_s=self.train_run.compile_s, prepare_s=self.prepare_s, job_wall_s=time.perf_counter() - self.started,
            channels_last=self.options.channels_last, history=h)

    def notes(self) -> str:
        """Why the engine differs from the one asked for ('' when it does not)."""
        runs = [r for r in (getattr(self, "train_run", None), getattr(self, "eval_run", None)) if r is not None]
        return "; ".join(dict.fromkeys(r.note for r in runs if r.note))  # each distinct note once
