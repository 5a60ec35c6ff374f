"""The checker's verdicts as a terminal table, JSON, JUnit XML, and a weighted score.

Score: each weighted task earns weight × (its passing checks / its checks); a task that did
not run (missing entry point, import failure) earns 0.
"""
from __future__ import annotations

import math
import textwrap
import tomllib
import xml.etree.ElementTree as ET
from pathlib import Path

from .judging import Check
from .runner import FileReport
from .tasks import TASKS


def parse_points(spec: str) -> dict[str, float]:
    """``"dense=2,adam=1"`` or the path of a TOML file (``dense = 2`` lines, top level or under [points])."""
    if spec.endswith(".toml"):
        path = Path(spec)
        if not path.is_file():
            raise ValueError(f"--points: no such file {spec}")
        try:
            data = tomllib.loads(path.read_text())
        except tomllib.TOMLDecodeError as e:
            raise ValueError(f"--points: {spec} is not valid TOML ({e})") from None
        items = list(data.get("points", data).items())
    else:
        items = []
        for part in filter(None, (p.strip() for p in spec.split(","))):
            name, sep, value = part.partition("=")
            if not sep:
                raise ValueError(f"--points: expected task=weight, got {part!r}")
            items.append((name.strip(), value.strip()))
    points = {}
    for name, value in items:
        if name not in TASKS:
            raise ValueError(f"--points: unknown task {name!r}; choose from {', '.join(TASKS)}")
        try:
            points[name] = float(value)
        except (TypeError, ValueError):
            raise ValueError(f"--points: weight of {name} must be a number, got {value!r}") from None
        if not math.isfinite(points[name]) or points[name] < 0:
            raise ValueError(f"--points: weight of {name} must be >= 0, got {value}")
    return points


def task_fraction(report: FileReport, task: str) -> float:
    checks = report.task_checks(task)
    return sum(c.passed for c in checks) / len(checks) if checks else 0.0


def score(report: FileReport, points: dict[str, float]) -> tuple[float, float, dict[str, float]]:
    """(earned, possible, per-task earned) under ``points``."""
    per = {t: w * task_fraction(report, t) for t, w in points.items()}
    return sum(per.values()), sum(points.values()), per


def _fmt_err(c: Check) -> str:
    if c.error is None:
        return "-"
    return "inf" if not math.isfinite(c.error) else f"{c.error:.1e}"


def _lines(label: str, text: str, indent: str) -> list[str]:
    return textwrap.wrap(text, 100, initial_indent=f"{indent}{label}: ", subsequent_indent=indent + "  ")


def format_table(reports: list[FileReport], points: dict[str, float] | None = None) -> str:
    out = []
    for r in reports:
        passed = sum(c.passed for c in r.checks)
        verdict = "PASS" if r.passed else "FAIL"
        out.append(f"== {r.path}: {verdict} ({passed} of {len(r.checks)} checks pass)")
        if r.error:
            out.append(f"   cannot check this file: {r.error}")
        out.append(f"   {'task':<16}{'check':<50}{'result':<8}{'rel.err':>9}{'tol':>9}")
        seen_notes = set()
        for c in r.checks:
            tol = f"{c.tol:.0e}" if c.tol else "-"
            out.append(f"   {c.task:<16}{c.name[:49]:<50}{c.status.upper() if not c.passed else 'pass':<8}"
                       f"{_fmt_err(c):>9}{tol:>9}")
            for label, text in (("error", c.message), ("hint", c.hint)):
                if text:
                    out += _lines(label, text, " " * 16)
            if c.note and (c.task, c.note) not in seen_notes:
                seen_notes.add((c.task, c.note))
                out += _lines("note", c.note, " " * 16)
        if points:
            got, total, per = score(r, points)
            parts = ", ".join(f"{t} {v:g}/{points[t]:g}" for t, v in per.items())
            out.append(f"   score: {got:g} / {total:g} ({parts})")
        out.append("")
    return "\n".join(out)


def to_json(reports: list[FileReport], points: dict[str, float] | None = None) -> dict:
    files = []
    for r in reports:
        entry = {"file": r.path, "passed": r.passed, "error": r.error, "tasks": {}}
        for t in r.tasks:
            checks = r.task_checks(t)
            entry["tasks"][t] = {"passed": bool(checks) and all(c.passed for c in checks),
                                 "checks": [c.to_dict() for c in checks]}
        extra = [c.to_dict() for c in r.checks if c.task not in r.tasks]
        if extra:
            entry["other_checks"] = extra
        if points:
            got, total, per = score(r, points)
            entry["score"] = {"earned": got, "possible": total, "tasks": per}
        files.append(entry)
    return {"passed": all(r.passed for r in reports), "files": files}


def to_junit(reports: list[FileReport]) -> str:
    """JUnit XML: one <testsuite> per submission, one <testcase> per check."""
    root = ET.Element("testsuites", name="backproplab check")
    for r in reports:
        stem = Path(r.path).stem
        cases = r.checks or [Check("import", "import", "error", message=r.error or "nothing checked")]
        suite = ET.SubElement(root, "testsuite", name=r.path, tests=str(len(cases)),
                              failures=str(sum(c.status == "fail" for c in cases)),
                              errors=str(sum(c.status == "error" for c in cases)))
        for c in cases:
            case = ET.SubElement(suite, "testcase", classname=f"{stem}.{c.task}", name=c.name)
            detail = "\n".join(f"{k}: {v}" for k, v in (("relative error", _fmt_err(c)), ("tolerance", c.tol),
                                                          ("hint", c.hint), ("note", c.note),
                                                          ("error", c.message or (r.error or ""))) if v)
            if c.status == "fail":
                ET.SubElement(case, "failure", message=c.hint or c.message or "wrong values").text = detail
            elif c.status == "error":
                ET.SubElement(case, "error", message=c.message or r.error or "error").text = detail
            elif c.note:
                ET.SubElement(case, "system-out").text = c.note
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"
