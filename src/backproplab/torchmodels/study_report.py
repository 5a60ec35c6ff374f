"""study.md and accuracy_vs_macs.png of the MobileNet study, computed from study.json alone.

Every sentence states what its numbers show; where a number is missing (a model not
trained, a timing not taken) the sentence says so instead of guessing.
"""
from __future__ import annotations

from pathlib import Path

from ..utils.io import atomic_write_text

LABELS = {"cnn": "plain CNN", "v1": "MobileNet V1", "v2": "MobileNet V2"}
COLORS = {"cnn": "tab:gray", "v1": "tab:blue", "v2": "tab:orange"}
GOAL_ACC = 0.945        # MobileNet V2 1.0 at 32 px on Fashion-MNIST, 30 epochs
GOAL_SECONDS = 8 * 60   # the whole study on one H200


def _pct(x) -> str:
    return "" if x is None else f"{100 * x:.2f}%"


def _num(x, fmt: str) -> str:
    return "" if x is None else format(x, fmt)


def table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def model_rows(records: list[dict]) -> list[list[str]]:
    order = {m: i for i, m in enumerate(LABELS)}
    out = []
    for r in sorted(records, key=lambda r: (order.get(r["model"], 9), -r["resolution"], -r["width"], r["seed"])):
        out.append([LABELS.get(r["model"], r["model"]), str(r["width"]), f"{r['resolution']} px", str(r["seed"]),
                    _num(r.get("params") and r["params"] / 1e6, ".3f"), _num(r.get("macs") and r["macs"] / 1e6, ".1f"),
                    _pct(r.get("test_acc")), _pct(r.get("best_test_acc")), _num(r.get("images_per_s"), ".0f"),
                    _num(r.get("s_per_epoch"), ".2f"), _num(r.get("alone_images_per_s"), ".0f"),
                    _pct(r.get("peak_fraction")), _num(r.get("latency_b1_eager_ms"), ".2f"),
                    _num(r.get("latency_b1_graph_ms"), ".3f"), r.get("engine") or "",
                    r["status"] + (f" ({r['epochs_done']} epochs)" if r["status"] == "unfinished" else "")])
    return out


MODEL_HEADER = ["model", "width", "input", "seed", "params (M)", "MACs (M)", "test acc", "best epoch",
                "train images/s (run)", "s/epoch (run)", "train images/s (alone)", "bf16 peak (alone)",
                "batch-1 ms (eager)", "batch-1 ms (graph)", "engine", "status"]


def observations(records: list[dict], run: dict, base_width: float, base_side: int) -> list[str]:
    """The report's findings, each computed from the numbers (tested on made-up numbers both ways)."""
    obs = []
    v2 = [r for r in records if r["model"] == "v2" and r["width"] == base_width and r["resolution"] == base_side
          and r["status"] == "finished"]
    if base_width == 1.0 and base_side == 32:
        if v2:
            accs = [r["test_acc"] for r in v2]
            met = sum(a >= GOAL_ACC for a in accs)
            verdict = "meets" if met == len(accs) else ("misses" if met == 0 else f"meets in {met} of {len(accs)} seeds")
            obs.append(f"MobileNet V2 1.0 at 32 px: test accuracy {', '.join(_pct(a) for a in accs)} after the last "
                       f"epoch: it {verdict} the {_pct(GOAL_ACC)} goal.")
        else:
            obs.append(f"MobileNet V2 1.0 at 32 px did not finish here, so the {_pct(GOAL_ACC)} goal is untested.")
    total = run.get("total_s")
    if total is not None:
        train = run.get("phases_s", {}).get("training")
        within = "within" if total <= GOAL_SECONDS else "over"
        obs.append(f"This invocation took {total / 60:.1f} min"
                   + (f" ({train / 60:.1f} min training)" if train is not None else "")
                   + f": {within} the {GOAL_SECONDS // 60}-minute goal for the whole study.")
    timed = [r for r in records if r.get("peak_fraction") is not None]
    if timed:
        big = max(timed, key=lambda r: r["macs"])
        obs.append(f"The largest model ({LABELS.get(big['model'])} {big['width']}, {big['resolution']} px, "
                   f"{big['macs'] / 1e6:.0f}M MACs) trains at {big['alone_images_per_s']:.0f} images/s with the device "
                   f"to itself: {_pct(big['peak_fraction'])} of the measured bf16 matmul rate, counting "
                   "6 x MACs FLOPs per image.")
        fastest = max(timed, key=lambda r: r["alone_images_per_s"])
        if fastest is not big:
            obs.append(f"Fastest to train alone: {LABELS.get(fastest['model'])} {fastest['width']} at "
                       f"{fastest['resolution']} px ({fastest['alone_images_per_s']:.0f} images/s, "
                       f"{fastest['macs'] / 1e6:.1f}M MACs, {_pct(fastest['peak_fraction'])} of the peak): "
                       "small models are bound by memory traffic and kernel launches, not by MACs.")
    return obs


