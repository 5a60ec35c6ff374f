"""The committee lab's report, built from its result and saved arrays only (no training here)."""
from __future__ import annotations

from ..report.i18n import _, join
from .committee_plots import plot_corr, plot_fixes, plot_k_curves, plot_preprocessing, plot_squared_errors
from .committee_text import (beats_sentence, bound_sentence, class_label, closeness_sentence, committee_label,
                             correlation_sentence, fixes_sentence, k_curve_sentence, members_sentence,
                             per_class_sentence, prediction_sentence, setting_text, verdict_sentence)
from .training_problems import findings_bullets


def _setup(result: dict, config, doc) -> None:
    d = result["data"]
    if config.arch == "cnn":
        arch = _("CNN (`models.cnn.make_cnn`: conv channels {ch}, hidden fully connected layer {h}), batches split "
                 "over {k} cores (`nn.DataParallel`)", ch=join(config.channels), h=config.hidden, k=result["shards"])
    else:
        arch = _("MLP 784 → {h} → 10 (ReLU)", h=join(config.mlp_hidden))
    if config.distortions:
        distortions = _("Training images distorted afresh every epoch: elastic `alpha` = {a:g}, `sigma` = {s:g}; "
                        "rotation ±{r:g}°, scale ±{sc:g}, shear ±{sh:g}.", a=config.alpha, s=config.sigma,
                        r=config.rotation, sc=config.scale, sh=config.shear)
    else:
        distortions = _("Training images not distorted.")
    train_s = sum(r["train_time_s"] for r in result["members"])
    dist_s = sum(r["distort_time_s"] for r in result["members"])
    doc.bullets([
        _("Data: Fashion-MNIST, 10 classes: {n} of {nt} training and {t} of {tt} test images (a random subset, seed "
          "{s}).", n=d["n_train"], nt=d["n_train_total"], t=d["n_test"], tt=d["n_test_total"], s=config.seed),
        _("Members: {arch}; Adam, `lr` = {lr:g} decayed by a cosine per epoch, batch {b}, {e} epochs each. Member i "
          "is trained on preprocessing i with seed i; the seed-only control uses `{v0}` with seeds 0..N-1.",
          arch=arch, lr=config.lr, b=config.batch_size, e=config.num_epochs, v0=config.variants[0]),
        distortions,
        _("Training took {t:.0f} s in all ({d:.0f} s of it distorting).", t=train_s, d=dist_s),
    ])


def _question_21(result: dict, doc) -> None:
    blocks = list(result["committees"].values())
    doc.heading(_("Question 2.1: the committee's squared error against its members'"))
    doc.para(_("Member n outputs class probabilities `p_n(x)`; against the one-hot target `t(x)` its error is "
               "`e_n = p_n - t`. `E_AV` is the members' mean of `E|e_n|²` over the test images and `E_COM` the same "
               "for the averaged output. Since `E_COM = (1/N²)Σ_n Σ_m E[e_n·e_m]`, it equals `E_AV/N` when the "
               "members' errors are uncorrelated, and `E_COM ≤ E_AV` on every image (Cauchy-Schwarz)."))
    rows = [{"committee": committee_label(b["name"]), **{k: b["squared_error"][k] for k in (
        "N", "E_AV", "E_AV_over_N", "E_COM", "mean_correlation", "equal_correlation_prediction")},
        "ratio": b["squared_error"]["E_COM"] / b["squared_error"]["E_AV"]} for b in blocks]
    doc.table([("committee", _("committee"), ""), ("N", "N", "d"), ("E_AV", "`E_AV`", ".4f"),
               ("E_AV_over_N", "`E_AV/N`", ".4f"), ("E_COM", "`E_COM`", ".4f"), ("ratio", "`E_COM/E_AV`", ".3f"),
               ("mean_correlation", _("r̄: mean correlation of the error vectors"), ".3f"),
               ("equal_correlation_prediction", "`E_AV(r̄ + (1-r̄)/N)`", ".4f")], rows,
              caption=_("Squared errors of the members' test probabilities; r̄ is the mean of "
                        "`E[e_n·e_m]/√(E|e_n|² E|e_m|²)` over the pairs of members."))
    lines = []
    for b in blocks:
        se = b["squared_error"]
        lines += [bound_sentence(b["name"], se), closeness_sentence(b["name"], se), prediction_sentence(b["name"], se)]
    doc.bullets(lines)
    doc.plot(plot_squared_errors(blocks), "squared_error",
             _("`E_AV`, `E_COM` and `E_AV/k` of the first k members of each committee."))


