"""``course run``: every experiment of the course map at full settings, and one index of the answers.

Each distinct command of the map runs once (a lab's run folder is shared by the questions it
answers, and a finished run is reused when ``course run`` is started again); the index lists every
question with its answer, its verdict where an expected value exists, and a link to the report
that answers it, and a timing table per command.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

from ..labs import progress
from ..report import Report, render_html, render_markdown
from ..report.document import CodeText
from ..report.i18n import N_, _
from ..utils.io import atomic_write_json, atomic_write_text
from .answers import answer, run
from .map import load_map

REPORT = N_("report")
#: labs that need a GPU for a full run in reasonable time (skipped unless asked)
GPU_LABS = ("mobilenet",)


def commands(quick: bool, include_gpu: bool) -> list[str]:
    """Distinct commands of the map, in map order (labs and calculators; not check/data), then every
    other lab with its default settings (a lab that answers no question is still part of the course)."""
    from ..labs import registry

    seen = []
    for s in load_map().values():
        for q in s.questions:
            c = q.command_for(quick)
            if not c or c in seen or not c.split()[1:2] or c.split()[1] not in ("lab", "calc"):
                continue
            if not include_gpu and c.split()[1] == "lab" and c.split()[2] in GPU_LABS:
                continue
            seen.append(c)
    ran = {c.split()[2] for c in seen if c.split()[1] == "lab"}
    for name in sorted(registry.labs()):
        if name not in ran and (include_gpu or name not in GPU_LABS):
            seen.append(f"backproplab lab {name}" + (" --quick" if quick else ""))
    return seen


def _mark_skipped(cache: dict, quick: bool) -> None:
    """Questions whose lab was left out of the run (a GPU lab without --include-gpu) are answered "not
    run" with the reason; the index is written from what ran and never runs a lab itself."""
    from .answers import CommandRun

    for s in load_map().values():
        for q in s.questions:
            c = q.command_for(quick)
            if not c or c in cache or c.split()[1:2] != ["lab"]:
                continue
            why = (_("needs a GPU for its full run: `backproplab course run --include-gpu`, or `bash "
                     "scripts/gpu_study.sh` on a GPU machine") if c.split()[2] in GPU_LABS else
                   _("left out of this run"))
            cache[c] = CommandRun(c, ran=False, error=str(why))


def _previous_seconds(root: Path) -> dict[str, float]:
    """Seconds each command took in the last `course run` into ``root`` (to start the longest first)."""
    try:
        return {t["command"]: t["seconds"] for t in json.loads((root / "answers.json").read_text())["timing"]}
    except (OSError, ValueError, KeyError, TypeError):
        return {}


def run_commands(todo: list[str], root: Path, lang: str, jobs: int, shown) -> tuple[dict, list]:
    """Calculators here, one after the other; labs in ``jobs`` child processes at once, the longest
    (by the last run's times) first. Every lab seeds its own generators and holds its BLAS and shard
    counts fixed, so running side by side changes no number, only the wall time."""
    from concurrent.futures import ThreadPoolExecutor, as_completed

    from .answers import run_lab_apart

    cache, timing = {}, []
    labs = [c for c in todo if c.split()[1] == "lab"]
    for command in todo:
        if command not in labs:
            t0 = time.perf_counter()
            cache[command] = run(command, root, lang)
            timing.append({"command": command, "seconds": time.perf_counter() - t0, "status": cache[command].status})
    before = _previous_seconds(root)
    labs.sort(key=lambda c: -before.get(c, 0.0))

    def one(command):
        t0 = time.perf_counter()
        return command, run_lab_apart(command, root, lang), time.perf_counter() - t0

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        futures = [pool.submit(one, c) for c in labs]
        for k, future in enumerate(as_completed(futures), start=1):
            command, done, seconds = future.result()
            cache[command] = done
            timing.append({"command": command, "seconds": seconds, "status": done.status})
            print(f"[{k}/{len(labs)}] {command}: {seconds:.0f} s, exit status {done.status}", flush=True)
            if done.status != 0:
                shown.info(f"  {done.error}")
    order = {c: i for i, c in enumerate(todo)}
    return cache, sorted(timing, key=lambda t: order[t["command"]])


def run_all(out: str, lang: str, quick: bool = False, include_gpu: bool = False, as_json: bool = False,
            jobs: int = 1) -> int:
    root = Path(out)
    shown = progress.Progress(False if as_json else None)
    todo = commands(quick, include_gpu)
    t_all = time.perf_counter()
    cache, timing = run_commands(todo, root, lang, jobs, shown)
    _mark_skipped(cache, quick)
    rows = []
    for s in load_map().values():
        for q in s.questions:
            a = answer(q, quick=quick, root=root, lang=lang, cache=cache)
            folder = a.run.folder if a.run else None
            rows.append({"id": q.id, "question": q.text(lang), "kind": q.kind, "command": a.command,
                         "verdict": a.verdict, "got": a.got, "expected": q.expected,
                         "report": str(folder.relative_to(root) / "report.html") if folder else None,
                         "docs": q.docs, "detail": str(a.detail) if a.verdict == "not run" and a.command else ""})
    total = time.perf_counter() - t_all
    atomic_write_json(root / "answers.json", {"rows": rows, "timing": timing, "total_s": total, "quick": quick,
                                              "jobs": jobs})
    doc = _index(rows, timing, total, quick, lang)
    atomic_write_text(root / "index.md", render_markdown(doc))
    atomic_write_text(root / "index.html", render_html(doc))
    failed = [r for r in rows if r["verdict"] in ("FAIL", "error")]
    if as_json:
        print(json.dumps({"total_s": total, "timing": timing, "failed": failed}, ensure_ascii=False, indent=1))
    print(_("wrote {path}: {n} questions, {c} commands in {t:.0f} s; {f} failed", path=root / "index.html",
            n=len(rows), c=len(todo), t=total, f=len(failed)))
    return 1 if failed else 0


def _index(rows, timing, total, quick, lang) -> Report:
    doc = Report(title=_("The course, answered"), quick=quick, lang=lang)
    doc.para(_("Every question of the five homework documents with the command that answers it, run here at "
               "{how} settings in {t:.0f} s.", how=_("quick") if quick else _("full"), t=total))
    for set_id, s in load_map().items():
        doc.heading(f"{set_id}: {s.title(lang)}")
        doc.table([("id", "id", ""), ("question", _("question"), ""), ("answer", _("answer"), ""),
                   ("verdict", _("verdict"), "")],
                  [{"id": CodeText(r["id"]), "question": r["question"],
                    "answer": f"[{_(REPORT)}]({r['report']})" if r["report"] else (r["docs"] or r["command"]),
                    "verdict": _(r["verdict"]) + (f" ({r['detail']})" if r["detail"] else "")}
                   for r in rows if r["id"].startswith(set_id + "/")])
    doc.heading(_("Time per command"))
    doc.table([("command", _("command"), ""), ("seconds", _("time (s)"), ".1f"), ("status", _("exit status"), "d")],
              [{**t, "command": CodeText(t["command"])} for t in timing])
    return doc
