"""Training loop of the MobileNet lab: tensors kept on the device, resumable, deterministic per epoch.

* Data: whole tensors on the device (Fashion-MNIST and CIFAR-10 fit in < 1 GB), so
  augmentation (random crop with zero padding, horizontal flip) runs as tensor ops
  on the device instead of in a DataLoader.
* Recipe: SGD with Nesterov momentum and a per-step cosine learning-rate schedule
  (Loshchilov & Hutter 2017, "SGDR"), weight decay, cross-entropy; or Adam.
* Resume: after every epoch a checkpoint (model, optimizer, history) is written to a
  temporary file and ``os.replace``d over the old one, so a kill never leaves a
  half-written checkpoint; it is read back with ``torch.load(weights_only=True)``.
  Every epoch draws its shuffling, crops, flips and dropout masks from generators
  seeded by (seed, epoch), so a resumed run repeats the uninterrupted one exactly
  (on CPU; CUDA kernels may differ in the last bits).
"""
from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import torch
from torch import nn
from torch.nn import functional as F


def select_device(name: str = "auto") -> torch.device:
    """'auto' -> CUDA when present, else CPU; otherwise ``torch.device(name)``."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def random_crop_flip(x: torch.Tensor, pad: int, flip: bool, generator: torch.Generator) -> torch.Tensor:
    """Random crop of the zero-padded batch and random horizontal flip.

    x: (N, C, H, W) -> (N, C, H, W). Offsets and flips are drawn by ``generator`` on its own
    device: a CUDA generator keeps the whole augmentation on the GPU (no host copy, so no wait
    for the stream), a CPU generator gives the same numbers on any device.
    """
    n, _, h, w = x.shape
    draw = {"generator": generator, "device": generator.device}
    if pad > 0:
        padded = F.pad(x, (pad, pad, pad, pad))  # (N, C, H+2p, W+2p)
        oy = torch.randint(0, 2 * pad + 1, (n,), **draw).to(x.device)
        ox = torch.randint(0, 2 * pad + 1, (n,), **draw).to(x.device)
        rows = (oy[:, None] + torch.arange(h, device=x.device))[:, :, None]  # (N, H, 1)
        cols = (ox[:, None] + torch.arange(w, device=x.device))[:, None, :]  # (N, 1, W)
        idx = torch.arange(n, device=x.device)[:, None, None]
        x = padded.permute(0, 2, 3, 1)[idx, rows, cols].permute(0, 3, 1, 2)  # (N, H, W, C) -> (N, C, H, W)
    if flip:
        mask = (torch.rand(n, **draw) < 0.5).to(x.device)
        x = torch.where(mask[:, None, None, None], x.flip(3), x)
    return x.contiguous()


@dataclass
class TrainSettings:
    """Hyperparameters of :func:`train_model` (defaults: the lab's recipe for 32x32 images)."""

    num_epochs: int = 30
    batch_size: int = 128
    optimizer: str = "sgd"       # 'sgd' (Nesterov momentum) or 'adam'
    lr: float = 0.1              # peak learning rate, cosine-decayed to 0 per step
    momentum: float = 0.9
    weight_decay: float = 5e-4   # 5e-4 suits 32x32 data; the paper's 4e-5 is for ImageNet
    warmup_epochs: float = 1.0   # linear warm-up from 0 (large lr on a fresh BatchNorm net can diverge)
    label_smoothing: float = 0.0
    crop_pad: int = 4            # random crop: zero padding on each side; 0 disables
    flip: bool = True            # random horizontal flip
    amp: bool = True             # bfloat16 autocast on CUDA (ignored on CPU)
    seed: int = 0
    progress: bool = True        # a line per epoch
    bars: bool = True            # and a tqdm bar per epoch (when progress)


@dataclass
class TrainResult:
    history: dict = field(default_factory=dict)  # per-epoch lists
    resumed_from_epoch: int = 0


def warmup_cosine_lr(step: int, total: int, warmup: int, peak: float) -> float:
    """Learning rate of step ``step`` (0-based) of ``total``: linear warm-up to ``peak`` over ``warmup``
    steps, then half a cosine down to 0 (Loshchilov & Hutter 2017; Goyal et al. 2017 for the warm-up)."""
    if step < warmup:
        return peak * (step + 1) / warmup
    t = (step - warmup) / max(1, total - warmup)
    return 0.5 * peak * (1 + math.cos(math.pi * t))


def make_optimizer(model: nn.Module, s: TrainSettings) -> torch.optim.Optimizer:
    # no weight decay on BatchNorm and biases (1-d tensors): decaying them only fights the normalization
    decay = [p for p in model.parameters() if p.ndim > 1]
    no_decay = [p for p in model.parameters() if p.ndim <= 1]
    groups = [{"params": decay, "weight_decay": s.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    if s.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=s.lr, momentum=s.momentum, nesterov=s.momentum > 0)
    if s.optimizer == "adam":
        return torch.optim.AdamW(groups, lr=s.lr)
    raise ValueError(f"optimizer must be 'sgd' or 'adam', got {s.optimizer!r}")


@torch.no_grad()
def evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int = 1000,
             amp: bool = True) -> tuple[float, float]:
    """(mean cross-entropy, accuracy) of ``model`` on x (N, C, H, W), y (N,), in eval mode."""
    model.eval()
    total_loss, correct = 0.0, 0
    for i in range(0, len(x), batch_size):
        xb, yb = x[i:i + batch_size], y[i:i + batch_size]
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=amp and xb.is_cuda):
            logits = model(xb)
        total_loss += F.cross_entropy(logits.float(), yb, reduction="sum").item()
        correct += (logits.argmax(1) == yb).sum().item()
    return total_loss / len(x), correct / len(x)


