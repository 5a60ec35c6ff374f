"""One training step and one evaluation batch, run eagerly, as a CUDA graph, or compiled.

A step of a small network is hundreds of short kernels; launched one by one from Python
the GPU waits for the host between them. Two remedies, chosen by ``engine``:

* ``'graph'``: record the whole step (forward, loss, backward, optimizer update,
  statistics) once with ``torch.cuda.graph`` and replay it: one launch per step. The step
  reads its batch, labels and learning rate from fixed tensors that the caller refills.
  Before recording, a few warm-up steps on a side stream let cuDNN pick its algorithms
  and the allocator settle (PyTorch's CUDA-graphs notes, "whole network capture"); the
  model, optimizer and statistics are then put back as they were, in place, so the
  warm-up leaves no trace in the training run.
* ``'compile'``: ``torch.compile`` the model (fused element-wise kernels, fewer bytes
  moved), then record that as a graph too. The compile time is measured and reported.
* ``'eager'``: plain PyTorch, the reference.

Whatever fails falls back one level (compile -> no compile, graph -> eager) and says
why in ``Prepared.note``; on the CPU, 'graph' is always eager (CUDA graphs need CUDA).
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

import torch
from torch import nn
from torch.nn import functional as F

ENGINES = ("eager", "graph", "compile")


def autocast(device: torch.device, enabled: bool):
    """bf16 autocast on the device's own type (CPU too); no cast cache, as graph capture requires."""
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=enabled, cache_enabled=False)