def _observations(result: dict, config, doc) -> None:
    blocks = result["committees"]
    main = blocks["preprocessing"]
    control = blocks.get("seed-only")
    lines = [beats_sentence(main, setting_text(result, config)), k_curve_sentence(main),
             fixes_sentence(result["fixes"])]
    if control is not None:
        lines += [correlation_sentence(main, control), verdict_sentence(main, control, result["paired_test"]),
                  members_sentence(main, control)]
    lines.append(per_class_sentence(result["per_class"], main["members"][0]))
    doc.bullets([line for line in lines if line is not None])


def _tables(result: dict, doc) -> None:
    blocks = list(result["committees"].values())
    doc.table([("committee", _("committee"), ""), ("members", _("members"), "d"),
               ("committee_error", _("committee error"), ".2%"), ("best_member_error", _("best member"), ".2%"),
               ("mean_member_error", _("mean member"), ".2%"),
               ("mean_corr", _("mean correlation of the 0/1 errors"), ".3f")],
              [{**b, "committee": committee_label(b["name"]), "members": len(b["members"])} for b in blocks],
              caption=_("Test errors; the correlation is the Pearson correlation of the members' 0/1 errors."))
    doc.heading(_("Members"), level=3)
    doc.table([("member", _("member"), ""), ("in", _("in"), ""), ("test_error", _("test error"), ".2%"),
               ("final_train_loss", _("final training loss"), ".4f"), ("train_time_s", _("time (s)"), ".0f")],
              [{**r, "in": join([committee_label(n) for n in r["in"].split("+") if n])} for r in result["members"]])
    doc.heading(_("Test error per class"), level=3)
    columns = [("class", _("class"), ""), ("n", _("images"), "d"),
               ("first_member", _("member `{m}`", m=blocks[0]["members"][0]), ".2%"),
               ("other_members_mean", _("other members (mean)"), ".2%")]
    columns += [(f"{b['name']}_committee", _("{c} committee", c=committee_label(b["name"])), ".2%") for b in blocks]
    doc.table(columns, [{**r, "class": class_label(r["class"])} for r in result["per_class"]])
    doc.heading(_("Error of the first k members averaged"), level=3)
    doc.table([("k", "k", "d")] + [(b["name"], _("{c} committee", c=committee_label(b["name"])), ".2%")
                                   for b in blocks],
              [{"k": k + 1, **{b["name"]: b["k_curve"][k] for b in blocks}} for k in range(len(blocks[0]["k_curve"]))])


def write_report(result: dict, config, doc) -> None:
    doc.para(_("**Question.** What is a committee of networks, how does it improve on its members, and does the "
               "paper's preprocessing keep the members' errors less dependent than training from other seeds?"))
    _setup(result, config, doc)
    _question_21(result, doc)
    doc.heading(_("Question 2.2: preprocessing diversity against seed diversity"))
    doc.para(_("Observations (computed from this run):"))
    _observations(result, config, doc)
    _tables(result, doc)
    doc.heading(_("Training problems"))
    doc.bullets(findings_bullets(result["findings"]))
    doc.heading(_("Figures"))
    blocks = list(result["committees"].values())
    doc.plot(plot_k_curves(blocks), "k_curve", _("Test error of the average of the first k members, and of each "
                                                 "member against its committee."))
    doc.plot(plot_corr(blocks), "error_correlation", _("Correlation of the members' 0/1 test errors."))
    images = doc.folder.load_arrays("images")
    if len(images["fixed_images"]):
        doc.plot(plot_fixes(images, result["fixes"], result["data"]["class_names"]), "fixes",
                 _("Test images the committee gets right and its best member wrong, the most-overruled first."))
    doc.plot(plot_preprocessing(images["views"], config.variants), "preprocessing",
             _("Training images under each member's preprocessing, then two fresh distortions of the first."))
