"""The deformable-conv lab's report: its sentences, computed from the numbers of the run.

Every sentence that depends on a number is a small function returning a message, tested on made-up
numbers both ways (tests/labs/test_deformable_conv.py).
"""
from __future__ import annotations

from ..report.document import CodeText
from ..report.i18n import _, _n, join
from .training_problems import findings_bullets
from .deformable_conv_plots import (plot_sampling, plot_spread_scatter, plot_sweep, plot_sweep_images,
                                    plot_training)

#: a difference counts as real beyond this many standard errors (about 95% two-sided)
NOISE_Z = 2.0
#: a new deformable network "is the plain one" when their logits differ by less than this (float32 rounding)
SAME_START = 1e-5


def start_sentence(start: dict, modulation: bool):
    """Whether the two networks started as the same function (they must without modulation)."""
    values = {"d": start["max_logit_difference"], "o": start["max_offset"]}
    if modulation:
        return _("With modulation the new deformable layers read the regular grid (largest offset {o:.1e}) with "
                 "every tap weighted by `sigmoid(0) = 0.5`, so the two networks start as different functions "
                 "(largest logit difference {d:.2e}).", **values)
    if start["max_logit_difference"] < SAME_START and start["max_offset"] == 0:
        return _("Checked before training: every offset of the new deformable network is exactly 0 and its logits "
                 "equal the plain network's to {d:.1e}, so both start as the same function and only the offsets "
                 "can make them differ.", **values)
    return _("Before training the deformable network DIFFERS from the plain one (largest offset {o:.2e}, largest logit "
             "difference {d:.2e}): the comparison does not start from the same function.", **values)


def difference_sentence(cmp: dict, images):
    """Accuracy of the deformable network minus the plain one's on ``images``, judged against its
    paired standard error: a win or a loss only beyond NOISE_Z standard errors."""
    values = {"images": images, "d": cmp["diff"], "se": cmp["se_diff"], "z": NOISE_Z, "n": cmp["n"],
              "a": cmp["only_a"], "b": cmp["only_b"]}
    if abs(cmp["diff"]) <= NOISE_Z * cmp["se_diff"]:
        return _("On {images} ({n} images) the difference, deformable minus plain, is {d:+.2%} ± {se:.2%}: within "
                 "{z:g} standard errors of 0, so this run shows no real difference (the plain network alone was "
                 "right on {a} images, the deformable alone on {b}).", **values)
    if cmp["diff"] > 0:
        return _("On {images} ({n} images) the deformable network is better by {d:+.2%} ± {se:.2%}, more than {z:g} "
                 "standard errors (it alone was right on {b} images, the plain network alone on {a}).", **values)
    return _("On {images} ({n} images) the deformable network is worse by {d:+.2%} ± {se:.2%}, more than {z:g} "
             "standard errors (the plain network alone was right on {a} images, the deformable alone on {b}).",
             **values)


def strength(r: float):
    """Words for |r|: weak below 0.3, moderate below 0.6, else strong (Cohen's rough bands)."""
    a = abs(r)
    return _("weak") if a < 0.3 else _("moderate") if a < 0.6 else _("strong")


def correlation_sentence(corr: dict | None, what):
    """Pearson's r between the learned points' spread and a transform parameter, with its 95% interval."""
    if corr is None:
        return _("The spread of the learned points does not vary over these images, so it has no correlation "
                 "with {what}.", what=what)
    values = {"what": what, "r": corr["r"], "lo": corr["low"], "hi": corr["high"], "n": corr["n"],
              "strength": strength(corr["r"])}
    if corr["low"] > 0:
        return _("The spread of the learned points rises with {what} ({strength} link): Pearson's r = {r:.2f} over "
                 "{n} moved test images (95% interval {lo:.2f} to {hi:.2f}, above 0).", **values)
    if corr["high"] < 0:
        return _("The spread of the learned points falls as {what} grows ({strength} link): Pearson's r = {r:.2f} "
                 "over {n} moved test images (95% interval {lo:.2f} to {hi:.2f}, below 0).", **values)
    return _("No clear link between the spread of the learned points and {what}: Pearson's r = {r:.2f} over {n} "
             "moved test images, and its 95% interval ({lo:.2f} to {hi:.2f}) contains 0.", **values)


