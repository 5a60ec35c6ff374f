"""What went wrong (or oddly) in a training run, read from its History: a list of findings.

    findings = diagnose(history, chance=0.1)
    [f.code for f in findings]          # e.g. ["exploded", "at_chance"]
    findings[0].values                  # the numbers behind it, for the report's sentence

Each finding has a stable ``code`` (one of :data:`CODES`) and the numbers that support it;
turning them into sentences is the report layer's job. Epochs and steps are 1-based, as in
the Trainer's messages. The thresholds are named constants below, each with the reason for
its value; they flag what a reader should look at, they do not prove a cause.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from .history import History

DIVERGED = "diverged"
EXPLODED = "exploded"
AT_CHANCE = "at_chance"
LOSS_RISING = "loss_rising"
TRANSIENT_COLLAPSE = "transient_collapse"
SPIKE = "spike"
#: every finding code, in the order :func:`diagnose` reports them
CODES = (DIVERGED, EXPLODED, AT_CHANCE, LOSS_RISING, TRANSIENT_COLLAPSE, SPIKE)

EXPLODE_FACTOR = 100.0
"""A loss this many times its starting value has exploded. An untrained classifier starts near
ln(C) (2.3 for 10 classes); even a confidently wrong model stays within a few tens of that, while
an unstable optimizer (e.g. Adam at lr 1e8) reaches 1e10 and beyond. 100x separates the two."""

CHANCE_MARGIN = 0.05
"""An accuracy at most this far above chance (5 points) is "at chance": the labs' own stall rule,
and wider than the step between two predictions of a few hundred test images."""

LEARNED_MARGIN = 0.10
"""For a collapse, the accuracy before and after it must be at least this far above chance
(10 points, twice CHANCE_MARGIN): a real drop from a model that had learned, not noise near chance."""

LOSS_RISE_RTOL = 0.01
"""The final train loss counts as above the first epoch's when it is more than 1% above it: a run
that plateaued from the start would otherwise be flagged by float noise."""

SPIKE_FACTOR = 2.0
"""An epoch's loss at least twice both neighbouring epochs' is a spike: smooth curves change by
tens of percent between epochs, not 2x up and back down."""

STEP_SPIKE_FACTOR = 5.0
STEP_SPIKE_WINDOW = 10
"""A step's loss at least 5x the median of the STEP_SPIKE_WINDOW steps on each side is a spike.
Per-step losses are noisy (each is one mini-batch), hence a larger factor than for epochs and the
median, which one bad batch cannot move."""


@dataclass(frozen=True)
class Finding:
    """One observation about a run: a stable ``code`` and the numbers behind it."""

    code: str
    values: dict

    def to_dict(self) -> dict:
        return asdict(self)


def _floats(values) -> list[float]:
    """Per-epoch values as floats, None (a non-finite number in JSON) as NaN."""
    return [math.nan if v is None else float(v) for v in values]


def _diverged(h: dict) -> list[Finding]:
    if h.get("diverged_at"):
        return [Finding(DIVERGED, dict(h["diverged_at"]))]
    for key, unit in (("step_loss", "step"), ("train_loss", "epoch"), ("test_loss", "epoch")):
        losses = _floats(h.get(key, []))
        bad = [i for i, v in enumerate(losses) if not math.isfinite(v)]
        if bad:
            return [Finding(DIVERGED, {"series": key, unit: bad[0] + 1, "loss": None})]
    return []


def _exploded(h: dict, initial_loss) -> list[Finding]:
    steps, epochs = _floats(h.get("step_loss", [])), _floats(h.get("train_loss", []))
    if initial_loss is not None:
        ref, ref_name = float(initial_loss), "initial loss"
    elif steps:
        ref, ref_name = steps[0], "first step"
    elif epochs:
        ref, ref_name = epochs[0], "first epoch"
    else:
        return []
    candidates = [(v, "step", i) for i, v in enumerate(steps) if math.isfinite(v)]
    candidates += [(v, "epoch", i) for i, v in enumerate(epochs) if math.isfinite(v)]
    if not candidates or not (math.isfinite(ref) and ref > 0):
        return []
    peak, unit, i = max(candidates)
    if peak < EXPLODE_FACTOR * ref:
        return []
    return [Finding(EXPLODED, {"reference": ref_name, "reference_loss": ref, "peak_loss": peak, unit: i + 1,
                               "factor": peak / ref, "threshold": EXPLODE_FACTOR})]


def _accuracy_series(h: dict) -> list[tuple[str, list[float]]]:
    out = []
    for key in ("train_acc", "test_acc"):
        acc = h.get(key) or []
        if acc and all(a is not None for a in acc):
            out.append((key, _floats(acc)))
    return out


def _at_chance(h: dict, chance) -> list[Finding]:
    found = []
    for key, acc in _accuracy_series(h):
        if math.isfinite(acc[-1]) and acc[-1] <= chance + CHANCE_MARGIN:
            found.append(Finding(AT_CHANCE, {"series": key, "accuracy": acc[-1], "chance": chance,
                                             "margin": CHANCE_MARGIN, "epoch": len(acc)}))
    return found


def _loss_rising(h: dict) -> list[Finding]:
    loss = _floats(h.get("train_loss", []))
    if len(loss) < 2 or not (math.isfinite(loss[0]) and math.isfinite(loss[-1])):
        return []
    if loss[-1] <= loss[0] * (1 + LOSS_RISE_RTOL):
        return []
    return [Finding(LOSS_RISING, {"first_loss": loss[0], "final_loss": loss[-1], "ratio": loss[-1] / loss[0],
                                  "epochs": len(loss)})]


def _transient_collapse(h: dict, chance) -> list[Finding]:
    found = []
    for key, acc in _accuracy_series(h):
        learned = [a > chance + LEARNED_MARGIN for a in acc]
        low = [a <= chance + CHANCE_MARGIN for a in acc]
        e = 0
        while e < len(acc):
            if low[e] and any(learned[:e]):
                end = e
                while end < len(acc) and low[end]:
                    end += 1
                if end < len(acc) and any(learned[end:]):
                    before = max(i for i in range(e) if learned[i])
                    after = next(i for i in range(end, len(acc)) if learned[i])
                    found.append(Finding(TRANSIENT_COLLAPSE, {
                        "series": key, "epochs": list(range(e + 1, end + 1)), "before": acc[before],
                        "lowest": min(acc[e:end]), "after": acc[after], "recovered_at": after + 1, "chance": chance}))
                e = end
            e += 1
    return found


def _epoch_spikes(h: dict) -> list[Finding]:
    found = []
    for key in ("train_loss", "test_loss"):
        loss = _floats(h.get(key, []))
        for e in range(1, len(loss) - 1):
            neighbours = max(loss[e - 1], loss[e + 1])
            if math.isfinite(loss[e]) and neighbours > 0 and loss[e] >= SPIKE_FACTOR * neighbours:
                found.append(Finding(SPIKE, {"series": key, "epoch": e + 1, "loss": loss[e],
                                             "neighbours": [loss[e - 1], loss[e + 1]],
                                             "factor": loss[e] / neighbours, "threshold": SPIKE_FACTOR}))
    return found


def _step_spikes(h: dict) -> list[Finding]:
    loss = np.array(_floats(h.get("step_loss", [])))
    w, spikes = STEP_SPIKE_WINDOW, []
    for s in range(1, len(loss) - 1):
        around = np.concatenate([loss[max(0, s - w):s], loss[s + 1:s + 1 + w]])
        around = around[np.isfinite(around)]
        if len(around) and math.isfinite(loss[s]):
            median = float(np.median(around))
            if median > 0 and loss[s] >= STEP_SPIKE_FACTOR * median:
                spikes.append((loss[s] / median, s))
    if not spikes:
        return []
    factor, worst = max(spikes)
    return [Finding(SPIKE, {"series": "step_loss", "count": len(spikes), "steps": [s + 1 for _, s in spikes][:20],
                            "step": worst + 1, "loss": float(loss[worst]), "factor": factor,
                            "threshold": STEP_SPIKE_FACTOR})]


def diagnose(history, chance: float | None = None, *, initial_loss: float | None = None) -> list[Finding]:
    """Findings about a run, in the order of :data:`CODES`.

    Args:
        history: a :class:`History` or its ``to_dict()``.
        chance: the accuracy of guessing (e.g. 0.1 for 10 balanced classes, or the majority
            class's share); without it the accuracy findings are skipped.
        initial_loss: the loss of the untrained model, the reference for ``exploded``; default
            the first step's loss when steps were recorded, else the first epoch's.
    """
    h = history.to_dict() if isinstance(history, History) else dict(history)
    findings = _diverged(h) + _exploded(h, initial_loss)
    if chance is not None:
        findings += _at_chance(h, chance)
    findings += _loss_rising(h)
    if chance is not None:
        findings += _transient_collapse(h, chance)
    return findings + _epoch_spikes(h) + _step_spikes(h)
