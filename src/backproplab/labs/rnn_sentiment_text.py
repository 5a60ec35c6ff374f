"""The rnn-sentiment report's sentences computed from numbers, each a small function that is tested
on made-up numbers both ways (tests/labs/test_rnn_sentiment.py)."""
from __future__ import annotations

from ..report.i18n import N_, _, join
from .training_problems import findings_bullets

#: the SST class names, translatable
CLASS_NAMES = {"very negative": N_("very negative"), "negative": N_("negative"), "neutral": N_("neutral"),
               "positive": N_("positive"), "very positive": N_("very positive")}
#: the gradient "vanishes through time" when the last word's gradient is this many times the far word's
VANISH_RATIO = 10.0
#: steps before the last word at which the gradient through time is compared with the last word's
FAR_STEP = 15
#: a sum of probabilities this far from 1 is rounding
SUM_TOLERANCE = 1e-6


def class_label(name: str):
    return _(CLASS_NAMES[name]) if name in CLASS_NAMES else name


def outputs_sentence(outputs: dict):
    """Question 3(a): how many softmax outputs each head gives per sentence, as measured on the test set."""
    one, many, words = outputs["many_to_one"], outputs["many_to_many"], outputs["mean_words"]
    if one == 1 and abs(many - words) < 1e-9:
        return _("**Outputs per sentence (question 3a).** The many-to-one classifier evaluates the softmax once per "
                 "test sentence ({one:g} output per sentence, whatever its length n): it reads all n words and "
                 "classifies the last hidden state. The many-to-many head evaluates it once per word: {many:.2f} "
                 "outputs per sentence on average, the mean sentence length n = {n:.2f}.", one=one, many=many, n=words)
    return _("**Outputs per sentence (question 3a).** Measured on the test set: {one:.3g} softmax outputs per "
             "sentence for the many-to-one classifier and {many:.3g} for the many-to-many head (mean length "
             "{n:.2f}); one per sentence and one per word were expected, so the measurement is wrong.",
             one=one, many=many, n=words)


def distribution_sentence(outputs: dict, class_names: list):
    """Question 3(b): each output is a distribution over the classes (checked: sums of 1, no negative entry)."""
    err, low = outputs["largest_sum_error"], outputs["smallest_probability"]
    if err <= SUM_TOLERANCE and low >= 0:
        return _("**What each output is (question 3b).** A categorical distribution over the {k} sentiment classes "
                 "of the whole sentence ({names}): {k} non-negative numbers summing to 1 (on the test set the "
                 "largest distance of a sum from 1 is {err:.1e}).", k=outputs["classes"], names=join(class_names),
                 err=err)
    return _("**What each output is (question 3b).** The outputs should be distributions over the {k} classes "
             "({names}), but a sum is {err:.1e} away from 1 or an entry is negative ({low:.3g}).",
             k=outputs["classes"], names=join(class_names), err=err, low=low)


def goal_sentence(result: dict, reference: float):
    """The test accuracy against the lab's goal, claimed only where the goal's setting (SST-5, all data) ran."""
    acc, goal = result["test_acc"], result["goal"]["test_acc"]
    d = result["data"]
    head = _("Best dev accuracy {dev:.2%} at epoch {e}: **test accuracy {acc:.2%}** (chance {c:.0%}; always "
             "predicting the most frequent class of the training sentences: {m:.2%}).", dev=result["dev_acc"],
             e=result["best_epoch"], acc=acc, c=d["chance"], m=d["majority"])
    if not result["goal"]["full_setting"]:
        tail = _("The goal of {g:.0%} is set for SST-5 with every training sentence and the full test set; this run "
                 "used other settings, so it neither meets nor misses it.", g=goal)
    elif acc >= goal:
        tail = _("On SST-5 with every training sentence and the full test set, this meets the goal of {g:.0%} "
                 "(Socher et al. 2013 report {r:.1%} for their recursive network).", g=goal, r=reference)
    else:
        tail = _("On SST-5 with every training sentence and the full test set, this is below the goal of {g:.0%} "
                 "(Socher et al. 2013 report {r:.1%} for their recursive network).", g=goal, r=reference)
    return head + tail


