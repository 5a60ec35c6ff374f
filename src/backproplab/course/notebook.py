"""What the homework notebooks (``notebooks/*.py``) show besides the library's own output.

* :func:`show_question`: a question as the course map restates it, in English and Persian, with
  the errata of the document's solution at that question;
* :func:`expect`: the map's expected answer checked against what the notebook computed (an
  ``AssertionError`` naming the question when they differ, so a notebook run fails loudly);
* :func:`run_quick_lab`: a lab's quick run through the Python API, into ``runs/nb/NAME``;
* :func:`show_figures`: a run's PNG figures;
* :func:`verdicts`: ``backproplab check --json`` output as a table of verdicts and hints.

Every displayable object has an HTML form (Jupyter) and a plain-text form (terminals, CI logs).
IPython is imported only inside :func:`show_question` and :func:`show_figures`, so the library
does not depend on it.
"""
from __future__ import annotations

import dataclasses
import html
from pathlib import Path

from .answers import extract, matches
from .map import Erratum, Question, errata_of, question

#: where the notebooks' lab runs go (relative to the notebook's working folder; gitignored)
RUNS = Path("runs") / "nb"


def _esc(text: str) -> str:
    return html.escape(str(text), quote=False)


@dataclasses.dataclass(frozen=True)
class QuestionCard:
    """A question and its errata, displayable in a notebook."""

    question: Question
    errata: tuple[Erratum, ...]

    def _html_erratum(self, e: Erratum) -> str:
        demo = f"<br>demonstrated by: <code>{_esc(e.command)}</code>" if e.command else ""
        return (f"<div style='margin-top:.4em'><b>Erratum {_esc(e.id)}</b> ({_esc(e.kind)})<br>"
                f"the solution claims: {_esc(e.claim_en)}<br>correct: {_esc(e.correct_en)}{demo}"
                f"<div dir='rtl' lang='fa'>ادعای حل: {_esc(e.claim_fa)}<br>"
                f"درست: {_esc(e.correct_fa)}</div></div>")

    def _repr_html_(self) -> str:
        q = self.question
        where = [f"{label}: <code>{_esc(v)}</code>" for label, v in
                 (("command", q.command), ("library call", q.call), ("answered in", q.docs)) if v]
        return (f"<div style='border-left:4px solid #888;padding-left:.6em'>"
                f"<p><b>{_esc(q.id)}</b> (question {_esc(q.number)}, {_esc(q.kind)}: {_esc(q.topic)})</p>"
                f"<p lang='en'>{_esc(q.question_en)}</p>"
                f"<p dir='rtl' lang='fa'>{_esc(q.question_fa)}</p>"
                f"<p style='font-size:90%'>{' · '.join(where)}</p>"
                + "".join(self._html_erratum(e) for e in self.errata) + "</div>")

    def __str__(self) -> str:
        q = self.question
        lines = [f"{q.id} (question {q.number}, {q.kind}: {q.topic})", f"  {q.question_en}", f"  {q.question_fa}"]
        lines += [f"  {label}: {v}" for label, v in
                  (("command", q.command), ("library call", q.call), ("answered in", q.docs)) if v]
        for e in self.errata:
            lines += [f"  Erratum {e.id} ({e.kind})", f"    the solution claims: {e.claim_en}",
                      f"    correct: {e.correct_en}", f"    {e.claim_fa}", f"    {e.correct_fa}"]
            if e.command:
                lines.append(f"    demonstrated by: {e.command}")
        return "\n".join(lines)

    __repr__ = __str__


def question_card(qid: str) -> QuestionCard:
    """The card of question ``qid`` (e.g. ``"001/Q5.c"``); an unknown id raises UsageError."""
    q = question(qid)
    return QuestionCard(q, tuple(errata_of(q)))


def show_question(qid: str) -> Question:
    """Display question ``qid`` (English, Persian, errata) and return it."""
    from IPython.display import display

    card = question_card(qid)
    display(card)
    return card.question


