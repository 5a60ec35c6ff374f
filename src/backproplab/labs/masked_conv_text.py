"""The masked-conv lab's report: its sentences, computed from the numbers of the run.

Every sentence that depends on a number is a small function returning a message, tested on made-up
numbers both ways (tests/labs/test_masked_conv.py).
"""
from __future__ import annotations

import numpy as np

from ..report.i18n import _, _n, join
from .training_problems import findings_bullets
from .masked_conv_plots import KIND_NAMES, plot_fields, plot_growth, plot_masks, plot_nll, plot_samples


def closed_form_sentence(check: dict | None):
    """Whether the plain stack's measured field matches (3L² + 5L)/2 seen and L(L-1)/2 blind."""
    if check is None:
        return _("The closed forms below are for 3×3 kernels; this run uses another size, so they are not checked.")
    if not check["mismatched_depths"]:
        return _("At every depth from 1 to {n} the plain stack sees exactly `(3L² + 5L)/2` pixels and misses "
                 "exactly `L(L-1)/2`, as the closed forms say.", n=check["depths"])
    return _("The plain stack's counts DIFFER from the closed forms `(3L² + 5L)/2` and `L(L-1)/2` at depths {d}.",
             d=join(check["mismatched_depths"]))


def blind_sentence(kind: str, rows: list[dict]):
    """The blind spot of one kind of stack over the depths: none at all, or its size per depth."""
    blind = [r["blind_spot"] for r in rows]
    name = _(KIND_NAMES[kind])
    if not any(blind):
        return _("{name}: no blind spot at any depth from 1 to {n}: every pixel before p inside the field's box "
                 "is seen.", name=name, n=len(rows))
    return _("{name}: the blind spot holds {counts} pixels at depths 1 to {n}; it grows with depth instead of "
             "closing.", name=name, counts=join(blind), n=len(rows))


def growth_sentence(rows: list[dict], image_rows: int = 28):
    """How slowly the plain stack's field grows upwards, and the depth it needs to span an image."""
    last = rows[-1]
    per = last["up"] / last["layers"]
    return _("After {n} plain layers p sees {up} rows up, {left} columns to the left and {right} to the right, "
             "{seen} pixels in all. At {per:g} more rows up per layer, the bottom row of a {h}-row image would need "
             "{need} layers to see the top one.", n=last["layers"], up=last["up"], left=last["left"], right=last["right"],
             seen=last["seen"], per=per, h=image_rows, need=int(np.ceil((image_rows - 1) / per)))


def dilation_sentence(plain: list[dict], dilated: list[dict], dilations):
    """The dilated stack's field against the plain one's at the deepest depth, and its blind spot."""
    p, d = plain[-1], dilated[-1]
    values = {"n": p["layers"], "dil": join(dilations), "ds": d["seen"], "ps": p["seen"], "ratio": d["seen"] / p["seen"],
              "up": d["up"], "pup": p["up"], "blind": d["blind_spot"]}
    if d["blind_spot"]:
        return _("With dilations {dil} the same {n} layers (and the same weights per layer) see {ds} pixels instead of "
                 "{ps} (× {ratio:.1f}), reaching {up} rows up instead of {pup}; but {blind} pixels inside the field's "
                 "box stay unseen: dilation widens the view, it does not remove the blind spot.", **values)
    return _("With dilations {dil} the same {n} layers (and the same weights per layer) see {ds} pixels instead of "
             "{ps} (× {ratio:.1f}), reaching {up} rows up instead of {pup}, with no blind spot.", **values)


def baseline_sentence(masked: float, baseline: float):
    """The masked PixelCNN's test NLL against independent pixels."""
    values = {"m": masked, "b": baseline, "d": baseline - masked}
    if masked < baseline:
        return _("The masked PixelCNN gives the test images {m:.1f} nats per image, {d:.1f} fewer than independent "
                 "pixels ({b:.1f}): using the pixels above and to the left predicts each pixel better.", **values)
    return _("The masked PixelCNN gives the test images {m:.1f} nats per image, NOT fewer than independent pixels "
             "({b:.1f}): this training did not learn to use the context.", **values)


