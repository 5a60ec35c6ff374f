"""Lab ``mobilenet``: MobileNet V1 and V2 against a plain CNN, with width and resolution multipliers.

The question (Howard et al. 2017; Sandler et al. 2018): how much accuracy do depthwise
separable convolutions and inverted residuals give up for their savings in
multiply-accumulates (MACs) and parameters, and how do the width multiplier alpha and
the resolution multiplier rho trade accuracy for cost?

The lab (1) counts MACs/params of the ImageNet configurations and checks them against
the paper's table, (2) compares the depthwise-separable cost ratio 1/N + 1/D_K^2 with
measured MACs, (3) trains the plain CNN, V1 and V2 at several widths and input
resolutions on CIFAR-10 (when found) or Fashion-MNIST (padded to 32x32), and
(4) reports accuracy, params, MACs, training time per epoch, inference latency and
the accuracy-vs-MACs trade-off plot. Needs PyTorch: ``pip install 'backproplab[torch]'``.
"""
from __future__ import annotations

import dataclasses
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .common import LabRun

NAME = "mobilenet"
TITLE = "MobileNet V1/V2 vs a plain CNN: depthwise separable convolutions, width and resolution multipliers"
TORCH_HINT = ("The mobilenet lab needs PyTorch, an optional extra of backproplab. Install it with\n"
              "    pip install 'backproplab[torch]'        (pins torch==2.13.0)\n"
              "then run the lab again. The other labs need no PyTorch.")

#: the papers' ImageNet numbers: (model, width, resolution) -> (million mult-adds, million params).
#: V1: Howard et al. 2017, Tables 4, 6, 7 ("cnn" is Table 4's "Conv MobileNet"); V2: Sandler et al. 2018.
PAPER_TABLE = {
    ("v1", 1.0, 224): (569, 4.2), ("v1", 0.75, 224): (325, 2.6), ("v1", 0.5, 224): (149, 1.3),
    ("v1", 0.25, 224): (41, 0.5), ("v1", 1.0, 192): (418, 4.2), ("v1", 1.0, 160): (290, 4.2),
    ("v1", 1.0, 128): (186, 4.2), ("cnn", 1.0, 224): (4866, 29.3), ("v2", 1.0, 224): (300, 3.4),
}
#: agreement asked of a count: the papers print whole millions of MACs (290M at 160px counts 290.7M:
#: truncated; Conv MobileNet's 4866M counts 4867.3M), so max(1M, 0.05%) of slack, and tenths of millions
#: of params; V2's 3.4M is 3.40-3.55M across the paper and its reference code (3.50M with the
#: 1280-channel head and 1000-class classifier).
MACS_TOL_M, MACS_REL_TOL, PARAMS_TOL_M, V2_PARAMS_RANGE_M = 1.0, 5e-4, 0.05, (3.4, 3.55)


def matches_paper(name: str, macs_m: float, params_m: float, paper_macs: float, paper_params: float) -> bool:
    if abs(macs_m - paper_macs) > max(MACS_TOL_M, MACS_REL_TOL * paper_macs):
        return False
    if name == "v2":
        return V2_PARAMS_RANGE_M[0] <= params_m <= V2_PARAMS_RANGE_M[1]
    return abs(params_m - paper_params) <= PARAMS_TOL_M
MODEL_LABELS = {"cnn": "plain CNN", "v1": "MobileNet V1", "v2": "MobileNet V2"}


