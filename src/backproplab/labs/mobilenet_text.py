"""The mobilenet lab's sentences, each computed from the numbers it states.

Every function returns a translatable message; those that can come out more than one way (a
difference beyond the noise or within it, a count that follows α² or not, a goal met, missed or
not tested) are tested on made-up numbers both ways in tests/labs/test_mobilenet.py.
"""
from __future__ import annotations

import math

from ..report.i18n import N_, _, _n, join

LABELS = {"cnn": N_("plain CNN"), "v1": N_("MobileNet V1"), "v2": N_("MobileNet V2")}
#: a difference of test accuracies counts as real beyond this many standard errors
NOISE_SE = 2.0
#: a MAC ratio "follows" α² (ρ²) when within this fraction of it
SCALING_RTOL = 0.10
#: below this Spearman correlation, MACs "rank latency poorly"
RANK_WELL = 0.7
#: the goal of the lab's README: MobileNet V2 at width 1.0 reaches 94.5% test accuracy on Fashion-MNIST
#: padded to 32 px, in 30 epochs on the full data (60000 training and 10000 test images)
GOAL = {"model": "v2", "width": 1.0, "resolution": 32, "dataset": "fashion-mnist", "num_epochs": 30,
        "train_size": None, "test_size": None, "acc": 0.945}


def label(family: str):
    return _(LABELS[family])


def model_name(row: dict):
    """'MobileNet V2 0.5, 24 px' as a message."""
    return _("{model} {width}, {side} px", model=label(row["model"]), width=float(row["width"]), side=row["resolution"])


def data_sentence(facts: dict, asked: str):
    """Which data, how much, from where; says so when CIFAR-10 was wanted (auto) and not found."""
    text = _n("Data: {name}, {n_train} training and {n_test} test images of {n} channel, {k} classes, 32×32; "
              "source `{source}`.", "Data: {name}, {n_train} training and {n_test} test images of {n} channels, "
              "{k} classes, 32×32; source `{source}`.", facts["channels"], name=facts["name"],
              n_train=facts["n_train"], n_test=facts["n_test"], k=facts["num_classes"], source=facts["source"])
    if facts["dataset"] == "fashion-mnist" and asked == "auto":
        return text + _("CIFAR-10, the course's data set, was not found (no `--data-dir` with its files, no "
                        "`$BACKPROPLAB_CIFAR10`), so this run uses Fashion-MNIST, its 28×28 images zero-padded to "
                        "32×32. `--dataset cifar10 --download` fetches CIFAR-10.")
    if facts["padded"]:
        return text + _("The 28×28 images are zero-padded to 32×32.")
    return text


def recipe_sentence(config, device, engines: list[str]):
    augment = (_("random crop (zero padding 4 px at 32 px) and horizontal flip") if config.flip
               else _("random crop (zero padding 4 px at 32 px)"))
    return _("Recipe (the GPU study's): {epochs}, batch {b}, SGD with Nesterov momentum 0.9, peak learning rate "
             "{lr:g} after {w:g} warm-up epochs, then cosine to 0; label smoothing {ls:g}; weight decay {wd:g} on "
             "dense conv and linear weights; {augment}; seed {seed}. CIFAR variants of the networks (the first two "
             "stride-2 layers at stride 1, so a 32×32 input ends at 4×4). Trained on {device}, engine {engines}.",
             epochs=_n("{n} epoch", "{n} epochs", config.num_epochs), b=config.batch_size, lr=config.lr,
             w=config.warmup_epochs, ls=config.label_smoothing, wd=config.weight_decay, augment=augment,
             seed=config.seed, device=device, engines=join(engines, code=True))


def paper_sentence(table: list[dict]):
    """How many rows of the papers' tables the counter reproduces, naming those it does not."""
    bad = [r for r in table if not r["matches"]]
    if not bad:
        return _("The counter reproduces all {n} rows of the papers' ImageNet tables to their printed precision "
                 "(MACs within max(1M, 0.05%), parameters within 0.05M; V2's parameters 3.40-3.55M).", n=len(table))
    return _("The counter reproduces {k} of {n} rows of the papers' ImageNet tables; it disagrees on {rows}.",
             k=len(table) - len(bad), n=len(table), rows=join([model_name(r) for r in bad]))


def separable_sentence(ratios: list[dict]):
    blocks = [r for r in ratios if r["formula_ratio"] is not None]
    worst = max(abs(r["measured_ratio"] - r["formula_ratio"]) for r in blocks)
    together = sum(r["separable_macs"] for r in blocks) / sum(r["standard_macs"] for r in blocks)
    whole = ratios[-1]["measured_ratio"]
    return _("Block by block, the separable blocks cost `1/N + 1/9` of a standard 3×3 convolution (largest "
             "difference {d:.1e}); all blocks together cost {b:.4f} of the standard ones, and the whole MobileNet V1 "
             "{r:.4f} of the plain CNN's MACs ({x:.1f}× fewer): the first convolution and the classifier are the "
             "same in both.", d=worst, b=together, r=whole, x=1 / whole)