def _run_lines(run: dict) -> list[str]:
    env, lines = run.get("environment", {}), []
    lines.append(f"**Machine.** {env.get('device')}, PyTorch {env.get('torch')}"
                 + (f", CUDA {env['cuda']}, cuDNN {env.get('cudnn')}" if env.get("cuda") else "")
                 + f", Python {env.get('python')}.")
    if run.get("peak"):
        copy = run.get("copy")
        lines.append(f"**Ceilings, measured in this run.** bf16 matmul {run['peak']['n']}^3: "
                     f"{run['peak']['tflops']:.3g} TFLOP/s (the \"peak\" below)"
                     + (f"; device-to-device copy {copy['gb_per_s']:.3g} GB/s (bytes read + written)." if copy
                        else "."))
    phases = ", ".join(f"{k} {v:.1f} s" for k, v in run.get("phases_s", {}).items())
    ch = run.get("choice") or {}
    choice = (f"engine {ch.get('engine')}, channels_last {'yes' if ch.get('channels_last') else 'no'}, "
              f"{ch.get('lanes')} lane(s), seeds stacked {'yes' if ch.get('stack_seeds') else 'no'}")
    lines.append(f"**Time.** {_num(run.get('total_s'), '.1f')} s in all ({phases}); budget "
                 f"{run['config'].get('budget_seconds')} s. Ran with: {choice} (asked; the engine column says "
                 "what each model ran).")
    return lines


def _probe_lines(probe: dict | None) -> list[str]:
    if not probe:
        return ["No probe ran in this invocation (the options came from the command line or the defaults)."]
    rows = [[r["option"], r["engine"], str(r["channels_last"]), str(r["jobs"]), str(r["stacked"]),
             _num(r["images_per_s"], ".0f"), _num(r.get("prepare_s"), ".2f"), _num(r.get("compile_s"), ".1f"),
             r.get("note", "")] for r in probe["rows"]]
    return [f"Model {probe['model']}, {probe['steps']} timed steps per option after warm-up; model-images/s = "
            "images of every job and every stacked model, per second.", "",
            table(["option", "engine", "channels_last", "jobs", "stacked", "model-images/s", "prepare s",
                   "compile s", "note"], rows), "",
            *[f"- Check: {c['engine']} (ran as {c.get('ran_as', '?')}) vs eager, weight updates after "
              f"{c.get('steps')} steps differ by {_num(c.get('relative_difference'), '.2g')} (relative; "
              f"limit {c.get('tolerance')}): {'same numbers' if c['ok'] else 'NOT the same: not used'}"
              + (f" ({c['note']})" if c.get("note") else "") for c in probe.get("checks", [])],
            *[f"- {r}" for r in probe["reasons"]]]


def summary(data: dict, run: dict, keys: list[str]) -> str:
    """A short plain-text table and the findings, for the end of the log (a device call returns its tail)."""
    records = [data["models"][k] for k in keys if k in data["models"]]
    cfg = run["config"]
    lines = [f"{'model':<14}{'width':>6}{'px':>4}{'seed':>5}{'test acc':>9}{'s/epoch':>8}{'img/s alone':>12}"
             f"{'peak':>9}{'b1 ms':>8}  status"]
    for r in sorted(records, key=lambda r: (r["model"], -r["resolution"], -r["width"], r["seed"])):
        lines.append(f"{LABELS.get(r['model'], r['model']):<14}{r['width']:>6}{r['resolution']:>4}{r['seed']:>5}"
                     f"{_pct(r.get('test_acc')):>9}{_num(r.get('s_per_epoch'), '.2f'):>8}"
                     f"{_num(r.get('alone_images_per_s'), '.0f'):>12}{_pct(r.get('peak_fraction')):>9}"
                     f"{_num(r.get('latency_b1_graph_ms') or r.get('latency_b1_eager_ms'), '.2f'):>8}  {r['status']}")
    obs = observations(records, run, cfg["widths"][0], cfg["resolutions"][0])
    return "\n".join(lines + [f"- {o}" for o in obs])