def loss_and_stats(logits: torch.Tensor, y: torch.Tensor, k: int, label_smoothing: float = 0.0,
                   valid: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Loss of k side-by-side models and each one's (loss sum, correct count).

    logits (B, k*classes); y (B, k), or (B,) when all k models see the same labels; valid
    (B,) bool masks padding rows. Returns the sum over models of each model's mean
    cross-entropy (so each model gets its own mean-loss gradient) and stats (k, 2).
    """
    b = logits.shape[0]
    # bf16 logits (autocast) are lifted to float32 for the loss; float64 stays float64
    logits = logits.to(torch.promote_types(logits.dtype, torch.float32)).reshape(b, k, -1)  # (B, k, classes)
    y = y.reshape(b, -1).expand(b, k)  # (B, k)
    per = F.cross_entropy(logits.reshape(b * k, -1), y.reshape(b * k), reduction="none",
                          label_smoothing=label_smoothing).reshape(b, k)
    hit = logits.argmax(-1) == y  # (B, k)
    if valid is not None:
        per, hit = per * valid[:, None], hit & valid[:, None]
    stats = torch.stack([per.detach().sum(0), hit.sum(0).float()], 1)  # (k, 2)
    return per.sum() / b, stats


class TrainStep:
    """Forward, loss, backward and update on the fixed buffers ``x`` (B, k*C, H, W) and ``y`` (B, k).

    ``stats`` (k, 2) accumulates each model's loss sum and correct count; zero it per epoch.
    """

    def __init__(self, model: nn.Module, optimizer, x: torch.Tensor, y: torch.Tensor, k: int,
                 label_smoothing: float, amp: bool):
        self.model, self.optimizer, self.x, self.y, self.k = model, optimizer, x, y, k
        self.label_smoothing, self.amp = label_smoothing, amp
        self.forward = model
        self.stats = torch.zeros((k, 2), device=x.device)

    def body(self) -> None:
        """The step without zeroing gradients (a graph's backward writes them afresh each replay)."""
        with autocast(self.x.device, self.amp):
            logits = self.forward(self.x)
        loss, stats = loss_and_stats(logits, self.y, self.k, self.label_smoothing)
        loss.backward()
        self.optimizer.step()
        self.stats += stats

    def eager(self) -> None:
        self.before_capture()
        self.body()

    def before_capture(self) -> None:
        """Drop the gradients: the captured backward then allocates them and each replay rewrites them."""
        self.optimizer.zero_grad()

    def snapshot(self) -> Callable[[], None]:
        """A function that puts model, optimizer and stats back in place (the warm-up's trace removed)."""
        saved = {k: v.detach().clone() for k, v in self.model.state_dict().items()}

        def restore():
            with torch.no_grad():
                for k, v in self.model.state_dict().items():
                    v.copy_(saved[k])
            self.optimizer.reset()
            self.stats.zero_()
        return restore


class EvalStep:
    """Eval-mode forward of the fixed batch ``x`` (E, k*C, H, W) against ``y`` (E,) and ``valid`` (E,)."""

    def __init__(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor, valid: torch.Tensor, k: int, amp: bool):
        self.model, self.x, self.y, self.valid, self.k, self.amp = model, x, y, valid, k, amp
        self.stats = torch.zeros((k, 2), device=x.device)

    @torch.no_grad()
    def body(self) -> None:
        with autocast(self.x.device, self.amp):
            logits = self.model(self.x)
        self.stats += loss_and_stats(logits, self.y, self.k, valid=self.valid)[1]

    def eager(self) -> None:
        self.body()

    def before_capture(self) -> None:
        pass

    def snapshot(self) -> Callable[[], None]:
        return self.stats.zero_


@dataclass
class Prepared:
    """A ready step: ``run()`` does one step; ``engine`` is what runs, ``note`` why it differs from the ask."""

    run: Callable[[], None]
    engine: str
    note: str = ""
    prepare_s: float = 0.0
    compile_s: float | None = None


def graphs_available(x: torch.Tensor) -> bool:
    """CUDA graphs record CUDA work only."""
    return x.is_cuda


_CAPTURE_STREAMS: dict = {}


def capture_stream() -> torch.cuda.Stream:
    """One side stream per device for every warm-up and capture: lazily made per-stream state
    (cuBLAS/cuDNN workspaces) is then made during the warm-up, never inside a capture."""
    device = torch.cuda.current_device()
    if device not in _CAPTURE_STREAMS:
        _CAPTURE_STREAMS[device] = torch.cuda.Stream()
    return _CAPTURE_STREAMS[device]


def record_graph(body: Callable[[], None], warmup_fn: Callable[[], None], warmup: int,
                 before_capture: Callable[[], None] = lambda: None) -> torch.cuda.CUDAGraph:
    """Run ``warmup_fn`` ``warmup`` times, then record ``body`` as a CUDA graph, both on the capture stream.

    The graph replays on whatever stream is current at replay time.
    """
    stream, current = capture_stream(), torch.cuda.current_stream()
    stream.wait_stream(current)
    with torch.cuda.stream(stream):
        for _ in range(warmup):
            warmup_fn()
    current.wait_stream(stream)
    before_capture()
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph, stream=stream):
        body()
    return graph


def capture_graph(step, warmup: int) -> torch.cuda.CUDAGraph:
    """Warm up ``step`` (eager steps), then record ``step.body`` as a CUDA graph."""
    return record_graph(step.body, step.eager, warmup, step.before_capture)


def _compile(step, warmup: int) -> tuple[float | None, str]:
    """Swap in ``torch.compile(model)`` and compile it by running the warm-up; (seconds, '' or why not)."""
    t0 = time.perf_counter()
    try:
        step.forward = torch.compile(step.model, dynamic=False)
        for _ in range(max(1, warmup)):
            step.eager()
        if step.x.is_cuda:
            torch.cuda.synchronize()
    except Exception as e:  # noqa: BLE001 -- any compiler failure means: train without it
        step.forward = step.model
        return None, f"torch.compile failed ({type(e).__name__}: {str(e).splitlines()[0][:200]}); not compiled"
    return time.perf_counter() - t0, ""


def prepare(step, engine: str, warmup: int = 3) -> Prepared:
    """Make ``step`` (a TrainStep or EvalStep) ready to run with ``engine``, falling back as needed.

    Runs ``warmup`` steps (cuDNN autotuning happens there), then restores the state.
    """
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {', '.join(ENGINES)}, got {engine!r}")
    t0 = time.perf_counter()
    restore = step.snapshot()
    notes, compile_s = [], None
    if engine == "compile":
        if isinstance(step, TrainStep):
            compile_s, why = _compile(step, warmup)
            if why:
                notes.append(why)
            restore()
        else:
            notes.append("evaluation is not compiled (it would recompile the model for eval mode)")
    use_graph = engine in ("graph", "compile") and graphs_available(step.x)
    if engine != "eager" and not use_graph:
        notes.append("CUDA graphs need a CUDA device; eager")
    run, actual = step.eager, ("compile" if compile_s is not None else "eager")
    if use_graph:
        try:
            graph = capture_graph(step, warmup)
            run, actual = graph.replay, ("compile+graph" if compile_s is not None else "graph")
        except Exception as e:  # noqa: BLE001 -- a capture failure means: run the same step eagerly
            notes.append(f"CUDA graph capture failed ({type(e).__name__}: {str(e).splitlines()[0][:200]}); eager")
    else:
        for _ in range(warmup):
            step.eager()
    restore()
    if step.x.is_cuda:
        torch.cuda.synchronize()
    return Prepared(run, actual, "; ".join(notes), time.perf_counter() - t0, compile_s)