def accuracy_gap(a: float, b: float, n_test: int) -> tuple[float, float]:
    """(b - a, standard error of the difference) of two test accuracies on ``n_test`` images each."""
    se = math.sqrt(max(a * (1 - a), 0.0) / n_test + max(b * (1 - b), 0.0) / n_test)
    return b - a, se


def compare_sentence(base: dict, other: dict, n_test: int):
    """``other`` against ``base``: its share of the MACs and parameters, and the accuracy difference against
    its noise."""
    diff, se = accuracy_gap(base["test_acc"], other["test_acc"], n_test)
    common = dict(a=model_name(other), b=model_name(base), m=other["macs"] / base["macs"],
                  p=other["params"] / base["params"], x=other["test_acc"], y=base["test_acc"], d=abs(diff) * 100,
                  se=se * 100, k=NOISE_SE, n=n_test)
    if abs(diff) <= NOISE_SE * se:
        return _("{a} needs {m:.3g} of the MACs and {p:.3g} of the parameters of {b}; their test accuracies "
                 "({x:.2%} and {y:.2%}) differ by {d:.2f} points, within {k:g} standard errors ({se:.2f} points "
                 "on {n} test images): no clear difference.", **common)
    if diff > 0:
        return _("{a} needs {m:.3g} of the MACs and {p:.3g} of the parameters of {b}, and its test accuracy is "
                 "{d:.2f} points higher ({x:.2%} against {y:.2%}; more than {k:g} standard errors of {se:.2f} "
                 "points on {n} test images).", **common)
    return _("{a} needs {m:.3g} of the MACs and {p:.3g} of the parameters of {b}, and its test accuracy is "
             "{d:.2f} points lower ({x:.2%} against {y:.2%}; more than {k:g} standard errors of {se:.2f} points on "
             "{n} test images).", **common)


#: a time "follows" the MACs when its fraction is within this factor of the MACs' fraction
TIME_FACTOR = 2.0


def time_verdict(time_fraction: float, macs_fraction: float) -> str:
    """"follows", "lags" (the time falls far less than the MACs) or "beats" (far more), within TIME_FACTOR."""
    if time_fraction > TIME_FACTOR * macs_fraction:
        return "lags"
    if time_fraction < macs_fraction / TIME_FACTOR:
        return "beats"
    return "follows"


VERDICTS = {"follows": N_("in line with the MACs, within a factor of 2"),
            "lags": N_("far more than the MACs suggest"), "beats": N_("far less than the MACs suggest")}


def speed_sentence(base: dict, other: dict):
    """Do the MAC savings of ``other`` over ``base`` show in its time per epoch and its batch-1 forward time?"""
    m = other["macs"] / base["macs"]
    t = other["s_per_epoch"] / base["s_per_epoch"]
    lat = other["latency_b1_ms"] / base["latency_b1_ms"]
    vt, vl = time_verdict(t, m), time_verdict(lat, m)
    text = _("On {device}, {a} needs {m:.3g} of the MACs of {b}, {t:.3g} of its time per epoch ({vt}) and {l:.3g} "
             "of its batch-1 forward time ({vl}).", device=other["device"], a=model_name(other), b=model_name(base),
             m=m, t=t, l=lat, vt=_(VERDICTS[vt]), vl=_(VERDICTS[vl]))
    if "lags" in (vt, vl):
        return text + _("MACs alone do not set the time here: depthwise convolutions do few operations per byte "
                        "they move, and every layer costs a launch.")
    return text


def multiplier_sentence(row: dict):
    """One model's MACs and parameters against its family's base model and the multiplier's square."""
    width = row["multiplier"] == "width"
    common = dict(model=label(row["model"]), f=row["factor"], r=row["macs_ratio"], e=row["predicted"],
                  q=row["macs_ratio"] / row["predicted"], p=row["params_ratio"], w=row["width"],
                  side=row["resolution"], t=SCALING_RTOL)
    if width:
        head = _("{model} at width α = {w:g}: {r:.3f} of the base width's MACs, α² = {e:.3f}", **common)
    else:
        head = _("{model} at {side} px (ρ = {f:.3g}): {r:.3f} of the base side's MACs, ρ² = {e:.3f}", **common)
    if abs(row["macs_ratio"] / row["predicted"] - 1) <= SCALING_RTOL:
        verdict = _("(within {t:.0%}: the square law holds);", **common)
    else:
        verdict = _("({q:.3g} times the square: layers whose cost is not quadratic in the multiplier, such as the "
                    "first convolution, the classifier and V2's 1280-channel head, weigh more here);", **common)
    if width:
        params = _("parameters {p:.3f} of the base's.", **common)
    elif abs(row["params_ratio"] - 1) < 1e-12:
        params = _("parameters unchanged (global pooling makes the weights independent of the input side).")
    else:
        params = _("parameters {p:.3f} of the base's.", **common)
    return head + verdict + params


