"""The committee report's sentences computed from numbers, each a small function tested on made-up
numbers both ways (tests/labs/test_committee.py)."""
from __future__ import annotations

from ..report.i18n import N_, _, join

#: E_COM within this fraction of E_AV/N counts as "close to the uncorrelated value"
NEAR_UNCORRELATED = 0.10
#: the equal-correlation formula "explains" E_COM when it is within this fraction of it
NEAR_PREDICTION = 0.10
#: significance level of the paired test between the two committees
ALPHA = 0.05

#: Fashion-MNIST's class names, translatable
FASHION_NAMES = {"T-shirt/top": N_("T-shirt/top"), "Trouser": N_("Trouser"), "Pullover": N_("Pullover"),
                 "Dress": N_("Dress"), "Coat": N_("Coat"), "Sandal": N_("Sandal"), "Shirt": N_("Shirt"),
                 "Sneaker": N_("Sneaker"), "Bag": N_("Bag"), "Ankle boot": N_("Ankle boot")}
COMMITTEE_NAMES = {"preprocessing": N_("preprocessing"), "seed-only": N_("seed-only")}


def class_label(name: str):
    return _(FASHION_NAMES[name]) if name in FASHION_NAMES else name


def committee_label(name: str):
    return _(COMMITTEE_NAMES[name]) if name in COMMITTEE_NAMES else name


# -- question 2.1: squared errors ------------------------------------------------------------------
def bound_sentence(name: str, se: dict):
    """E_COM ≤ E_AV, checked on every test image."""
    b = se["bound"]
    if b["violations"] == 0:
        return _("**{c}**: `E_COM` = {com:.4f} ≤ `E_AV` = {av:.4f}, and the per-image inequality holds on all {n} "
                 "test images (the committee's squared error is never above its members' mean there).",
                 c=committee_label(name), com=se["E_COM"], av=se["E_AV"], n=b["images"])
    return _("**{c}**: `E_COM` = {com:.4f}, `E_AV` = {av:.4f}, but the per-image inequality fails on {k} of {n} test "
             "images (by up to {x:.2e}): beyond rounding, this contradicts Cauchy-Schwarz and points to a bug.",
             c=committee_label(name), com=se["E_COM"], av=se["E_AV"], k=b["violations"], n=b["images"],
             x=b["largest_excess"])


def closeness_sentence(name: str, se: dict):
    """How E_COM compares with E_AV/N, the value for uncorrelated errors, given the measured correlations."""
    q = se["E_COM"] / se["E_AV_over_N"] if se["E_AV_over_N"] > 0 else float("nan")
    values = dict(c=committee_label(name), com=se["E_COM"], u=se["E_AV_over_N"], n=se["N"], q=q,
                  r=se["mean_correlation"], x=se["cross_terms"])
    if abs(q - 1) <= NEAR_UNCORRELATED:
        return _("**{c}**: `E_COM` = {com:.4f} is within {t:.0%} of `E_AV/N` = {u:.4f} (N = {n}): the members' errors "
                 "are nearly uncorrelated (r̄ = {r:.3f}).", t=NEAR_UNCORRELATED, **values)
    if q > 1:
        return _("**{c}**: `E_COM` = {com:.4f} is {q:.2f} times `E_AV/N` = {u:.4f} (N = {n}): the members' errors are "
                 "correlated (r̄ = {r:.3f}); the cross terms `(1/N²)Σ_(n≠m) E[e_n·e_m]` add {x:.4f}.",
                 **values)
    return _("**{c}**: `E_COM` = {com:.4f} is below `E_AV/N` = {u:.4f} (N = {n}, ×{q:.2f}): the members' errors are "
             "negatively correlated (r̄ = {r:.3f}) and partly cancel; the cross terms add {x:.4f}.",
             **values)


def prediction_sentence(name: str, se: dict):
    """E_AV·(r̄ + (1 - r̄)/N), the equal-variance equal-correlation formula, against the measured E_COM."""
    pred = se["equal_correlation_prediction"]
    if pred is None:
        return _("**{c}**: one member, no correlation to measure.", c=committee_label(name))
    rel = abs(pred - se["E_COM"]) / se["E_COM"] if se["E_COM"] > 0 else float("inf")
    values = dict(c=committee_label(name), p=pred, r=se["mean_correlation"], com=se["E_COM"], d=rel)
    if rel <= NEAR_PREDICTION:
        return _("**{c}**: with the mean correlation r̄ = {r:.3f}, `E_AV(r̄ + (1 - r̄)/N)` = {p:.4f}, within {d:.1%} "
                 "of the measured `E_COM` = {com:.4f}: one number, the mean correlation, accounts for the committee's "
                 "gain.", **values)
    return _("**{c}**: with the mean correlation r̄ = {r:.3f}, `E_AV(r̄ + (1 - r̄)/N)` = {p:.4f} is {d:.1%} away from "
             "the measured `E_COM` = {com:.4f}: the members' error sizes or correlations are too unequal for the "
             "equal-correlation formula.", **values)


# -- question 2.2: classification errors -----------------------------------------------------------
def setting_text(result: dict, config):
    """The setting every claim of the report is measured in."""
    d = result["data"]
    arch = _("CNN members") if config.arch == "cnn" else _("MLP members")
    return _("Fashion-MNIST, 10 classes, {n} training and {t} test images, {arch}, {e} epochs each",
             n=d["n_train"], t=d["n_test"], arch=arch, e=config.num_epochs)


