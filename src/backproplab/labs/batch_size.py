"""Lab: steps to reach a training loss vs mini-batch size -- perfect scaling, then diminishing returns.

The question (document 003, question 1.1): sketch the SGD steps needed to reach a preset training
loss against the mini-batch size, and explain the shape at small and at large batch sizes.

For each batch size B the lab trains a softmax-regression classifier (the library's Linear +
CrossEntropyLoss + SGD) on Fashion-MNIST with every learning rate of a grid and records the fewest
steps that bring the training loss (on a fixed evaluation subset of the training set) to
``target_loss``; the learning rate is tuned per batch size, as in the measurements of Shallue et al.

On a log-log plot of steps vs B, *perfect scaling* is a slope of -1 (doubling B halves the steps:
every example still does full work); *diminishing returns* is a slope between -1 and 0; a slope near
0 means larger batches no longer help (the steps are limited by curvature, not by gradient noise).
The lab labels each interval between neighbouring batch sizes from its measured slope, and fits
two lines to the whole curve.

Why a hand-written loop rather than the Trainer: the quantity measured is the step at which the loss
first reaches the target. All learning rates of one batch size run side by side, each from the same
seed (same initial weights, same batch order), and the loss is checked at a geometric grid of steps
(1, 2, ..., then about 5% apart); the first check at which some rate reaches the target ends the
race, so the minimum over the grid costs no more steps than the fastest rate needs. Every piece
(model, loss, optimizer) is the library's.

Exercises: (1) how does the critical batch size change with a lower target loss? (2) add momentum:
does the plateau move?

Reference: Shallue et al. 2019, "Measuring the effects of data parallelism on neural network
training", JMLR 20; McCandlish et al. 2018, "An empirical model of large-batch training" (the
critical batch size).
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

from ..report.i18n import N_, _, join
from .config import option, quick
from .plotting import new_figure, readable_log_range
from .training import TrainingConfig, data_facts, load_data

NAME = "batch-size"
TITLE = N_("SGD steps to a fixed training loss against the batch size (Fashion-MNIST)")
SUMMARY = N_("steps to a target training loss for batch sizes 1..4096 (learning rate tuned per size): perfect "
             "scaling, then diminishing returns")
QUESTIONS = ("003/Q1.1",)

#: spacing of the check points beyond the first 20 steps
CHECK_GROWTH = 1.05
#: a slope above this marks the critical batch size (doubling B then saves less than 1 - 2^-0.5 = 29% of the steps)
CRITICAL_SLOPE = -0.5


@dataclass(frozen=True)
class Config(TrainingConfig):
    classes: str = option("all", "Fashion-MNIST class ids (comma list) or 'all'")
    test_size: int | None = option(None, "unused: the lab measures the training loss only", cli=False)
    batch_sizes: tuple[int, ...] = option((1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096),
                                          "mini-batch sizes B", min_len=1, each_low=1, each_high=1000000)
    lrs: tuple[float, ...] = option((0.0039, 0.0078, 0.0156, 0.03125, 0.0625, 0.125, 0.25, 0.5, 1.0),
                                    "learning-rate grid tried at every batch size (2^-8..2^0)", min_len=1, each_low=0,
                                    each_low_open=True, each_high=100)
    target_loss: float = option(0.6, "training cross-entropy to reach", low=0, low_open=True, high=100)
    max_steps: int = option(30000, "give up after this many steps", low=1, high=10000000)
    eval_size: int = option(5000, "training examples the loss is measured on", low=1)

    def quick(self) -> "Config":
        return quick(self, batch_sizes=(1, 4, 16, 64, 256), lrs=(0.01, 0.03, 0.1, 0.3), target_loss=0.9,
                     max_steps=3000, eval_size=1000, train_size=3000)


def check_points(max_steps: int) -> list[int]:
    """1, 2, 3, ... then steps about 5% apart, up to ``max_steps``: where the loss is measured."""
    pts = set(range(1, 21))
    v = 20.0
    while v < max_steps:
        v *= CHECK_GROWTH
        pts.add(min(int(round(v)), max_steps))
    return sorted(p for p in pts if p <= max_steps)


class _Racer:
    """One learning rate of a race: its own model, optimizer, loss and generator (seeded the same for all)."""

    def __init__(self, x, y, batch_size: int, lr: float, seed: int, num_classes: int, x_eval, y_eval):
        from ..nn import Linear, make_loss
        from ..optim import make_optimizer

        self.lr, self.x, self.y, self.batch_size = lr, x, y, batch_size
        self.rng = np.random.default_rng(seed)  # same initial weights and batch order for every lr
        self.model = Linear(x.shape[1], num_classes, rng=self.rng)
        self.loss_fn = make_loss("cross_entropy")
        self.opt = make_optimizer("sgd", self.model.parameters(), lr=lr)
        self.start = self.eval_loss(x_eval, y_eval)
        self.order, self.pos = self.rng.permutation(len(x)), 0

    def eval_loss(self, x_eval, y_eval) -> float:
        return self.loss_fn(self.model.forward(x_eval), y_eval)

    def step(self) -> None:
        if self.pos + self.batch_size > len(self.x):  # new epoch: reshuffle (as the Trainer does)
            self.order, self.pos = self.rng.permutation(len(self.x)), 0
        idx = self.order[self.pos:self.pos + self.batch_size]
        self.pos += self.batch_size
        self.loss_fn(self.model.forward(self.x[idx]), self.y[idx])
        self.opt.zero_grad()
        self.model.backward(self.loss_fn.backward())
        self.opt.step()


def race(x, y, x_eval, y_eval, batch_size: int, lrs, target: float, max_steps: int, seed: int) -> dict:
    """SGD at every learning rate side by side until one brings the loss on (x_eval, y_eval) to ``target``.

    Returns ``best_steps`` (the first check point where some rate reached it; None if none did within
    ``max_steps``), ``best_lr`` (the smallest rate that reached it there) and ``per_lr``: "reached",
    "diverged" (loss not finite or above twice its start) or "slower" for each rate.
    """
    num_classes = int(y.max()) + 1
    racers = [_Racer(x, y, batch_size, lr, seed, num_classes, x_eval, y_eval) for lr in lrs]
    status = {str(r.lr): "slower" for r in racers}
    checks = iter(check_points(max_steps))
    nxt = next(checks, None)
    for step in range(1, max_steps + 1):
        for r in racers:
            r.step()
        if step != nxt:
            continue
        nxt = next(checks, None)
        reached = []
        for r in list(racers):
            loss = r.eval_loss(x_eval, y_eval)
            if loss <= target:
                reached.append(r.lr)
            elif not math.isfinite(loss) or loss > 2.0 * r.start:
                status[str(r.lr)] = "diverged"
                racers.remove(r)
        if reached:
            status.update({str(lr): "reached" for lr in reached})
            return {"best_steps": step, "best_lr": min(reached), "per_lr": status}
        if not racers:
            break
    return {"best_steps": None, "best_lr": None, "per_lr": status}


@functools.lru_cache(maxsize=1)
def _data(config: Config):
    """The training images and the evaluation subset (drawn from a generator seeded with the lab's seed)."""
    ds = load_data(config)
    rng = np.random.default_rng(config.seed)
    ev = rng.choice(len(ds.x_train), min(config.eval_size, len(ds.x_train)), replace=False)
    return ds, ds.x_train[ev], ds.y_train[ev]


def measure(config: Config, batch_size: int) -> dict:
    """One batch size (a task): the race over the learning-rate grid."""
    ds, x_eval, y_eval = _data(config)
    return race(ds.x_train, ds.y_train, x_eval, y_eval, batch_size, sorted(config.lrs), config.target_loss,
                config.max_steps, config.seed)


def slope_regime(slope: float) -> str:
    """Name of the regime for a measured log-log slope d log(steps) / d log(B)."""
    if slope <= -0.75:
        return "near-perfect scaling"
    if slope <= -0.25:
        return "diminishing returns"
    return "no further benefit"


def two_segment_fit(batch_sizes, steps) -> dict | None:
    """Fit log(steps) vs log(B) with two lines meeting at a measured batch size (least squares).

    Returns ``{"break_batch_size", "slope_small", "slope_large"}`` for the split with the smallest
    squared error (each side >= 2 points; the break point belongs to the large-B side), or None
    with fewer than 4 points.
    """
    lx, ly = np.log(np.asarray(batch_sizes, float)), np.log(np.asarray(steps, float))
    best = None
    for k in range(2, len(lx) - 1):
        fits = [np.polyfit(lx[s], ly[s], 1, full=True) for s in (slice(0, k), slice(k, None))]
        sse = sum(float(f[1][0]) if len(f[1]) else 0.0 for f in fits)
        if best is None or sse < best[0]:
            best = (sse, k, fits[0][0][0], fits[1][0][0])
    if best is None:
        return None
    return {"break_batch_size": int(round(np.exp(lx[best[1]]))), "slope_small": float(best[2]),
            "slope_large": float(best[3])}


def add_slopes(rows: list[dict]) -> list[dict]:
    """Slope and regime of each interval between neighbouring batch sizes that reached the target."""
    reached = [r for r in rows if r["steps"] is not None]
    for a, c in zip(reached[:-1], reached[1:]):
        c["slope"] = math.log(c["steps"] / a["steps"]) / math.log(c["batch_size"] / a["batch_size"])
        c["regime"] = slope_regime(c["slope"])
        c["interval"] = f"{a['batch_size']}→{c['batch_size']}"
    return reached


def run(config: Config, out) -> dict:
    ds, x_eval, _y_eval = _data(config)
    sizes = sorted(config.batch_sizes)
    found = out.map({f"batch-{b}": functools.partial(measure, config, b) for b in sizes}, label=NAME)
    rows = []
    for b in sizes:
        res = found[f"batch-{b}"]
        rows.append({"batch_size": b, "steps": res["best_steps"], "best_lr": res["best_lr"],
                     "examples": None if res["best_steps"] is None else res["best_steps"] * b})
    reached = add_slopes(rows)
    fit = two_segment_fit([r["batch_size"] for r in reached], [r["steps"] for r in reached])
    critical = next((r["batch_size"] for r in reached if r.get("slope", -1.0) > CRITICAL_SLOPE), None)
    out.save_metrics("steps", rows)
    out.save_metrics("fit", {"two_segment": fit, "critical_batch_size": critical})
    summary = (f"steps to loss {config.target_loss:g}: " + ", ".join(f"B={r['batch_size']}: {r['steps']}" for r in rows)
               + (f". Two-line fit: slope {fit['slope_small']:.2f} below B={fit['break_batch_size']}, "
                  f"{fit['slope_large']:.2f} above" if fit else ""))
    return {"summary": summary, "data": data_facts(ds, config), "eval_size": len(x_eval), "rows": rows, "fit": fit,
            "critical_batch_size": critical, "per_lr": {str(b): found[f"batch-{b}"]["per_lr"] for b in sizes},
            "steps_by_batch_size": {str(r["batch_size"]): r["steps"] for r in rows}}


# -- report ---------------------------------------------------------------------------------------
REGIMES = {"near-perfect scaling": N_("near-perfect scaling"), "diminishing returns": N_("diminishing returns"),
           "no further benefit": N_("no further benefit")}


def slope_resolution(ratio: float = 2.0) -> float:
    """How far a slope between batch sizes ``ratio`` apart can be off because steps are only known to the
    check grid: each end may be late by up to a factor CHECK_GROWTH."""
    return 2.0 * math.log(CHECK_GROWTH) / math.log(ratio)


def intervals_sentence(rows: list[dict], regime: str):
    """The intervals between neighbouring batch sizes whose measured slope falls in ``regime``."""
    names = [r["interval"] for r in rows if r.get("regime") == regime]
    shown = join(names, code=True) if names else _("none")
    if regime == "near-perfect scaling":
        return _("Intervals with slope ≤ -0.75 (near-perfect scaling: doubling B about halves the steps): {names}.",
                 names=shown)
    return _("Intervals with slope > -0.25 (no further benefit: larger batches no longer reduce the steps): {names}.",
             names=shown)


def resolution_sentence(batch_sizes):
    """How uncertain an interval's slope is, for the closest pair of neighbouring batch sizes."""
    sizes = sorted(batch_sizes)
    if len(sizes) < 2:
        return None
    ratio = min(b / a for a, b in zip(sizes, sizes[1:]))
    return _("The steps are known to the check grid only, so a slope between neighbouring batch sizes (a factor "
             "{r:g} apart at the closest) is uncertain by up to ±{d:.2f}; the two-line fit over all batch sizes is "
             "the steadier summary.", r=ratio, d=slope_resolution(ratio))


def critical_sentence(critical: int | None):
    if critical is None:
        return _("No interval has a slope above {s:g}, so the grid holds no critical batch size: larger batches "
                 "kept paying off up to the largest one.", s=CRITICAL_SLOPE)
    return _("The first interval with a slope above {s:g} (where doubling B saves less than {f:.0%} of the steps) "
             "ends at B = {b}: a rough critical batch size.", s=CRITICAL_SLOPE, f=1 - 2 ** CRITICAL_SLOPE, b=critical)


def fit_sentence(fit: dict | None):
    if fit is None:
        return _("Two-line fit: fewer than 4 batch sizes reached the target, too few to fit.")
    return _("Two-line least-squares fit of `log(steps)` against `log(B)`: slope {a:.2f} below B = {b}, {c:.2f} from "
             "there on (-1 = perfect scaling, 0 = no benefit).", a=fit["slope_small"], b=fit["break_batch_size"],
             c=fit["slope_large"])


def missing_sentence(rows: list[dict], max_steps: int):
    missing = [r["batch_size"] for r in rows if r["steps"] is None]
    if not missing:
        return _("Every batch size reached the target within {n} steps.", n=max_steps)
    return _("Batch sizes that did not reach the target within {n} steps at any learning rate of the grid: {bs}.",
             n=max_steps, bs=join(missing))


def lr_sentence(rows: list[dict]):
    """How the best learning rate of the grid moves with the batch size."""
    reached = [r for r in rows if r["steps"] is not None]
    if len(reached) < 2:
        return _("Best learning rate: fewer than two batch sizes reached the target, nothing to compare.")
    lrs = [r["best_lr"] for r in reached]
    peak = reached[int(np.argmax(lrs))]["batch_size"]
    return _("Best learning rate on the grid: {a:g} at B = {ba}, {z:g} at B = {bz}; it first reaches its largest "
             "value {m:g} at B = {bp}.", a=lrs[0], ba=reached[0]["batch_size"], z=lrs[-1],
             bz=reached[-1]["batch_size"], m=max(lrs), bp=peak)


def report(result: dict, config: Config, doc) -> None:
    rows = result["rows"]
    doc.para(_("**Question** (document 003, question 1.1). How many SGD steps does it take to reach a preset "
               "training loss, as a function of the mini-batch size, and why does the curve have its shape at "
               "small and at large batch sizes?"))
    doc.bullets([
        _("Softmax regression (`Linear` {d}→{k} + cross-entropy) trained with plain `SGD` on {n} Fashion-MNIST "
          "training images (classes {c}); the loss is measured on {e} of them.", d=784,
          k=result["data"]["num_classes"], n=result["data"]["n_train"], c=result["data"]["classes"],
          e=result["eval_size"]),
        _("For each batch size every learning rate of {lrs} runs from the same initial weights and batch order "
          "(seed {s}); the steps are those of the fastest rate to a training loss of {t:g}, checked at steps about "
          "{g:.0%} apart, at most {m}.", lrs=join(sorted(config.lrs)), s=config.seed, t=config.target_loss,
          g=CHECK_GROWTH - 1, m=config.max_steps),
    ])
    doc.para(_("Why this shape: with a small batch the gradient estimate is noisy and the learning rate must stay "
               "small, so doubling B (halving the noise variance) allows about twice the learning rate and halves "
               "the steps; with a large batch the estimate is already close to the full gradient, the learning rate "
               "is limited by the curvature of the loss instead, and more examples per step no longer reduce the "
               "steps. The table shows where this run crosses from one regime to the other."))
    doc.table([("batch_size", "B", "d"), ("steps", _("steps"), "d"), ("best_lr", _("best learning rate"), "g"),
               ("examples", _("examples seen"), "d"), ("slope", _("slope from the previous B"), ".2f"),
               ("regime", _("regime"), "")],
              [{**r, "regime": _(REGIMES[r["regime"]]) if "regime" in r else None} for r in rows])
    doc.heading(_("Observations (computed from this run)"))
    doc.bullets([
        intervals_sentence(rows, "near-perfect scaling"),
        intervals_sentence(rows, "no further benefit"),
        resolution_sentence(config.batch_sizes),
        critical_sentence(result["critical_batch_size"]),
        fit_sentence(result["fit"]),
        missing_sentence(rows, config.max_steps),
        lr_sentence(rows),
    ])
    doc.plot(plot_steps(rows, config), "batch_size",
             _("Left: steps to the target loss against B (log-log), with perfect scaling (steps ∝ 1/B) from the "
               "smallest B. Right: the best learning rate of the grid at each B."))


def plot_steps(rows: list[dict], config: Config):
    fig, axes = new_figure(1, 2, size=(11, 4.2))
    reached = [r for r in rows if r["steps"] is not None]
    ax = axes[0][0]
    if reached:
        bs = np.array([r["batch_size"] for r in reached], dtype=float)
        st = np.array([r["steps"] for r in reached], dtype=float)
        ax.loglog(bs, st, "o-", label=_("measured (best learning rate per B)"))
        ideal = st[0] * bs[0] / bs
        ax.loglog(bs, ideal, "k--", lw=0.9, label=_("perfect scaling: steps ∝ 1/B"))
        ax.axhline(st.min(), color="0.6", ls=":", lw=0.9)
        ax.set_ylim(*readable_log_range(np.concatenate([st, ideal])))
    ax.set_xlabel(_("batch size B"))
    ax.set_ylabel(_("steps to training loss {t:g}", t=config.target_loss))
    ax.legend(fontsize=8)
    ax = axes[0][1]
    if reached:
        ax.loglog(bs, [r["best_lr"] for r in reached], "s-")
    ax.set_xlabel(_("batch size B"))
    ax.set_ylabel(_("best learning rate on the grid"))
    return fig