def width_or_side_sentence(thin: dict, small: dict, n_test: int):
    """Two cheaper versions of one family, thinner (``thin``) or on smaller inputs (``small``): which kept more
    accuracy?"""
    diff, se = accuracy_gap(small["test_acc"], thin["test_acc"], n_test)
    common = dict(a=model_name(thin), b=model_name(small), ma=thin["macs"] / 1e6, mb=small["macs"] / 1e6,
                  x=thin["test_acc"], y=small["test_acc"], k=NOISE_SE, se=se * 100)
    if abs(diff) <= NOISE_SE * se:
        return _("At similar cost, {a} ({ma:.3g}M MACs, {x:.2%}) and {b} ({mb:.3g}M MACs, {y:.2%}) are within "
                 "{k:g} standard errors ({se:.2f} points): neither way of saving is clearly better here.", **common)
    if diff > 0:
        return _("At similar cost, thinning kept more accuracy than shrinking the input: {a} ({ma:.3g}M MACs) "
                 "{x:.2%} against {b} ({mb:.3g}M MACs) {y:.2%}.", **common)
    return _("At similar cost, shrinking the input kept more accuracy than thinning: {b} ({mb:.3g}M MACs) {y:.2%} "
             "against {a} ({ma:.3g}M MACs) {x:.2%}.", **common)


def spearman(a: list[float], b: list[float]) -> float | None:
    """Spearman's rank correlation (no ties expected), or None for fewer than 3 pairs."""
    import numpy as np

    if len(a) < 3:
        return None
    ra, rb = np.argsort(np.argsort(a)), np.argsort(np.argsort(b))
    return float(np.corrcoef(ra, rb)[0, 1])


def rank_sentence(rho: float, n: int, what):
    if rho >= RANK_WELL:
        return _("Over the {n} models, MACs rank the {what} well (Spearman ρ = {r:+.2f}).", n=n, what=what, r=rho)
    return _("Over the {n} models, MACs rank the {what} poorly (Spearman ρ = {r:+.2f}, below {t:g}): a model with "
             "fewer MACs is often not the faster one.", n=n, what=what, r=rho, t=RANK_WELL)


def goal_status(config, facts: dict, rows: list[dict]) -> dict:
    """Is the README's V2 goal tested by this run, and met? {"state", "acc", "differs"}.

    states: "met" / "missed" (the goal's own setting), "other_setting" (``differs`` names how this
    run differs), "not_trained" (V2 1.0 at 32 px is not among the models).
    """
    run = {"dataset": facts["dataset"], "num_epochs": config.num_epochs, "train_size": config.train_size,
           "test_size": config.test_size}
    differs = [(k, run[k], GOAL[k]) for k in run if run[k] != GOAL[k]]
    v2 = [r for r in rows if (r["model"], r["width"], r["resolution"]) == (GOAL["model"], GOAL["width"],
                                                                        GOAL["resolution"])]
    if not v2:
        return {"state": "not_trained", "acc": None, "differs": differs}
    acc = v2[0]["test_acc"]
    if differs:
        return {"state": "other_setting", "acc": acc, "differs": differs}
    return {"state": "met" if acc >= GOAL["acc"] else "missed", "acc": acc, "differs": []}


def _setting(key: str, value) -> str:
    """The command-line option that gives ``key`` the value ``value`` (code, not translated)."""
    return f"`--{key.replace('_', '-')} {'None' if value is None else value}`"


def goal_sentence(status: dict):
    g = dict(goal=GOAL["acc"], e=GOAL["num_epochs"])
    if status["state"] == "met":
        return _("MobileNet V2 1.0 at 32 px reached {a:.2%} test accuracy on Fashion-MNIST in {e} epochs on the full "
                 "data: it meets the {goal:.1%} goal.", a=status["acc"], **g)
    if status["state"] == "missed":
        return _("MobileNet V2 1.0 at 32 px reached {a:.2%} test accuracy on Fashion-MNIST in {e} epochs on the full "
                 "data: it misses the {goal:.1%} goal.", a=status["acc"], **g)
    if status["state"] == "not_trained":
        return _("MobileNet V2 1.0 at 32 px was not trained in this run, so the {goal:.1%} goal is not tested.", **g)
    differs = join([_("{run} (the goal's: {goal})", run=_setting(k, v), goal=_setting(k, want))
                    for k, v, want in status["differs"]])
    return _("The {goal:.1%} goal for MobileNet V2 1.0 (Fashion-MNIST at 32 px, {e} epochs, the full data) is not "
             "tested by this run, which differs in {d}; its {a:.2%} says nothing about the goal.", d=differs,
             a=status["acc"], **g)