@dataclass(frozen=True)
class Config:
    seed: int = field(default=0, metadata={"help": 'seeds every generator of the run'})
    quick: bool = field(default=False,
          metadata={"help": 'a few hundred images, width 0.25, one epoch: seconds on a CPU'})
    dataset: str = field(default="auto",
          metadata={"help": 'auto (CIFAR-10 if found, else Fashion-MNIST), cifar10, fashion-mnist'})
    data_dir: str | None = field(default=None, metadata={"help": 'CIFAR-10 folder (or set $BACKPROPLAB_CIFAR10)'})
    download: bool = field(default=False,
          metadata={"help": 'download CIFAR-10 (MD5-checked) when it is not found'})
    fashion_mnist_dir: str | None = field(default=None,
          metadata={"help": "Fashion-MNIST IDX folder (default: the loader's)"})
    models: tuple[str, ...] = field(default=("cnn", "v1", "v2"),
          metadata={"help": 'which of cnn, v1, v2 to train at every width'})
    widths: tuple[float, ...] = field(default=(1.0, 0.75, 0.5, 0.25),
          metadata={"help": 'width multipliers alpha, at the first resolution'})
    resolutions: tuple[int, ...] = field(default=(32, 24, 16),
          metadata={"help": 'input sides (resolution multiplier rho), at the first width'})
    resolution_models: tuple[str, ...] = field(default=("v1", "v2"),
          metadata={"help": 'models also trained at the smaller resolutions'})
    num_epochs: int = field(default=30, metadata={"help": 'epochs per run'})
    batch_size: int = field(default=256, metadata={"help": 'images per step'})
    optimizer: str = field(default="sgd", metadata={"help": 'sgd (Nesterov momentum 0.9) or adam (AdamW)'})
    lr: float = field(default=0.2,
          metadata={"help": 'peak learning rate of the cosine schedule (0.1 per 128 images)'})
    weight_decay: float = field(default=5e-4, metadata={"help": 'on conv/linear weights only'})
    label_smoothing: float = field(default=0.0, metadata={"help": 'cross-entropy label smoothing'})
    flip: bool = field(default=True,
          metadata={"help": 'random horizontal flip (label-preserving for both data sets)'})
    device: str = field(default="auto", metadata={"help": 'auto = CUDA when present, else CPU'})
    train_size: int | None = field(default=None,
          metadata={"help": 'use only the first N training images (None: all)'})
    progress: bool = field(default=True, metadata={"help": 'tqdm bars and a line per epoch'})
    workers: int = field(default=1, metadata={"help": 'training runs at once (processes sharing the device)'})
    only_cached: bool = field(default=False,
          metadata={"help": 'report the runs already trained in this folder; train no new ones'})


#: the Config fields a trained model depends on: finished runs are cached under these alone, so a
#: later call with other --models/--widths/--workers reuses them
TRAIN_FIELDS = ("seed", "quick", "dataset", "num_epochs", "batch_size", "optimizer", "lr", "weight_decay",
                "label_smoothing", "flip", "train_size")


def run_cache(config: Config, out_dir) -> LabRun:
    """The LabRun (``OUT/runs/``) that caches each training run and its measurements."""
    fields = {name: getattr(config, name) for name in TRAIN_FIELDS}
    TrainKey = dataclasses.make_dataclass("TrainKey", list(fields), frozen=True)
    return LabRun(Path(out_dir) / "runs", TrainKey(**fields))


def is_cached(cache: LabRun, key: str) -> bool:
    path = cache.out_dir / ".steps" / f"{key}.json"
    try:
        return json.loads(path.read_text()).get("config_hash") == cache.config_hash
    except (OSError, ValueError):
        return False


def quick_overrides(config: Config) -> Config:
    return dataclasses.replace(config, widths=(0.25,), resolutions=(16, 8), resolution_models=("v2",),
                               num_epochs=1, batch_size=64, train_size=min(config.train_size or 256, 256),
                               progress=False)


def _require_torch():
    try:
        import torch  # noqa: F401
    except ImportError:
        print(TORCH_HINT, file=sys.stderr)
        raise SystemExit(2) from None


# -- data ----------------------------------------------------------------------
def load_data(config: Config) -> dict:
    """x (N, C, 32, 32) float32 in [0, 1], y int64, and a description of the source."""
    from ..data.cifar10 import find_cifar10, load_cifar10

    if config.dataset not in ("auto", "cifar10", "fashion-mnist"):
        raise ValueError(f"dataset must be auto, cifar10 or fashion-mnist, got {config.dataset!r}")
    use_cifar = config.dataset == "cifar10" or (config.dataset == "auto" and find_cifar10(config.data_dir))
    if use_cifar:
        d = load_cifar10(config.data_dir, download=config.download)
        data = dict(x_train=d.x_train, y_train=d.y_train, x_test=d.x_test, y_test=d.y_test,
                    name="CIFAR-10", note=f"CIFAR-10 from {d.source}")
    else:
        try:
            from ..data.fashion_mnist import load_fashion_mnist
        except ImportError:
            from ..data import load_fashion_mnist  # type: ignore[attr-defined]
        kwargs = {"data_dir": config.fashion_mnist_dir} if config.fashion_mnist_dir else {}
        d = load_fashion_mnist(classes=None, flatten=False, **kwargs)
        pad = ((0, 0), (0, 0), (2, 2), (2, 2))  # 28x28 -> 32x32 with a zero border
        data = dict(x_train=np.pad(d.x_train, pad), y_train=d.y_train, x_test=np.pad(d.x_test, pad),
                    y_test=d.y_test, name="Fashion-MNIST",
                    note=("CIFAR-10 was not found (no --data-dir, no $BACKPROPLAB_CIFAR10), so this run uses "
                          "Fashion-MNIST (real, 60000/10000 images), 28x28 zero-padded to 32x32, 1 channel"
                          if config.dataset == "auto" else "Fashion-MNIST padded to 32x32, 1 channel"))
    if config.train_size:
        data["x_train"], data["y_train"] = data["x_train"][:config.train_size], data["y_train"][:config.train_size]
    if config.quick:
        data["x_test"], data["y_test"] = data["x_test"][:256], data["y_test"][:256]
    return data