#: changes smaller than this (image pixels) are float rounding: the regular grid does not move
FIXED = 1e-9


def sweep_sentence(change: dict, model):
    """How the mean spread changes from the smallest to the largest scale of the sweep, against the
    object's own growth (the ratio of the scales)."""
    values = {"model": model, "s0": change["from_scale"], "s1": change["to_scale"], "c": change["change"],
              "se": change["se"], "ratio": change["ratio"], "z": NOISE_Z,
              "grow": change["to_scale"] / change["from_scale"]}
    if abs(change["change"]) < FIXED and change["se"] < FIXED:
        return _("`{model}`: the points do not move with the object: the same grid at every scale.", **values)
    if abs(change["change"]) <= NOISE_Z * change["se"]:
        return _("`{model}`: from scale {s0:g} to {s1:g} the mean spread changes by {c:+.2f} ± {se:.2f} image "
                 "pixels, within {z:g} standard errors of 0: no clear change with the object's size.", **values)
    if change["change"] > 0:
        return _("`{model}`: from scale {s0:g} to {s1:g} (the object × {grow:.2f}) the mean spread grows by {c:+.2f} "
                 "± {se:.2f} image pixels (× {ratio:.2f}): the points spread out as the object gets bigger.", **values)
    return _("`{model}`: from scale {s0:g} to {s1:g} (the object × {grow:.2f}) the mean spread shrinks by {c:+.2f} ± "
             "{se:.2f} image pixels (× {ratio:.2f}): the points draw together as the object gets bigger.", **values)


def widening_sentence(spread: dict):
    """How much wider than the regular grid the learned points read, and how many fall off the image."""
    values = {"r": spread["regular"], "l": spread["learned_mean"], "x": spread["learned_mean"] / spread["regular"],
              "out": spread["outside_learned"], "out_r": spread["outside_regular"]}
    if spread["learned_mean"] > 1.5 * spread["regular"]:
        return _("The learned points spread {x:.1f} times as wide as the regular grid ({l:.2f} against {r:.2f} image "
                 "pixels), and {out:.1%} of them fall outside the image (regular grid: {out_r:.1%}): much of what the "
                 "offsets learned is a wider field of view, which the plain network's 3×3 stack lacks. This "
                 "comparison cannot tell a wider field apart from following the object's shape.", **values)
    return _("The learned points spread {x:.2f} times as wide as the regular grid ({l:.2f} against {r:.2f} image "
             "pixels; {out:.1%} outside the image): the offsets did not mainly widen the field.", **values)


def gap_sentence(gap: dict):
    """Whether the deformable network's gain is larger on the moved images than on the same images as they are."""
    values = {"g": gap["gap"], "se": gap["se"], "z": NOISE_Z}
    if abs(gap["gap"]) <= NOISE_Z * gap["se"]:
        return _("The deformable network's gain on the moved images minus its gain on the same images as they are: "
                 "{g:+.2%} ± {se:.2%}, within noise: the gain is not specific to moved images.", **values)
    if gap["gap"] > 0:
        return _("The deformable network's gain is larger on the moved images than on the same images as they are "
                 "by {g:+.2%} ± {se:.2%}: the deformable layers help more where the geometry varies.", **values)
    return _("The deformable network's gain is smaller on the moved images than on the same images as they are by "
             "{g:+.2%} ± {se:.2%}.", **values)


def tap_sentence(tap: dict):
    """Where the first deformable layer's centre tap reads, and its four bilinear weights."""
    weights = join([_("G({qh}, {qw}) = {w:.3f}", qh=w["q"][0], qw=w["q"][1], w=w["weight"]) for w in tap["weights"]])
    return _("Example from the trained network (first deformable layer, centre unit {unit}, centre tap): a "
             "regular convolution reads its input at ({r0:g}, {r1:g}); the learned offset is ({dh:+.2f}, {dw:+.2f}), "
             "so the layer reads at ({p0:.2f}, {p1:.2f}), a fractional point, interpolated from its four neighbours "
             "with weights {weights} (sum {s:.3f}).", unit=join(tap["unit"]), r0=tap["regular"][0],
             r1=tap["regular"][1], dh=tap["offset"][0], dw=tap["offset"][1], p0=tap["point"][0], p1=tap["point"][1],
             weights=weights, s=sum(w["weight"] for w in tap["weights"]))


