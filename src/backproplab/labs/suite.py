"""``backproplab lab GROUP``: run every lab of a group (``all`` = the four MLP labs) and index them.

    backproplab lab all [--classes 0,1|all] [--num-epochs N] [--seed S] [--quick] [--data-dir D]
                        [--out DIR] [--lang en,fa] [--overwrite] [--quiet]

Each lab runs into ``OUT/<lab>/`` with the shared options given to every lab that has them
(``--num-epochs`` omitted = each lab's own). Then ``OUT/index.md`` and ``OUT/index.html`` (one
per language) list every lab (its summary, wall time and report) and ``OUT/index.json`` holds
every lab's full result. Every lab caches each trained model, so a killed ``lab all`` started
again resumes where it stopped. A lab that fails is reported in the index and the exit status
is 1; the others still run.
"""
from __future__ import annotations

import dataclasses
import os
import sys
import time
from pathlib import Path

from ..errors import message, run_command
from ..report.html import render_index
from ..report.i18n import _, language
from ..utils.io import atomic_write_json, atomic_write_text
from . import registry
from .cli import Parser, add_run_arguments, field_parser
from .progress import Progress
from .runner import report_files, run_lab, suffix

#: options of ``lab GROUP`` passed to every lab whose Config has the field
SHARED = {"classes": str, "num_epochs": int, "seed": int, "data_dir": str}


def parser(group: str) -> Parser:
    p = Parser(prog=f"backproplab lab {group}", allow_abbrev=False,
               description=f"run the labs {', '.join(registry.GROUPS[group])} and write an index of their reports")
    add_run_arguments(p, f"runs/{group}")
    p.add_argument("--classes", default=None, help="Fashion-MNIST class ids like 0,1, or 'all' (default: each lab's)")
    p.add_argument("--num-epochs", dest="num_epochs", type=field_parser(int, "--num-epochs"), default=None,
                   help="epochs for every lab (default: each lab's own)")
    p.add_argument("--seed", type=field_parser(int, "--seed"), default=None, help="seed for every lab (default: 0)")
    p.add_argument("--data-dir", dest="data_dir", default=None, help="folder with the IDX or npz files")
    return p


def lab_config(module, shared: dict, quick: bool):
    config = module.Config()
    if quick:
        config = config.quick()
    names = {f.name for f in dataclasses.fields(config)}
    return dataclasses.replace(config, **{k: v for k, v in shared.items() if k in names})


def machine_note() -> dict:
    """CPU count and 1-minute load average, so a reader can judge the timings."""
    try:
        load = os.getloadavg()[0]
    except OSError:
        load = None
    return {"cpus": os.cpu_count(), "load": load}


def machine_text(machine: dict):
    if machine.get("load") is None:
        return _("{n} CPUs", n=machine["cpus"])
    return _("{n} CPUs, load average {load:.1f} when the index was written", n=machine["cpus"], load=machine["load"])


def main(group: str, argv: list[str]) -> int:
    args = parser(group).parse_args(argv)
    shared = {k: getattr(args, k) for k in SHARED if getattr(args, k) is not None}
    prog = f"backproplab lab {group}"

    def go() -> int:
        modules = [registry.load_lab(name) for name in registry.GROUPS[group]]
        configs = [lab_config(m, shared, args.quick) for m in modules]  # bad options fail here, before any run
        quick = args.quick
        out = Path(args.out or f"runs/{group}{'-quick' if quick else ''}")
        progress = Progress(False if args.quiet else None)
        entries, t_all = [], time.perf_counter()
        for k, (module, config) in enumerate(zip(modules, configs), start=1):
            print(f"[{group} {k}/{len(modules)}] {module.NAME}: running into {out / module.NAME}", flush=True)
            entries.append(_run_entry(module, config, out / module.NAME, args, progress))
        index = {"group": group, "options": {**shared, "quick": quick}, "wall_s": time.perf_counter() - t_all,
                 "machine": machine_note(), "labs": entries}
        write_index(out, group, index, args.lang)
        print(f"[{group}] wrote {out / ('index' + suffix(args.lang[0]) + '.html')} ({index['wall_s']:.1f} s)")
        return 0 if all(e["ok"] for e in entries) else 1

    return run_command(prog, go, debug=args.debug)


def _run_entry(module, config, lab_dir: Path, args, progress) -> dict:
    t0 = time.perf_counter()
    entry = {"lab": module.NAME, "title": module.TITLE, "dir": module.NAME, "config": config.to_dict()}
    try:
        result = run_lab(module, config, lab_dir, langs=args.lang, overwrite=args.overwrite, progress=progress)
        entry.update(ok=True, result=result)
    except Exception as e:  # one failing lab must not lose the others' results
        if args.debug:
            raise
        entry.update(ok=False, error=f"{type(e).__name__}: {message(e)}")
        print(f"[{module.NAME}] FAILED: {entry['error']}", file=sys.stderr, flush=True)
    entry["wall_s"] = time.perf_counter() - t0
    if entry["ok"]:
        print(f"[{module.NAME}] {entry['result'].get('summary', '')} ({entry['wall_s']:.1f} s)", flush=True)
    return entry


def write_index(out: Path, group: str, index: dict, langs) -> None:
    atomic_write_json(out / "index.json", index)
    for lang in langs:
        with language(lang):
            title = _("backproplab lab {group}", group=group)
            intro = _("Options: {opts}. Total wall time {t:.1f} s ({machine}). Wall time is this invocation's (a "
                      "resumed run skips the models it finished before).",
                      opts=", ".join(f"{k}={v}" for k, v in index["options"].items()) or "defaults",
                      t=index["wall_s"], machine=machine_text(index["machine"]))
            entries = [{"name": e["lab"], "title": _(e["title"]), "ok": e["ok"], "seconds": e["wall_s"],
                        "href": f"{e['dir']}/{report_files(lang)[1]}",
                        "summary": str(lab_summary(e)) if e["ok"] else e["error"]} for e in index["labs"]]
            atomic_write_text(out / f"index{suffix(lang)}.html", render_index(title, entries, lang, intro))
            atomic_write_text(out / f"index{suffix(lang)}.md", _index_markdown(title, intro, index, lang))


def lab_summary(entry: dict):
    """A finished lab's one-line summary in the active language: its module's ``summary_line(result)``
    where it has one, else the English ``summary`` of its result."""
    known = entry["lab"] in registry.labs()
    line = getattr(registry.load_lab(entry["lab"]), "summary_line", None) if known else None
    return line(entry["result"]) if line else entry["result"].get("summary", "")


def _index_markdown(title, intro, index: dict, lang: str) -> str:
    from ..report import Report
    from ..report.markdown import render_markdown

    doc = Report(title=title, lang=lang)
    doc.para(intro)
    rows = [{"lab": e["lab"], "report": f"[{report_files(lang)[0]}]({e['dir']}/{report_files(lang)[0]})",
             "best": e["result"].get("best_test_acc") if e["ok"] else None,
             "model": e["result"].get("best_model", "") if e["ok"] else _("failed"),
             "seconds": e["wall_s"]} for e in index["labs"]]
    doc.table([("lab", _("lab"), ""), ("best", _("best test accuracy"), ".2%"), ("model", _("best model"), ""),
               ("seconds", _("time (s)"), ".1f"), ("report", _("report"), "")], rows)
    doc.heading(_("Summaries"))
    doc.bullets([f"**{e['lab']}**: {lab_summary(e)}" if e["ok"] else f"**{e['lab']}**: `{e['error']}`"
                 for e in index["labs"]])
    return render_markdown(doc)
