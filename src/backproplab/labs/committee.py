"""Lab: a committee of networks trained on differently preprocessed data (Ciresan et al. 2011).

Question: a committee averages the output probabilities of N networks of the same
architecture. It beats its members only where their mistakes differ. Does giving each member
its own view of the data (the original images, or the images width-normalized to 10, 12, ...,
20 pixels) decorrelate the mistakes more than merely training from another random seed?

Each member is trained on its preprocessed training images, distorted afresh every epoch
(elastic distortion, Simard et al. 2003, plus a small random affine transform); it is tested
on the test images with its deterministic preprocessing only. Members are keyed by
(preprocessing, seed): the committee is (variant i, seed i) for i = 0..N-1, the control is
(original, seed i), so both share member 0 and differ only in where diversity comes from.

Training reuses the library's :class:`~backproplab.train.Trainer`, one epoch per ``fit`` call on
freshly distorted arrays (same model, optimizer and generator throughout). Each finished member
is cached in ``members/`` (test probabilities and curves), so a killed run resumes per member.

Reference: D. C. Ciresan, U. Meier, L. M. Gambardella, J. Schmidhuber, "Convolutional Neural
Network Committees for Handwritten Character Classification", ICDAR 2011; P. Y. Simard,
D. Steinkraus, J. C. Platt, "Best Practices for Convolutional Neural Networks Applied to Visual
Document Analysis", ICDAR 2003.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..data.preprocess import apply_variant, distort
from ..nn import CrossEntropyLoss, Flatten, Sequential
from ..optim import Adam
from ..train import Trainer
from ..utils.io import atomic_savez, load_npz
from .common import LabRun, on_cores
from .mlp_common import cosine_factor

NAME = "committee"
TITLE = "Committees of networks: preprocessing diversity vs seed diversity"

WIDTHS = (10, 12, 14, 16, 18, 20)  # the paper's width normalizations, px (MNIST digits: a 20-px box)


@dataclass(frozen=True)
class Config:
    seed: int = 0  # base seed; member i uses the generator seeded by (seed, i)
    quick: bool = False  # 3 small members on 1000 train / 500 test images, 2 epochs
    data_dir: str | None = None  # folder with the Fashion-MNIST files; None = default
    arch: str = "cnn"  # "cnn" (models.cnn.make_cnn, the convolution issue's CNN) or "mlp" (faster)
    channels: tuple[int, ...] = (16, 32)  # CNN: output channels of the conv stages (quick: 4, 8)
    fc: int = 128  # CNN: width of the hidden fully connected layer (quick: 32)
    hidden: tuple[int, ...] = (256,)  # MLP hidden sizes (quick: 64)
    variants: tuple[str, ...] = ("original",) + tuple(f"width{w}" for w in WIDTHS)  # member i's preprocessing
    control: bool = True  # also train the seed-only committee ("original" with seeds 0..N-1)
    epochs: int | None = None  # None: 4 (quick: 2)
    batch_size: int = 128
    lr: float = 1e-3  # Adam, cosine-decayed per epoch
    train_size: int | None = 30000  # a seeded random subset (None: all 60000); keeps the run near 20 min
    test_size: int | None = None  # None: all 10000 (quick mode always uses 1000 train / 500 test)
    alpha: float = 16.0  # elastic strength in pixels (Simard: 34 on MNIST; clothing tolerates less)
    sigma: float = 5.0  # elastic smoothness, Gaussian std in pixels (Simard: 4)
    rotation: float = 8.0  # random rotation range, degrees (±)
    scale: float = 0.08  # random scale range per axis (±, fraction)
    shear: float = 0.1  # random horizontal shear range (±, columns per row)
    distortions: bool = True  # False: train every member on its undistorted images
    threshold: float = 0.1  # ink threshold of the bounding box (pixel values in [0, 1])
    num_examples: int = 12  # images shown where the committee fixes the best member's mistake
    threads: int = 0  # CNN: cores, one batch shard each (nn.DataParallel); 0 = all, 1 = off (the MLP: always 1)


# -- data ------------------------------------------------------------------------
def _load(config):
    """Fashion-MNIST, all 10 classes, as (N, 28, 28) float32; a seeded subset when asked."""
    from ..data import load_fashion_mnist

    ds = load_fashion_mnist(classes=None, data_dir=config.data_dir, flatten=False)
    n_train, n_test = (1000, 500) if config.quick else (config.train_size, config.test_size)
    rng = np.random.default_rng([config.seed, 10_001])  # the subset does not depend on member seeds
    tr = rng.permutation(len(ds.x_train))[:n_train] if n_train else np.arange(len(ds.x_train))
    te = rng.permutation(len(ds.x_test))[:n_test] if n_test else np.arange(len(ds.x_test))
    x_train, x_test = ds.x_train[tr, 0], ds.x_test[te, 0]  # (N, 28, 28)
    note = f"{len(tr)} of {len(ds.x_train)} training and {len(te)} of {len(ds.x_test)} test images, 10 classes"
    return x_train, ds.y_train[tr], x_test, ds.y_test[te], tuple(ds.class_names), note


def _epochs(config) -> int:
    if config.epochs is not None:
        if config.epochs < 1:
            raise ValueError(f"--epochs must be >= 1, got {config.epochs}")
        return config.epochs
    return 2 if config.quick else 4


# -- one member ------------------------------------------------------------------
def _make_model(config, rng: np.random.Generator):
    """The shared architecture; its input is (N, 784) for the MLP and (N, 1, 28, 28) for the CNN."""
    if config.arch == "mlp":
        from ..models import make_mlp

        hidden = (64,) if config.quick else config.hidden
        return make_mlp(28 * 28, hidden, 10, "relu", "he", rng=rng)
    if config.arch == "cnn":
        from ..models.cnn import make_cnn

        channels, fc = ((4, 8), 32) if config.quick else (config.channels, config.fc)
        return make_cnn(rng, num_classes=10, channels=channels, hidden=fc, dropout=0.0)
    raise ValueError(f"arch must be 'mlp' or 'cnn', got {config.arch!r}")


def _shape_for(config, x: np.ndarray) -> np.ndarray:
    """(N, 28, 28) -> the model's input layout."""
    return x.reshape(len(x), -1) if config.arch == "mlp" else x[:, None]  # (N, 784) or (N, 1, 28, 28)


