"""Training problems in the reports of the training labs: what :mod:`backproplab.train.diagnostics`
finds in each run, in sentences, and what the per-step record shows around a collapse or a spike.

* :func:`training_findings`: the diagnostics of one run, as JSON (kept in the lab's result);
* :func:`findings_bullets`: one sentence per finding, or one saying that nothing was found;
* :func:`excursion_evidence` / :func:`excursion_text` / :func:`plot_excursion`: the steps around an
  epoch whose evaluation collapsed or spiked (a run's end-of-epoch evaluation sees the model once
  per epoch; the step record shows how the event built up and how long it lasted);
* :func:`problems_section`: all of it as the report's "Training problems" section.

The sentence functions are tested on made-up numbers where they can go both ways.
"""
from __future__ import annotations

import numpy as np

from ..report.i18n import _, _n, join
from .plotting import new_figure
from ..train.diagnostics import STEP_SPIKE_WINDOW, diagnose

#: an excursion "kept the weights' size" when Σ W² changed by less than this fraction
WEIGHT_STEADY = 0.05
#: an excursion "grew over several steps" when the loss climbed from normal to its peak in at least this many steps
RISING_STEPS = 3
#: steps of calm shown before a climb and after its recovery
CALM_STEPS = 25
#: smallest mini-batch whose per-step losses are followed step by step (one image's loss jumps by
#: orders of magnitude from step to step, so a "peak" of batch-1 SGD says nothing)
EXCURSION_MIN_BATCH = 16

def _series(key: str):
    names = {"train_acc": _("training accuracy"), "test_acc": _("test accuracy"), "train_loss": _("training loss"),
             "test_loss": _("test loss"), "step_loss": _("step loss")}
    return names.get(key, key)


def training_findings(run: dict, chance: float) -> list[dict]:
    """``diagnose`` of one run (its history, the untrained model's loss as the reference) as JSON dicts."""
    return [f.to_dict() for f in diagnose(run["history"], chance, initial_loss=run["init"]["train_loss"])]


def finding_text(model: str, f: dict):
    """One sentence for one finding ``{"code", "values"}`` of run ``model``."""
    v, code = f["values"], f["code"]
    if code == "diverged":
        if "step" in v and "epoch" in v:
            return _("`{m}` diverged: its loss became NaN or infinite at epoch {e}, step {s}.", m=model,
                     e=v["epoch"], s=v["step"])
        unit = "step" if "step" in v else "epoch"
        return _("`{m}` diverged: its {series} became NaN or infinite at {unit} {k}.", m=model,
                 series=_series(v.get("series", "")), unit=_("step") if unit == "step" else _("epoch"), k=v[unit])
    if code == "exploded":
        unit = "step" if "step" in v else "epoch"
        ref = {"initial loss": _("the untrained model's loss"), "first step": _("the first step's loss"),
               "first epoch": _("the first epoch's loss")}.get(v["reference"], v["reference"])
        return _("`{m}` exploded: its loss reached {peak:.3g} at {unit} {k}, {f:.3g} times {ref} ({r:.3g}).",
                 m=model, peak=v["peak_loss"], unit=_("step") if unit == "step" else _("epoch"), k=v[unit],
                 f=v["factor"], ref=ref, r=v["reference_loss"])
    if code == "at_chance":
        return _("`{m}` ended at chance: its final {series} is {a:.2%}, at most {p:g} percentage points above the "
                 "majority-class rate {c:.1%}.", m=model, series=_series(v["series"]), a=v["accuracy"],
                 p=v["margin"] * 100, c=v["chance"])
    if code == "at_chance_both":
        return _("`{m}` ended at chance: final training accuracy {a:.2%} and test accuracy {b:.2%}, both at most "
                 "{p:g} percentage points above the majority-class rate {c:.1%}.", m=model, a=v["train_acc"],
                 b=v["test_acc"], p=v["margin"] * 100, c=v["chance"])
    if code == "loss_rising":
        return _("`{m}`'s training loss ended higher than after its first epoch: {a:.4g} then, {b:.4g} at the "
                 "end (×{r:.3g}).", m=model, a=v["first_loss"], b=v["final_loss"], r=v["ratio"])
    if code == "transient_collapse":
        return _n("`{m}`: its {series} fell from {before:.2%} to {low:.2%} (chance: {c:.1%}) at epoch {epochs} and "
                  "was back at {after:.2%} at epoch {back}.",
                  "`{m}`: its {series} fell from {before:.2%} to {low:.2%} (chance: {c:.1%}) at epochs {epochs} "
                  "and was back at {after:.2%} at epoch {back}.", len(v["epochs"]), m=model,
                  series=_series(v["series"]), before=v["before"], low=v["lowest"], c=v["chance"],
                  epochs=join(v["epochs"]), after=v["after"], back=v["recovered_at"])
    if code == "spike":
        return _("`{m}`: its {series} at epoch {e} ({loss:.3g}) was {f:.3g} times the larger of its two "
                 "neighbours' (a spike: at least {t:g} times).", m=model, series=_series(v["series"]),
                 e=v["epoch"], loss=v["loss"], f=v["factor"], t=v["threshold"])
    return _("`{m}`: {code}.", m=model, code=code)