def expect(q: Question, data) -> None:
    """Check the answer at ``q.answer`` in ``data`` (a lab's result, or a calculator's ``to_dict()``)
    against ``q.expected`` within ``q.tolerance`` (relative to max(|expected|, 1)), and say so."""
    if not q.answer or q.expected is None:
        raise ValueError(f"{q.id}: the course map gives no answer path and expected value to check")
    values = [extract(data, path) for path in q.answer]
    got = values[0] if len(values) == 1 else values
    if not matches(q.expected, got, q.tolerance):
        raise AssertionError(f"{q.id}: got {got!r} at {', '.join(q.answer)}, the course map expects "
                             f"{q.expected!r} (tolerance {q.tolerance:g})")
    print(f"{q.id}: {', '.join(q.answer)} = {got!r}, the answer the course map expects")


def run_quick_lab(name: str, root=RUNS, **changes):
    """Run lab ``name`` with its quick configuration (and ``changes``) into ``root/NAME-HASH``.

    The folder is named after the configuration's fingerprint, so two settings of one lab never
    share a folder and a finished run of the same settings is reused. Returns ``(result, folder)``."""
    from ..labs import registry
    from ..labs.runner import run_lab

    module = registry.load_lab(name)
    if not hasattr(module, "report"):
        raise RuntimeError(f"lab {name!r} is not on the lab framework yet (no report function)")
    config = dataclasses.replace(module.Config().quick(), **changes)
    folder = Path(root) / f"{name}-{config.fingerprint()[:8]}"
    return run_lab(module, config, folder), folder


def show_figures(folder, *names: str) -> None:
    """Display the PNG files ``names`` of run folder ``folder``; a missing one raises FileNotFoundError."""
    from IPython.display import Image, display

    for name in names:
        path = Path(folder) / name
        if not path.is_file():
            raise FileNotFoundError(f"{path}: the run wrote no such figure")
        display(Image(filename=str(path)))


@dataclasses.dataclass(frozen=True)
class Verdicts:
    """``backproplab check --json`` output as one row per check: task, check, result, error, hint.
    ``tasks``: only these tasks' checks (all when empty)."""

    report: dict
    tasks: tuple[str, ...] = ()

    def rows(self) -> list[dict]:
        out = []
        for f in self.report["files"]:
            if f.get("error"):
                out.append({"file": Path(f["file"]).name, "task": "-", "check": "import", "status": "error",
                            "error": None, "hint": "", "message": f["error"]})
            for name, task in f["tasks"].items():
                if self.tasks and name not in self.tasks:
                    continue
                for c in task["checks"]:
                    out.append({"file": Path(f["file"]).name, "task": c["task"], "check": c["name"],
                                "status": c["status"], "error": c["error"], "hint": c["hint"],
                                "message": c["message"]})
        return out

    @staticmethod
    def _err(value) -> str:
        return "-" if value is None else value if isinstance(value, str) else f"{value:.1e}"

    @staticmethod
    def _advice(r: dict) -> list[str]:
        return [f"{label}: {r[key]}" for label, key in (("error", "message"), ("hint", "hint")) if r[key]]

    def _repr_html_(self) -> str:
        head = "".join(f"<th>{h}</th>" for h in ("file", "task", "check", "result", "rel. error", "error / hint"))
        body = "".join(
            f"<tr><td>{_esc(r['file'])}</td><td>{_esc(r['task'])}</td><td>{_esc(r['check'])}</td>"
            f"<td>{'pass' if r['status'] == 'pass' else '<b>' + _esc(r['status'].upper()) + '</b>'}</td>"
            f"<td>{self._err(r['error'])}</td><td>{'<br>'.join(map(_esc, self._advice(r)))}</td></tr>"
            for r in self.rows())
        return f"<table><tr>{head}</tr>{body}</table>"

    def __str__(self) -> str:
        lines = []
        for r in self.rows():
            result = "pass" if r["status"] == "pass" else r["status"].upper()
            lines.append(f"{r['file']:<22} {r['task']:<15} {r['check'][:44]:<45} {result:<6} "
                         f"{self._err(r['error']):>8}")
            lines += [f"{'':<23}{advice}" for advice in self._advice(r)]
        return "\n".join(lines)

    __repr__ = __str__


def verdicts(report: dict, *tasks: str) -> Verdicts:
    """The verdicts in ``backproplab check --json``'s parsed output, of ``tasks`` only if any are named."""
    return Verdicts(report, tasks)
