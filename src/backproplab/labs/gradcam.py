"""Lab: where does the Fashion-MNIST CNN look? Grad-CAM, guided backpropagation and deconvnet saliency.

The questions (document 002, theory question 4; document 001, question 1(d)): what does the Grad-CAM
weight α_k^c measure, why does the map keep only the positive part of Σ_k α_k^c A^k, and how do
deconvnets make a CNN interpretable? For test images the CNN classifies correctly and wrongly, the
lab shows which pixels drive the pre-softmax score of the predicted class:

* Grad-CAM (Selvaraju et al. 2017): α_k = spatial mean of ∂y_c/∂A^k over the last conv stage's
  activations A, map = ReLU(Σ_k α_k A^k), upsampled to 28x28 (scipy.ndimage.zoom) and overlaid.
* Guided backpropagation (Springenberg et al. 2015): ∂y_c/∂x with ReLU backward dy·(x>0)·(dy>0).
* Deconvnet (Zeiler & Fergus 2014): ∂y_c/∂x with ReLU backward dy·(dy>0).

The model is the one a ``cnn`` lab run saved (``--cnn-run runs/cnn``: its ``result.json`` names the
builder's settings and the weights file, read without pickle); without one, a CNN from the cnn lab's
builder is trained here with the core Trainer (quick: a few thousand images, one epoch; the maps of
such a weak model are rough, which the report says). The methods live in
:mod:`backproplab.analysis.gradcam`.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..analysis import gradcam as gc
from ..errors import UsageError
from ..report.i18n import N_
from . import progress
from .config import option, quick
from .gradcam_report import report  # noqa: F401  (the lab's report function)
from .training import TrainingConfig

NAME = "gradcam"
TITLE = N_("Grad-CAM, guided backpropagation and deconvnet saliency on the Fashion-MNIST CNN")
SUMMARY = N_("which pixels drive the CNN's class score: Grad-CAM, guided backprop and deconvnet maps")
QUESTIONS = ("002/Q4.a", "002/Q4.b", "001/Q1.d")

#: a pixel with a value above this (images in [0, 1]) belongs to the object, not the background
OBJECT_LEVEL = 0.1


@dataclass(frozen=True)
class Config(TrainingConfig):
    cnn_run: str | None = option(None, "run folder of the cnn lab whose model is explained; None = train a CNN here")
    classes: str = option("all", "own training: Fashion-MNIST class ids (comma list) or 'all' (a --cnn-run "
                                 "brings its own)")
    train_size: int = option(12000, "own training: random training images", low=1)
    test_size: int = option(2000, "the first N test images, searched for correct and wrong examples", low=1)
    num_epochs: int = option(2, "own training: passes over the training images", low=1, high=1000)
    batch_size: int = option(64, "own training: mini-batch size", low=1, high=60000)
    lr: float = option(1e-3, "own training: Adam learning rate", low=0, low_open=True, high=1e6)
    channels: tuple[int, ...] = option((32, 64, 64), "own training: output channels of the 2 or 3 conv stages",
                                       min_len=2, each_low=1, each_high=4096)
    hidden: int = option(128, "own training: width of the hidden fully connected layer (0: none)", low=0,
                         high=100000)
    num_examples: int = option(4, "correct and wrong test predictions explained, each", low=1, high=50)
    threads: int | None = option(None, "own training: cores, one batch shard each (nn.DataParallel); None = every "
                                       "core, 1 = unsharded", low=1, high=1024)

    def check(self) -> None:
        from .cnn import check_stages

        super().check()
        check_stages(self.channels)

    def quick(self) -> "Config":
        return quick(self, num_epochs=1, train_size=2048, batch_size=32, test_size=500, channels=(8, 16), hidden=32)


# -- the model ----------------------------------------------------------------------------------------------
def load_cnn_run(folder: Path):
    """(model, info) from a finished cnn lab run: the builder settings in its result.json, the weights .npz."""
    from ..models.cnn import model_from_run
    from ..utils.io import load_npz

    flag = f"--cnn-run {folder}"
    if not folder.is_dir():
        raise UsageError(f"{flag}: no such folder; run `backproplab lab cnn --out {folder}` first")
    try:
        saved = json.loads((folder / "result.json").read_text())
    except FileNotFoundError:
        raise UsageError(f"{flag} holds no finished cnn run (no result.json); run `backproplab lab cnn --out "
                         f"{folder}` with the same settings to finish it") from None
    except ValueError:
        raise UsageError(f"{flag}: result.json is damaged; run the cnn lab into it again with --overwrite") from None
    if saved.get("lab") != "cnn":
        raise UsageError(f"{flag} is a run of lab {saved.get('lab')!r}, not of the cnn lab")
    model_info = (saved.get("result") or {}).get("model") or {}
    if not model_info.get("weights"):
        raise UsageError(f"{flag}: that cnn run saved no weights (its training diverged); explain another run")
    state = load_npz(folder / model_info["weights"])  # arrays only: never unpickle
    model = model_from_run(model_info["builder"], state)
    return model, {"source": f"cnn run {folder} ({model_info['weights']})", "trained_here": False,
                   "classes": model_info.get("classes", "all"), "cnn_fingerprint": saved.get("fingerprint")}


def train_here(config: Config, data, rng, out):
    """A make_cnn model trained on a random ``train_size`` of the training images (one checkpoint per epoch)."""
    from ..models.cnn import make_cnn
    from ..nn import make_loss
    from ..optim import make_optimizer
    from ..train import Trainer
    from .cores import on_cores

    model = make_cnn(rng, num_classes=data.num_classes, channels=config.channels, hidden=config.hidden)
    part = data.subset(config.train_size, rng)  # drawn after the initial weights, from the same generator
    trained, shards = on_cores(model, config.threads)
    trainer = Trainer(trained, make_loss("cross_entropy"), make_optimizer("adam", model.parameters(), lr=config.lr),
                      batch_size=config.batch_size, num_epochs=config.num_epochs, rng=rng, eval_train=False,
                      callbacks=[progress.current().training("gradcam-cnn")], checkpoint_path=out.checkpoint(),
                      checkpoint_tag=config.fingerprint())
    try:
        hist = trainer.fit(part.x_train, part.y_train)
    finally:
        if shards > 1:
            trained.close()
    return model, {"source": "trained here", "trained_here": True, "channels": list(config.channels),
                   "hidden": config.hidden, "n_train": len(part.x_train), "num_epochs": config.num_epochs,
                   "lr": config.lr, "train_loss": hist.train_loss}


def target_layer(model, x):
    """The last ReLU whose output is 4-D (the last conv stage): Grad-CAM's A."""
    from ..nn import ReLU

    found = None
    for name, m in model.named_modules():
        if isinstance(m, ReLU):
            with gc.capture(m) as rec:
                model.forward(x[:1])
            if rec.get("activation") is not None and rec["activation"].ndim == 4:
                found = (name, m)
    if found is None:
        raise ValueError("the model has no ReLU with a 4-D (N, K, h, w) output to explain with Grad-CAM")
    return found