def to_device(data: dict, resolution: int, device):
    """Normalize per channel (train statistics), resize to ``resolution``, move to ``device``."""
    import torch
    from torch.nn import functional as F

    mean = data["x_train"].mean(axis=(0, 2, 3), keepdims=True)
    std = data["x_train"].std(axis=(0, 2, 3), keepdims=True) + 1e-8
    out = []
    for x, y in ((data["x_train"], data["y_train"]), (data["x_test"], data["y_test"])):
        xt = torch.from_numpy(((x - mean) / std).astype(np.float32)).to(device)
        if resolution != xt.shape[-1]:
            # the resolution multiplier: the same images, fed smaller (antialiased bilinear)
            xt = F.interpolate(xt, size=(resolution, resolution), mode="bilinear", antialias=True,
                               align_corners=False)
        out += [xt, torch.from_numpy(np.asarray(y, dtype=np.int64)).to(device)]
    return out


# -- one training run ----------------------------------------------------------
def run_key(model_name: str, width: float, resolution: int) -> str:
    return f"{model_name}-w{width}-r{resolution}"


def make_model(config: Config, model_name: str, width: float, resolution: int, channels: int, num_classes: int):
    from ..torchmodels import build_model

    return build_model(model_name, width, num_classes, resolution, in_channels=channels, variant="cifar")