def _softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(axis=1, keepdims=True)  # (N, C), stable
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def train_member(config, variant: str, member_seed: int, x_train, y_train, x_test, y_test, epochs: int) -> dict:
    """Train one member on ``variant``-preprocessed images, distorted afresh each epoch.

    Returns:
        dict with ``probs`` (N_test, 10) test probabilities and per-epoch ``train_loss``, ``test_acc``.
    """
    rng = np.random.default_rng([config.seed, member_seed])  # weights and shuffling
    distort_rng = np.random.default_rng([config.seed, member_seed, 1])  # the per-epoch distortions
    pre_train = apply_variant(x_train, variant, config.threshold)  # (N, 28, 28), once
    pre_test = _shape_for(config, apply_variant(x_test, variant, config.threshold))
    model = _make_model(config, rng)
    # sharding pays for the CNN's element-wise work; the MLP is GEMM-bound and faster unsharded (measured)
    trained = on_cores(model, config.threads if config.arch == "cnn" else 1)[0]
    trainer = Trainer(trained, CrossEntropyLoss(), Adam(model.parameters(), lr=config.lr),
                      batch_size=config.batch_size, num_epochs=1, rng=rng, eval_train=False)
    t0, distort_s = time.perf_counter(), 0.0
    for epoch in range(epochs):
        # cosine learning-rate decay per epoch (Loshchilov & Hutter 2017): the last epochs settle
        # each member near a minimum instead of wherever Adam's last noisy step left it
        for group in trainer.optimizer.param_groups:
            group["lr"] = config.lr * cosine_factor(epoch, epochs)
        td = time.perf_counter()
        x_epoch = (distort(pre_train, distort_rng, alpha=config.alpha, sigma=config.sigma, rotation=config.rotation,
                           scale=config.scale, shear=config.shear) if config.distortions else pre_train)
        distort_s += time.perf_counter() - td
        # the Trainer keeps its history across fit calls: one more epoch each call
        trainer.fit(_shape_for(config, x_epoch), y_train, pre_test, y_test)
    model.eval()
    logits = np.concatenate([model.forward(pre_test[i:i + 2048]) for i in range(0, len(pre_test), 2048)])
    h = trainer.history
    return {"probs": _softmax(logits.astype(np.float64)), "train_loss": np.array(h.train_loss),
            "test_acc": np.array(h.test_acc), "train_time_s": time.perf_counter() - t0, "distort_time_s": distort_s}


