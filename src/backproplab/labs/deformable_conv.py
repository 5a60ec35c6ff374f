"""Lab: deformable convolution on images whose geometry varies.

The question (document 001, question 4(c)): how does a deformable convolution's sampling differ
from a regular convolution's grid, how can it adapt to geometric transformations, and what are the
offsets and how are they computed?

    regular:     y(p0) = Σ_n w(p_n) · x(p0 + p_n)
    deformable:  y(p0) = Σ_n w(p_n) · x(p0 + p_n + Δp_n(p0))

The offsets Δp_n(p0) come from a convolution over the same input (2 numbers per tap and output
position), initialised to zero; x at a fractional position is interpolated bilinearly from its four
neighbours.

The run trains two networks on Fashion-MNIST images under random rotation, scale and translation:
a plain CNN and the same CNN with deformable layers in place of its last convolutions, from the
same seed (so the same initial function), with the same batches, steps and optimizer. It reports
both on the test images as they are and moved, with the uncertainty of the difference; draws where
the taps of one output unit land in the image (regular grid against learned points, as Dai et al.'s
figures 5-6); and measures what the offsets learned: their size, and whether the spread of the
sampling points follows the object's scale.

Reference: Dai, Qi, Xiong, Li, Zhang, Hu, Wei 2017, "Deformable Convolutional Networks", ICCV;
Zhu, Hu, Lin, Dai 2019, "Deformable ConvNets v2" (modulation).
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from ..report.i18n import N_
from .config import ConfigError, option, quick
from .deformable_conv_analysis import paired_difference, pearson_with_ci
from .deformable_conv_model import KINDS, load_data, start_difference, train_network
from .deformable_conv_text import report_body
from .training import TrainingConfig

NAME = "deformable-conv"
TITLE = N_("Deformable convolution under rotation, scale and translation")
SUMMARY = N_("a plain CNN against the same CNN with deformable last layers on moved Fashion-MNIST: accuracy, "
             "where the taps land, what the offsets learned")
QUESTIONS = ("001/Q4.c.1", "001/Q4.c.2")


@dataclass(frozen=True)
class Config(TrainingConfig):
    classes: str = option("all", "Fashion-MNIST class ids (comma list) or 'all'")
    train_size: int | None = option(16000, "random training images to use; None = all", low=1)
    # two at least: the accuracy gain's paired standard error needs two images
    test_size: int | None = option(2000, "random test images to use; None = all", low=2)
    num_epochs: int = option(2, "passes over the training set (both networks)", low=1, high=1000)
    batch_size: int = option(32, "mini-batch size (both networks)", low=1, high=4096)
    lr: float = option(2e-3, "Adam learning rate (both networks)", low=0, low_open=True, high=1)
    channels: tuple[int, ...] = option((16, 16, 16, 16), "output channels of the four 3x3 convolutions",
                                       min_len=4, each_low=1, each_high=512)
    deformable_layers: int = option(2, "how many of the last convolutions become deformable", low=1, high=4)
    modulation: bool = option(False, "DCN v2: also learn a mask in (0, 1) per tap (starts at 0.5)")
    transform_train: bool = option(True, "train on moved images too (else on the images as they are)")
    max_rotation: float = option(30.0, "rotations drawn from ±this many degrees", low=0, high=180)
    scale_range: tuple[float, ...] = option((0.8, 1.2), "scales drawn from this range (low, high)", min_len=2,
                                            each_low=0.1, each_high=4)
    max_translation: float = option(3.0, "shifts drawn from ±this many pixels per axis", low=0, high=10)
    analysis_size: int = option(500, "moved test images for the sampling-point statistics", low=4, high=100000)
    num_shown: int = option(4, "test images in the sampling-point figure", low=1, high=12)

    def check(self) -> None:
        super().check()
        if len(self.channels) != 4:
            raise ConfigError(f"--channels needs 4 entries (one per convolution), got {len(self.channels)}")
        if len(self.scale_range) != 2 or self.scale_range[0] > self.scale_range[1]:
            raise ConfigError(f"--scale-range needs two numbers low <= high, got {self.scale_range}")

    def quick(self) -> "Config":
        return quick(self, train_size=512, test_size=256, num_epochs=1, analysis_size=16, num_shown=2)


def _sweep_change(rows: list[dict]) -> dict:
    """Mean spread at the largest scale minus at the smallest, with its standard error."""
    lo, hi = rows[0], rows[-1]
    return {"from_scale": lo["scale"], "to_scale": hi["scale"], "change": hi["spread_mean"] - lo["spread_mean"],
            "se": float(np.hypot(lo["spread_se"], hi["spread_se"])), "ratio": hi["spread_mean"] / lo["spread_mean"]}


def gain_gap(plain_hits: dict, deform_hits: dict) -> dict:
    """The deformable network's gain on the moved test images minus its gain on the same images as they
    are, with its standard error (per image: (b - a) moved - (b - a) as they are; images paired)."""
    e = ((np.asarray(deform_hits["moved"]) - np.asarray(plain_hits["moved"]))
         - (np.asarray(deform_hits["original"]) - np.asarray(plain_hits["original"])))
    n = len(e)
    return {"gap": float(e.mean()), "se": float(e.std(ddof=1) / np.sqrt(n)) if n > 1 else float("inf"), "n": n}


def _compare(runs: dict, data: dict) -> dict:
    """Accuracy differences, sampling-point statistics and their relation to the transforms."""
    plain, deform = runs["plain"], runs["deformable"]
    if plain.get("diverged") or deform.get("diverged"):
        return {}
    comparison = {name: paired_difference(plain["hits"][name], deform["hits"][name]) for name in ("original", "moved")}
    by_scale = [{"scale": a["scale"], **paired_difference(a["hits"], b["hits"])}
                for a, b in zip(plain["sweep"], deform["sweep"])]
    n = len(deform["spread_moved"])
    params = data["params"]
    learned = np.asarray(deform["spread_moved"])
    return {
        "comparison": comparison, "gain_gap": gain_gap(plain["hits"], deform["hits"]), "by_scale": by_scale,
        "spread": {"regular": float(np.mean(plain["spread_moved"])), "learned_mean": float(learned.mean()),
                   "learned_sd": float(learned.std(ddof=1)), "n": n, "outside_regular": plain["outside_share"],
                   "outside_learned": deform["outside_share"]},
        "correlation": {"scale": pearson_with_ci(params.scale[:n], learned),
                        "rotation": pearson_with_ci(np.abs(params.rotation[:n]), learned)},
        "sweep_change": {kind: _sweep_change(runs[kind]["sweep"]) for kind in KINDS},
    }


def _save_arrays(out, runs: dict, data: dict) -> None:
    from ..data.geometric import AffineParams, transform_images
    from .deformable_conv_analysis import SWEEP_SCALES

    shown = len(runs["deformable"].get("shown_points", []))
    if not shown:
        return
    first = data["x_test"][:1]
    scaled = [first if s == 1.0 else transform_images(first, AffineParams(np.zeros(1), np.full(1, s), np.zeros((1, 2))))
              for s in SWEEP_SCALES]
    n = len(runs["deformable"]["spread_moved"])
    out.save_arrays("sampling", images=data["x_test_moved"][:shown, 0],
                    plain_points=np.asarray(runs["plain"]["shown_points"]),
                    deformable_points=np.asarray(runs["deformable"]["shown_points"]),
                    sweep_images=np.concatenate(scaled)[:, 0],
                    sweep_plain=np.asarray([r["points_first"] for r in runs["plain"]["sweep"]]),
                    sweep_deformable=np.asarray([r["points_first"] for r in runs["deformable"]["sweep"]]),
                    spread=np.asarray(runs["deformable"]["spread_moved"]), scale=data["params"].scale[:n],
                    rotation=data["params"].rotation[:n])


def _model_summary(r: dict) -> dict:
    """A network's run without the per-image lists (those go to arrays and metrics)."""
    drop = ("hits", "spread_moved", "shown_points")
    summary = {k: v for k, v in r.items() if k not in drop}
    summary["sweep"] = [{k: v for k, v in row.items() if k not in ("points_first", "hits")}
                        for row in r.get("sweep", [])]
    return summary