def _setup(result, config, doc) -> None:
    d, models = result["data"], result["models"]
    doc.heading(_("Setup"))
    lo, hi = config.scale_range
    doc.bullets([
        _("Data: Fashion-MNIST ({names}), {n_train} training images ({moved}) and {n_test} test images; each test "
          "image is also moved once at random: rotation within ±{rot:g}°, scale {lo:g} to {hi:g}, shift within "
          "±{t:g} pixels per axis (SciPy's affine transform, bilinear, seed {seed}).", names=join(d["class_names"]),
          n_train=d["n_train"], n_test=d["n_test"], rot=config.max_rotation, lo=lo, hi=hi, t=config.max_translation,
          seed=config.seed, moved=_("moved the same way") if config.transform_train else _("as they are")),
        _("Networks: four 3×3 convolutions with {c} channels and strides 1, 2, 1, 2, each followed by BatchNorm and "
          "ReLU, global average pooling and a linear layer. The deformable network replaces the last {k} "
          "convolutions by `DeformConv2d` (modulation: {m}); {p} and {q} parameters.", c=join(config.channels),
          k=config.deformable_layers, m=_("yes") if config.modulation else _("no"),
          p=models["plain"]["num_parameters"], q=models["deformable"]["num_parameters"]),
        _n("Training: the same initial weights (seed {seed}), the same batches, Adam at `lr` = {lr:g}, batch {b}, "
           "{n} epoch: {s} steps each; {tp:.0f} s (plain) and {td:.0f} s (deformable).",
           "Training: the same initial weights (seed {seed}), the same batches, Adam at `lr` = {lr:g}, batch {b}, "
           "{n} epochs: {s} steps each; {tp:.0f} s (plain) and {td:.0f} s (deformable).", config.num_epochs,
           seed=config.seed, lr=config.lr, b=config.batch_size, s=models["plain"]["steps"],
           tp=models["plain"]["train_time_s"], td=models["deformable"]["train_time_s"]),
    ])


def _offsets_section(result, config, doc) -> None:
    start = result["start"]
    branch = start["offset_branch"]
    k = branch["out_channels"] // (3 if config.modulation else 2)
    doc.heading(_("What an offset is and how it is computed"))
    doc.math(r"y(p_0) = \sum_{n} w(p_n)\, x(p_0 + p_n + \Delta p_n(p_0))")
    doc.para(_("A regular 3×3 convolution reads its input on a fixed grid of 9 taps `p_n` around each output "
               "position `p_0`. A deformable one moves each tap by an offset `Δp_n(p_0)`, a pair (Δh, Δw) of "
               "real numbers that is different at every output position and for every input image."))
    doc.para(_("The offsets are computed from the same input by a convolution of their own (`conv_offset`): "
               "{cin} input channels, {cout} output channels (a pair per tap: 2 × {k}), kernel {kh}×{kw}, stride "
               "{s} and padding {pad} like the layer itself, so it gives one offset pair per tap and output "
               "position. Its weights and bias start at zero (largest |weight| before training: {w:g}) and learn "
               "from the loss like every other weight.", cin=branch["in_channels"], cout=branch["out_channels"],
               k=k, kh=branch["kernel_size"][0], kw=branch["kernel_size"][1], s=branch["stride"][0],
               pad=branch["padding"], w=branch["weight_abs_max"]))
    doc.para(start_sentence(start, config.modulation))
    doc.math(r"x(p) = \sum_q G(q, p)\, x(q),\quad G(q, p) = \max(0, 1 - |q_h - p_h|)\,\max(0, 1 - |q_w - p_w|)")
    doc.para(_("A moved tap falls between pixels; its value is interpolated **bilinearly** (not binomially, as "
               "the course's answer writes): a product of one linear weight per axis, non-zero only for the four "
               "surrounding pixels, summing to 1."))
    tap = result["models"]["deformable"].get("tap_example")
    if tap:
        doc.para(tap_sentence(tap))


