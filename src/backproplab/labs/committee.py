"""Lab: a committee of networks trained on differently preprocessed data (Ciresan et al. 2011).

The question (document 003, question 2): what is a committee of classifiers, how does it improve
on its members, and how does the paper's preprocessing keep the members' errors from depending
strongly on each other?

A committee averages the output probabilities of N networks of the same architecture. Its
squared error is at most its members' mean squared error, and E_AV/N when their errors are
uncorrelated (:mod:`.committee_stats`); it beats its best member only where their mistakes differ.
Does giving each member its own view of the data (the original images, or the images
width-normalized to 10, 12, ..., 20 pixels) decorrelate the mistakes more than merely training
from another random seed?

Each member is trained on its preprocessed training images, distorted afresh every epoch
(elastic distortion, Simard et al. 2003, plus a small random affine transform), and tested on
the test images with its deterministic preprocessing only. Members are keyed by (preprocessing,
seed): the committee is (variant i, seed i) for i = 0..N-1, the control is (original, seed i),
so both share member 0 and differ only in where diversity comes from. Every member is a task of
the run (``--cluster`` trains them on Dask workers).

Reference: D. C. Ciresan, U. Meier, L. M. Gambardella, J. Schmidhuber, "Convolutional Neural
Network Committees for Handwritten Character Classification", ICDAR 2011; P. Y. Simard,
D. Steinkraus, J. C. Platt, "Best Practices for Convolutional Neural Networks Applied to Visual
Document Analysis", ICDAR 2003; Bishop, Pattern Recognition and Machine Learning (2006), §14.2.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from ..report.i18n import N_
from .config import ConfigError, LabConfig, option, quick

NAME = "committee"
TITLE = N_("Committees of networks: preprocessing diversity vs seed diversity")
SUMMARY = N_("CNN committees on Fashion-MNIST: E_COM vs E_AV of real members, and whether the paper's width "
             "normalizations decorrelate errors more than seeds")
QUESTIONS = ("003/Q2.1", "003/Q2.2")

#: the paper's width normalizations, px (MNIST digits sit in a 20-px box)
WIDTHS = (10, 12, 14, 16, 18, 20)


@dataclass(frozen=True)
class Config(LabConfig):
    data_dir: str | None = option(None, "folder with the Fashion-MNIST files; None = the default")
    train_size: int | None = option(30000, "random training images (all 10 classes; the report shows 4 of them); "
                                           "None = all 60000", low=4)
    test_size: int | None = option(None, "random test images (the error correlations need 2); None = all 10000",
                                   low=2)
    arch: str = option("cnn", "members' architecture: models.cnn.make_cnn, or an MLP (faster)", choices=("cnn", "mlp"))
    channels: tuple[int, ...] = option((16, 32), "CNN: output channels of the 2 or 3 conv stages", min_len=2,
                                       each_low=1, each_high=4096)
    hidden: int = option(128, "CNN: width of the hidden fully connected layer (0 = none)", low=0, high=100000)
    mlp_hidden: tuple[int, ...] = option((256,), "MLP: hidden layer widths", min_len=1, each_low=1, each_high=100000)
    variants: tuple[str, ...] = option(("original",) + tuple(f"width{w}" for w in WIDTHS),
                                       "member i's preprocessing: original, deslant, width<k> or a '+' chain",
                                       min_len=2)
    control: bool = option(True, "also train the seed-only committee (original images, seeds 0..N-1)")
    num_epochs: int = option(4, "epochs per member", low=1, high=1000)
    batch_size: int = option(128, "mini-batch size", low=1, high=100000)
    lr: float = option(1e-3, "Adam learning rate at the start (cosine-decayed per epoch)", low=0, low_open=True,
                       high=10)
    distortions: bool = option(True, "distort the training images afresh every epoch")
    alpha: float = option(16.0, "elastic strength in pixels (Simard: 34 on MNIST; clothing tolerates less)",
                          low=0, high=1000)
    sigma: float = option(5.0, "elastic smoothness: Gaussian std in pixels (Simard: 4)", low=0, low_open=True,
                          high=100)
    rotation: float = option(8.0, "random rotation range, ± degrees", low=0, high=180)
    scale: float = option(0.08, "random scale range per axis, ± fraction", low=0, high=0.9)
    shear: float = option(0.1, "random horizontal shear range, ± columns per row", low=0, high=5)
    threshold: float = option(0.1, "ink threshold of the bounding box (pixel values in [0, 1])", low=0, high=1,
                              high_open=True)
    num_examples: int = option(12, "test images shown where the committee fixes its best member's mistake",
                               low=1, high=100)
    threads: int | None = option(None, "CNN members: cores, one shard of each batch per core (nn.DataParallel); "
                                       "None = every core, 1 = no sharding (MLP members always use 1)",
                                 low=1, high=4096)

    def check(self) -> None:
        from ..data.preprocess import apply_variant

        if self.arch == "cnn" and len(self.channels) not in (2, 3):
            raise ConfigError(f"--channels must list 2 or 3 conv stages, got {','.join(map(str, self.channels))}")
        for v in self.variants:
            try:
                apply_variant(np.zeros((1, 28, 28), np.float32), v)  # an unknown name fails before any training
            except ValueError as e:
                raise ConfigError(f"--variants: {e}") from None

    def quick(self) -> "Config":
        return quick(self, variants=self.variants[:3], channels=(4, 8), hidden=32, mlp_hidden=(64,), num_epochs=2,
                     train_size=1000, test_size=500)


def members_of(config: Config) -> tuple[list, list]:
    """(committee, control): (variant, seed) keys; both start with (variants[0], 0)."""
    committee = [(v, i) for i, v in enumerate(config.variants)]
    control = [(config.variants[0], i) for i in range(len(config.variants))] if config.control else []
    return committee, control


def label(key) -> str:
    return f"{key[0]}/seed{key[1]}"


def _member_rows(results: dict, blocks: list[dict], y: np.ndarray) -> list[dict]:
    from .committee_stats import error_rate

    rows = []
    for key, r in results.items():
        h = r["history"]
        rows.append({"member": label(key), "variant": key[0], "seed": key[1],
                     "in": "+".join(b["name"] for b in blocks if label(key) in b["members"]),
                     "test_error": error_rate(np.argmax(r["probs"], axis=1), y),
                     "final_train_loss": h["train_loss"][-1], "train_time_s": r["train_time_s"],
                     "distort_time_s": r["distort_time_s"]})
    return rows


def _figure_arrays(config: Config, data: dict, fix: dict, variants) -> dict:
    """Images the report draws: the fixed test images, and a few training images under every preprocessing."""
    from ..data.preprocess import apply_variant, distort

    rng = np.random.default_rng([config.seed, 20_002])
    pick = data["x_train"][rng.choice(len(data["x_train"]), 4, replace=False)]  # (4, 28, 28)
    views = [apply_variant(pick, v, config.threshold) for v in variants]
    first = apply_variant(pick, variants[0], config.threshold)
    views += [distort(first, rng, alpha=config.alpha, sigma=config.sigma, rotation=config.rotation,
                      scale=config.scale, shear=config.shear) for _ in range(2)]  # two fresh distortions
    return {"fixed_images": data["x_test"][fix["idx"]], "fixed_labels": data["y_test"][fix["idx"]],
            "views": np.stack(views, axis=1)}  # (4, variants + 2, 28, 28)


def train_members(config: Config, out, keys: list) -> dict:
    """{(variant, seed): the member's task result, with its test probabilities as an array}."""
    from .committee_members import train_member

    done = out.map({f"member-{label(k)}": functools.partial(train_member, config, *k) for k in keys}, label=NAME)
    return {k: {**done[f"member-{label(k)}"], "probs": np.asarray(done[f"member-{label(k)}"]["probs"])} for k in keys}


def _save(out, blocks: list[dict], rows: list[dict], per_class: list[dict]) -> None:
    out.save_metrics("members", rows)
    out.save_metrics("k_curve", [{"k": k + 1, **{f"{b['name']}_error": b["k_curve"][k] for b in blocks}}
                                 for k in range(len(blocks[0]["k_curve"]))])
    out.save_metrics("squared_error", {b["name"]: b["squared_error"] for b in blocks})
    out.save_metrics("error_correlation", {b["name"]: {"members": b["members"], "corr": b["corr"]} for b in blocks})
    out.save_metrics("per_class", per_class)


def run(config: Config, out) -> dict:
    from ..train.diagnostics import diagnose
    from . import committee_stats as S
    from .committee_members import data_of

    data = data_of(config)
    y = data["y_test"]
    committee, control = members_of(config)
    keys = list(dict.fromkeys(committee + control))  # the shared member (variants[0], 0) trains once
    results = train_members(config, out, keys)
    blocks = [S.committee_block(name, [label(k) for k in members], [results[k]["probs"] for k in members], y)
              for name, members in (("preprocessing", committee), ("seed-only", control)) if members]
    main, other = blocks[0], (blocks[1] if control else None)
    fix = S.fixes(main, [results[k]["probs"] for k in committee], y, config.num_examples)
    out.save_arrays("members", **{label(k).replace("/", "_"): results[k]["probs"] for k in keys})
    out.save_arrays("images", **_figure_arrays(config, data, fix, config.variants))
    rows = _member_rows(results, blocks, y)
    per_class = S.per_class(blocks, results[committee[0]]["probs"], [results[k]["probs"] for k in committee[1:]], y,
                            data["class_names"])
    _save(out, blocks, rows, per_class)
    chance = float(np.bincount(y, minlength=10).max() / len(y))  # the majority class's share of the test images
    summary = (f"committee: {len(committee)} members, committee test error {main['committee_error']:.2%} vs best "
               f"member {main['best_member_error']:.2%}" + (f"; seed-only control {other['committee_error']:.2%}"
                                                            if other else ""))
    return {"summary": summary, "committee_error": main["committee_error"],
            "best_member_error": main["best_member_error"], "mean_member_error": main["mean_member_error"],
            "control_error": other["committee_error"] if other else None, "k_curve": main["k_curve"],
            "control_k_curve": other["k_curve"] if other else None,
            "paired_test": S.paired_test(main["pred"], other["pred"], y) if other else None,
            "committees": {b["name"]: {k: v for k, v in b.items() if k != "pred"} for b in blocks},
            "members": rows, "per_class": per_class, "fixes": fix,
            "data": {"n_train": len(data["x_train"]), "n_train_total": data["n_train_total"], "n_test": len(y),
                     "n_test_total": data["n_test_total"], "class_names": list(data["class_names"]), "chance": chance},
            "findings": {label(k): [f.to_dict() for f in diagnose(results[k]["history"], chance)] for k in keys},
            "shards": max(r["shards"] for r in results.values())}


def report(result: dict, config: Config, doc) -> None:
    from .committee_report import write_report

    write_report(result, config, doc)
