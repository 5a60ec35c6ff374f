"""The report of the gradcam lab: its sentences (computed from the run's numbers and tested on made-up
numbers both ways) and its figure."""
from __future__ import annotations

import numpy as np

from ..report.document import CodeText
from ..report.i18n import N_, _, _n, join
from .plotting import colorbar, new_figure

#: a model trained here below this test accuracy gives rough maps (the report says so)
WEAK_MODEL = 0.85
METHODS = {"cam_object_share": N_("Grad-CAM"), "guided_object_share": N_("Guided backpropagation"),
           "deconvnet_object_share": N_("Deconvnet")}


def model_sentence(model: dict):
    parts = dict(acc=model["eval_accuracy"], size=model["eval_size"], layer=model["gradcam_layer"],
                 h=model["activation_shape"][0], w=model["activation_shape"][1])
    if model["trained_here"]:
        return _n("Model: trained here, `make_cnn(channels={c}, hidden={hid})` on {k} images, {n_ep} epoch, Adam lr "
                  "{lr:g}; accuracy on the first {size} test images {acc:.2%}. Grad-CAM explains layer `{layer}` "
                  "(activations {h}x{w}, upsampled to 28x28).",
                  "Model: trained here, `make_cnn(channels={c}, hidden={hid})` on {k} images, {n_ep} epochs, Adam lr "
                  "{lr:g}; accuracy on the first {size} test images {acc:.2%}. Grad-CAM explains layer `{layer}` "
                  "(activations {h}x{w}, upsampled to 28x28).", model["num_epochs"], c=tuple(model["channels"]),
                  hid=model["hidden"], k=model["n_train"], n_ep=model["num_epochs"], lr=model["lr"], **parts)
    return _("Model: `{src}`; accuracy on the first {size} test images {acc:.2%}. Grad-CAM explains layer `{layer}` "
             "(activations {h}x{w}, upsampled to 28x28).", src=model["source"], **parts)


def examples_sentence(n_correct_shown: int, n_wrong_shown: int, asked: int, n_wrong: int):
    if n_wrong == 0:
        return _("No test image among those searched was misclassified: there is no wrong example to show.")
    if n_wrong_shown < asked or n_correct_shown < asked:
        return _("{c} correct and {w} wrong examples are shown ({a} of each were asked for; the searched images "
                 "have no more).", c=n_correct_shown, w=n_wrong_shown, a=asked)
    return None


def zero_sentence(rows: list[dict]):
    zero = [r["test_index"] for r in rows if r["cam_all_zero"]]
    if not zero:
        return _("No Grad-CAM map is all zero: every map has a region with positive evidence for the class.")
    return _("All-zero Grad-CAM maps (every `Σ_k α_k A^k ≤ 0`): {k} of {n} (test images {ids}); they are shown "
             "blank, not rescaled.", k=len(zero), n=len(rows), ids=join(zero))


def _mean(rows, key, ok):
    vals = [r[key] for r in rows if r["correct"] == ok and r[key] is not None]
    return (float(np.mean(vals)), len(vals)) if vals else (None, 0)


def share_sentence(rows: list[dict], key: str):
    """The share of one method's maps on object pixels, for correct and wrong examples, against the object
    pixels' own share of the image: above it, the maps concentrate on the item."""
    base = float(np.mean([r["object_pixel_share"] for r in rows]))
    (mc, nc), (mw, nw) = _mean(rows, key, True), _mean(rows, key, False)
    parts = [_("{m:.0%} (correct, n = {n})", m=mc, n=nc) if mc is not None else _("none (correct)"),
             _("{m:.0%} (wrong, n = {n})", m=mw, n=nw) if mw is not None else _("none (wrong)")]
    means = [m for m in (mc, mw) if m is not None]
    if not means:
        return _("{method}: every map is all zero.", method=_(METHODS[key]))
    if all(m > base for m in means):
        verdict = _("above the {b:.0%} of an image that object pixels make up: the maps concentrate on the item.",
                    b=base)
    elif all(m <= base for m in means):
        verdict = _("not above the {b:.0%} of an image that object pixels make up: the maps do not concentrate on "
                    "the item.", b=base)
    else:
        verdict = _("against {b:.0%} of an image made of object pixels: above it for one group only.", b=base)
    return _("{method}: share of the map on object pixels {parts}; {verdict}", method=_(METHODS[key]),
             parts=join(parts), verdict=verdict)


def alpha_sentence(alpha: list[list[float]]):
    """How many feature maps count for the class (α_k > 0) and how many against it, per explained image."""
    if not alpha:
        return None
    a = np.asarray(alpha)
    positive = (a > 0).sum(axis=1)
    return _("The weights `α_k` (one per feature map, {k} maps): on average {p:.1f} maps per image have `α_k > 0` "
             "(raising them raises `y_c`) and {q:.1f} have `α_k < 0`; the largest `|α_k|` is {m:.3g}.", k=a.shape[1],
             p=float(positive.mean()), q=float((a < 0).sum(axis=1).mean()), m=float(np.abs(a).max()))