def write_report(out_dir, data: dict, run: dict, keys: list[str]) -> None:
    """study.md and accuracy_vs_macs.png in ``out_dir`` for the records ``keys`` of ``data['models']``."""
    out = Path(out_dir)
    records = [data["models"][k] for k in keys if k in data["models"]]
    cfg, recipe = run["config"], run["recipe"]
    base_w, base_r = cfg["widths"][0], cfg["resolutions"][0]
    missing = [k for k in keys if k not in data["models"]]
    md = ["# MobileNet V1/V2 vs a plain CNN: the study on one GPU", "",
          f"**Data.** {run.get('data')}.", "",
          f"**Recipe.** {recipe['num_epochs']} epoch{'s' if recipe['num_epochs'] != 1 else ''}, batch {recipe['batch_size']}, SGD with Nesterov momentum "
          f"{recipe['momentum']}, peak lr {recipe['lr']} after {recipe['warmup_epochs']} warm-up epochs then cosine "
          f"to 0, label smoothing {recipe['label_smoothing']}, weight decay {recipe['weight_decay']} on dense conv "
          f"and linear weights{' and depthwise filters' if recipe['depthwise_weight_decay'] else ''}, random crop "
          f"(pad {recipe['crop_pad']} px at 32 px){' + horizontal flip' if recipe['flip'] else ''}, "
          f"{'bf16 autocast' if recipe['amp'] else 'float32'}. Seeds {cfg['seeds']}.", "",
          *[line + "\n" for line in _run_lines(run)],
          "## Observations", "", *[f"- {o}" for o in observations(records, run, base_w, base_r)], "",
          "## Models", "",
          "run = during the study, while other models shared the GPU; alone = the model by itself afterwards. "
          "bf16 peak = alone images/s x 6 x MACs / the measured matmul rate. Batch-1 latency: eval mode, "
          "bf16 autocast, median; graph = the forward replayed as a CUDA graph.", "",
          table(MODEL_HEADER, model_rows(records)), "",
          "![accuracy vs MACs](accuracy_vs_macs.png)", "",
          "## Probe: how the study chose to run", "", *_probe_lines(run.get("probe")), ""]
    if missing or run.get("skipped"):
        md += ["## Not done", "", *[f"- {k}: not in study.json" for k in missing],
               *[f"- {s['what']}: {s['why']}" for s in run.get("skipped", [])], ""]
    atomic_write_text(out / "study.md", "\n".join(md))
    plot(out / "accuracy_vs_macs.png", records, base_w, base_r)


def plot(path: Path, records: list[dict], base_w: float, base_r: int) -> None:
    """Test accuracy (left) and training images/s alone (right) against MACs, per family."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    done = [r for r in records if r.get("test_acc") is not None]
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
    for family, label in LABELS.items():
        for ax, key, scale in ((axes[0], "test_acc", 100), (axes[1], "alone_images_per_s", 1)):
            for group, style in ((lambda r: r["resolution"] == base_r, "o-"),
                                 (lambda r: r["width"] == base_w and r["resolution"] != base_r, "s--")):
                pts = sorted((r for r in done if r["model"] == family and group(r) and r.get(key)),
                             key=lambda r: r["macs"])
                if pts:
                    ax.plot([r["macs"] / 1e6 for r in pts], [scale * r[key] for r in pts], style,
                            color=COLORS[family], label=label + (" (widths)" if style == "o-" else " (input sides)"))
                    for r in pts:
                        ax.annotate(f"{r['width']}" if style == "o-" else f"{r['resolution']}px",
                                    (r["macs"] / 1e6, scale * r[key]), fontsize=7, textcoords="offset points",
                                    xytext=(3, 3))
    axes[0].set_ylabel("test accuracy (%)")
    axes[1].set_ylabel("training images/s, alone")
    axes[1].set_yscale("log")
    for ax in axes:
        ax.set_xscale("log")
        ax.set_xlabel("MACs per image (millions)")
        ax.grid(alpha=0.3, which="both")
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7)
    fig.tight_layout()
    tmp = path.with_name(f".{path.name}.tmp.png")
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    tmp.replace(path)