def _accuracy_section(result, config, doc) -> None:
    doc.heading(_("Accuracy"))
    cmp = result["comparison"]
    rows = []
    for kind, acc_key, se_key in (("plain", "acc_a", "se_a"), ("deformable", "acc_b", "se_b")):
        rows.append({"model": CodeText(kind), "original": cmp["original"][acc_key],
                     "original_se": cmp["original"][se_key], "moved": cmp["moved"][acc_key],
                     "moved_se": cmp["moved"][se_key]})
    doc.table([("model", _("network"), ""), ("original", _("test images as they are"), ".2%"),
               ("original_se", _("standard error"), ".2%"), ("moved", _("moved test images"), ".2%"),
               ("moved_se", _("standard error"), ".2%")], rows,
              caption=_("Binomial standard error `sqrt(p(1-p)/n)` of each accuracy. The difference between the "
                        "networks is measured on the same images, so its standard error comes from the images on "
                        "which they disagree (paired, as McNemar's test)."))
    doc.bullets([difference_sentence(cmp["original"], _("the test images as they are")),
                 difference_sentence(cmp["moved"], _("the moved test images")), gap_sentence(result["gain_gap"])])
    doc.para(_("These standard errors cover the choice of test images only: another seed would also change the "
               "initial weights and the batches, which this single run does not measure. The deformable network "
               "also has {extra} more parameters (its offset branches).",
               extra=result["models"]["deformable"]["num_parameters"] - result["models"]["plain"]["num_parameters"]))
    doc.table([("scale", _("scale"), "g"), ("acc_a", _("plain"), ".2%"), ("acc_b", _("deformable"), ".2%"),
               ("diff", _("difference"), "+.2%"), ("se_diff", _("standard error"), ".2%"),
               ("beyond", _("beyond {z:g} standard errors", z=NOISE_Z), "")],
              [{**r, "beyond": _("yes") if abs(r["diff"]) > NOISE_Z * r["se_diff"] else _("no")}
               for r in result["by_scale"]],
              caption=_("Accuracy on the first {n} test images rescaled by each factor (no rotation or shift); the "
                        "difference is deformable minus plain, paired. Training scales: {lo:g} to {hi:g} (or 1 when "
                        "the training images are not moved).", n=result["by_scale"][0]["n"], lo=config.scale_range[0],
                        hi=config.scale_range[1]))


def _sampling_section(result, doc) -> None:
    arrays = doc.folder.load_arrays("sampling")
    spread = result["spread"]
    doc.heading(_("Where the taps land"))
    doc.para(_("For the centre unit of the last layer, each of its 9 taps reads a point of the layer below, where "
               "each of 9 taps reads again: {p} points, placed in the image at the centre of the plain "
               "convolutions below them. The plain network reads the same regular grid on every image; the "
               "deformable one reads where its offsets send it.", p=9 ** result["models"]["plain"]["depth"]))
    doc.plot(plot_sampling(arrays), "sampling_points",
             _("Moved test images. Top: the regular grid (plain network). Bottom: the learned sampling points "
               "(deformable network); a darker dot is a point read several times."))
    doc.para(_("Spread of the points (root-mean-square distance from their mean): {r:.2f} image pixels for the "
               "regular grid; {l:.2f} on average (standard deviation {sd:.2f}) for the learned points over {n} "
               "moved test images.", r=spread["regular"], l=spread["learned_mean"], sd=spread["learned_sd"],
               n=spread["n"]), widening_sentence(spread))
    doc.plot(plot_sweep_images(arrays), "scale_sweep_images",
             _("One test image rescaled (no rotation or shift), with the learned points of the centre unit."))
    doc.plot(plot_sweep(result), "scale_sweep",
             _("The mean spread of the points and the accuracy on the test images rescaled by each factor."))
    doc.bullets([sweep_sentence(result["sweep_change"][kind], kind) for kind in ("deformable", "plain")])