# -- the lab --------------------------------------------------------------------------------------------------
def pick(correct: np.ndarray, k: int, rng) -> list[int]:
    idx = np.flatnonzero(correct)
    return sorted(rng.choice(idx, size=min(k, len(idx)), replace=False).tolist()) if len(idx) else []


def object_share(m: np.ndarray, img: np.ndarray) -> float | None:
    """Share of a map's mass on object pixels (image > OBJECT_LEVEL); None for an all-zero map."""
    total = float(m.sum())
    return None if total <= 0 else float(m[img > OBJECT_LEVEL].sum() / total)


def negative_share(raw: np.ndarray) -> float | None:
    """Share of Σ|raw| in the negative entries of the map before the ReLU (what the ReLU removes)."""
    total = float(np.abs(raw).sum())
    return None if total <= 0 else float(-raw[raw < 0].sum() / total)


def explain(model, x: np.ndarray, classes: np.ndarray) -> dict:
    """Grad-CAM (with the map before its ReLU), guided, deconvnet and plain input gradients of ``classes``."""
    layer_name, layer = target_layer(model, x)
    cam = gc.grad_cam(model, layer, x, classes)
    with gc.capture(layer) as rec:
        model.forward(x)
    raw = np.einsum("nk,nkhw->nhw", cam["alpha"], rec["activation"])  # Σ_k α_k A^k before the ReLU
    grads = {rule: gc.saliency(model, x, classes, rule=rule)["grad"] for rule in ("guided", "deconvnet", "plain")}
    return {"layer": layer_name, "cam": cam, "raw": raw, **grads}


