"""Lab: steps to reach a training loss vs mini-batch size -- perfect scaling, then diminishing returns.

The question: if the batch is twice as large, do we need half as many SGD steps?
For each batch size B the lab trains a softmax-regression classifier (the
library's Linear + CrossEntropyLoss + SGD) on Fashion-MNIST with every learning
rate of a grid and records the fewest steps that bring the training loss (on a
fixed evaluation subset of the training set) to ``target_loss``; the learning
rate is tuned per batch size, as in the measurements of Shallue et al.

On a log-log plot of steps vs B, *perfect scaling* is a slope of -1 (doubling B
halves the steps: every example still does full work); *diminishing returns*
is a slope between -1 and 0; a slope near 0 means larger batches no longer help
(the steps are limited by curvature, not by gradient noise). The lab labels
each interval between neighbouring batch sizes from its measured slope.

Why a hand-written loop rather than the Trainer: the quantity measured is the
step at which the loss first reaches the target, so the loop checks the loss at
a geometric grid of steps (1, 2, ..., then every ~10%) and stops there; every
piece (model, loss, optimizer, data loader) is the library's.

Exercises: (1) how does the critical batch size change with a lower target
loss? (2) add momentum: does the plateau move?

Reference: Shallue et al. 2019, "Measuring the effects of data parallelism on
neural network training", JMLR 20; McCandlish et al. 2018, "An empirical model of
large-batch training" (the critical batch size).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .common import LabRun, markdown_table, new_figure, parse_classes, replace_known

NAME = "batch-size"
TITLE = "SGD steps to a fixed training loss vs batch size (Fashion-MNIST)"


@dataclass(frozen=True)
class Config:
    seed: int = 0                     # initial weights, batch order, evaluation subset
    quick: bool = False               # small grid and subset: seconds
    data_dir: str | None = None       # Fashion-MNIST folder (None: the default location)
    classes: str = "all"              # class ids, e.g. "0,1", or "all"
    batch_sizes: tuple[int, ...] = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096)
    lrs: tuple[float, ...] = (0.0039, 0.0078, 0.0156, 0.03125, 0.0625, 0.125, 0.25, 0.5, 1.0)  # grid 2^-8..2^0
    target_loss: float = 0.6          # training cross-entropy to reach
    max_steps: int = 30000            # give up after this many steps
    eval_size: int = 5000             # training examples the loss is measured on


QUICK = dict(batch_sizes=(1, 4, 16, 64, 256), lrs=(0.01, 0.03, 0.1, 0.3), target_loss=0.9, max_steps=3000,
             eval_size=1000)


def check_points(max_steps: int) -> list[int]:
    """1, 2, 3, ... then steps about 5% apart, up to ``max_steps``: where the loss is measured."""
    pts = set(range(1, 21))
    v = 20.0
    while v < max_steps:
        v *= 1.05
        pts.add(min(int(round(v)), max_steps))
    return sorted(pts)


def steps_to_target(x, y, x_eval, y_eval, batch_size: int, lr: float, target: float, max_steps: int,
                    seed: int) -> int | None:
    """SGD steps until the loss on (x_eval, y_eval) is <= ``target``; None if not within ``max_steps``."""
    from ..nn import CrossEntropyLoss, Linear
    from ..optim import SGD

    rng = np.random.default_rng(seed)  # same initial weights and batch order for every lr
    num_classes = int(y.max()) + 1
    model = Linear(x.shape[1], num_classes, rng=rng)
    loss_fn = CrossEntropyLoss()
    opt = SGD(model.parameters(), lr=lr)
    start = loss_fn(model.forward(x_eval), y_eval)
    order, pos = rng.permutation(len(x)), 0
    checks = iter(check_points(max_steps))
    nxt = next(checks)
    for step in range(1, max_steps + 1):
        if pos + batch_size > len(x):  # new epoch: reshuffle (as the Trainer does)
            order, pos = rng.permutation(len(x)), 0
        idx = order[pos:pos + batch_size]
        pos += batch_size
        loss_fn(model.forward(x[idx]), y[idx])
        opt.zero_grad()
        model.backward(loss_fn.backward())
        opt.step()
        if step == nxt:
            loss = loss_fn(model.forward(x_eval), y_eval)
            if loss <= target:
                return step
            if not math.isfinite(loss) or loss > 2.0 * start:
                return None  # diverged
            nxt = next(checks, max_steps + 1)
    return None


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


def run(config: Config, out_dir: Path) -> dict:
    from ..data import load_fashion_mnist

    if config.quick:
        config = replace_known(config, **QUICK)
    lab = LabRun(out_dir, config)
    if any(b < 1 for b in config.batch_sizes) or any(lr <= 0 for lr in config.lrs) or config.target_loss <= 0:
        raise ValueError("batch_sizes must be >= 1, lrs > 0 and target_loss > 0")
    ds = load_fashion_mnist(classes=parse_classes(config.classes), data_dir=config.data_dir)
    rng = np.random.default_rng(config.seed)
    x, y = ds.x_train, ds.y_train
    if config.quick:
        keep = rng.choice(len(x), 3000, replace=False)
        x, y = x[keep], y[keep]
    ev = rng.choice(len(x), min(config.eval_size, len(x)), replace=False)
    x_eval, y_eval = x[ev], y[ev]

    rows, prev_lr = [], None
    for b in sorted(config.batch_sizes):
        def measure(b=b, prev_lr=prev_lr):
            # try the previous batch size's best lr first, then its neighbours: a good first run gives a
            # low cap, so the slow runs stop early (the minimum over the grid does not depend on the order)
            order = sorted(config.lrs)
            if prev_lr is not None:
                order.sort(key=lambda lr: abs(math.log(lr / prev_lr)))
            best, per_lr = None, {}
            for lr in order:
                cap = config.max_steps if best is None else best  # only a faster lr can change the minimum
                s = steps_to_target(x, y, x_eval, y_eval, b, lr, config.target_loss, cap, config.seed)
                per_lr[str(lr)] = s  # None: diverged, or no faster than the best so far
                if s is not None and (best is None or s < best):
                    best = s
            return {"best_steps": best, "per_lr": per_lr}

        res = lab.step(f"batch-{b}", measure)
        best = res["best_steps"]
        best_lr = min((float(lr) for lr, s in res["per_lr"].items() if s == best), default=None) if best else None
        rows.append({"batch_size": b, "steps": best, "best_lr": best_lr,
                     "examples": None if best is None else best * b})
        prev_lr = best_lr if best_lr is not None else prev_lr
    reached = [r for r in rows if r["steps"] is not None]
    for a, c in zip(reached[:-1], reached[1:]):
        c["slope"] = math.log(c["steps"] / a["steps"]) / math.log(c["batch_size"] / a["batch_size"])
        c["regime"] = slope_regime(c["slope"])
    lab.save_metrics("steps", rows)

    fig, axes = new_figure(1, 2, size=(11, 4.2))
    ax = axes[0][0]
    if reached:
        bs = np.array([r["batch_size"] for r in reached], dtype=float)
        st = np.array([r["steps"] for r in reached], dtype=float)
        ax.loglog(bs, st, "o-", label="measured (best lr per batch size)")
        ax.loglog(bs, st[0] * bs[0] / bs, "k--", lw=0.9, label="perfect scaling: steps ∝ 1/B")
        ax.axhline(st.min(), color="0.6", ls=":", lw=0.9)
    ax.set_xlabel("batch size B")
    ax.set_ylabel(f"steps to training loss {config.target_loss:g}")
    ax.legend(fontsize=8)
    ax = axes[0][1]
    if reached:
        ax.loglog(bs, [r["best_lr"] for r in reached], "s-")
    ax.set_xlabel("batch size B")
    ax.set_ylabel("best learning rate on the grid")
    lab.savefig(fig, "batch_size")

    sloped = [r for r in reached if "slope" in r]
    perfect = [f"{a['batch_size']}→{c['batch_size']}" for a, c in zip(reached, reached[1:])
               if c["regime"] == "near-perfect scaling"]
    flat = [f"{a['batch_size']}→{c['batch_size']}" for a, c in zip(reached, reached[1:])
            if c["regime"] == "no further benefit"]
    critical = next((r["batch_size"] for r in sloped if r["slope"] > -0.5), None)
    missing = [r["batch_size"] for r in rows if r["steps"] is None]
    fit = two_segment_fit([r["batch_size"] for r in reached], [r["steps"] for r in reached])
    fit_line = "- Two-line fit: not enough batch sizes reached the target (4 needed)."
    if fit:
        fit_line = (f"- Two-line least-squares fit of log(steps) vs log(B): slope {fit['slope_small']:.2f} below "
                    f"B = {fit['break_batch_size']}, {fit['slope_large']:.2f} from there on (-1 = perfect scaling, "
                    "0 = no benefit).")
    lr_line = "- Best learning rate: not measurable (fewer than two batch sizes reached the target)."
    if len(reached) >= 2:
        lrs = [r["best_lr"] for r in reached]
        peak = reached[int(np.argmax(lrs))]["batch_size"]
        lr_line = (f"- Best learning rate on the grid: {lrs[0]:g} at B={reached[0]['batch_size']}, "
                   f"{lrs[-1]:g} at B={reached[-1]['batch_size']}; it first reaches its largest value "
                   f"{max(lrs):g} at B={peak}.")
    summary = (f"steps to loss {config.target_loss:g}: " + ", ".join(f"B={r['batch_size']}: {r['steps']}" for r in rows)
               + f". Near-perfect scaling on {perfect or 'no interval'}; no benefit on {flat or 'no interval'}."
               + (f" Two-line fit: slope {fit['slope_small']:.2f} below B={fit['break_batch_size']}, "
                  f"{fit['slope_large']:.2f} above." if fit else ""))
    report = [f"# {TITLE}\n",
              f"Softmax regression (Linear {x.shape[1]}→{int(y.max()) + 1} + cross-entropy), plain SGD, "
              f"{len(x)} training examples ({ds.source}), loss measured on {len(x_eval)} of them. "
              f"Learning-rate grid {list(config.lrs)}; at most {config.max_steps} steps.\n",
              markdown_table(rows, ["batch_size", "steps", "best_lr", "examples", "slope", "regime"]),
              "\n## Observations (from the numbers)\n",
              f"- Intervals with slope ≤ -0.75 (near-perfect scaling: doubling B about halves the steps): "
              f"{perfect or 'none'}.",
              f"- Intervals with slope > -0.25 (larger batches no longer reduce the steps): {flat or 'none'}.",
              f"- First batch size whose interval has slope > -0.5 (a rough critical batch size): "
              f"{critical if critical is not None else 'none within the grid'}.",
              fit_line,
              f"- Batch sizes that did not reach the target within {config.max_steps} steps: {missing or 'none'}.",
              lr_line,
              "\n![batch size](batch_size.png)\n"]
    lab.write_report("\n".join(report))
    lab.save_metrics("fit", {"two_segment": fit, "critical_batch_size": critical})
    return {"summary": summary, "rows": rows, "critical_batch_size": critical, "fit": fit}
