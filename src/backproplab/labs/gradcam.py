"""Lab: where does the Fashion-MNIST CNN look? Grad-CAM, guided backpropagation and deconvnet saliency.

The question: for test images the CNN classifies correctly and wrongly, which pixels drive the
pre-softmax score of the predicted class?

* Grad-CAM (Selvaraju et al. 2017): α_k = spatial mean of ∂y_c/∂A^k over the last conv stage's
  activations A, map = ReLU(Σ_k α_k A^k), upsampled to 28x28 (scipy.ndimage.zoom) and overlaid.
* Guided backpropagation (Springenberg et al. 2015): ∂y_c/∂x with ReLU backward dy·(x>0)·(dy>0).
* Deconvnet (Zeiler & Fergus 2014): ∂y_c/∂x with ReLU backward dy·(dy>0).

The model is the one a ``cnn`` lab run saved (``--cnn-run runs/cnn``); without one, a small
CNN from the cnn lab's builder is trained here with the core Trainer (quick: a few hundred
images, one epoch -- the maps of such a weak model are noisy, which the report says).
The methods live in :mod:`backproplab.analysis.gradcam`.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..analysis import gradcam as gc
from .common import LabRun, markdown_table, new_figure, on_cores, parse_classes

NAME = "gradcam"
TITLE = "Grad-CAM, guided backpropagation and deconvnet saliency on the Fashion-MNIST CNN"


@dataclass(frozen=True)
class Config:
    seed: int = 0                      # data order, initial weights, which examples are shown
    quick: bool = False                # no cnn_run: a smaller CNN, 2048 images, batch 32, 1 epoch
    data_dir: str | None = None        # Fashion-MNIST folder; None = default location
    cnn_run: str | None = None         # run folder of the "cnn" lab (saved weights); None = train here
    classes: str = "all"               # own training: "all" or e.g. "0,6" (a cnn_run brings its own)
    num_epochs: int = 2                # own training only (quick: 1)
    train_size: int | None = 12000     # own training: first images of a shuffled train set (quick: 2048)
    batch_size: int = 64
    lr: float = 1e-3                   # Adam
    channels: tuple[int, ...] = (32, 64, 64)   # own training: make_cnn's conv stages (quick: 8, 16)
    hidden: int = 128                  # own training: make_cnn's hidden FC width (quick: 32)
    num_examples: int = 4              # correct and wrong test predictions shown, each
    eval_size: int = 2000              # test images searched for examples (quick: 500)
    threads: int = 0                   # own training: cores, one batch shard each (nn.DataParallel); 0 = all

    def __post_init__(self):
        if self.num_examples < 1 or self.eval_size < 1 or self.num_epochs < 0 or self.batch_size < 1:
            raise ValueError(f"num_examples, eval_size and batch_size must be >= 1 and num_epochs >= 0, got "
                             f"{self.num_examples}, {self.eval_size}, {self.batch_size}, {self.num_epochs}")
        if self.train_size is not None and self.train_size < 1:
            raise ValueError(f"train_size must be >= 1 or None (all), got {self.train_size}")


# -- the model ----------------------------------------------------------------------------------------------
def _load_cnn_run(folder: Path):
    """(model, info) from a cnn lab run folder: its config.json and the np.savez weights it wrote."""
    from ..models.cnn import model_from_run

    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"--cnn-run {folder}: no such folder; run `backproplab lab cnn` first")
    weights = sorted(p for p in folder.glob("*.npz") if not p.name.startswith("."))  # .checkpoint.npz: trainer state
    if not weights:
        raise FileNotFoundError(f"--cnn-run {folder}: no weights .npz in it (the cnn lab writes model_weights.npz "
                                "when training ends; was the run interrupted?)")
    path = next((p for p in weights if p.name == "model_weights.npz"), weights[0])
    cfg = json.loads((folder / "config.json").read_text()) if (folder / "config.json").exists() else {}
    with np.load(path, allow_pickle=False) as z:  # arrays only: never unpickle
        state = {k: z[k] for k in z.files}
    if "num_classes" not in cfg:
        # the last layer's bias (highest layer index) has one entry per class
        biases = [k for k in state if k.endswith(".bias") and k.split(".")[0].isdigit()]
        if biases:
            cfg = {**cfg, "num_classes": int(state[max(biases, key=lambda k: int(k.split(".")[0]))].shape[0])}
    model = model_from_run(cfg, state)
    return model, {"source": f"cnn run {folder} ({path.name})", "trained_here": False,
                   "classes": cfg.get("classes", "all")}


def _train_here(config: Config, data, rng):
    from ..nn import CrossEntropyLoss
    from ..optim import Adam
    from ..train import Trainer

    from ..models.cnn import make_cnn

    model = make_cnn(rng, num_classes=len(data.class_names), channels=config.channels, hidden=config.hidden)
    order = rng.permutation(len(data.x_train))[: config.train_size or len(data.x_train)]
    trainer = Trainer(on_cores(model, config.threads)[0], CrossEntropyLoss(), Adam(model.parameters(), lr=config.lr),
                      batch_size=config.batch_size, num_epochs=config.num_epochs, rng=rng, eval_train=False)
    hist = trainer.fit(data.x_train[order], data.y_train[order])
    return model, {"source": f"trained here: make_cnn(channels={tuple(config.channels)}, hidden={config.hidden}) on "
                             f"{len(order)} images, {config.num_epochs} epoch(s), Adam lr {config.lr}",
                   "trained_here": True, "train_loss": hist.train_loss}


def _target_layer(model, x):
    """The last ReLU whose output is 4-D (the last conv stage): Grad-CAM's A."""
    from ..nn import ReLU

    relus = [(n, m) for n, m in model.named_modules() if isinstance(m, ReLU)]
    found = None
    for name, m in relus:
        with gc.capture(m) as rec:
            model.forward(x[:1])
        if rec.get("activation") is not None and rec["activation"].ndim == 4:
            found = (name, m)
    if found is None:
        raise ValueError("the model has no ReLU with a 4-D (N, K, h, w) output to explain with Grad-CAM")
    return found