def _merge_chance(items: list[dict]) -> list[dict]:
    """One ``at_chance`` finding for a run whose training and test accuracy both ended at chance."""
    chance = [f for f in items if f["code"] == "at_chance"]
    if len(chance) < 2:
        return items
    both = {"code": "at_chance_both", "values": {f["values"]["series"]: f["values"]["accuracy"] for f in chance}}
    both["values"].update(margin=chance[0]["values"]["margin"], chance=chance[0]["values"]["chance"])
    out, placed = [], False
    for f in items:
        if f["code"] != "at_chance":
            out.append(f)
        elif not placed:
            out.append(both)
            placed = True
    return out


def findings_bullets(findings: dict[str, list[dict]], runs: dict[str, dict] | None = None) -> list:
    """One sentence per finding of every run (step spikes of all runs in one), or one saying nothing was found."""
    lines, step_spikes = [], []
    for model, items in findings.items():
        for f in _merge_chance(items):
            if f["code"] == "spike" and f["values"].get("series") == "step_loss":
                total = len(runs[model]["history"].get("step_loss") or []) if runs else None
                step_spikes.append((model, f["values"], total))
            else:
                lines.append(finding_text(model, f))
    if step_spikes:
        lines.append(step_spikes_text(step_spikes))
    if lines:
        return lines
    return [_("No run diverged, exploded, ended at chance, ended with a higher training loss than after its first "
              "epoch, collapsed for a while or spiked (`backproplab.train.diagnostics`).")]


def step_spikes_text(spikes: list[tuple[str, dict, int | None]]):
    """One sentence for the single-step spikes of every run: (model, finding values, steps in all)."""
    model, worst, _total = max(spikes, key=lambda s: s[1]["factor"])
    counts = join([_("`{m}` {c} of {t}", m=m, c=v["count"], t=t if t is not None else float("nan"))
                   for m, v, t in spikes])
    return _("Steps whose loss was at least {k:g} times the median of the {w} steps on either side (one unusual "
             "mini-batch each; common with small batches, and no problem unless the epoch curves show one too): "
             "{counts}; the largest, `{m}` step {s}, was {f:.3g} times.", k=worst["threshold"], w=STEP_SPIKE_WINDOW,
             counts=counts, m=model, s=worst["step"], f=worst["factor"])


def _epoch_ends(run: dict) -> np.ndarray:
    """Steps done at the end of each epoch (cumulative)."""
    h = run["history"]
    steps = h.get("epoch_steps") or [run["steps_per_epoch"]] * len(h["train_loss"])
    return np.cumsum(steps)