def causal_sentence(dep: dict):
    """The masked network's causality, measured: no gradient on p or after it, no change when they flip."""
    values = {"own": dep["own_share"], "later": dep["later_share"], "flip": dep["flip_change"], "n": dep["num_probes"]}
    if dep["own_share"] == 0 and dep["later_share"] == 0 and dep["flip_change"] == 0:
        return _("Causality, measured on the trained masked network ({n} pixel probes): the gradient of logit p has "
                 "exactly 0 on p and on every later pixel, and flipping all of them leaves logit p exactly as it "
                 "was.", **values)
    return _("The trained masked network is NOT causal in {n} probes: {own:.2%} of the gradient of logit p lies on p "
             "itself and {later:.2%} on later pixels; flipping them changes logit p by up to {flip:.3g}.", **values)


def cheat_sentence(masked: float, unmasked: float, dep: dict):
    """Why the unmasked network's number is not a likelihood: it sees the pixel it predicts."""
    values = {"m": masked, "u": unmasked, "own": dep["own_share"], "later": dep["later_share"],
              "flip": dep["flip_change"]}
    if dep["own_share"] > 0 and unmasked < masked:
        return _("The same network without masks reaches {u:.1f} \"nats per image\", below the masked {m:.1f}, "
                 "because it reads the pixel it predicts: {own:.1%} of the gradient of logit p lies on p itself (and "
                 "{later:.1%} on later pixels), and flipping p and the pixels after it moves logit p by up to "
                 "{flip:.3g}. Its outputs are not conditionals p(x_k | x_<k), so their product is no distribution "
                 "over images and the number is no likelihood.", **values)
    if dep["own_share"] > 0:
        return _("The network without masks reads the pixel it predicts ({own:.1%} of the gradient on p itself) yet "
                 "reached {u:.1f} nats per image, not below the masked {m:.1f}: this short training did not exploit "
                 "it, but its number is still no likelihood.", **values)
    return _("The network without masks put no gradient on the pixels it predicts in these probes; its {u:.1f} nats "
             "per image against the masked {m:.1f} shows no cheat here.", **values)


#: samples whose share of 1-pixels is off from the test images' by more than this factor look nothing like them
INK_FACTOR = 2.0


def ink_sentence(ink: dict):
    """Share of 1-pixels in the test images and in each network's samples; the cheat's judged by INK_FACTOR."""
    values = {"t": ink["test"], "m": ink["masked_samples"], "u": ink["unmasked_samples"], "f": INK_FACTOR}
    off = not ink["test"] / INK_FACTOR <= ink["unmasked_samples"] <= ink["test"] * INK_FACTOR
    if off:
        return _("Share of 1-pixels: {t:.1%} in the test images, {m:.1%} in the masked network's samples, {u:.1%} in "
                 "the unmasked network's, more than {f:g} times off: sampled pixel by pixel, the cheat is shown "
                 "zeros where it learned to copy the pixel itself, and what it draws is not Fashion-MNIST.", **values)
    return _("Share of 1-pixels: {t:.1%} in the test images, {m:.1%} in the masked network's samples, {u:.1%} in the "
             "unmasked network's, within a factor {f:g} of the test images; the figure shows what the samples look "
             "like.", **values)