def _learned_section(result, doc) -> None:
    offsets = result["models"]["deformable"]["offsets"]
    doc.heading(_("What the offsets learned"))
    names = {"original": _("as they are"), "moved": _("moved")}
    rows = [{"layer": i + 1, "images": names[which], **s} for which, layers in offsets.items()
            for i, s in enumerate(layers)]
    doc.table([("layer", _("deformable layer"), "d"), ("images", _("test images"), ""),
               ("mean_abs", _("mean |Δp| (input pixels)"), ".2f"), ("mean_abs_image", _("(image pixels)"), ".2f"),
               ("p90_abs", _("90th percentile"), ".2f"), ("share_above_1", _("share above 1 pixel"), ".1%"),
               ("mean_dh", _("mean Δh"), "+.2f"), ("mean_dw", _("mean Δw"), "+.2f")], rows,
              caption=_("|Δp| is the length of a tap's offset pair, over every tap, output position and image; an "
                        "input pixel of a layer spans as many image pixels as the strides below it."))
    corr = result["correlation"]
    doc.bullets([correlation_sentence(corr["scale"], _("the image's scale")),
                 correlation_sentence(corr["rotation"], _("the size of the image's rotation"))])
    doc.plot(plot_spread_scatter(doc.folder.load_arrays("sampling"), result["spread"]["regular"]), "spread_scatter",
             _("Spread of the learned points of each moved test image against the scale and the rotation it was "
               "given; the line is the regular grid's spread."))


def _answers(result, config, doc) -> None:
    moved, spread = result["comparison"]["moved"], result["spread"]
    noise = abs(moved["diff"]) <= NOISE_Z * moved["se_diff"]
    doc.heading(_("Answers to question 4(c)"))
    doc.bullets([
        _("**Grid sampling** (4(c), first part): the plain network reads a fixed grid (spread {r:.2f} image pixels "
          "for every image); the deformable one reads points that depend on the image (spread {l:.2f} ± {sd:.2f}, "
          "{x:.1f} times the grid's), so its field can stretch, shrink and turn with the object. Under rotation, "
          "scale and shift it reached {b:.2%} against {a:.2%} ({diff}).", r=spread["regular"],
          l=spread["learned_mean"], sd=spread["learned_sd"], x=spread["learned_mean"] / spread["regular"],
          b=moved["acc_b"], a=moved["acc_a"],
          diff=_("within noise") if noise else _("{d:+.2%} ± {se:.2%}", d=moved["diff"], se=moved["se_diff"])),
        _("**Offsets** (4(c), second part): an offset is the learned displacement (Δh, Δw) of one tap at one output "
          "position, computed by a convolution over the same input with 2 × 9 output channels, initialised to zero; "
          "after training the first deformable layer moves its taps by {m:.2f} input pixels on average.",
          m=result["models"]["deformable"]["offsets"]["moved"][0]["mean_abs"]),
        gap_sentence(result["gain_gap"]),
    ])


def report_body(result: dict, config, doc) -> None:
    doc.para(_("**Question** (document 001, question 4(c)). How does a deformable convolution sample its input, "
               "compared with a regular convolution's grid? How can it adapt to geometric transformations, and "
               "what are its offsets and how are they computed?"))
    _setup(result, config, doc)
    _offsets_section(result, config, doc)
    if "comparison" not in result:
        doc.note(_("A training diverged, so the networks are not compared."), "warning")
        doc.bullets(findings_bullets(result["findings"], result["models"]))
        return
    _accuracy_section(result, config, doc)
    _sampling_section(result, doc)
    _learned_section(result, doc)
    doc.heading(_("Training"))
    doc.plot(plot_training(result), "training",
             _("Left: accuracy on the moved test images after each epoch. Right: the training loss of every step "
               "(running mean)."))
    doc.bullets(findings_bullets(result["findings"], result["models"]))
    _answers(result, config, doc)