def confusion_sentence(off_by_one: float | None, num_classes: int):
    """Where the errors go: the share between neighbouring classes against an even spread over the wrong classes."""
    if off_by_one is None:
        return _("The model makes no error on the test sentences.")
    if num_classes == 2:
        return _("With two classes every error confuses the two neighbours.")
    even = 2.0 / num_classes  # 2(k-1) neighbouring cells among the k(k-1) off-diagonal ones
    if off_by_one > even:
        return _("{s:.0%} of the errors are between neighbouring classes, against {e:.0%} if the errors were spread "
                 "evenly over the wrong classes: the model mostly confuses neighbouring degrees of sentiment.",
                 s=off_by_one, e=even)
    return _("{s:.0%} of the errors are between neighbouring classes, no more than the {e:.0%} of errors spread "
             "evenly over the wrong classes: the errors do not follow the order of the classes.", s=off_by_one,
             e=even)


def _ratio(profile: dict, k: int) -> float:
    g = profile["mean_norm"]
    return g[0] / max(g[k], 1e-30)


def grad_sentence(trained: dict, initial: dict):
    """How much smaller the gradient is FAR_STEP words before the end than at the last word."""
    k = min(len(trained["mean_norm"]), len(initial["mean_norm"])) - 1
    k = min(k, FAR_STEP)
    if k < 1:
        return _("The test sentences are too short to follow the gradient back through time.")
    g, g0 = trained["mean_norm"], initial["mean_norm"]
    r, r0 = _ratio(trained, k), _ratio(initial, k)
    numbers = _("Mean `‖∂L/∂h_t‖` over the test sentences, the loss sitting on the last state only: trained model "
                "{a:.3g} at the last word and {b:.3g} {k} words before it (ratio {r:.3g}); at initialisation {c:.3g} "
                "and {d:.3g} (ratio {r0:.3g}).", a=g[0], b=g[k], k=k, r=r, c=g0[0], d=g0[k], r0=r0)
    values = dict(v=VANISH_RATIO, k=k)
    if r >= VANISH_RATIO and r0 >= VANISH_RATIO:
        verdict = _("Before and after training the gradient shrinks more than {v:g}-fold over {k} steps back: it "
                    "vanishes through time, so early words teach the model little.", **values)
    elif r0 >= VANISH_RATIO:
        verdict = _("At initialisation the gradient shrinks more than {v:g}-fold over {k} steps back (it vanishes "
                    "through time); the trained recurrent weights keep it within {v:g}-fold over the same distance.",
                    **values)
    elif r >= VANISH_RATIO:
        verdict = _("At initialisation the gradient shrinks less than {v:g}-fold over {k} steps back; after training "
                    "it shrinks more than that: training made it vanish through time.", **values)
    else:
        verdict = _("Before and after training the gradient shrinks less than {v:g}-fold over {k} steps back: no "
                    "vanishing gradient at this distance.", **values)
    return numbers + verdict


def tagger_sentence(m2m: dict, test_acc: float, fit_what: str):
    """The many-to-many head against its prefix baseline and against the many-to-one classifier."""
    last = m2m["curves"][-1]
    prefix, base = last["test_prefix_acc"], m2m["prefix_majority"]
    if prefix > base:
        first = _("Its test prefix accuracy, {p:.2%}, is above the {b:.2%} of always predicting the most common "
                  "prefix label (short prefixes are mostly neutral).", p=prefix, b=base)
    else:
        first = _("Its test prefix accuracy, {p:.2%}, is not above the {b:.2%} of always predicting the most common "
                  "prefix label (short prefixes are mostly neutral).", p=prefix, b=base)
    sentence = last["test_sentence_acc"]
    trained_on = _("trained on phrases as well") if fit_what == "phrases" else _("trained on the same sentences")
    if sentence > test_acc:
        second = _("Its prediction at the last word gives a test sentence accuracy of {s:.2%}, above the {a:.2%} of "
                   "the many-to-one classifier ({how}).", s=sentence, a=test_acc, how=trained_on)
    elif sentence < test_acc:
        second = _("Its prediction at the last word gives a test sentence accuracy of {s:.2%}, below the {a:.2%} of "
                   "the many-to-one classifier ({how}).", s=sentence, a=test_acc, how=trained_on)
    else:
        second = _("Its prediction at the last word gives a test sentence accuracy of {s:.2%}, the same as the "
                   "many-to-one classifier ({how}).", s=sentence, how=trained_on)
    return first + second


def findings_lines(findings: dict) -> list:
    """The diagnostics of both heads in sentences (:mod:`backproplab.train.diagnostics`)."""
    return findings_bullets(findings)
