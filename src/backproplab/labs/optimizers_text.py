"""The optimizers lab's measurements of the per-step record and the sentences computed from them.

* :func:`step_noise`: how much the per-step loss scatters around its trend (not how fast it falls).

Each sentence function returns a translatable message and is tested on made-up numbers both ways.
"""
from __future__ import annotations

import numpy as np

from ..report.i18n import _, _n, join

#: fewest steps a step-noise estimate is made from (full-batch GD takes one step per epoch)
NOISE_MIN = 20


def step_noise(step_loss: list[float], steps_per_epoch: int, min_steps: int = NOISE_MIN) -> float | None:
    """Scatter of the per-step loss around its trend over the last epoch (at least ``min_steps`` steps).

    The standard deviation of ln(loss) after removing a least-squares straight line in the step
    index: a loss that falls smoothly, however fast, has noise near 0; a loss that jumps from
    batch to batch has a large one (0.5 means a typical step is e^0.5 ≈ 1.6 times off the trend).
    None when fewer than ``min_steps`` finite positive losses are there to measure it on.
    """
    window = max(int(steps_per_epoch), min_steps)
    tail = np.asarray(step_loss[-window:], dtype=float)
    tail = tail[np.isfinite(tail) & (tail > 0)]
    if len(tail) < min_steps:
        return None
    y = np.log(tail)
    t = np.arange(len(y), dtype=float)
    slope, intercept = np.polyfit(t, y, 1)
    return float(np.std(y - (slope * t + intercept), ddof=2))


def noise_text(rows: list[dict], min_steps: int = NOISE_MIN):
    """The runs ranked by step noise, and those with too few steps to measure it."""
    measured = sorted((r for r in rows if r.get("step_noise") is not None), key=lambda r: r["step_noise"])
    unmeasured = [r for r in rows if r.get("step_noise") is None]
    if len(measured) >= 2:
        values = join([_("`{m}` {v:.3g}", m=r["model"], v=r["step_noise"]) for r in measured])
        text = _("Step noise (standard deviation of ln(step loss) around its straight-line trend over the last "
                 "epoch): {values}; smoothest `{low}`, noisiest `{high}`.", values=values, low=measured[0]["model"],
                 high=measured[-1]["model"])
    else:
        text = _n("Step noise could be measured for {n} run only, so the runs are not ranked by it.",
                  "Step noise could be measured for {n} runs only, so the runs are not ranked by it.", len(measured))
    if unmeasured:
        runs = join([_("`{m}` ({s} steps in all)", m=r["model"], s=r["steps_total"]) for r in unmeasured])
        text = text + _("Too few steps to measure it (at least {k} are needed): {runs}.", k=min_steps, runs=runs)
    return text


def batch_noise_text(rows: list[dict]):
    """Does the step noise of the plain-SGD runs grow as the batch shrinks? None with fewer than two such runs."""
    plain = sorted((r for r in rows if r.get("optimizer") == "sgd" and r.get("step_noise") is not None),
                   key=lambda r: -r["batch_size"])
    if len(plain) < 2:
        return None
    values = join([_("batch {b} (learning rate {lr:g}): {v:.3g}", b=r["batch_size"], lr=r["lr"], v=r["step_noise"])
                   for r in plain])
    noise = [r["step_noise"] for r in plain]
    if all(b > a for a, b in zip(noise, noise[1:])):
        return _("With the plain SGD update, the step noise grows each time the batch gets smaller: {values}.",
                 values=values)
    return _("With the plain SGD update, the step noise does NOT grow steadily as the batch shrinks: {values}.",
             values=values)


def adam_vs_sgd_text(adam: dict | None, sgd: dict | None, batch_size: int):
    """Adam's final training loss against plain mini-batch SGD's at the same batch size and epochs."""
    if not adam or not sgd or adam["final_train_loss"] is None or sgd["final_train_loss"] is None:
        return _("Adam against plain SGD: not both runs finished, so there is no comparison.")
    a, s = adam["final_train_loss"], sgd["final_train_loss"]
    if a < s:
        return _("Adam's final training loss ({a:.4g}) is lower than plain mini-batch SGD's ({s:.4g}) at the same "
                 "batch ({b}) and number of epochs.", a=a, s=s, b=batch_size)
    if a == s:
        return _("Adam's final training loss equals plain mini-batch SGD's ({a:.4g}) at the same batch ({b}).",
                 a=a, b=batch_size)
    return _("Adam's final training loss ({a:.4g}) is NOT lower than plain mini-batch SGD's ({s:.4g}) at the same "
             "batch ({b}) and number of epochs.", a=a, s=s, b=batch_size)
