"""``course show ID``: the question as the map restates it, its errata, and its answer with the working."""
from __future__ import annotations

import json

from ..report.i18n import N_, _
from .answers import answer
from .map import errata_of


#: the words of the printout (marked here: messages inside f-strings are not extracted)
W = {w: w for w in (N_("question"), N_("Erratum"), N_("the solution claims"), N_("correct"), N_("demonstrated by"),
                    N_("derivation"), N_("running"), N_("report"), N_("what answers it"), N_("answer"),
                    N_("expected"))}


def _value(v) -> str:
    text = json.dumps(v, ensure_ascii=False)
    return text if len(text) <= 300 else text[:297] + "..."


def show(q, lang: str, run: bool = True, quick: bool = True, as_json: bool = False) -> int:
    errata = errata_of(q)
    a = answer(q, quick=quick, lang=lang) if run and (q.command or q.quick_command) else None
    if as_json:
        print(json.dumps({
            "id": q.id, "number": q.number, "kind": q.kind, "topic": q.topic, "question": q.text(lang),
            "command": q.command, "quick_command": q.quick_command, "call": q.call, "docs": q.docs,
            "answer_paths": list(q.answer), "answer_hint": q.answer_hint, "expected": q.expected,
            "tolerance": q.tolerance, "derivation": q.derivation,
            "errata": [{"id": e.id, "kind": e.kind, "claim": e.claim(lang), "correct": e.correct(lang),
                        "command": e.command} for e in errata],
            "ran": a.command if a else None, "got": a.got if a else None, "verdict": a.verdict if a else None,
            "detail": a.detail if a else None,
            "output": a.run.output if a and a.run else None,
            "run_folder": str(a.run.folder) if a and a.run and a.run.folder else None,
        }, ensure_ascii=False, indent=1))
        return 0 if a is None or a.verdict != "FAIL" else 1
    topic = f": {q.topic}" if lang == "en" else ""  # the map's topics are English keywords
    print(f"{q.id}  ({_(W['question'])} {q.number}, {_(q.kind)}{topic})")
    print(f"  {q.text(lang)}")
    for label, value in ((_("command"), q.command), (_("quick form"), q.quick_command), (_("library call"), q.call),
                         (_("answered in"), q.docs)):
        if value:
            print(f"  {label}: {value}")
    for e in errata:
        print(f"\n  {_(W['Erratum'])} {e.id} ({_(e.kind)}):")
        print(f"    {_(W['the solution claims'])}: {e.claim(lang)}")
        print(f"    {_(W['correct'])}: {e.correct(lang)}")
        if e.command:
            print(f"    {_(W['demonstrated by'])}: {e.command}")
    if q.derivation:
        print(f"\n  {_(W['derivation'])}: {q.derivation}")
    if a is None:
        return 0
    print(f"\n  {_(W['running'])}: {a.command}")
    if a.run and a.run.output.strip():
        print("    " + a.run.output.strip().replace("\n", "\n    "))
    if a.run and a.run.folder:
        print(f"  {_(W['report'])}: {a.run.folder / 'report.html'}")
    if q.answer_hint:
        print(f"  {_(W['what answers it'])}: {q.answer_hint}")
    if a.verdict in ("pass", "FAIL"):
        print(f"  {_(W['answer'])}: {_value(a.got)}   {_(W['expected'])}: {_value(q.expected)} "
              f"(±{q.tolerance:g})   → {_(a.verdict)}")
    elif a.got is not None:
        print(f"  {_(W['answer'])}: {_value(a.got)}")
    elif a.detail:
        print(f"  ({a.detail})")
    return 1 if a.verdict in ("FAIL", "error") else 0