def excursion_evidence(run: dict, epoch: int) -> dict | None:
    """Per-step numbers around a bad evaluation after ``epoch`` (1-based), from the run's step record.

    The evaluation sees the weights after the epoch's last step, the weights the next epoch's first
    step computes its loss on. Looks at the half epoch before the evaluation and that first step:
    the step with the highest loss (the peak); the climb that led to it, from the last step before
    the peak whose loss was still normal (at most twice the median step loss of the epoch before
    that half epoch; looked for up to an epoch further back); the gradient norm at both ends against the run's median step; the largest
    relative change of Σ W² during the climb; and how many steps after the peak the loss was back
    at most twice that median (looking one epoch ahead).
    None when the run kept no step record or its batches are smaller than :data:`EXCURSION_MIN_BATCH`.
    """
    h = run["history"]
    loss = np.asarray(h.get("step_loss") or [], dtype=float)
    grad = np.asarray(h.get("step_grad_norm") or [], dtype=float)
    wn = np.asarray(run.get("step_weight_norm") or [], dtype=float)
    ends = _epoch_ends(run)
    if not len(loss) or len(grad) != len(loss) or len(wn) != len(loss) or not 1 <= epoch <= len(ends):
        return None
    spe = int(run["steps_per_epoch"])
    if run["n_train"] / spe < EXCURSION_MIN_BATCH:
        return None
    evaluated = int(ends[epoch - 1])  # steps done when the model was evaluated
    lo, hi = max(0, evaluated - max(RISING_STEPS + 1, spe // 2)), min(len(loss), evaluated + 1)
    peak = lo + int(np.nanargmax(loss[lo:hi]))
    calm = loss[max(0, lo - spe):lo]
    base = float(np.median(calm if len(calm) else loss[:peak + 1]))
    normal = [k for k in range(max(0, lo - spe), peak) if loss[k] <= 2 * base]  # the climb may start earlier
    start = normal[-1] if normal else lo
    back = [k for k in range(peak + 1, min(len(loss), evaluated + spe)) if loss[k] <= 2 * base]
    w0 = wn[start - 1] if start else wn[0]
    change = float(np.max(np.abs(wn[start:peak + 1] - w0)) / w0) if w0 > 0 else float("inf")
    peak_epoch = int(np.searchsorted(ends, peak, side="right")) + 1  # 1-based epoch the peak step belongs to
    epoch_start = int(ends[peak_epoch - 2]) if peak_epoch >= 2 else 0
    return {"epoch": int(epoch), "peak_step": peak + 1, "peak_epoch": peak_epoch,
            "peak_step_in_epoch": peak - epoch_start + 1, "peak_loss": float(loss[peak]), "start_step": start + 1,
            "start_loss": float(loss[start]), "climb_steps": peak - start, "start_normal": bool(normal),
            "grad_start": float(grad[start]), "grad_peak": float(grad[peak]), "grad_median": float(np.median(grad)),
            "weight_change": change, "evaluated_after": evaluated, "base_loss": base,
            "recovered_after": (back[0] - peak) if back else None}


def excursion_text(model: str, ev: dict):
    """What the per-step record shows around a bad evaluation (numbers from :func:`excursion_evidence`)."""
    common = dict(m=model, e=ev["epoch"], a=ev["start_loss"], b=ev["peak_loss"], s=ev["peak_step_in_epoch"],
                  pe=ev["peak_epoch"], g0=ev["grad_start"], g1=ev["grad_peak"], gm=ev["grad_median"],
                  x=ev["grad_peak"] / ev["grad_median"] if ev["grad_median"] > 0 else float("inf"),
                  dw=ev["weight_change"])
    if not ev["start_normal"]:
        parts = [_("`{m}`, around epoch {e}: the highest step loss of the half epoch before its evaluation, {b:.3g}, "
                   "came at step {s} of epoch {pe}, and no step of that half epoch before it had a normal loss; its "
                   "gradient norm was {g1:.3g}, {x:.0f} times the run's median step ({gm:.3g}).", **common)]
    else:
        parts = [_n("`{m}`, around epoch {e}: the step loss climbed from {a:.3g} to {b:.3g} in {n} step (peak at "
                    "step {s} of epoch {pe}); the gradient norm went from {g0:.3g} to {g1:.3g}, {x:.0f} times the "
                    "run's median step ({gm:.3g}); Σ W² changed by at most {dw:.2%}.",
                    "`{m}`, around epoch {e}: the step loss climbed from {a:.3g} to {b:.3g} in {n} steps (peak at "
                    "step {s} of epoch {pe}); the gradient norm went from {g0:.3g} to {g1:.3g}, {x:.0f} times the "
                    "run's median step ({gm:.3g}); Σ W² changed by at most {dw:.2%}.", ev["climb_steps"], **common)]
    if ev["recovered_after"] is not None:
        parts.append(_n("The step loss was back below twice its earlier median ({base:.3g}) {n} step after the peak.",
                        "The step loss was back below twice its earlier median ({base:.3g}) {n} steps after the peak.",
                        ev["recovered_after"], base=ev["base_loss"]))
    else:
        parts.append(_("The step loss did not come back below twice its earlier median ({base:.3g}) within an epoch "
                       "of the evaluation.", base=ev["base_loss"]))
    if growing_instability(ev):
        parts.append(_("A loss and a gradient that grow over several steps while the weights keep their size are "
                       "what a step too large for the local curvature does (`lr·λ_max > 2` along some direction); it is "
                       "not an overflow, nor one bad batch. `docs/mlp_labs.md` measures the curvature of such an "
                       "event."))
    elif ev["start_normal"] and ev["climb_steps"] < RISING_STEPS:
        parts.append(_n("The loss was normal {n} step before the peak: an unusual batch or two, not a growing "
                        "instability.", "The loss was normal {n} steps before the peak: an unusual batch or two, not "
                        "a growing instability.", ev["climb_steps"]))
    return _concat(parts)


def growing_instability(ev: dict) -> bool:
    """The loss climbed from a normal value over at least :data:`RISING_STEPS` steps, the gradient norm grew on
    the way, and Σ W² changed by less than :data:`WEIGHT_STEADY`: the pattern of an unstable step size."""
    return (ev["start_normal"] and ev["climb_steps"] >= RISING_STEPS and ev["grad_peak"] > ev["grad_start"]
            and ev["weight_change"] < WEIGHT_STEADY)


def _concat(parts):
    out = parts[0]
    for p in parts[1:]:
        out = out + p
    return out


def excursions(findings: dict[str, list[dict]], runs: dict[str, dict]) -> list[tuple[str, dict]]:
    """(model, evidence) for each epoch where a run's accuracy collapsed or its epoch loss spiked, in runs
    that kept a step record (one entry per run and epoch, however many series showed it)."""
    found, seen = [], set()
    for model, items in findings.items():
        for f in items:
            v = f["values"]
            if f["code"] == "transient_collapse":
                epoch = v["epochs"][0]
            elif f["code"] == "spike" and "epoch" in v:
                epoch = v["epoch"]
            else:
                continue
            if (model, epoch) in seen:
                continue
            seen.add((model, epoch))
            ev = excursion_evidence(runs[model], int(epoch))
            if ev is not None:
                found.append((model, ev))
    return found


def plot_excursion(model: str, run: dict, ev: dict):
    """Loss, gradient norm and Σ W² of every step around the event of ``ev`` (1-based steps), epoch ends marked:
    from :data:`CALM_STEPS` steps before the climb to as many after the recovery, within the run."""
    after = ev["recovered_after"] if ev["recovered_after"] is not None else run["steps_per_epoch"]
    lo = max(1, ev["start_step"] - CALM_STEPS)
    hi = min(len(run["history"]["step_loss"]), ev["peak_step"] + after + CALM_STEPS)
    steps = np.arange(lo, hi + 1)
    h = run["history"]
    series = [(np.asarray(h["step_loss"], float), _("step loss"), True),
              (np.asarray(h["step_grad_norm"], float), _("gradient norm ‖∂L/∂θ‖"), True),
              (np.asarray(run["step_weight_norm"], float), _("Σ W² after the step"), False)]
    fig, axes = new_figure(3, 1, size=(8, 7))
    ends = np.cumsum(h.get("epoch_steps") or [run["steps_per_epoch"]] * len(h["train_loss"]))
    for ax, (values, label, log) in zip(axes[:, 0], series):
        ax.plot(steps, values[steps - 1], marker="o", ms=2, lw=1)
        for e in ends[(ends >= lo) & (ends <= hi)]:
            ax.axvline(e + 0.5, color="k", ls=":", lw=1)
        ax.set_ylabel(label)
        if log:
            ax.set_yscale("log")
    axes[0, 0].axvline(ev["peak_step"], color="tab:red", lw=1, alpha=0.6)
    axes[-1, 0].set_xlabel(_("optimizer step (dotted: end of an epoch, where the model is evaluated)"))
    axes[0, 0].set_title(_("{m} around epoch {e}, step by step", m=model, e=ev["epoch"]))
    fig.subplots_adjust(hspace=0.35)
    return fig


def problems_section(doc, findings: dict[str, list[dict]], runs: dict[str, dict]) -> None:
    """The report's "Training problems": every finding, then the steps around each collapse or spike."""
    doc.heading(_("Training problems"))
    doc.bullets(findings_bullets(findings, runs))
    for k, (model, ev) in enumerate(excursions(findings, runs)):
        doc.para(excursion_text(model, ev))
        doc.plot(plot_excursion(model, runs[model], ev), f"excursion_{k + 1}",
                 _("`{m}` step by step around epoch {e}: the loss, the gradient norm and Σ W² of every step.",
                   m=model, e=ev["epoch"]))
