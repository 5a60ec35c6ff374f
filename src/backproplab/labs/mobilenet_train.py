"""The mobilenet lab's data and its one task: train one model with the study's fast path and time it.

* :func:`require_torch`: PyTorch, or an :class:`ImportError` of one line saying how to install it;
* :func:`resolve_dataset` / :func:`load_arrays`: which data set a run uses (decided once, in the
  process that runs the lab, so every cluster worker trains on the same one) and its arrays,
  read once per process: x (N, C, 32, 32) in [0, 1], a random ``train_size``/``test_size``;
* :func:`train_task`: one (family, width, input side) trained by the study's
  :class:`~backproplab.torchmodels.job.TrainJob` (whole-epoch augmentation on the device, the
  whole step as a CUDA graph on a GPU, eager on the CPU), then its forward latency -- a
  module-level function of plain arguments, so a Dask worker can run it.

Reference: Howard et al. (2017), "MobileNets", arXiv:1704.04861; Sandler et al. (2018),
"MobileNetV2", arXiv:1801.04381.
"""
from __future__ import annotations

import contextlib
import functools

import numpy as np

from . import progress

TORCH_MISSING = ("the mobilenet lab needs PyTorch, an optional extra of backproplab: pip install "
                 "'backproplab[torch]' (pins torch==2.13.0); the other labs need no PyTorch")
#: batch sizes whose forward latency is measured
LATENCY_BATCHES = (1, 128)


def require_torch():
    """The torch module, or ImportError with the one line that says how to install it."""
    try:
        import torch
    except ImportError:
        raise ImportError(TORCH_MISSING) from None
    return torch


def resolve_device(name: str):
    """torch.device of ``--device`` (auto: CUDA when present); a clear error for CUDA without a GPU."""
    torch = require_torch()
    from ..torchmodels.training import select_device

    device = select_device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(f"--device cuda: PyTorch {torch.__version__} sees no CUDA device on this machine; "
                           "pass --device cpu (or auto)")
    return device


def uses_gpu(device: str) -> bool:
    """Do this run's models train on a GPU (so each task asks a cluster worker for the resource GPU)?"""
    return device == "cuda" or (device == "auto" and require_torch().cuda.is_available())


def resolve_dataset(dataset: str, data_dir) -> str:
    """'cifar10' or 'fashion-mnist': auto takes CIFAR-10 when its files are in ``data_dir`` or $BACKPROPLAB_CIFAR10."""
    if dataset != "auto":
        return dataset
    from ..data.cifar10 import find_cifar10

    return "cifar10" if find_cifar10(data_dir) else "fashion-mnist"


@functools.lru_cache(maxsize=1)
def load_arrays(dataset: str, data_dir, download: bool, train_size, test_size, seed: int):
    """(Dataset with x (N, C, 32, 32) float32 in [0, 1], facts dict) of a resolved data set.

    Read once per process and shared by its tasks (treat the arrays as read-only). The subset is
    drawn by its own generator (seed + 1), as in the other labs, so it moves no model's random numbers.
    """
    import dataclasses

    from ..data.fashion_mnist import Dataset, load_fashion_mnist

    if dataset == "cifar10":
        from ..data.cifar10 import load_cifar10

        c = load_cifar10(data_dir, download=download)
        ds = Dataset(c.x_train, c.y_train, c.x_test, c.y_test, class_names=c.class_names, source=c.source)
        padded = False
    else:
        ds = load_fashion_mnist(classes=None, data_dir=data_dir, flatten=False)  # x (N, 1, 28, 28)
        pad = ((0, 0), (0, 0), (2, 2), (2, 2))  # a 2-pixel zero border: 28 -> 32, the CIFAR-10 side
        ds = dataclasses.replace(ds, x_train=np.pad(ds.x_train, pad), x_test=np.pad(ds.x_test, pad))
        padded = True
    if train_size is not None or test_size is not None:
        ds = ds.subset(train_size, np.random.default_rng(seed + 1), test_size)
    facts = {"dataset": dataset, "name": "CIFAR-10" if dataset == "cifar10" else "Fashion-MNIST",
             "source": ds.source, "n_train": len(ds.x_train), "n_test": len(ds.x_test),
             "channels": int(ds.x_train.shape[1]), "num_classes": ds.num_classes, "chance": ds.chance,
             "padded": padded}
    return ds, facts


