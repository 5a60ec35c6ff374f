"""Lab: masked convolution, its blind spot, dilation, the gated fix, and a small PixelCNN.

The question (document 001, question 5(d)): what is a masked convolution for, what limits it, and
how can dilated convolution relieve that limit?

A PixelCNN writes p(x) = Π_k p(x_k | x_<k) in raster order. Its convolutions are masked so that
output k reads only pixels before k (mask A in the first layer hides k itself; mask B in later
layers lets a feature see its own position, which already depends on earlier pixels only). One
forward pass then gives all 784 conditionals, and the log-likelihood is a sum of per-pixel
cross-entropies.

Part 1 computes the receptive field of one output pixel exactly, by backpropagation, for stacks of
1..L masked layers: plain (PixelCNN), dilated (dilations 1, 2, 4, 8) and gated (the two-stack
PixelCNN), and shows how slowly the field grows and the blind spot that grows with depth.
Part 2 trains a small PixelCNN on binarized Fashion-MNIST, and the same network without masks, and
reports test negative log-likelihoods in nats per image against independent pixels; the unmasked
network's low "NLL" is shown to be a cheat (it sees the pixel it predicts), with samples and
completions of the bottom half of test images.

References: van den Oord, Kalchbrenner, Kavukcuoglu 2016, "Pixel Recurrent Neural Networks", ICML;
van den Oord, Kalchbrenner, Vinyals, Espeholt, Graves, Kavukcuoglu 2016, "Conditional Image Generation
with PixelCNN Decoders", NeurIPS (the blind spot and the gated two-stack layer).
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from ..report.i18n import N_
from .config import option, quick
from .masked_conv_model import closed_forms, fields, load_binary, train_network
from .masked_conv_text import report_body
from .training import TrainingConfig

NAME = "masked-conv"
TITLE = N_("Masked convolution: the blind spot, dilation, the gated fix, and a small PixelCNN")
SUMMARY = N_("exact receptive fields of masked stacks (plain, dilated, gated) and a NumPy PixelCNN on binarized "
             "Fashion-MNIST: NLL against independent pixels and against the unmasked cheat")
QUESTIONS = ("001/Q5.d",)


@dataclass(frozen=True)
class Config(TrainingConfig):
    classes: str = option("all", "Fashion-MNIST class ids (comma list) or 'all'")
    train_size: int | None = option(12000, "random training images to use; None = all", low=1)
    test_size: int | None = option(1000, "random test images to use; None = all", low=1)
    max_layers: int = option(8, "receptive fields of stacks of 1..this many masked layers", low=1, high=12)
    kernel_size: int = option(3, "kernel of the receptive-field stacks", choices=(3, 5, 7))
    dilations: tuple[int, ...] = option((1, 2, 4, 8), "dilations of the dilated stack, cycled over its layers",
                                        min_len=1, each_low=1, each_high=16)
    channels: int = option(16, "feature maps of every PixelCNN layer", low=1, high=256)
    num_layers: int = option(3, "PixelCNN: 3x3 type-B layers after the 7x7 type-A one", low=0, high=12)
    num_epochs: int = option(2, "passes over the training set (both networks)", low=1, high=1000)
    batch_size: int = option(32, "mini-batch size (both networks)", low=1, high=4096)
    lr: float = option(2e-3, "Adam learning rate (both networks)", low=0, low_open=True, high=1)
    num_samples: int = option(16, "images sampled from each network", low=1, high=64)
    num_completions: int = option(8, "test images whose bottom part the masked network completes", low=1, high=32)
    given_rows: int = option(14, "rows of a test image kept in a completion", low=1, high=27)
    num_probe_images: int = option(8, "test images the causality probes run on", low=1, high=200)

    def quick(self) -> "Config":
        # a smaller network at a larger step: 40 steps already put it well below independent pixels
        return quick(self, train_size=640, test_size=128, num_epochs=1, batch_size=16, lr=1e-2, channels=4,
                     num_layers=1, max_layers=4, num_samples=2, num_completions=2, num_probe_images=1)


def _closed_form_check(counts: dict, kernel_size: int) -> dict | None:
    """Depths where the plain stack's measured counts differ from the closed forms (3x3 only)."""
    if kernel_size != 3:
        return None
    bad = [r["layers"] for r in counts["plain"]["rows"]
           if (r["seen"], r["blind_spot"]) != tuple(closed_forms(r["layers"]).values())]
    return {"mismatched_depths": bad, "depths": len(counts["plain"]["rows"])}


def _ink(images) -> float:
    return float(np.mean(images)) if len(images) else 0.0


def _network_summary(r: dict) -> dict:
    return {k: v for k, v in r.items() if k not in ("samples", "completions")}


def run(config: Config, out) -> dict:
    from ..models.pixelcnn import bernoulli_baseline_nll
    from ..train.diagnostics import diagnose

    counts, arrays = fields(config)
    out.save_arrays("fields", **arrays)
    out.save_metrics("fields", [{"kind": kind, **row} for kind, c in counts.items() for row in c["rows"]])
    x_train, x_test = load_binary(config)
    baseline = bernoulli_baseline_nll(x_train, x_test)
    runs = out.map({label: functools.partial(train_network, config, label == "masked")
                    for label in ("masked", "unmasked")}, label=NAME)
    shown = {f"{label}_samples": np.asarray(r.get("samples", []), dtype=np.uint8) for label, r in runs.items()}
    completions = np.asarray(runs["masked"].get("completions", []), dtype=np.uint8)
    out.save_arrays("samples", **shown, completions=completions,
                    originals=x_test[:len(completions), 0].astype(np.uint8))
    nets = {label: _network_summary(r) for label, r in runs.items()}
    out.save_metrics("nll", [{"model": label, "test_nll": r.get("test_nll"), "steps": r["steps"],
                              "train_time_s": r["train_time_s"]} for label, r in nets.items()]
                     + [{"model": "bernoulli", "test_nll": baseline}])
    findings = {label: [f.to_dict() for f in diagnose(r["history"])] for label, r in runs.items()}
    nll = {"masked": nets["masked"].get("test_nll"), "unmasked": nets["unmasked"].get("test_nll"),
           "baseline": baseline}
    summary = (f"masked-conv: test NLL masked {nll['masked']:.1f}, unmasked (cheat) {nll['unmasked']:.1f}, "
               f"independent pixels {baseline:.1f} nats per image; blind spot after {config.max_layers} plain "
               f"layers {counts['plain']['rows'][-1]['blind_spot']} pixels, gated "
               f"{counts['gated']['rows'][-1]['blind_spot']}" if None not in nll.values() else
               "masked-conv: a training diverged")
    return {"summary": summary, "fields": counts, "closed_form": _closed_form_check(counts, config.kernel_size),
            "nll": nll, "networks": nets, "findings": findings,
            "ink": {"test": _ink(x_test), **{label: _ink(a) for label, a in shown.items()}},
            "data": {"n_train": len(x_train), "n_test": len(x_test)},
            "train_time_s": sum(r["train_time_s"] for r in runs.values())}


def report(result: dict, config: Config, doc) -> None:
    report_body(result, config, doc)
