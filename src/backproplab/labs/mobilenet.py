"""Lab: MobileNet V1 and V2 against a plain CNN, with width and resolution multipliers.

The question (document 002, practical 2): implement MobileNet V1 (depthwise separable
convolutions) and V2 (inverted residuals with linear bottlenecks) in PyTorch, train them on
CIFAR-10, compare their efficiency and accuracy with a conventional CNN, and study how the width
multiplier α and the resolution multiplier ρ trade accuracy for cost.

A depthwise separable convolution replaces a 3x3 convolution of M -> N channels on a D_F x D_F
map, D_K² M N D_F² multiply-accumulates (MACs), by a 3x3 depthwise one and a 1x1 pointwise one,
D_K² M D_F² + M N D_F²: a fraction 1/N + 1/D_K² of the cost (the paper's eq. 5). Thinning every
layer by α scales the MACs and parameters of the inner layers by α²; feeding the images at ρ times
the side scales the MACs by ρ² and leaves the parameters as they are.

The lab (1) counts MACs and parameters of the papers' ImageNet configurations and checks them
against the papers' tables, (2) compares the separable cost ratio with the measured MACs block by
block, (3) trains the plain CNN (V1's layout with standard convolutions), V1 and V2 at several
widths, and V1 and V2 at several input sides, each model a task of the run (``--cluster`` spreads
them over Dask workers), with the GPU study's fast path (:mod:`backproplab.torchmodels.job`), and
(4) reports accuracy, parameters, MACs, time per epoch and forward latency, and what they say.
Needs PyTorch: ``pip install 'backproplab[torch]'``.

Reference: A. G. Howard et al., "MobileNets: Efficient Convolutional Neural Networks for Mobile
Vision Applications", arXiv:1704.04861 (2017); M. Sandler et al., "MobileNetV2: Inverted Residuals
and Linear Bottlenecks", CVPR 2018.
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass

from ..report.i18n import N_, _, join
from .config import ConfigError, LabConfig, option, quick

NAME = "mobilenet"
TITLE = N_("MobileNet V1/V2 against a plain CNN: depthwise separable convolutions, width and resolution "
           "multipliers")
SUMMARY = N_("MobileNet V1, V2 and a plain CNN (PyTorch): MACs against the papers, accuracy, time and latency; "
             "width and resolution multipliers")
QUESTIONS = ("002/P2.1", "002/P2.2", "002/P2.3", "002/P2.4")

FAMILIES = ("cnn", "v1", "v2")


@dataclass(frozen=True)
class Config(LabConfig):
    dataset: str = option("auto", "auto (CIFAR-10 when its files are in --data-dir or $BACKPROPLAB_CIFAR10, else "
                                  "Fashion-MNIST padded to 32x32), cifar10, fashion-mnist",
                          choices=("auto", "cifar10", "fashion-mnist"))
    data_dir: str | None = option(None, "the data set's folder (CIFAR-10's batches or a folder holding them; "
                                        "Fashion-MNIST's files); None = $BACKPROPLAB_CIFAR10 / the default")
    download: bool = option(False, "download CIFAR-10 (MD5-checked) when it is not found")
    train_size: int | None = option(None, "random training images; None = all", low=1)
    test_size: int | None = option(None, "random test images; None = all 10000", low=1)
    models: tuple[str, ...] = option(FAMILIES, "families trained at every width: cnn (plain CNN), v1, v2",
                                     min_len=1, each_choices=FAMILIES)
    widths: tuple[float, ...] = option((1.0, 0.75, 0.5, 0.25), "width multipliers α; the first is the base width",
                                       min_len=1, each_low=0, each_low_open=True, each_high=2)
    resolutions: tuple[int, ...] = option((32, 24, 16), "input sides in px; the first is the base side (ρ = "
                                                        "side / base side)", min_len=1, each_low=4, each_high=512)
    resolution_models: tuple[str, ...] = option(("v1", "v2"), "families also trained at every side (base width)",
                                                each_choices=FAMILIES)
    num_epochs: int = option(30, "epochs per model", low=1, high=1000)
    batch_size: int = option(256, "images per step (whole batches: an epoch drops the last partial one; BatchNorm "
                                  "needs at least 2)", low=2,
                             high=65536)
    lr: float = option(0.2, "peak learning rate of SGD with Nesterov momentum 0.9 (0.1 per 128 images)", low=0,
                       low_open=True, high=10)
    warmup_epochs: float = option(2.0, "epochs of linear learning-rate warm-up before the cosine decay", low=0,
                                  high=1000)
    weight_decay: float = option(5e-4, "on dense conv and linear weights (not BatchNorm, biases, depthwise filters)",
                                 low=0, high=1)
    label_smoothing: float = option(0.1, "cross-entropy label smoothing", low=0, high=1, high_open=True)
    flip: bool = option(True, "random horizontal flips besides the random crops")
    device: str = option("auto", "auto (CUDA when present), cuda, cpu", choices=("auto", "cuda", "cpu"))
    threads: int | None = option(None, "PyTorch CPU threads per model; None = PyTorch's default", low=1, high=4096)
    latency_reps: int = option(50, "forward passes timed per latency (median)", low=1, high=100000)

    def check(self) -> None:
        if self.train_size is not None and self.batch_size > self.train_size:
            raise ConfigError(f"--batch-size {self.batch_size} is larger than --train-size {self.train_size}: "
                              "an epoch has whole batches only; lower --batch-size")
        if len(set(self.widths)) != len(self.widths) or len(set(self.resolutions)) != len(self.resolutions):
            raise ConfigError("--widths and --resolutions must not repeat a value")

    def quick(self) -> "Config":
        return quick(self, widths=(0.25, 0.125), resolutions=(16, 8), resolution_models=("v2",), num_epochs=1,
                     batch_size=64, warmup_epochs=0.5, train_size=256, test_size=128, threads=1, latency_reps=3)


def plan(config: Config) -> list[tuple[str, float, int]]:
    """(family, width, side) of every model: each family at every width (base side), then the resolution
    families at every side (base width)."""
    base_w, base_r = config.widths[0], config.resolutions[0]
    out = [(m, w, base_r) for m in config.models for w in config.widths]
    out += [(m, base_w, r) for m in config.resolution_models for r in config.resolutions if (m, base_w, r) not in out]
    return out


def model_key(family: str, width: float, side: int) -> str:
    return f"{family}-w{width:g}-r{side}"


def run(config: Config, out) -> dict:
    from .mobilenet_costs import imagenet_table, multiplier_rows, separable_ratio_table
    from .mobilenet_text import goal_status
    from .mobilenet_train import load_arrays, require_torch, resolve_dataset, train_task, uses_gpu
    from .training import in_english

    require_torch()
    dataset = resolve_dataset(config.dataset, config.data_dir)
    _ds, facts = load_arrays(dataset, config.data_dir, config.download, config.train_size, config.test_size,
                             config.seed)
    table = out.step("imagenet-table", imagenet_table)
    ratios = out.step("separable-ratio", lambda: separable_ratio_table(facts["channels"]))
    keys = {model_key(*p): p for p in plan(config)}
    done = out.map({f"train-{k}": functools.partial(train_task, config, dataset, *p) for k, p in keys.items()},
                   label=NAME, resources={"GPU": 1} if uses_gpu(config.device) else None)
    rows, histories = [], {}
    for k in keys:
        r = dict(done[f"train-{k}"])
        histories[k] = r.pop("history")
        rows.append({"key": k, **r})
    out.save_metrics("models", rows)
    out.save_metrics("curves", [{"model": k, **{f: h[f][i] for f in ("epoch", "train_loss", "train_acc", "test_loss",
                                                                     "test_acc", "lr")}}
                                for k, h in histories.items() for i in range(len(h["epoch"]))])
    out.save_metrics("imagenet_macs", table)
    out.save_metrics("separable_ratio", ratios)
    base_w, base_r = config.widths[0], config.resolutions[0]
    mult = multiplier_rows(rows, base_w, base_r)
    result = {"data": facts, "rows": rows, "histories": histories, "imagenet_table": table, "separable": ratios,
              "multipliers": mult, "base_width": base_w, "base_resolution": base_r,
              "goal": goal_status(config, facts, rows), "findings": findings_of(histories, facts["chance"])}
    return {"summary": f"{NAME}: {in_english(summary_line(result))}", **result}


def findings_of(histories: dict, chance: float) -> dict:
    """train.diagnostics' findings of each model (its first epoch's loss is the reference)."""
    from ..train.diagnostics import diagnose

    return {k: [f.to_dict() for f in diagnose(h, chance)] for k, h in histories.items()}


def summary_line(result: dict):
    """The lab's answer in one line: the base models' test accuracy and the goal."""
    from .mobilenet_text import goal_sentence, model_name

    base = [r for r in result["rows"] if r["width"] == result["base_width"]
            and r["resolution"] == result["base_resolution"]]
    accs = join([_("{m} {a:.2%}", m=model_name(r), a=r["test_acc"]) for r in base])
    return _("{data}: {accs}. {goal}", data=result["data"]["name"], accs=accs, goal=goal_sentence(result["goal"]))


# -- report ---------------------------------------------------------------------------------------
def report(result: dict, config: Config, doc) -> None:
    from .mobilenet_plots import plot_accuracy, plot_cost, plot_scaling
    from .mobilenet_text import data_sentence, goal_sentence, paper_sentence, recipe_sentence, separable_sentence
    from .training_problems import findings_bullets

    rows, facts = result["rows"], result["data"]
    base_w, base_r = result["base_width"], result["base_resolution"]
    doc.para(_("**Question.** What do depthwise separable convolutions (V1) and inverted residuals with linear "
               "bottlenecks (V2) give up in accuracy for what they save in MACs and parameters against a plain "
               "CNN, and how do the width multiplier α and the resolution multiplier ρ trade accuracy for cost?"))
    doc.heading(_("Setup"))
    doc.bullets([data_sentence(facts, config.dataset),
                 recipe_sentence(config, join(sorted({r["device"] for r in rows}), code=True),
                                 sorted({r["engine"] for r in rows})),
                 _("MACs are multiply-accumulates per image (FLOPs = 2 × MACs), counted by forward hooks on "
                   "`Conv2d` and `Linear` (`torchmodels.count_macs`); BatchNorm, activations, pooling and residual "
                   "additions are not counted. Parameters include BatchNorm's weights.")])
    doc.heading(_("Observations (computed from this run)"))
    doc.bullets([goal_sentence(result["goal"]), *comparison_lines(result), *multiplier_lines(result)])
    doc.heading(_("Models"))
    doc.table(model_columns(), [model_row(r) for r in rows],
              caption=_("Time per epoch: the median epoch of the run, the model alone on its device (or sharing a "
                        "CPU with other cluster workers). Latency: median eval-mode forward time of random images "
                        "on the training device; graph = replayed as a CUDA graph (GPU only)."))
    doc.plot(plot_accuracy(rows, result["histories"], base_w, base_r), "accuracy_vs_macs",
             _("Left: final test accuracy against MACs per image; solid lines vary the width at {side} px, dashed "
               "lines the input side at width {w:g}. Right: test accuracy after each epoch of the base models.",
               side=base_r, w=base_w))
    doc.plot(plot_cost(rows, base_w, base_r), "time_vs_macs",
             _("Training seconds per epoch and batch-1 forward time against MACs (log-log)."))
    doc.heading(_("Training problems"))
    doc.bullets(findings_bullets(result["findings"]))
    doc.heading(_("Width and resolution multipliers"))
    if result["multipliers"]:
        doc.plot(plot_scaling(result["multipliers"]), "multipliers",
                 _("MACs (solid) and parameters (dashed) of each model as a fraction of its family's base model, "
                   "against the multiplier; dotted: the square of the multiplier."))
    else:
        doc.para(_("No model of this run differs from its base model in width or input side alone."))
    doc.heading(_("The papers' ImageNet configurations (224×224, 1000 classes)"))
    doc.para(paper_sentence(result["imagenet_table"]))
    doc.table(paper_columns(), [paper_row(r) for r in result["imagenet_table"]])
    doc.heading(_("Depthwise separable against standard 3×3 convolutions, per V1 block at 32×32"))
    doc.math(r"\frac{D_K^2 M D_F^2 + M N D_F^2}{D_K^2 M N D_F^2} = \frac{1}{N} + \frac{1}{D_K^2}")
    doc.para(separable_sentence(result["separable"]))
    doc.table(ratio_columns(), [ratio_row(r) for r in result["separable"]])


def comparison_lines(result: dict) -> list:
    """The families against each other at the base width and side: accuracy, cost, time."""
    from .mobilenet_text import compare_sentence, rank_sentence, spearman, speed_sentence

    rows, n = result["rows"], result["data"]["n_test"]
    base = {r["model"]: r for r in rows if r["width"] == result["base_width"]
            and r["resolution"] == result["base_resolution"]}
    lines = []
    for a, b in (("cnn", "v1"), ("cnn", "v2"), ("v1", "v2")):
        if a in base and b in base:
            lines += [compare_sentence(base[a], base[b], n), speed_sentence(base[a], base[b])]
    for key, what in (("latency_b1_ms", _("batch-1 forward times")), ("s_per_epoch", _("times per epoch"))):
        rho = spearman([r["macs"] for r in rows], [r[key] for r in rows])
        if rho is not None:
            lines.append(rank_sentence(rho, len(rows), what))
    return lines


def multiplier_lines(result: dict) -> list:
    """MACs against α² and ρ² for every model, then width against side at similar cost per family."""
    from .mobilenet_text import multiplier_sentence, width_or_side_sentence

    rows, n = result["rows"], result["data"]["n_test"]
    lines = [multiplier_sentence(m) for m in result["multipliers"]]
    base_w, base_r = result["base_width"], result["base_resolution"]
    for family in FAMILIES:
        sides = [r for r in rows if r["model"] == family and r["width"] == base_w and r["resolution"] < base_r]
        thins = [r for r in rows if r["model"] == family and r["resolution"] == base_r and r["width"] < base_w]
        if sides and thins:
            small = min(sides, key=lambda r: r["resolution"])
            thin = min(thins, key=lambda r: abs(math.log(r["macs"] / small["macs"])))
            lines.append(width_or_side_sentence(thin, small, n))
    return lines


def model_columns():
    return [("model", _("model"), ""), ("width", "α", "g"), ("side", _("side (px)"), "d"),
            ("params_m", _("parameters (M)"), ".3f"), ("macs_m", _("MACs (M)"), ".1f"),
            ("test_acc", _("test acc."), ".2%"), ("best_test_acc", _("best epoch's"), ".2%"),
            ("train_acc", _("train acc."), ".2%"), ("s_per_epoch", _("s/epoch"), ".3g"),
            ("latency_b1_ms", _("batch 1 (ms)"), ".3g"), ("latency_b1_graph_ms", _("batch 1, graph (ms)"), ".3g"),
            ("latency_b128_ms", _("batch 128 (ms)"), ".3g"), ("engine", _("engine"), "")]


def model_row(r: dict) -> dict:
    from ..report.document import CodeText
    from .mobilenet_text import label

    return {**r, "model": label(r["model"]), "side": r["resolution"], "params_m": r["params"] / 1e6,
            "macs_m": r["macs"] / 1e6, "engine": CodeText(r["engine"])}


def paper_columns():
    return [("model", _("configuration"), ""), ("macs_m", _("MACs counted (M)"), ".1f"),
            ("paper_macs_m", _("paper (M)"), "g"), ("params_m", _("parameters counted (M)"), ".3f"),
            ("paper_params_m", _("paper (M)"), "g"), ("agrees", _("agrees"), "")]


def paper_row(r: dict) -> dict:
    from .mobilenet_text import model_name

    return {**r, "model": model_name(r), "agrees": r["matches"]}


def ratio_columns():
    return [("block", _("block"), ""), ("out_channels", "N", ""), ("map", _("map"), ""),
            ("separable_macs", _("separable MACs"), ",d"), ("standard_macs", _("standard MACs"), ",d"),
            ("measured_ratio", _("measured ratio"), ".5f"), ("formula_ratio", "1/N + 1/9", ".5f")]


def ratio_row(r: dict) -> dict:
    if r["block"] is None:
        return {**r, "block": _("whole network"), "out_channels": "", "map": "", "formula_ratio": None}
    return r