def run(config: Config, out) -> dict:
    from ..data import load_fashion_mnist, parse_classes
    from ..nn.functional import softmax

    rng = np.random.default_rng(config.seed)
    model, info, classes = None, {}, config.classes
    if config.cnn_run:
        model, info = load_cnn_run(Path(config.cnn_run))
        classes = info["classes"]  # explain the model on the classes it was trained on
    data = load_fashion_mnist(parse_classes(classes), data_dir=config.data_dir, flatten=False)
    if model is None:
        model, info = train_here(config, data, rng, out)
    model.eval()
    model.double()  # explanations in float64: no rounding noise in small gradients
    x_eval = data.x_test[: config.test_size].astype(np.float64)
    y_eval = data.y_test[: config.test_size]
    logits = np.concatenate([model.forward(x_eval[i:i + 500]) for i in range(0, len(x_eval), 500)])
    pred = logits.argmax(axis=1)
    correct = pred == y_eval
    chosen = [(i, True) for i in pick(correct, config.num_examples, rng)] + \
             [(i, False) for i in pick(~correct, config.num_examples, rng)]
    idx = np.array([i for i, _ in chosen], dtype=int)
    x = x_eval[idx]
    maps = explain(model, x, pred[idx])
    cam = maps["cam"]
    probs = softmax(logits, axis=1)
    names = data.class_names
    rows, images = [], {"image": [], "cam": [], "guided": [], "deconvnet": []}
    for r, (i, ok) in enumerate(chosen):
        img = x[r, 0]
        g_img, _g_zero = gc.saliency_image(np.maximum(maps["guided"][r], 0))
        d_img, _d_zero = gc.saliency_image(np.maximum(maps["deconvnet"][r], 0))
        g, p = maps["guided"][r], maps["plain"][r]
        rows.append({"test_index": int(i), "correct": bool(ok), "true": names[y_eval[i]], "predicted": names[pred[i]],
                     "p_predicted": float(probs[i, pred[i]]), "cam_all_zero": bool(cam["all_zero"][r]),
                     "cam_object_share": object_share(cam["cam_up"][r], img),
                     "guided_object_share": object_share(g_img, img),
                     "deconvnet_object_share": object_share(d_img, img),
                     "object_pixel_share": float(np.mean(img > OBJECT_LEVEL)),
                     "raw_negative_share": negative_share(maps["raw"][r]),
                     "guided_vs_plain_corr": float(np.corrcoef(g.ravel(), p.ravel())[0, 1])
                     if g.std() > 0 and p.std() > 0 else None})
        for key, value in (("image", img), ("cam", cam["cam_up"][r]), ("guided", g_img), ("deconvnet", d_img)):
            images[key].append(value)
    out.save_metrics("examples", rows)
    if rows:
        out.save_arrays("maps", **{k: np.stack(v) for k, v in images.items()})
    acc = float(correct.mean())
    model_facts = {**info, "eval_accuracy": acc, "eval_size": len(y_eval), "gradcam_layer": maps["layer"],
                   "activation_shape": list(cam["cam"].shape[1:]), "class_names": list(names)}
    out.save_metrics("model", model_facts)
    summary = (f"accuracy {acc:.2%} on {len(y_eval)} test images; {sum(r['correct'] for r in rows)} correct and "
               f"{sum(not r['correct'] for r in rows)} wrong examples explained; "
               f"{sum(r['cam_all_zero'] for r in rows)} all-zero Grad-CAM maps")
    return {"summary": summary, "accuracy": acc, "examples": rows, "layer": maps["layer"], "model": model_facts,
            "n_wrong": int((~correct).sum()), "n_correct": int(correct.sum()),
            "alpha": cam["alpha"].tolist(), "cam_all_zero": cam["all_zero"].tolist()}