@functools.lru_cache(maxsize=1)
def _device_data(dataset: str, data_dir, download: bool, train_size, test_size, seed: int, device: str):
    """The arrays as the study's StudyData on ``device`` (normalized per channel), once per process."""
    from ..torchmodels.gpu_data import from_arrays

    ds, facts = load_arrays(dataset, data_dir, download, train_size, test_size, seed)
    torch = require_torch()
    return from_arrays(ds.x_train, ds.y_train, ds.x_test, ds.y_test, torch.device(device), name=facts["name"],
                       note=facts["source"])


@contextlib.contextmanager
def torch_threads(threads: int | None):
    """PyTorch's CPU threads set to ``threads`` inside the block (None: left as they are).

    A CPU convolution splits its sums by thread, so the same thread count gives the same numbers
    bit for bit, here and on a cluster worker.
    """
    torch = require_torch()
    before = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def recipe_of(config, device):
    """The study's Recipe with the lab's options (bf16 autocast on a GPU only: CPUs are slow at it)."""
    from ..torchmodels.job import Recipe

    return Recipe(num_epochs=config.num_epochs, batch_size=config.batch_size, lr=config.lr,
                  weight_decay=config.weight_decay, warmup_epochs=config.warmup_epochs,
                  label_smoothing=config.label_smoothing, flip=config.flip, amp=device.type == "cuda")


def train_task(config, dataset: str, family: str, width: float, resolution: int) -> dict:
    """Train ``family`` at ``width`` on ``resolution``-px inputs; its numbers, per-epoch history and latency.

    Seeds: the model from ``torch.manual_seed(config.seed)``, each epoch's order, crops and flips
    from (seed, epoch) (:mod:`~backproplab.torchmodels.gpu_data`). Raises RuntimeError when the job fails.
    """
    torch = require_torch()
    from ..torchmodels.job import JobOptions, JobSpec, TrainJob
    from ..torchmodels.lanes import run_lanes
    from ..torchmodels.timing import synchronize

    device = resolve_device(config.device)
    with torch_threads(config.threads):
        torch.backends.cudnn.benchmark = device.type == "cuda"
        data = _device_data(dataset, config.data_dir, config.download, config.train_size, config.test_size,
                            config.seed, str(device))
        data.at(resolution)  # the resized copy is made on the default stream, before the job's stream uses it
        synchronize(device)
        cuda = device.type == "cuda"
        options = JobOptions(engine="graph" if cuda else "eager", channels_last=cuda)
        job = TrainJob(JobSpec(family, width, resolution, (config.seed,)), data, recipe_of(config, device),
                       options, device)
        finished: list[dict] = []
        run_lanes([job], 1, on_finish=lambda _job, results: finished.extend(results), log=progress.current().info)
        row = finished[0]
        if row["status"] != "finished":
            raise RuntimeError(f"training {job.spec.name} failed: {row['status']}")
        row.update(latencies(family, width, resolution, data.channels, data.num_classes, config, device))
    row["device"] = device_name(device)
    row["threads"] = config.threads
    return row


def latencies(family: str, width: float, resolution: int, channels: int, num_classes: int, config, device) -> dict:
    """Median eval-mode forward time (ms) at batch 1 and 128, eager, and at batch 1 as a CUDA graph (GPU only).

    Timed on a freshly built model: a dense network does the same work whatever its weights' values.
    """
    torch = require_torch()
    from ..torchmodels import build_model
    from ..torchmodels.timing import forward_latency_ms

    torch.manual_seed(config.seed)
    fmt = torch.channels_last if device.type == "cuda" else torch.contiguous_format
    model = build_model(family, width, num_classes, resolution, in_channels=channels,
                        variant="cifar").to(device, memory_format=fmt)
    amp = device.type == "cuda"
    out = {}
    for b in LATENCY_BATCHES:
        x = torch.randn((b, channels, resolution, resolution), device=device)
        out[f"latency_b{b}_ms"] = forward_latency_ms(model, x, amp, False, config.latency_reps)
    x = torch.randn((1, channels, resolution, resolution), device=device)
    out["latency_b1_graph_ms"] = forward_latency_ms(model, x, amp, True, config.latency_reps) if amp else None
    return out


def device_name(device) -> str:
    torch = require_torch()
    return torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