def _fields_section(result, config, doc) -> None:
    counts = result["fields"]
    doc.heading(_("Part 1: receptive fields of masked stacks"))
    doc.para(_("A masked convolution zeroes the kernel taps at and after the centre in raster order, so output p "
               "reads only earlier pixels. Type A (first layer) also hides the centre; type B (later layers) keeps "
               "it, since a feature at p already depends on earlier pixels only."))
    doc.plot(plot_masks(), "masks", _("The masks of a 5×5 kernel."))
    doc.para(_("The field of output pixel p is computed exactly: one backward pass of the gradient of y_p with "
               "respect to the input, through {k}×{k} stacks with positive weights (so no path cancels), of 1 to "
               "{n} layers; dilated stack: dilations {d} cycled; gated: the vertical and horizontal stacks of the "
               "gated PixelCNN. The blind spot is the set of pixels before p, inside the field's bounding box, that "
               "p does not see.", k=config.kernel_size, n=config.max_layers, d=join(config.dilations)))
    rows = []
    for depth in range(config.max_layers):
        row = {"layers": depth + 1}
        for kind in counts:
            r = counts[kind]["rows"][depth]
            row.update({f"{kind}_seen": r["seen"], f"{kind}_blind": r["blind_spot"], f"{kind}_up": r["up"]})
        rows.append(row)
    cols = [("layers", _("layers"), "d")]
    for kind in counts:
        name = _(KIND_NAMES[kind])
        cols += [(f"{kind}_seen", _("{kind}: seen", kind=name), "d"),
                 (f"{kind}_blind", _("{kind}: blind spot", kind=name), "d"),
                 (f"{kind}_up", _("{kind}: rows up", kind=name), "d")]
    doc.table(cols, rows, caption=_("Input pixels that output pixel p sees, pixels in its blind spot, and how many "
                                    "rows above p the field reaches."))
    doc.bullets([growth_sentence(counts["plain"]["rows"]), closed_form_sentence(result["closed_form"]),
                 blind_sentence("plain", counts["plain"]["rows"]),
                 dilation_sentence(counts["plain"]["rows"], counts["dilated"]["rows"], config.dilations),
                 blind_sentence("gated", counts["gated"]["rows"])])
    doc.para(_("Why the plain stack is blind: the only tap of a 3×3 mask that reaches to the right is the upper-right "
               "one, which also moves one row up, so a pixel r rows above p is seen at most r columns to its right "
               "however deep the stack, while the field reaches further left and up. The gated PixelCNN splits the "
               "layer: a vertical stack reads whole rows above (nothing in it needs masking, since it is read one "
               "row lower) and feeds a horizontal stack that reads the current row to the left."))
    doc.plot(plot_fields(doc.folder.load_arrays("fields"), counts), "receptive_fields",
             _("Each row is one kind of stack, each column one depth; colour: the gradient of y_p relative to its "
               "largest value (log scale); red: the blind spot."))
    doc.plot(plot_growth(counts), "field_growth", _("Pixels seen and pixels in the blind spot against depth."))


def _pixelcnn_section(result, config, doc) -> None:
    nets, nll = result["networks"], result["nll"]
    doc.heading(_("Part 2: a small PixelCNN on binarized Fashion-MNIST"))
    doc.bullets([
        _("Data: {n_train} training and {n_test} test images of Fashion-MNIST, each pixel set to 1 where its "
          "intensity is above 0.5.", **result["data"]),
        _("Network: a 7×7 type-A masked convolution (1 → {c} channels), then {l} 3×3 type-B masked "
          "convolution(s), ReLU after each, a 1×1 convolution to one logit per pixel; loss: binary cross-entropy of "
          "every pixel of the image with itself as the target.", c=config.channels, l=config.num_layers),
        _n("Training (both networks, the same initial weights and batches): Adam at `lr` = {lr:g}, batch {b}, {n} "
           "epoch, {s} steps; {tm:.0f} s (masked) and {tu:.0f} s (unmasked).",
           "Training (both networks, the same initial weights and batches): Adam at `lr` = {lr:g}, batch {b}, {n} "
           "epochs, {s} steps; {tm:.0f} s (masked) and {tu:.0f} s (unmasked).", config.num_epochs, lr=config.lr,
           b=config.batch_size, s=nets["masked"]["steps"], tm=nets["masked"]["train_time_s"],
           tu=nets["unmasked"]["train_time_s"]),
    ])
    doc.table([("model", _("model"), ""), ("nll", _("test NLL (nats per image)"), ".1f"),
               ("per_pixel", _("nats per pixel"), ".4f")],
              [{"model": _("masked PixelCNN"), "nll": nll["masked"], "per_pixel": nll["masked"] / 784},
               {"model": _("independent pixels (Bernoulli)"), "nll": nll["baseline"], "per_pixel": nll["baseline"] / 784},
               {"model": _("unmasked network (not a likelihood)"), "nll": nll["unmasked"],
                "per_pixel": nll["unmasked"] / 784}],
              caption=_("NLL = −Σ over the 784 pixels of log p(x_k | x_<k), averaged over the test images; the "
                        "baseline models each pixel alone by its frequency of 1 in the training images."))
    masked_dep, cheat_dep = nets["masked"]["dependence"], nets["unmasked"]["dependence"]
    doc.bullets([baseline_sentence(nll["masked"], nll["baseline"]), causal_sentence(masked_dep),
                 cheat_sentence(nll["masked"], nll["unmasked"], cheat_dep), ink_sentence(result["ink"])])
    doc.plot(plot_samples(doc.folder.load_arrays("samples"), config.given_rows), "samples",
             _("Left: samples of the masked PixelCNN, drawn pixel by pixel. Middle: the same procedure with the "
               "unmasked network. Right: completions by the masked network of the bottom of test images."))
    doc.para(_("Sampling takes one forward pass per pixel (784 per image), each on the crop of the image the pixel "
               "can see: {t:.1f} s for {s} samples and {c} completions.", t=nets["masked"]["sampling_time_s"],
               s=config.num_samples, c=config.num_completions))
    doc.plot(plot_nll(result), "nll", _("NLL of both networks during training, and the independent-pixel baseline."))
    doc.bullets(findings_bullets(result["findings"], result["networks"]))