def train_one(config: Config, data: dict, model_name: str, width: float, resolution: int, out_dir: Path,
              bars: bool = True) -> dict:
    """Train one model (resuming from its checkpoint), save its weights, return its metrics and history."""
    import torch

    from ..torchmodels import count_macs
    from ..torchmodels.training import TrainSettings, select_device, train_model

    device = select_device(config.device)
    torch.backends.cudnn.benchmark = device.type == "cuda"
    x_train, y_train, x_test, y_test = to_device(data, resolution, device)
    channels, num_classes = x_train.shape[1], int(max(y_train.max().item(), y_test.max().item())) + 1
    torch.manual_seed(config.seed)
    model = make_model(config, model_name, width, resolution, channels, num_classes)
    cost = count_macs(model, (channels, resolution, resolution))
    model.to(device)
    settings = TrainSettings(num_epochs=config.num_epochs, batch_size=config.batch_size, optimizer=config.optimizer,
                             lr=config.lr, weight_decay=config.weight_decay, label_smoothing=config.label_smoothing,
                             crop_pad=round(4 * resolution / 32), flip=config.flip, seed=config.seed,
                             progress=config.progress, bars=bars)
    key = run_key(model_name, width, resolution)
    ckpt = out_dir / "checkpoints" / f"{key}.pt"
    res = train_model(model, x_train, y_train, x_test, y_test, settings, checkpoint_path=ckpt, tag=key)
    (out_dir / "models").mkdir(parents=True, exist_ok=True)
    torch.save(model.to("cpu").state_dict(), out_dir / "models" / f"{key}.pt")
    ckpt.unlink(missing_ok=True)  # the final weights are kept above; the optimizer state is not needed
    h = res.history
    times = h["epoch_time_s"][1:] or h["epoch_time_s"]  # epoch 1 includes cuDNN's autotuning
    return dict(model=model_name, width=width, resolution=resolution, channels=channels, num_classes=num_classes,
                test_acc=h["test_acc"][-1], best_test_acc=max(h["test_acc"]), train_acc=h["train_acc"][-1],
                params=cost.params, macs=cost.macs, run_epoch_time_s=float(np.mean(times)),
                steps_per_epoch=max(1, len(x_train) // config.batch_size), device=device_name(device),
                workers=config.workers,
                resumed_from_epoch=res.resumed_from_epoch, history=h)


def _train_worker(config: Config, out_dir: str, model_name: str, width: float, resolution: int) -> None:
    """One training run in a worker process (``workers > 1``): cached by the same LabRun step key."""
    import torch

    torch.set_num_threads(2)  # the GPU does the work; many workers must not fight over the CPU
    cache = run_cache(config, out_dir)
    data = load_data(config)
    cache.step(f"train-{run_key(model_name, width, resolution)}",
               lambda: train_one(config, data, model_name, width, resolution, Path(out_dir), bars=False))


def measure_one(config: Config, result: dict, out_dir: Path) -> dict:
    """Latency (batch 1 and 128 on the device, batch 1 on 4 CPU threads) and training time per epoch, measured alone."""
    import copy

    import torch

    from ..torchmodels.training import measure_latency, measure_train_step, select_device

    device = select_device(config.device)
    torch.backends.cudnn.benchmark = device.type == "cuda"
    m, w, r = result["model"], result["width"], result["resolution"]
    model = make_model(config, m, w, r, result["channels"], result["num_classes"])
    weights = out_dir / "models" / f"{run_key(m, w, r)}.pt"
    if weights.exists():
        model.load_state_dict(torch.load(weights, weights_only=True))
    # without them (a run trained on another machine) the untrained net has the same cost: dense
    # kernels do the same work whatever the weights' values
    out = {"timed_weights": "trained" if weights.exists() else "untrained"}
    shape = (result["channels"], r, r)
    quick = dict(max_seconds=0.0, max_reps=1, warmup=1) if config.quick else {}
    out["timing_device"] = device_name(device)
    few = config.quick or device.type == "cpu"  # a CPU step of a full-width net takes seconds
    step_s = measure_train_step(copy.deepcopy(model).to(device), shape, result["num_classes"], config.batch_size,
                                device, steps=3 if few else 20)
    out["epoch_time_s"] = step_s * result["steps_per_epoch"]
    model.to(device)
    for b in (1, 128):
        out[f"latency_b{b}_ms"] = measure_latency(model, shape, b, device, **quick)
    threads = torch.get_num_threads()
    torch.set_num_threads(min(4, threads))  # a phone-like CPU budget, comparable across machines
    out["cpu4_latency_b1_ms"] = measure_latency(model.to("cpu"), shape, 1, torch.device("cpu"), **quick)
    torch.set_num_threads(threads)
    return out


def device_name(device) -> str:
    import torch

    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return "CPU"


# -- counting tables -----------------------------------------------------------
def imagenet_table(quick: bool) -> list[dict]:
    from ..torchmodels import build_model, count_macs

    rows = []
    for (name, width, res), (paper_macs, paper_params) in PAPER_TABLE.items():
        if quick and (name, width, res) not in (("v1", 1.0, 224), ("v2", 1.0, 224)):
            continue
        cost = count_macs(build_model(name, width, 1000, res), (3, res, res))
        macs_m, params_m = cost.macs / 1e6, cost.params / 1e6
        rows.append(dict(model=f"{MODEL_LABELS[name]} {width}-{res}", macs_M=round(macs_m, 1),
                         paper_macs_M=paper_macs, params_M=round(params_m, 3), paper_params_M=paper_params,
                         matches=matches_paper(name, macs_m, params_m, paper_macs, paper_params)))
    return rows


def separable_ratio_table(channels: int) -> list[dict]:
    """Per V1 block at 32x32: measured (depthwise + pointwise) MACs / the plain CNN's conv MACs vs 1/N + 1/9."""
    from ..torchmodels import build_model, count_macs, separable_cost_ratio

    v1 = count_macs(build_model("v1", 1.0, 10, 32, in_channels=channels, variant="cifar"), (channels, 32, 32))
    cnn = count_macs(build_model("cnn", 1.0, 10, 32, in_channels=channels, variant="cifar"), (channels, 32, 32))
    v1_blocks = [layer for layer in v1.layers if layer.kind in ("depthwise", "pointwise")]
    cnn_blocks = [layer for layer in cnn.layers if layer.kind == "conv"][1:]  # skip the shared stem
    rows = []
    for i, conv in enumerate(cnn_blocks):
        dw, pw = v1_blocks[2 * i], v1_blocks[2 * i + 1]
        rows.append(dict(block=i + 1, out_channels=pw.out_shape[0], map=f"{pw.out_shape[1]}x{pw.out_shape[2]}",
                         separable_MACs=dw.macs + pw.macs, standard_MACs=conv.macs,
                         measured_ratio=(dw.macs + pw.macs) / conv.macs,
                         formula_ratio=separable_cost_ratio(pw.out_shape[0], 3)))
    rows.append(dict(block="whole net", out_channels="", map="", separable_MACs=v1.macs, standard_MACs=cnn.macs,
                     measured_ratio=v1.macs / cnn.macs, formula_ratio=None))
    return rows


# -- the lab ---------------------------------------------------------------------
def run(config: Config, out_dir) -> dict:
    _require_torch()
    from .mobilenet_report import make_plots, write_report

    if config.quick:
        config = quick_overrides(config)
    for m in set(config.models) | set(config.resolution_models):
        if m not in MODEL_LABELS:
            raise ValueError(f"unknown model {m!r}; choose from {', '.join(MODEL_LABELS)}")
    lab = LabRun(out_dir, config)
    t0 = time.perf_counter()
    data = load_data(config)
    channels = data["x_train"].shape[1]
    table = lab.step("imagenet-table", lambda: imagenet_table(config.quick))
    ratios = lab.step("separable-ratio", lambda: separable_ratio_table(channels))
    base_w, base_r = config.widths[0], config.resolutions[0]
    plan = [(m, w, base_r) for m in config.models for w in config.widths]
    plan += [(m, base_w, r) for m in config.resolution_models for r in config.resolutions if (m, base_w, r) not in plan]
    plan.sort(key=lambda p: ("v2", "v1", "cnn").index(p[0]))  # slowest first: better packing with workers
    cache = run_cache(config, lab.out_dir)
    keys = {(m, w, r): f"train-{run_key(m, w, r)}" for m, w, r in plan}
    missing = [p for p in plan if not is_cached(cache, keys[p])] if config.only_cached else []
    plan = [p for p in plan if p not in missing]
    if config.workers > 1:
        # several runs share the device: small models leave a GPU idle between kernel launches
        import concurrent.futures
        import multiprocessing

        todo = [p for p in plan if not is_cached(cache, keys[p])]
        spawn = multiprocessing.get_context("spawn")  # CUDA cannot be forked
        with concurrent.futures.ProcessPoolExecutor(config.workers, mp_context=spawn) as ex:
            for future in [ex.submit(_train_worker, config, str(lab.out_dir), m, w, r) for m, w, r in todo]:
                future.result()
    from ..torchmodels.training import select_device

    timing_device = device_name(select_device(config.device)).replace(" ", "_")  # timings belong to a device
    results = []
    for m, w, r in plan:
        res = cache.step(keys[(m, w, r)], lambda m=m, w=w, r=r: train_one(config, data, m, w, r, lab.out_dir))
        res.update(cache.step(f"measure-{run_key(m, w, r)}-{timing_device}",
                              lambda res=res: measure_one(config, res, lab.out_dir)))
        results.append(res)
    rows = [{k: v for k, v in res.items() if k != "history"} for res in results]
    curves = [dict(model=res["model"], width=res["width"], resolution=res["resolution"], epoch=e,
                   **{k: res["history"][k][i] for k in ("train_loss", "train_acc", "test_loss", "test_acc")})
              for res in results for i, e in enumerate(res["history"]["epoch"])]
    lab.save_metrics("results", rows)
    lab.save_metrics("curves", curves)
    lab.save_metrics("imagenet_macs", table)
    lab.save_metrics("separable_ratio", ratios)
    make_plots(lab, results, base_w, base_r)
    summary = write_report(lab, config, data["name"], data["note"], rows, table, ratios, base_w, base_r,
                           wall_s=time.perf_counter() - t0, missing=[run_key(*p) for p in missing])
    return {"summary": summary, "results": rows, "imagenet_table": table}
