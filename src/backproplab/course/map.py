"""The course map: every question of the five homework documents, what answers it, and the errata
of the documents' own solutions. Data in ``course/map/NNN.toml`` (one file per document), read
with tomllib and validated here: an unknown key, a wrong type, a bad id or a dangling erratum is
an error naming the file and the entry.

Ids: ``SET/Q<n>[.<part>...]`` for a question (``SET/P<n>...`` for the practical questions of a
document that numbers them apart), e.g. ``001/Q5.b``; errata ``SET-E<n>``.
"""
from __future__ import annotations

import functools
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import UsageError
from ..report.i18n import N_

MAP_DIR = Path(__file__).resolve().parent / "map"
KINDS = (N_("computation"), N_("derivation"), N_("experiment"), N_("essay"))
ERRATUM_KINDS = (N_("wrong formula"), N_("wrong range"), N_("sign slip"), N_("typo in update rule"),
                 N_("wrong index range"), N_("slip in intermediate result"), N_("wrong unit"), N_("wrong name"),
                 N_("other"))
#: verdicts of `course check` (marked for translation)
VERDICTS = (N_("pass"), N_("FAIL"), N_("not checkable"), N_("not run"), N_("error"))
QUESTION_ID = re.compile(r"^(\d{3})/[QP]\d+(\.[a-z0-9]+)*$")
ERRATUM_ID = re.compile(r"^(\d{3})-E\d+$")


class MapError(ValueError):
    """The course map data is malformed."""


@dataclass(frozen=True)
class Question:
    id: str
    number: str
    kind: str
    topic: str
    question_en: str
    question_fa: str
    command: str = ""
    call: str = ""
    quick_command: str = ""
    docs: str = ""
    answer: tuple[str, ...] = ()
    answer_hint: str = ""
    expected: object = None
    tolerance: float = 0.0
    derivation: str = ""
    errata: tuple[str, ...] = ()

    @property
    def set(self) -> str:
        return self.id.split("/", 1)[0]

    @property
    def checkable(self) -> bool:
        return bool(self.answer) and self.expected is not None

    def text(self, lang: str) -> str:
        return self.question_fa if lang == "fa" else self.question_en

    def command_for(self, quick: bool) -> str:
        """The command that answers it: its quick form when ``quick`` and it has one."""
        return self.quick_command if quick and self.quick_command else self.command


@dataclass(frozen=True)
class Erratum:
    id: str
    question: str
    kind: str
    claim_en: str
    claim_fa: str
    correct_en: str
    correct_fa: str
    command: str = ""

    def claim(self, lang: str) -> str:
        return self.claim_fa if lang == "fa" else self.claim_en

    def correct(self, lang: str) -> str:
        return self.correct_fa if lang == "fa" else self.correct_en


@dataclass(frozen=True)
class CourseSet:
    set: str
    document: str
    title_en: str
    title_fa: str
    questions: tuple[Question, ...] = field(default_factory=tuple)
    errata: tuple[Erratum, ...] = field(default_factory=tuple)

    def title(self, lang: str) -> str:
        return self.title_fa if lang == "fa" else self.title_en


_Q_TYPES = {"id": str, "number": str, "kind": str, "topic": str, "question_en": str, "question_fa": str,
            "command": str, "call": str, "quick_command": str, "docs": str, "answer": (str, list),
            "answer_hint": str, "expected": (int, float, str, bool, list), "tolerance": (int, float),
            "derivation": str, "errata": list}
_Q_REQUIRED = ("id", "number", "kind", "topic", "question_en", "question_fa")
_E_TYPES = {"id": str, "question": str, "kind": str, "claim_en": str, "claim_fa": str, "correct_en": str,
            "correct_fa": str, "command": str}
_S_TYPES = {"document": str, "set": str, "title_en": str, "title_fa": str, "question": list, "erratum": list}


def _check_entry(where: str, entry: dict, types: dict, required) -> None:
    unknown = sorted(set(entry) - set(types))
    if unknown:
        raise MapError(f"{where}: unknown key(s) {unknown}; known: {sorted(types)}")
    for key in required:
        if key not in entry or entry[key] in ("", None):
            raise MapError(f"{where}: {key!r} is missing or empty")
    for key, value in entry.items():
        allowed = types[key] if isinstance(types[key], tuple) else (types[key],)
        if not isinstance(value, allowed) or (isinstance(value, bool) and bool not in allowed):
            names = " or ".join(t.__name__ for t in allowed)
            raise MapError(f"{where}: {key!r} is a {type(value).__name__}, expected {names}")