def save_checkpoint_atomic(path: Path, state: dict) -> None:
    """``torch.save`` to a temporary file beside ``path``, then ``os.replace`` (atomic on POSIX)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        torch.save(state, tmp)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def train_model(model: nn.Module, x_train: torch.Tensor, y_train: torch.Tensor, x_test: torch.Tensor,
                y_test: torch.Tensor, settings: TrainSettings, *, checkpoint_path=None, tag: str = "",
                on_epoch_end: Callable[[int, dict], None] | None = None) -> TrainResult:
    """Train ``model`` (already on the data's device) and return its per-epoch history.

    x_*: float tensors (N, C, H, W), normalized; y_*: int64 (N,). With
    ``checkpoint_path`` the run resumes from the last finished epoch found there
    (when its ``tag`` matches). ``on_epoch_end(epoch, history)`` is called after
    each epoch's checkpoint is written (tests use it to simulate a kill).
    """
    s = settings
    device = x_train.device
    optimizer = make_optimizer(model, s)
    # whole batches only: a smaller last batch is a new shape, and cuDNN's autotuner (benchmark mode)
    # spends seconds on every new shape; the dropped images change with the shuffle each epoch
    steps_per_epoch = max(1, len(x_train) // s.batch_size)
    total_steps = s.num_epochs * steps_per_epoch
    warmup_steps = int(s.warmup_epochs * steps_per_epoch)
    history = {k: [] for k in ("epoch", "train_loss", "train_acc", "test_loss", "test_acc", "epoch_time_s", "lr")}
    start_epoch = 0
    checkpoint_path = Path(checkpoint_path) if checkpoint_path else None
    if checkpoint_path and checkpoint_path.exists():
        state = torch.load(checkpoint_path, map_location=device, weights_only=True)
        if state.get("tag") == tag:
            model.load_state_dict(state["model"])
            optimizer.load_state_dict(state["optimizer"])
            history = state["history"]
            start_epoch = state["epoch"]
    use_amp = s.amp and device.type == "cuda"
    for epoch in range(start_epoch, s.num_epochs):
        # every random draw of this epoch depends only on (seed, epoch): resuming repeats it
        gen = torch.Generator().manual_seed(s.seed * 1_000_003 + epoch)
        torch.manual_seed(s.seed * 1_000_003 + epoch)  # dropout masks
        model.train()
        order = torch.randperm(len(x_train), generator=gen).to(device)
        t0 = time.perf_counter()
        seen = min(len(x_train), steps_per_epoch * s.batch_size)
        loss_sum = torch.zeros((), device=device)
        correct = torch.zeros((), device=device, dtype=torch.long)
        batches = range(steps_per_epoch)
        if s.progress and s.bars:
            from tqdm.auto import tqdm

            batches = tqdm(batches, desc=f"{tag} epoch {epoch + 1}/{s.num_epochs}", leave=False, mininterval=1.0)
        for b in batches:
            idx = order[b * s.batch_size:(b + 1) * s.batch_size]
            xb = random_crop_flip(x_train[idx], s.crop_pad, s.flip, gen)
            yb = y_train[idx]
            lr = warmup_cosine_lr(epoch * steps_per_epoch + b, total_steps, warmup_steps, s.lr)
            for group in optimizer.param_groups:
                group["lr"] = lr
            with torch.autocast("cuda", dtype=torch.bfloat16, enabled=use_amp):
                logits = model(xb)
                loss = F.cross_entropy(logits.float(), yb, label_smoothing=s.label_smoothing)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            loss_sum += loss.detach() * len(idx)  # stays on the device: no sync per step
            correct += (logits.argmax(1) == yb).sum()
        if device.type == "cuda":
            torch.cuda.synchronize()
        epoch_time = time.perf_counter() - t0
        test_loss, test_acc = evaluate(model, x_test, y_test, amp=s.amp)
        for key, value in (("epoch", epoch + 1), ("train_loss", loss_sum.item() / seen),
                           ("train_acc", correct.item() / seen), ("test_loss", test_loss),
                           ("test_acc", test_acc), ("epoch_time_s", epoch_time), ("lr", lr)):
            history[key].append(value)
        if s.progress:
            print(f"{tag} epoch {epoch + 1}/{s.num_epochs}: train loss {history['train_loss'][-1]:.4f} "
                  f"acc {history['train_acc'][-1]:.4f}, test acc {test_acc:.4f}, {epoch_time:.1f} s", flush=True)
        if checkpoint_path:
            save_checkpoint_atomic(checkpoint_path, {"tag": tag, "epoch": epoch + 1, "model": model.state_dict(),
                                                     "optimizer": optimizer.state_dict(), "history": history})
        if on_epoch_end:
            on_epoch_end(epoch + 1, history)
    return TrainResult(history=history, resumed_from_epoch=start_epoch)


@torch.no_grad()
def measure_latency(model: nn.Module, input_shape: tuple[int, ...], batch_size: int, device: torch.device,
                    *, amp: bool = True, max_seconds: float = 1.0, max_reps: int = 50, warmup: int = 2) -> float:
    """Median wall time (ms) of one eval-mode forward pass of a batch (batch_size, *input_shape).

    Warms up ``warmup`` times, then repeats until ``max_reps`` (at least 3 unless ``max_reps`` is
    smaller) or ``max_seconds``; synchronizes CUDA.
    """
    model.eval()
    x = torch.randn((batch_size, *input_shape), device=device)
    use_amp = amp and device.type == "cuda"

    def once() -> float:
        t0 = time.perf_counter()
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=use_amp):
            model(x)
        if device.type == "cuda":
            torch.cuda.synchronize()
        return time.perf_counter() - t0

    for _ in range(warmup):
        once()
    times, start = [], time.perf_counter()
    while len(times) < max_reps and (len(times) < min(3, max_reps) or time.perf_counter() - start < max_seconds):
        times.append(once())
    times.sort()
    return 1000 * times[len(times) // 2]


def measure_train_step(model: nn.Module, input_shape: tuple[int, ...], num_classes: int, batch_size: int,
                       device: torch.device, *, amp: bool = True, steps: int = 20) -> float:
    """Median wall time (s) of one SGD training step on random data (forward, backward, update).

    Times the model alone on the device, unlike the per-epoch times of a run that
    shared the device with other runs. The model's weights change: use a copy.
    """
    model.train()
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
    x = torch.randn((batch_size, *input_shape), device=device)
    y = torch.randint(0, num_classes, (batch_size,), device=device)
    use_amp = amp and device.type == "cuda"
    times = []
    for i in range(steps + 3):
        t0 = time.perf_counter()
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=use_amp):
            loss = F.cross_entropy(model(x).float(), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if device.type == "cuda":
            torch.cuda.synchronize()
        if i >= 3:  # the first steps include cuDNN autotuning and allocation
            times.append(time.perf_counter() - t0)
    times.sort()
    return times[len(times) // 2]