def beats_sentence(block: dict, setting):
    """The committee against its best and mean member, in the named setting."""
    gap = block["best_member_error"] - block["committee_error"]
    if gap > 0:
        return _("In this setting ({s}), the preprocessing committee's test error, {c:.2%}, is below its best single "
                 "member's, {b:.2%} ({g:.2f} points), and below the mean member's {m:.2%}.", s=setting,
                 c=block["committee_error"], b=block["best_member_error"], g=100 * gap, m=block["mean_member_error"])
    return _("In this setting ({s}), the preprocessing committee's test error, {c:.2%}, is not below its best single "
             "member's, {b:.2%}; the mean member has {m:.2%}.", s=setting, c=block["committee_error"],
             b=block["best_member_error"], m=block["mean_member_error"])


def k_curve_sentence(block: dict):
    curve = block["k_curve"]
    best_k = min(range(len(curve)), key=lambda k: curve[k]) + 1
    return _("Averaging the first k members: error {a:.2%} at k = 1, lowest {b:.2%} at k = {k}, {c:.2%} at k = {n}.",
             a=curve[0], b=min(curve), k=best_k, c=curve[-1], n=len(curve))


def fixes_sentence(fix: dict):
    return _("The committee fixes {f} of its best member's (`{m}`) mistakes and breaks {b} of its correct answers.",
             f=fix["count"], m=fix["best_name"], b=fix["broken"])


def correlation_sentence(main: dict, control: dict):
    """Mean pairwise correlation of the 0/1 errors, preprocessing vs seed-only."""
    mc, cc = main["mean_corr"], control["mean_corr"]
    if mc < cc:
        return _("Mean pairwise correlation of the members' 0/1 errors: {a:.3f} with preprocessing diversity, "
                 "{b:.3f} with seed diversity only: lower with preprocessing.", a=mc, b=cc)
    return _("Mean pairwise correlation of the members' 0/1 errors: {a:.3f} with preprocessing diversity, "
             "{b:.3f} with seed diversity only: not lower with preprocessing.", a=mc, b=cc)


def verdict_sentence(main: dict, control: dict, test: dict):
    """Preprocessing vs seed diversity on the committees' errors, with the exact McNemar test."""
    d = control["committee_error"] - main["committee_error"]
    sig = test["p_value"] < ALPHA
    values = dict(a=main["committee_error"], b=control["committee_error"], g=abs(100 * d), wa=test["a_only_right"],
                  wb=test["b_only_right"], p=test["p_value"], alpha=ALPHA)
    if d > 0 and sig:
        head = _("Preprocessing diversity beat seed diversity: committee error {a:.2%} against {b:.2%} for the "
                 "seed-only committee of the same size ({g:.2f} points lower).", **values)
    elif d > 0:
        head = _("Preprocessing diversity gave a lower error than seed diversity, {a:.2%} against {b:.2%} ({g:.2f} "
                 "points), but not by more than chance explains.", **values)
    elif d == 0:
        head = _("Preprocessing diversity tied with seed diversity: both committees have a test error of {a:.2%}.",
                 **values)
    elif sig:
        head = _("Preprocessing diversity did not beat seed diversity: committee error {a:.2%} against {b:.2%} for the "
                 "seed-only committee ({g:.2f} points higher).", **values)
    else:
        head = _("Preprocessing diversity did not beat seed diversity: committee error {a:.2%} against {b:.2%} for the "
                 "seed-only committee ({g:.2f} points higher, within chance).", **values)
    if sig:
        tail = _("On the test images where exactly one committee is right, the preprocessing committee wins {wa} and "
                 "the seed-only one {wb} (exact McNemar p = {p:.3g}: significant at the {alpha:.0%} level).", **values)
    else:
        tail = _("On the test images where exactly one committee is right, the preprocessing committee wins {wa} and "
                 "the seed-only one {wb} (exact McNemar p = {p:.3g}: not significant at the {alpha:.0%} level).",
                 **values)
    return head + tail


def members_sentence(main: dict, control: dict):
    return _("Members alone: the preprocessing members' mean error is {a:.2%} (best {b:.2%}), the seed-only members' "
             "{c:.2%} (best {d:.2%}); a committee gains from decorrelated errors only if its members are not much "
             "worse.", a=main["mean_member_error"], b=main["best_member_error"], c=control["mean_member_error"],
             d=control["best_member_error"])


def per_class_sentence(per_class: list[dict], first: str):
    """Where the other members are worse than the first (original) one, class by class."""
    gaps = [(r["other_members_mean"] - r["first_member"], r["class"]) for r in per_class
            if r["first_member"] is not None and r["other_members_mean"] is not None]
    if not gaps:
        return None
    gaps.sort(key=lambda g: -g[0])
    worse = [_("{name} (+{g:.1f} points)", name=class_label(name), g=100 * g) for g, name in gaps[:3] if g > 0]
    better = sum(g < 0 for g, _name in gaps)
    if worse:
        return _("Per class, the other committee members are worse than `{m}` most on {worse}; they are better on "
                 "{k} of {n} classes.", m=first, worse=join(worse), k=better, n=len(gaps))
    return _("Per class, the other committee members are never worse than `{m}`; they are better on {k} of {n} "
             "classes.", m=first, k=better, n=len(gaps))
