"""``course check``: run every checkable entry and print id, expected, got and verdict."""
from __future__ import annotations

import json

from ..labs import progress
from ..report.i18n import N_, _

#: column headings (marked here: messages inside f-strings are not extracted)
W = {w: w for w in (N_("expected"), N_("got"), N_("verdict"))}
from .answers import answer


def _short(v) -> str:
    text = json.dumps(v, ensure_ascii=False)
    return text if len(text) <= 48 else text[:45] + "..."


def check(sets, lang: str, quick: bool = True, as_json: bool = False) -> int:
    """0 when every checkable answer matches its expected value, else 1."""
    rows = []
    todo = [q for s in sets for q in s.questions if q.checkable]
    shown = progress.Progress(False if as_json else None)
    for i, q in enumerate(todo, start=1):
        shown.task(i, len(todo), q.id, "course check")
        a = answer(q, quick=quick, lang=lang)
        rows.append({"id": q.id, "expected": q.expected, "got": a.got, "tolerance": q.tolerance,
                     "verdict": a.verdict, "detail": a.detail, "command": a.command})
    failed = [r for r in rows if r["verdict"] != "pass"]
    if as_json:
        print(json.dumps({"rows": rows, "checked": len(rows), "failed": len(failed)}, ensure_ascii=False, indent=1))
        return 1 if failed else 0
    width = max([len(r["id"]) for r in rows] + [2])
    print(f"{'id':<{width}}  {str(_(W['expected'])):<48}  {str(_(W['got'])):<48}  {_(W['verdict'])}")
    for r in rows:
        verdict = str(_(r["verdict"])) + (f" ({r['detail']})" if r["detail"] else "")
        print(f"{r['id']:<{width}}  {_short(r['expected']):<48}  {_short(r['got']):<48}  {verdict}")
    print(_("{ok} of {n} checkable answers match their expected values.", ok=len(rows) - len(failed), n=len(rows)))
    return 1 if failed else 0