def _question(where: str, entry: dict, set_id: str) -> Question:
    _check_entry(where, entry, _Q_TYPES, _Q_REQUIRED)
    m = QUESTION_ID.match(entry["id"])
    if not m or m.group(1) != set_id:
        raise MapError(f"{where}: id {entry['id']!r} is not of the form {set_id}/Q<n>[.<part>]")
    if entry["kind"] not in KINDS:
        raise MapError(f"{where} ({entry['id']}): kind {entry['kind']!r} is not one of {', '.join(KINDS)}")
    for key in ("command", "quick_command"):
        if entry.get(key) and not entry[key].startswith("backproplab "):
            raise MapError(f"{where} ({entry['id']}): {key} must start with 'backproplab ', got {entry[key]!r}")
    if not (entry.get("command") or entry.get("call") or entry.get("docs")):
        raise MapError(f"{where} ({entry['id']}): needs a command, a call or a docs page that answers it")
    if entry.get("tolerance", 0) < 0:
        raise MapError(f"{where} ({entry['id']}): tolerance must be >= 0")
    answer = entry.get("answer", ())
    answer = (answer,) if isinstance(answer, str) else tuple(answer)
    return Question(**{**entry, "answer": tuple(a for a in answer if a), "errata": tuple(entry.get("errata", ()))})


def _erratum(where: str, entry: dict, set_id: str) -> Erratum:
    _check_entry(where, entry, _E_TYPES, ("id", "question", "kind", "claim_en", "claim_fa", "correct_en",
                                          "correct_fa"))
    m = ERRATUM_ID.match(entry["id"])
    if not m or m.group(1) != set_id:
        raise MapError(f"{where}: erratum id {entry['id']!r} is not of the form {set_id}-E<n>")
    if entry["kind"] not in ERRATUM_KINDS:
        raise MapError(f"{where} ({entry['id']}): kind {entry['kind']!r} is not one of {', '.join(ERRATUM_KINDS)}")
    return Erratum(**entry)


def load_file(path: Path) -> CourseSet:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise MapError(f"{path.name}: cannot read the course map ({e})") from None
    _check_entry(path.name, data, _S_TYPES, ("document", "set", "title_en", "title_fa"))
    set_id = data["set"]
    questions = tuple(_question(f"{path.name} question {i + 1}", q, set_id)
                      for i, q in enumerate(data.get("question", [])))
    errata = tuple(_erratum(f"{path.name} erratum {i + 1}", e, set_id) for i, e in enumerate(data.get("erratum", [])))
    ids = [q.id for q in questions] + [e.id for e in errata]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        raise MapError(f"{path.name}: duplicate ids {dupes}")
    by_q = {q.id: q for q in questions}
    by_e = {e.id: e for e in errata}
    for e in errata:
        if e.question not in by_q:
            raise MapError(f"{path.name}: erratum {e.id} points at {e.question}, which is not in the map")
        if e.id not in by_q[e.question].errata:
            raise MapError(f"{path.name}: question {e.question} does not list its erratum {e.id}")
    for q in questions:
        for eid in q.errata:
            if eid not in by_e:
                raise MapError(f"{path.name}: question {q.id} lists erratum {eid}, which is not in the map")
    return CourseSet(set_id, data["document"], data["title_en"], data["title_fa"], questions, errata)


@functools.lru_cache(maxsize=1)
def load_map() -> dict[str, CourseSet]:
    """Every course set by its id ("000" ... "004"), validated."""
    sets = {}
    for path in sorted(MAP_DIR.glob("*.toml")):
        course_set = load_file(path)
        if course_set.set != path.stem:
            raise MapError(f"{path.name}: set {course_set.set!r} does not match the file name")
        sets[course_set.set] = course_set
    if not sets:
        raise MapError(f"no course map files in {MAP_DIR}")
    return sets


def question(qid: str) -> Question:
    """The question ``qid`` (e.g. ``001/Q5.b``); an unknown id raises UsageError suggesting close ids."""
    import difflib

    all_q = {q.id: q for s in load_map().values() for q in s.questions}
    if qid in all_q:
        return all_q[qid]
    close = difflib.get_close_matches(qid, list(all_q), n=3, cutoff=0.5)
    hint = f"; did you mean {', '.join(close)}?" if close else "; `backproplab course list` lists them"
    raise UsageError(f"no question {qid!r} in the course map{hint}")


def errata_of(q: Question) -> list[Erratum]:
    s = load_map()[q.set]
    return [e for e in s.errata if e.id in q.errata]