def relu_sentence(rows: list[dict]):
    """What the ReLU of Grad-CAM removed: the negative part of Σ_k α_k A^k (evidence against the class)."""
    shares = [r["raw_negative_share"] for r in rows if r["raw_negative_share"] is not None]
    if not shares:
        return None
    mean, most = float(np.mean(shares)), float(np.max(shares))
    if most == 0:
        return _("Before the ReLU no map had a negative part: here the ReLU changed nothing.")
    return _("Before the ReLU, on average {m:.0%} of `Σ|Σ_k α_k A^k|` was negative (up to {x:.0%}): positions whose "
             "activations lower `y_c`. The ReLU removes them, so the map shows only evidence for the class.",
             m=mean, x=most)


def correlation_sentence(rows: list[dict]):
    corr = [r["guided_vs_plain_corr"] for r in rows if r["guided_vs_plain_corr"] is not None]
    if not corr:
        return None
    return _("Guided backpropagation against the plain input gradient: mean correlation {c:.2f} over {n} examples "
             "(1 would mean that the extra `(dy > 0)` mask, which drops negative evidence, changed nothing).",
             c=float(np.mean(corr)), n=len(corr))


def weak_model_sentence(model: dict, threshold: float = WEAK_MODEL):
    if model["trained_here"] and model["eval_accuracy"] < threshold:
        return _("The model trained here reaches only {a:.0%}: its maps are rough; pass `--cnn-run` with a "
                 "trained cnn lab run for sharper ones.", a=model["eval_accuracy"])
    return None


def plot_maps(rows: list[dict], maps: dict):
    """One row per example: the image, the Grad-CAM overlay, guided backprop and deconvnet, each with a colour bar."""
    n = len(rows)
    fig, axes = new_figure(n, 4, size=(13, 2.7 * n))
    for r, row in enumerate(rows):
        ax = axes[r]
        title = _("correct: true {t}, predicted {p} (p = {q:.2f})", t=row["true"], p=row["predicted"],
                  q=row["p_predicted"]) if row["correct"] else \
            _("WRONG: true {t}, predicted {p} (p = {q:.2f})", t=row["true"], p=row["predicted"], q=row["p_predicted"])
        im = ax[0].imshow(maps["image"][r], cmap="gray", vmin=0, vmax=1)
        ax[0].set_title(title, fontsize=7)
        colorbar(fig, im, ax[0], _("pixel value"))
        ax[1].imshow(maps["image"][r], cmap="gray", vmin=0, vmax=1)
        im = ax[1].imshow(maps["cam"][r], cmap="jet", alpha=0.45, vmin=0, vmax=1)
        ax[1].set_title(_("Grad-CAM (all zero)") if row["cam_all_zero"] else _("Grad-CAM"), fontsize=8)
        colorbar(fig, im, ax[1], _("relevance"))
        for a, key, name in ((ax[2], "guided", _("guided backprop")), (ax[3], "deconvnet", _("deconvnet"))):
            im = a.imshow(maps[key][r], cmap="gray", vmin=0, vmax=1)
            zero = not np.any(maps[key][r])
            a.set_title(_("{name} (all zero)", name=name) if zero else name, fontsize=8)
            colorbar(fig, im, a, _("relevance"))
        for a in ax:
            a.grid(False)
            a.set_xticks([])
            a.set_yticks([])
    fig.tight_layout()
    return fig


def report(result: dict, config, doc) -> None:
    rows, model = result["examples"], result["model"]
    doc.para(_("**Question.** Which pixels drive the CNN's pre-softmax score `y_c` of the predicted class, for "
               "test images it classifies correctly and wrongly? Grad-CAM weighs each feature map `A^k` of the last "
               "conv stage by `α_k = mean_i,j ∂y_c/∂A^k_ij`, the map's average influence on `y_c`, and keeps the "
               "positive part of `Σ_k α_k A^k`."))
    doc.para(_("Each row: the test image; the Grad-CAM map of the predicted class over it; guided "
               "backpropagation; deconvnet saliency (both: positive part of `∂y_c/∂x`, scaled to [0, 1]; an "
               "all-zero map is shown blank and labelled)."))
    if rows:
        doc.plot(plot_maps(rows, doc.folder.load_arrays("maps")), "gradcam",
                 _("Grad-CAM, guided backpropagation and deconvnet for correct and wrong predictions."))
    doc.table([("test_index", _("test image"), "d"), ("correct", _("correct"), ""), ("true", _("true"), ""),
               ("predicted", _("predicted"), ""), ("p_predicted", _("p(predicted)"), ".3f"),
               ("cam_object_share", _("Grad-CAM on object"), ".0%"),
               ("guided_object_share", _("guided on object"), ".0%"),
               ("deconvnet_object_share", _("deconvnet on object"), ".0%"),
               ("object_pixel_share", _("object pixels"), ".0%"),
               ("raw_negative_share", _("negative before ReLU"), ".0%")],
              [{**r, "correct": _("yes") if r["correct"] else _("no"), "true": CodeText(r["true"]),
                "predicted": CodeText(r["predicted"])} for r in rows])
    doc.heading(_("Observations (computed from this run)"))
    n_correct = sum(r["correct"] for r in rows)
    doc.bullets([model_sentence(model),
                 examples_sentence(n_correct, len(rows) - n_correct, config.num_examples, result["n_wrong"]),
                 alpha_sentence(result["alpha"]), zero_sentence(rows), relu_sentence(rows),
                 *[share_sentence(rows, key) for key in METHODS if rows],
                 correlation_sentence(rows), weak_model_sentence(model)])