def _member(lab: LabRun, config, variant, member_seed, data, epochs) -> dict:
    """A member, from ``members/`` if this config already trained it (resume), else trained now."""
    path = lab.out_dir / "members" / f"{variant}-seed{member_seed}.npz"
    if path.exists():
        saved = load_npz(path)
        if str(saved.pop("config_hash")) == lab.config_hash:
            saved["train_time_s"], saved["distort_time_s"] = float(saved["train_time_s"]), float(saved["distort_time_s"])
            return saved
    result = train_member(config, variant, member_seed, *data, epochs)
    atomic_savez(path, config_hash=np.array(lab.config_hash), **{k: np.asarray(v) for k, v in result.items()})
    return result


# -- committee arithmetic ----------------------------------------------------------
def committee_errors(probs: list[np.ndarray], y: np.ndarray) -> list[float]:
    """Test error of the average of the first k members' probabilities, k = 1..N."""
    running = np.zeros_like(probs[0])
    errors = []
    for k, p in enumerate(probs, start=1):
        running += p
        errors.append(float(np.mean(np.argmax(running / k, axis=1) != y)))
    return errors


def error_correlation(probs: list[np.ndarray], y: np.ndarray) -> np.ndarray:
    """(N, N) Pearson correlation of the members' 0/1 error indicators on the test set."""
    wrong = np.stack([np.argmax(p, axis=1) != y for p in probs]).astype(np.float64)  # (N, N_test)
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = np.corrcoef(wrong)
    return np.nan_to_num(corr, nan=0.0)


def paired_test(pred_a: np.ndarray, pred_b: np.ndarray, y: np.ndarray) -> dict:
    """Exact McNemar (sign) test on the images where exactly one of two classifiers is right."""
    from scipy.stats import binomtest

    a_only = int(np.sum((pred_a == y) & (pred_b != y)))
    b_only = int(np.sum((pred_a != y) & (pred_b == y)))
    p = float(binomtest(a_only, a_only + b_only, 0.5).pvalue) if a_only + b_only else 1.0
    return {"a_only_right": a_only, "b_only_right": b_only, "p_value": p}


def _committee_block(name: str, members: list[tuple[str, int]], results: dict, y: np.ndarray) -> dict:
    probs = [results[m]["probs"] for m in members]
    member_err = [float(np.mean(np.argmax(p, axis=1) != y)) for p in probs]
    curve = committee_errors(probs, y)
    corr = error_correlation(probs, y)
    off = corr[~np.eye(len(probs), dtype=bool)]
    return {"name": name, "members": [f"{v}/seed{s}" for v, s in members], "member_error": member_err,
            "k_curve": curve, "committee_error": curve[-1], "best_member_error": min(member_err),
            "mean_member_error": float(np.mean(member_err)), "corr": corr,
            "mean_corr": float(off.mean()) if off.size else None,
            "pred": np.argmax(np.mean(probs, axis=0), axis=1)}


# -- the lab ---------------------------------------------------------------------
def run(config: Config, out_dir) -> dict:
    if len(config.variants) < 2:
        raise ValueError(f"a committee needs at least 2 variants, got {config.variants}")
    for v in config.variants:
        apply_variant(np.zeros((1, 28, 28), np.float32), v)  # an unknown name fails before any training
    variants = config.variants[:3] if config.quick else config.variants
    lab = LabRun(Path(out_dir), config)
    x_train, y_train, x_test, y_test, class_names, note = _load(config)
    data = (x_train, y_train, x_test, y_test)
    epochs = _epochs(config)
    committee = [(v, i) for i, v in enumerate(variants)]
    control = [(variants[0], i) for i in range(len(variants))] if config.control else []
    results = {}
    for key in dict.fromkeys(committee + control):  # the shared member (variants[0], 0) trains once
        results[key] = _member(lab, config, *key, data, epochs)
    blocks = [_committee_block("preprocessing", committee, results, y_test)]
    if control:
        blocks.append(_committee_block("seed-only", control, results, y_test))
    from .committee_report import write_outputs

    return write_outputs(lab, config, blocks, results, committee, data, class_names, note, epochs)
