"""``backproplab lab GROUP``: run every lab of a group (``all`` = the four MLP labs) and index them.

    backproplab lab all [--classes 0,1|all] [--epochs N] [--seed S] [--quick] [--data-dir D] [--out DIR]

Each lab runs into ``OUT/<lab>/`` with the shared options passed to its Config where it has
that field (``--epochs`` omitted = each lab's own default). Then ``OUT/index.md`` gets one row
per lab (best test accuracy, wall time, links to its report and figures) and ``OUT/index.json``
the same plus every lab's full result. Every lab caches each trained model
(:meth:`LabRun.step`), so a killed ``lab all`` started again resumes where it stopped.
A lab that fails is reported in the index and the exit status is 1; the others still run.
"""
from __future__ import annotations

import argparse
import time
import traceback
from pathlib import Path

from ..utils.io import atomic_write_json, atomic_write_text
from . import GROUPS, load_lab
from .common import config_to_dict, markdown_table, parse_classes, replace_known
from .mlp_common import machine_note


def _parser(group_name: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=f"backproplab lab {group_name}", allow_abbrev=False,
                                description=f"run the labs {', '.join(GROUPS[group_name])} and write an index")
    p.add_argument("--classes", default=None, help="Fashion-MNIST class ids like 0,1, or 'all' (default: each lab's, 0,1)")
    p.add_argument("--epochs", type=int, default=None, help="epochs for every lab (default: each lab's own)")
    p.add_argument("--seed", type=int, default=None, help="seed for every lab (default: 0)")
    p.add_argument("--quick", action="store_true", help="a slice of the data and few epochs: seconds per lab")
    p.add_argument("--data-dir", dest="data_dir", default=None, help="folder with the IDX or npz files")
    p.add_argument("--out", type=Path, default=None, help=f"output folder (default: runs/{group_name})")
    return p


def main(group_name: str, argv: list[str]) -> int:
    """Run the group ``group_name`` with CLI options ``argv``; 0 if every lab succeeded, else 1."""
    args = _parser(group_name).parse_args(argv)
    if args.epochs is not None and args.epochs < 1:
        raise SystemExit(f"backproplab lab {group_name}: --epochs must be >= 1, got {args.epochs}")
    if args.classes is not None:
        try:
            parse_classes(args.classes)  # a bad --classes fails here, not once per lab
        except ValueError as e:
            raise SystemExit(f"backproplab lab {group_name}: {e}") from None
    out = args.out or Path("runs") / group_name
    shared = {k: v for k, v in {"classes": args.classes, "epochs": args.epochs, "seed": args.seed,
                                "data_dir": args.data_dir}.items() if v is not None}
    if args.quick:
        shared["quick"] = True
    entries, t_all = [], time.perf_counter()
    for name in GROUPS[group_name]:
        module = load_lab(name)
        config = replace_known(module.Config(), **shared)
        lab_dir = out / name
        print(f"[{group_name}] {name}: running into {lab_dir}", flush=True)
        t0 = time.perf_counter()
        entry = {"lab": name, "title": getattr(module, "TITLE", name), "dir": name, "config": config_to_dict(config)}
        try:
            result = module.run(config, lab_dir)
            entry.update(ok=True, result=result)
        except Exception as e:  # one failing lab must not lose the others' results
            entry.update(ok=False, error=f"{type(e).__name__}: {e}", traceback=traceback.format_exc())
            print(f"[{group_name}] {name} FAILED: {entry['error']}", flush=True)
        entry["wall_s"] = time.perf_counter() - t0
        entries.append(entry)
        if entry["ok"]:
            print(f"[{group_name}] {name}: {entry['result'].get('summary', '')} ({entry['wall_s']:.1f}s)", flush=True)
    total = time.perf_counter() - t_all
    index = {"group": group_name, "options": {**shared, "quick": bool(args.quick)}, "wall_s": total,
             "machine": machine_note(), "labs": entries}
    atomic_write_json(out / "index.json", index)
    atomic_write_text(out / "index.md", _index_markdown(group_name, index))
    print(f"[{group_name}] wrote {out / 'index.md'} ({total:.1f}s)")
    return 0 if all(e["ok"] for e in entries) else 1


def _index_markdown(group_name: str, index: dict) -> str:
    rows = []
    for e in index["labs"]:
        r = e.get("result") or {}
        figs = " ".join(f"[{Path(f).stem}]({e['dir']}/{f})" for f in r.get("figures", []))
        acc = r.get("best_test_acc")
        rows.append({
            "lab": e["lab"],
            "best test acc": f"{acc:.2%}" if acc is not None else ("FAILED" if not e["ok"] else "n/a"),
            "best model": r.get("best_model", ""),
            "epochs": r.get("epochs", ""),
            "wall time (s)": f"{e['wall_s']:.1f}",
            "training time (s)": f"{r['train_time_s']:.1f}" if "train_time_s" in r else "",
            "report": f"[report]({e['dir']}/report.md)",
            "figures": figs,
        })
    opts = ", ".join(f"{k}={v}" for k, v in index["options"].items()) or "defaults"
    lines = [f"# backproplab lab {group_name}", "",
             f"Options: {opts}. Total wall time {index['wall_s']:.1f} s ({index['machine']}). "
             "Wall time is this invocation's (a resumed run skips the models it finished before); "
             "training time is the sum of each model's measured training time, cached runs included.", "",
             markdown_table(rows), "## Summaries", ""]
    for e in index["labs"]:
        if e["ok"]:
            lines.append(f"- **{e['lab']}**: {e['result'].get('summary', '')}")
        else:
            lines.append(f"- **{e['lab']}** failed: `{e['error']}`")
    return "\n".join(lines) + "\n"