def dilation_answer(plain: dict, dilated: dict, gated: dict):
    """The answer's line on dilation and the gated stack, from the deepest stacks' counts."""
    values = {"n": plain["layers"], "ps": plain["seen"], "ds": dilated["seen"], "db": dilated["blind_spot"],
              "gb": gated["blind_spot"]}
    if dilated["blind_spot"] and not gated["blind_spot"]:
        return _("**Dilation** widens the field without more layers or weights ({ds} pixels at {n} layers against "
                 "{ps}) but keeps a blind spot ({db} pixels); the gated two-stack layer removes it ({gb} pixels).",
                 **values)
    return _("**Dilation** widens the field without more layers or weights ({ds} pixels at {n} layers against {ps}); "
             "blind spot: {db} pixels with dilation, {gb} with the gated two-stack layer.", **values)


def _answers(result, config, doc) -> None:
    plain, dilated, gated = (result["fields"][k]["rows"][-1] for k in ("plain", "dilated", "gated"))
    doc.heading(_("Answers to question 5(d)"))
    doc.bullets([
        _("**Use**: masked convolutions make a CNN autoregressive (PixelCNN, WaveNet-style models): one forward pass "
          "gives every conditional p(x_k | x_<k), so training is as fast as for any CNN; here the masked network "
          "models the test images at {m:.1f} nats per image against {b:.1f} for independent pixels.",
          m=result["nll"]["masked"], b=result["nll"]["baseline"]),
        _("**Limits**: the field grows by {per:g} rows per {k}×{k} layer ({n} layers: {s} pixels), so seeing far "
          "needs depth; a plain stack also has a blind spot ({bl} pixels at {n} layers); sampling needs one pass per "
          "pixel; and a mask left out makes the loss a cheat (the unmasked network's {u:.1f}).",
          per=plain["up"] / plain["layers"], k=config.kernel_size, n=plain["layers"], s=plain["seen"],
          bl=plain["blind_spot"], u=result["nll"]["unmasked"]),
        dilation_answer(plain, dilated, gated),
    ])


def report_body(result: dict, config, doc) -> None:
    doc.para(_("**Question** (document 001, question 5(d)). What is a masked convolution used for, what limits it, "
               "and how can dilated convolution relieve that limit?"))
    _fields_section(result, config, doc)
    if None in result["nll"].values():
        doc.note(_("A training diverged, so the PixelCNN part has no numbers."), "warning")
        doc.bullets(findings_bullets(result["findings"], result["networks"]))
        return
    _pixelcnn_section(result, config, doc)
    _answers(result, config, doc)