# -- the lab --------------------------------------------------------------------------------------------------
def _pick(correct: np.ndarray, k: int, rng) -> list[int]:
    idx = np.flatnonzero(correct)
    return sorted(rng.choice(idx, size=min(k, len(idx)), replace=False).tolist()) if len(idx) else []


def _object_share(m: np.ndarray, img: np.ndarray) -> float | None:
    """Share of a map's mass on object pixels (image > 0.1); None for an all-zero map."""
    total = float(m.sum())
    return None if total <= 0 else float(m[img > 0.1].sum() / total)


def run(config: Config, out_dir: Path) -> dict:
    from ..data.fashion_mnist import load_fashion_mnist

    if config.quick:
        from dataclasses import replace

        config = replace(config, num_epochs=min(config.num_epochs, 1), train_size=min(config.train_size or 2048, 2048),
                         batch_size=min(config.batch_size, 32), eval_size=min(config.eval_size, 500),
                         channels=(8, 16), hidden=32)
    lab = LabRun(out_dir, config)
    rng = np.random.default_rng(config.seed)
    if config.cnn_run:
        model, info = _load_cnn_run(Path(config.cnn_run))
        classes = info["classes"]  # explain the model on the classes it was trained on
    else:
        model, info, classes = None, {}, config.classes
    data = load_fashion_mnist(parse_classes(classes), data_dir=config.data_dir, flatten=False)
    if model is None:
        model, info = _train_here(config, data, rng)
    model.eval()
    model.double()  # explanations in float64: no rounding noise in small gradients

    x_eval = data.x_test[: config.eval_size].astype(np.float64)
    y_eval = data.y_test[: config.eval_size]
    logits = np.concatenate([model.forward(x_eval[i:i + 500]) for i in range(0, len(x_eval), 500)])
    pred = logits.argmax(axis=1)
    correct = pred == y_eval
    acc = float(correct.mean())
    chosen = [(i, True) for i in _pick(correct, config.num_examples, rng)] + \
             [(i, False) for i in _pick(~correct, config.num_examples, rng)]
    idx = np.array([i for i, _ in chosen], dtype=int)
    x = x_eval[idx]
    layer_name, layer = _target_layer(model, x)
    cam = gc.grad_cam(model, layer, x, pred[idx])
    guided = gc.saliency(model, x, pred[idx], rule="guided")["grad"]
    deconv = gc.saliency(model, x, pred[idx], rule="deconvnet")["grad"]
    plain = gc.saliency(model, x, pred[idx], rule="plain")["grad"]

    names = data.class_names
    probs = np.exp(logits - logits.max(axis=1, keepdims=True))
    probs /= probs.sum(axis=1, keepdims=True)
    rows, images = [], []
    for r, (i, ok) in enumerate(chosen):
        img = x[r, 0]
        g_img, g_zero = gc.saliency_image(np.maximum(guided[r], 0))
        d_img, d_zero = gc.saliency_image(np.maximum(deconv[r], 0))
        rows.append({"test_index": int(i), "correct": bool(ok), "true": names[y_eval[i]], "predicted": names[pred[i]],
                     "p_predicted": float(probs[i, pred[i]]), "cam_all_zero": bool(cam["all_zero"][r]),
                     "cam_object_share": _object_share(cam["cam_up"][r], img),
                     "guided_object_share": _object_share(g_img, img),
                     "deconvnet_object_share": _object_share(d_img, img),
                     "object_pixel_share": float(np.mean(img > 0.1)),
                     "guided_vs_plain_corr": float(np.corrcoef(guided[r].ravel(), plain[r].ravel())[0, 1])
                     if guided[r].std() > 0 and plain[r].std() > 0 else None})
        images.append((img, cam["cam_up"][r], g_img, d_img, g_zero, d_zero))
    lab.save_metrics("examples", rows)
    lab.save_metrics("model", {**info, "eval_accuracy": acc,
                               "eval_size": len(y_eval), "gradcam_layer": layer_name,
                               "activation_shape": list(cam["cam"].shape[1:])})

    # -- figure: one row per example --------------------------------------------------------------------------
    fig, axes = new_figure(len(images), 4, size=(10, 2.5 * len(images)))
    for r, (img, c, g, d, gz, dz) in enumerate(images):
        row = rows[r]
        ax = axes[r]
        ax[0].imshow(img, cmap="gray")
        ax[0].set_title(f"{'correct' if row['correct'] else 'WRONG'}: true {row['true']}\n"
                        f"pred {row['predicted']} (p={row['p_predicted']:.2f})", fontsize=8)
        ax[1].imshow(img, cmap="gray")
        ax[1].imshow(c, cmap="jet", alpha=0.45, vmin=0, vmax=1)
        ax[1].set_title("Grad-CAM" + (" (all zero)" if row["cam_all_zero"] else ""), fontsize=8)
        ax[2].imshow(g, cmap="gray")
        ax[2].set_title("guided backprop" + (" (all zero)" if gz else ""), fontsize=8)
        ax[3].imshow(d, cmap="gray")
        ax[3].set_title("deconvnet" + (" (all zero)" if dz else ""), fontsize=8)
        for a in ax:
            a.set_xticks([])
            a.set_yticks([])
    fig.tight_layout()
    lab.savefig(fig, "gradcam")

    # -- report ---------------------------------------------------------------------------------------------------
    def mean_of(key, ok):
        vals = [r[key] for r in rows if r["correct"] == ok and r[key] is not None]
        return (float(np.mean(vals)), len(vals)) if vals else (None, 0)

    obs = [f"- Model: {info['source']}; accuracy on the first {len(y_eval)} test images {acc:.2%}. Grad-CAM "
           f"explains `{layer_name}` (activations {cam['cam'].shape[1]}x{cam['cam'].shape[2]}, upsampled to 28x28)."]
    n_wrong = int((~correct).sum())
    if n_wrong == 0:
        obs.append("- No test image among those searched was misclassified: there is no wrong example to show.")
    zero = [r["test_index"] for r in rows if r["cam_all_zero"]]
    obs.append(f"- All-zero Grad-CAM maps (every Σ α_k A^k <= 0): {len(zero)} of {len(rows)}"
               + (f" (test images {zero}); shown blank, not rescaled." if zero else "."))
    for key, label in (("cam_object_share", "Grad-CAM"), ("guided_object_share", "guided backprop"),
                       ("deconvnet_object_share", "deconvnet")):
        (mc, nc), (mw, nw) = mean_of(key, True), mean_of(key, False)
        base = float(np.mean([r["object_pixel_share"] for r in rows]))
        parts = [f"{m:.0%} (correct, n={n})" if m is not None else "n/a (correct)" for m, n in ((mc, nc),)]
        parts += [f"{m:.0%} (wrong, n={n})" if m is not None else "n/a (wrong)" for m, n in ((mw, nw),)]
        obs.append(f"- {label}: share of the map on object pixels {', '.join(parts)}; object pixels are "
                   f"{base:.0%} of an image on average, so a share above that means the map concentrates on the item.")
    corr = [r["guided_vs_plain_corr"] for r in rows if r["guided_vs_plain_corr"] is not None]
    if corr:
        obs.append(f"- Guided backprop vs the plain input gradient: mean correlation {np.mean(corr):.2f} over "
                   f"{len(corr)} examples (1 would mean the extra (dy > 0) mask, which drops negative evidence, "
                   "changed nothing).")
    if info.get("trained_here") and acc < 0.85:
        obs.append(f"- The model trained here reaches only {acc:.0%}: its maps are rough; pass `--cnn-run` with a "
                   "trained cnn lab run for sharper ones.")
    rep = [f"# {TITLE}\n", "Each row: the test image; Grad-CAM of the predicted class overlaid; guided "
           "backpropagation; deconvnet saliency (both: positive part of ∂y_c/∂x, max over channels, scaled to "
           "[0, 1]; an all-zero map is shown blank and labelled).\n", "![gradcam](gradcam.png)\n",
           markdown_table(rows, floatfmt=".3g"), "\n## Observations (computed from this run)\n", *obs]
    lab.write_report("\n".join(rep))
    summary = (f"accuracy {acc:.2%} on {len(y_eval)} test images; {sum(r['correct'] for r in rows)} correct and "
               f"{sum(not r['correct'] for r in rows)} wrong examples explained; {len(zero)} all-zero Grad-CAM maps")
    return {"summary": summary, "accuracy": acc, "examples": rows, "layer": layer_name, "files": lab.files}