def run(config: Config, out) -> dict:
    from ..train.diagnostics import diagnose

    data = load_data(config)
    ds = data["dataset"]
    start = out.step("start", functools.partial(start_difference, config))
    runs = out.map({kind: functools.partial(train_network, config, kind) for kind in KINDS}, label=NAME)
    result = {"start": start, **_compare(runs, data)}
    _save_arrays(out, runs, data)
    models = {kind: _model_summary(r) for kind, r in runs.items()}
    rows = [{"model": kind, "steps": r["steps"], "train_time_s": r["train_time_s"],
             "num_parameters": r["num_parameters"], **{f"acc_{k}": v for k, v in r.get("accuracy", {}).items()}}
            for kind, r in runs.items()]
    out.save_metrics("accuracy", rows)
    out.save_metrics("sweep", [{"model": kind, **row} for kind, r in models.items() for row in r["sweep"]])
    if "offsets" in models["deformable"]:
        out.save_metrics("offsets", [{"images": which, "layer": i + 1, **s}
                                     for which, layers in models["deformable"]["offsets"].items()
                                     for i, s in enumerate(layers)])
    findings = {kind: [f.to_dict() for f in diagnose(r["history"], ds.chance)]
                for kind, r in runs.items()}
    moved = result.get("comparison", {}).get("moved")
    summary = (f"deformable-conv: moved test accuracy plain {moved['acc_a']:.2%}, deformable {moved['acc_b']:.2%} "
               f"(difference {moved['diff']:+.2%} ± {moved['se_diff']:.2%})" if moved else
               "deformable-conv: a training diverged; no comparison")
    result.update(summary=summary, models=models, findings=findings,
                  data={"class_names": list(ds.class_names), "n_train": len(data["x_train"]),
                        "n_test": len(data["y_test"]), "source": ds.source, "chance": ds.chance},
                  train_time_s=sum(r["train_time_s"] for r in runs.values()))
    return result


def report(result: dict, config: Config, doc) -> None:
    report_body(result, config, doc)
