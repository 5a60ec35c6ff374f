"""The course map covers every question and sub-question of the five homework documents, and no more.

Each document's numbering is read from its own text (../shared/seeds, next to the repository) with
patterns written for that document's layout, never from the maps, so the check does not inherit the
map authors' reading. A document's outline is {id: line}: ids in the map's scheme without the set
("Q5.b", "Q3.a.1", "P1.3"), line the 1-based line where the document shows the question. The map must
hold exactly the outline's leaves: a leaf without an entry is an uncovered question, an entry that is
not a leaf is invented (or too coarse, or split finer than the document).

Id scheme (as the maps use it): lettered parts follow the abjad order the documents use, الف (or آ) a,
ب b, ج c, د d, ه e (no document labels a part پ/ت/ث); numbered parts keep their number; unlabelled
items inside a part (bullets, asks, roman numerals) are numbered 1, 2, ... in document order.
"""
from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import NamedTuple

import pytest

REPO = Path(__file__).parents[2]
SEEDS = REPO.parent / "shared" / "seeds"
MAPS = REPO / "src" / "backproplab" / "course" / "map"
SETS = ("000", "001", "002", "003", "004")
needs_seeds = pytest.mark.skipif(not SEEDS.is_dir(), reason=f"the course documents are not at {SEEDS} "
                                 "(they live in ../shared/seeds next to the repository)")

# Persian and Arabic-Indic digits become ASCII; Arabic yeh/kaf become Persian; ؤ becomes و (سؤال -> سوال).
_SAME = str.maketrans({**{c: str(i) for i, c in enumerate("۰۱۲۳۴۵۶۷۸۹")},
                       **{c: str(i) for i, c in enumerate("٠١٢٣٤٥٦٧٨٩")},
                       "ي": "ی", "ى": "ی", "ك": "ک", "ؤ": "و"})
LETTER = {"الف": "a", "آ": "a", "ب": "b", "ج": "c", "د": "d", "ه": "e"}
LABEL = re.compile(r"^(?:[-•]\s*)?\(?(الف|آ|ب|ج|د|ه)\)(?:\s|$)")  # «الف)», «(آ)», «- ب)»
BULLET = re.compile(r"^[-•]\s")

# Places where the OCR lost or garbled a label, so no pattern can find the question there. Each entry:
# (set, id the document shows at that place, text of that line (normalized), why). An entry adds the
# question / part / item mark at the one line holding the text, and must then produce exactly that id.
EXCEPTIONS = (
    # 000 answers 002's theory questions 1-3 but heads only question 1 (test_000_answers_002s_theory_questions).
    ("000", "Q2.a", r"$$X = \begin{bmatrix}",
     "question 2 lost its heading, and its answer is formulas only, without الف/ب: (a), dL/dW, starts at X"),
    ("000", "Q2.b", r"\frac{\partial L}{\partial x} = \begin{bmatrix}",
     "question 2's part (b), dL/dX, is unlabelled: it starts at the input gradient"),
    ("000", "Q3.a", "یک خروجی نهایی (حالت استاندارد",
     "question 3 lost its heading and its الف): (a), how many outputs, starts here; its ب) and ج) are printed"),
    ("001", "Q1.a", "تعداد واحدهای خروجی، اتصالات",
     "the label (آ) is printed at the second ask of part (a); its first ask (count units, weights) precedes it"),
    ("001", "Q1.b.4", "ضرب کردن این ضریب در تمام",
     "one bullet of 1(b) asks two separate questions (weights scaled by α; the input scaled by α), one entry each"),
    ("001", "Q3.b", r"(\cdot) گرادیان زیان نسبت به وزن", "the label (ب) is printed as «(\\cdot)»"),
    ("001", "Q4.b", "سکه GoogleNet سبکه", "the label (ب) is lost; only the garbled title «شبکه GoogleNet» is left"),
    ("001", "Q6.e", "residual را در نظر بگیرید. نشان دهید", "the label (ه) and the first words of part (e) are lost"),
)


def document_path(set_id: str) -> Path:
    (path,) = SEEDS.glob(f"{set_id}_*.txt")
    return path


def document_lines(set_id: str) -> list[str]:
    text = document_path(set_id).read_text(encoding="utf-8")
    return [line.translate(_SAME).strip() for line in text.splitlines()]


class Mark(NamedTuple):
    line: int      # 1-based
    kind: str      # "question", "part" or "item"
    value: str     # "Q3" / "P1" for questions; "a", "b", ... or "1", "2", ... for parts; "" for items
    forced: bool = False  # placed by an entry of EXCEPTIONS


def _rank(value: str) -> int:
    return int(value) if value.isdigit() else ord(value) - ord("a") + 1


def build_outline(marks: list[Mark]) -> dict[str, int]:
    """Outline {id: line} from marks in document order.

    Questions must be numbered on by one. A part label must be the next of its question (a, b, ... or
    1, 2, ...); a label that restarts the sequence belongs to a list inside an answer and is skipped;
    one that skips ahead means a lost label (name it in EXCEPTIONS). Items are numbered 1, 2, ... within
    their part, or their question when it has no parts; a single item is the part itself.
    """
    outline: dict[str, int] = {}
    items: dict[str, list[int]] = {}
    question = part = None
    last_number: dict[str, int] = {}
    for mark in sorted(marks, key=lambda m: (m.line, ("question", "part", "item").index(m.kind))):
        if mark.kind == "question":
            letter, number = mark.value[0], int(mark.value[1:])
            if letter in last_number and number != last_number[letter] + 1:
                raise ValueError(f"line {mark.line}: question {mark.value} after {letter}{last_number[letter]}")
            last_number[letter], question, part = number, mark.value, None
            outline[question] = mark.line
        elif question is None:
            continue  # the document's preamble (submission rules)
        elif mark.kind == "part":
            step = _rank(mark.value) - (_rank(part) if part else 0)
            if step == 1:
                part = mark.value
                outline[f"{question}.{part}"] = mark.line
            elif step > 1 or mark.forced:
                after = f"part {part}" if part else "its heading"
                raise ValueError(f"line {mark.line}: part {mark.value} of {question} follows {after}: "
                                 "a label is lost or garbled, add it to EXCEPTIONS")
        else:
            items.setdefault(f"{question}.{part}" if part else question, []).append(mark.line)
    for parent, lines in items.items():
        if any(key.startswith(parent + ".") for key in outline):
            raise ValueError(f"{parent} has parts, yet lines {lines} ask something before its first part")
        if len(lines) > 1:
            outline.update({f"{parent}.{k}": line for k, line in enumerate(lines, 1)})
    return outline


def _with_exceptions(set_id: str, lines: list[str], marks: list[Mark]) -> dict[str, int]:
    """Add the EXCEPTIONS of a document to its marks, build the outline, check each exception took."""
    expected, questions = {}, {m.value for m in marks if m.kind == "question"}
    for doc, id_, text, _why in EXCEPTIONS:
        if doc != set_id:
            continue
        hits = [n for n, line in enumerate(lines, 1) if text in line]
        assert len(hits) == 1, f"EXCEPTIONS: {text!r} ({set_id}/{id_}) is on lines {hits}, not on one line"
        parts = id_.split(".")
        if parts[0] not in questions:
            questions.add(parts[0])
            marks.append(Mark(hits[0], "question", parts[0], True))
        if len(parts) > 1:
            marks.append(Mark(hits[0], ("part", "item")[len(parts) - 2], parts[-1] if len(parts) == 2 else "", True))
        expected[id_] = hits[0]
    outline = build_outline(marks)
    for id_, line in expected.items():
        assert outline.get(id_) == line, f"EXCEPTIONS: {set_id}/{id_} at line {line} gives {outline.get(id_)}"
    return outline


def _marks(lines, pattern, kind, value) -> list[Mark]:
    return [Mark(n, kind, value(m)) for n, line in enumerate(lines, 1) if (m := pattern.match(line))]


def outline_000(lines: list[str]) -> dict[str, int]:
    """000: a student's answers to 002's theory questions 1-3 (same course, homework 4). Only question 1
    has a heading, in words («سوال اول)»); parts are «الف)», «ب)», «ج)» at line starts. Question 2's
    heading and labels and question 3's heading and «الف)» are lost (EXCEPTIONS); numbered lists
    («1.», «2.») inside answers are not parts."""
    ordinal = {"اول": 1, "دوم": 2, "سوم": 3, "چهارم": 4}
    heading = re.compile(r"^سوال\s+(اول|دوم|سوم|چهارم)\s*\)")
    marks = _marks(lines, heading, "question", lambda m: f"Q{ordinal[m[1]]}")
    marks += _marks(lines, LABEL, "part", lambda m: LETTER[m[1]])
    return _with_exceptions("000", lines, marks)


# 001's asks: a question mark, or a second-person imperative that asks for work (not «فرض کنید», suppose,
# nor «در نظر بگیرید», consider). This document's answers are in the first or third person and never match.
ASK = re.compile(r"؟|(?:نشان|توضیح|شرح|پاسخ)\s*دهید|بدهید|آورید|بیابید"
                 r"|(?:محاسبه|پیدا|مقایسه|بیان|ارزیابی|تحقیق|مشخص)\s*کنید")


def outline_001(lines: list[str]) -> dict[str, int]:
    """001: Sharif CNN homework with worked answers. Questions are «N. (M نمره)» (sometimes after a
    bullet dash); parts «الف)», «(آ)», «ب)», «(ج)» ... at line starts. Inside a part the questions are
    bullets («•», «-») or paragraphs; each line that asks (ASK) is an item, except one ending in «:» that
    introduces a list, and roman items «i.», «ii.» that the right-to-left OCR put at the line's end. The
    answers' own lists «(آ) لایه 1:» restart the labels and are skipped; «1.1 ...» section numbers inside
    an answer have no «(نمره)» and are not questions."""
    heading = re.compile(r"^(?:-\s*)?(\d+)\.\s*\(\s*\d+\s*نمره\)")
    roman_at_end = re.compile(r"\S\s+(?:i|ii|iii|iv)\.$")
    marks = []
    for n, line in enumerate(lines, 1):
        if m := heading.match(line):
            marks.append(Mark(n, "question", f"Q{m[1]}"))
            continue  # «به سوالات زیر پاسخ دهید» on a heading asks for the parts, it is not an item
        if m := LABEL.match(line):
            marks.append(Mark(n, "part", LETTER[m[1]]))
        if roman_at_end.search(line) or (ASK.search(line) and not line.endswith(":")):
            marks.append(Mark(n, "item", ""))
    return _with_exceptions("001", lines, marks)


def outline_002(lines: list[str]) -> dict[str, int]:
    """002: ML fundamentals homework 4. Two sections, «سؤالات تئوري» and «سؤالات عملي», each numbering
    its questions «سؤال N (M نمره)» from 1: theory questions are Q1..., practical ones P1... Theory parts
    are «الف)», «ب)», «ج)» (a page break may split one part's paragraph: footnotes sit in between).
    Practical questions list their steps as bullets «-» / «•», numbered 1, 2, ...; the bullets before the
    first question are submission rules, and theory questions' bullets are given data, not questions."""
    section = re.compile(r"^سوالات\s+(تئوری|عملی)")
    heading = re.compile(r"^سوال\s*(\d+)\s*\(\s*\d+\s*نمره")
    prefix, marks = None, []
    for n, line in enumerate(lines, 1):
        if m := section.match(line):
            prefix = {"تئوری": "Q", "عملی": "P"}[m[1]]
        elif m := heading.match(line):
            assert prefix, f"002 line {n}: a question before the theory/practical section heading"
            marks.append(Mark(n, "question", f"{prefix}{m[1]}"))
        elif m := LABEL.match(line):
            marks.append(Mark(n, "part", LETTER[m[1]]))
        elif prefix == "P" and BULLET.match(line):
            marks.append(Mark(n, "item", ""))
    return _with_exceptions("002", lines, marks)


def outline_003(lines: list[str]) -> dict[str, int]:
    """003: Sharif deep-learning homework 2 with answers, markdown headings «## سوال N» (one «###»), parts
    numbered «1.», «2.», ... at line starts (ids Q1.2); answers use bullets, never a leading number."""
    marks = _marks(lines, re.compile(r"^#+\s*سوال\s*(\d+)$"), "question", lambda m: f"Q{m[1]}")
    marks += _marks(lines, re.compile(r"^(\d+)\.\s"), "part", lambda m: m[1])
    return _with_exceptions("003", lines, marks)


# 004's unnumbered markdown headings: the id each one opens, or None for the pseudo-code titles and the
# optimizers' section heads, whose items are read from the pseudo-code loops and the «Algorithm k» boxes.
TITLES_004 = {"دیتاست Fashion MNIST": "Q0", "توابع فعالیت": "Q1", "وزندهی اولیه پارمترهای شبکه": "Q2",
              "MiniBatch Gradient descent": "Q3", "Batch Gradient descent": None,
              "Mini-batch Gradient descent": None, "Stochastic Gradient descent (SGD)": None,
              "SGD with Momentum": None, "Root Mean Squared prop(RMSprop)": None,
              "Adaptive Moment Estimation(Adam)": None, "L2 Regularization": "Q5", "آزمایشات": "Q6"}


def outline_004(lines: list[str]) -> dict[str, int]:
    """004: the Ferdowsi MLP assignment, a tutorial whose sections are the tasks (implement each
    activation, initialization, optimizer and L2, then run the experiments). Only sections 1
    (activations) and 2 (initializations) are numbered, as «a.b» printed right to left: «۲.۱ Sigmoid» is
    1.2 (Q1.2). The rest continue in document order: 3 the gradient-descent section, one pseudo-code loop
    «for epoch in number of epochs:» per variant (batch, mini-batch, SGD); 4 the optimizers boxed as
    «Algorithm k» (momentum, RMSprop, Adam); 5 L2 regularization; 6 the experiments, one bullet each. The
    data section before section 1 is Q0. Every markdown heading must be known (TITLES_004 or numbered)."""
    outline: dict[str, int] = {}
    in_code, current = False, None
    algorithm = re.compile(r"^(?:#+\s*)?\**Algorithm\s+(\d+)\b")
    for n, line in enumerate(lines, 1):
        if line.startswith("```"):
            in_code = not in_code
        if in_code:
            continue
        title = m[1].strip("* ") if (m := re.match(r"^#{2,3}\s+(.+)$", line)) else None
        if m := algorithm.match(line):
            outline[f"Q4.{int(m[1])}"] = n
            assert int(m[1]) == sum(k.startswith("Q4.") for k in outline), f"004 line {n}: Algorithm out of order"
        elif title and (m := re.match(r"(\d+)\.(\d+)\s", title)):
            outline[f"Q{m[2]}.{m[1]}"] = n
        elif title is not None:
            assert title in TITLES_004, f"004 line {n}: heading {title!r} is neither numbered nor known"
            current = TITLES_004[title] or current
            if TITLES_004[title]:
                outline.setdefault(current, n)
        elif line == "for epoch in number of epochs:":
            outline[f"Q3.{1 + sum(k.startswith('Q3.') for k in outline)}"] = n
        elif current == "Q6" and BULLET.match(line):
            outline[f"Q6.{1 + sum(k.startswith('Q6.') for k in outline)}"] = n
    for key in list(outline):  # a numbered group's head (Q4 has no heading of its own)
        outline.setdefault(key.split(".")[0], outline[key])
    return outline


PARSERS = {"000": outline_000, "001": outline_001, "002": outline_002, "003": outline_003, "004": outline_004}


def document_outline(set_id: str) -> dict[str, int]:
    return PARSERS[set_id](document_lines(set_id))


def _children(id_: str, outline: dict[str, int]) -> list[str]:
    depth = id_.count(".") + 1
    return sorted((k for k in outline if k.startswith(id_ + ".") and k.count(".") == depth), key=outline.get)


def coverage_problems(set_id: str, outline: dict[str, int], entry_ids: list[str]) -> list[str]:
    """One line per problem: a leaf of the document's outline without an entry, or an entry that is not a
    leaf (invented question, invented or too fine sub-part, a question mapped whole although it has parts),
    a duplicate id or an id of another set."""
    leaves = {k for k in outline if not _children(k, outline)}
    problems, seen = [], set()
    for full in entry_ids:
        doc, _, id_ = full.partition("/")
        if doc != set_id:
            problems.append(f"{full}: the id does not start with {set_id}/")
        elif id_ in seen:
            problems.append(f"{full}: two entries have this id")
        elif id_ not in leaves:
            parts = id_.split(".")
            known = [".".join(parts[:k]) for k in range(len(parts), 0, -1) if ".".join(parts[:k]) in outline]
            if not known:
                problems.append(f"{full}: invented: the document has no question {parts[0]}")
            elif known[0] == id_:
                problems.append(f"{full}: the document splits it into {', '.join(_children(id_, outline))}: "
                                "map those instead")
            else:
                has = ", ".join(_children(known[0], outline)) or "no sub-parts"
                problems.append(f"{full}: not in the document, where {known[0]} has {has}")
        seen.add(id_)
    for leaf in sorted(leaves - seen, key=outline.get):
        problems.append(f"{set_id}/{leaf}: the document shows it (line {outline[leaf]}) but no map entry has this id")
    return problems


def load_map(set_id: str) -> dict:
    with open(MAPS / f"{set_id}.toml", "rb") as f:
        return tomllib.load(f)


def check_set(set_id: str) -> None:
    data = load_map(set_id)
    assert data["document"] == document_path(set_id).name, f"{set_id}.toml names another document"
    ids = [q["id"] for q in data["question"]]
    problems = coverage_problems(set_id, document_outline(set_id), ids)
    problems += [f"{e['id']}: an erratum of {e['question']}, which no map entry has"
                 for e in data.get("erratum", []) if e["question"] not in ids]
    assert not problems, f"{set_id}.toml against {data['document']}:\n" + "\n".join(problems)


@needs_seeds
@pytest.mark.parametrize("set_id", SETS)
def test_map_covers_every_question_of_its_document(set_id):
    check_set(set_id)


@needs_seeds
@pytest.mark.parametrize("set_id", SETS)
def test_deleting_any_map_entry_fails_the_coverage_test(set_id, monkeypatch):
    whole = load_map(set_id)
    for gone in whole["question"]:
        less = {**whole, "question": [q for q in whole["question"] if q is not gone],
                "erratum": [e for e in whole.get("erratum", []) if e["question"] != gone["id"]]}
        monkeypatch.setitem(check_set.__globals__, "load_map", lambda _set_id, less=less: less)
        with pytest.raises(AssertionError, match=re.escape(f"{gone['id']}: the document shows it")):
            check_set(set_id)


# Leaves per question as I read each document; the parsers must find exactly these.
SHAPES = {
    "000": {"Q1": 3, "Q2": 2, "Q3": 3},
    "001": {"Q1": 10, "Q2": 1, "Q3": 4, "Q4": 8, "Q5": 4, "Q6": 6},
    "002": {"Q1": 3, "Q2": 2, "Q3": 3, "Q4": 2, "P1": 5, "P2": 4},
    "003": {"Q1": 5, "Q2": 2, "Q3": 3, "Q4": 2, "Q5": 5, "Q6": 2},
    "004": {"Q0": 1, "Q1": 5, "Q2": 4, "Q3": 3, "Q4": 3, "Q5": 1, "Q6": 4},
}


@needs_seeds
@pytest.mark.parametrize("set_id", SETS)
def test_outline_has_the_documents_shape(set_id):
    outline = document_outline(set_id)
    leaves = [k for k in outline if not _children(k, outline)]
    shape = {q: sum(leaf.split(".")[0] == q for leaf in leaves) for q in outline if "." not in q}
    assert shape == SHAPES[set_id]


@needs_seeds
@pytest.mark.parametrize("set_id", SETS)
def test_no_part_label_outside_the_id_scheme(set_id):
    """Labels in the Persian alphabet's order (پ third) or in Latin letters would need another mapping."""
    other = re.compile(r"^(?:[-•]\s*)?\(?(?:پ|ت|ث|[a-h])\)\s")
    assert [line for line in document_lines(set_id) if other.match(line)] == []


@needs_seeds
def test_000_answers_002s_theory_questions():
    """000 heads only its question 1; the rest of its outline rests on 000 answering 002's theory
    questions 1-3: the same course and homework, the same input matrix X, and no answer to 002's
    bonus question 4 (Grad-CAM)."""
    a, b = document_lines("000"), document_lines("002")
    assert any("تمرین سری چهارم مبانی یادگیری ماشین" in line for line in a)
    assert "مبانی یادگیری ماشین" in b and "تکلیف شماره 4" in b

    def x(lines):
        return next(re.findall(r"-?\d+", line.split("=", 1)[1]) for line in lines if line.startswith("$$X ="))
    assert x(a) == x(b) and len(x(a)) == 16
    assert any("Grad-CAM" in line for line in b) and not any("Grad-CAM" in line for line in a)
    assert set(document_outline("000")) == {k for k in document_outline("002") if k[:2] in ("Q1", "Q2", "Q3")}


MADE_UP = {"Q1": 1, "Q1.a": 2, "Q1.a.1": 3, "Q1.a.2": 4, "Q1.b": 5, "Q2": 6}
COMPLETE = ["T/Q1.a.1", "T/Q1.a.2", "T/Q1.b", "T/Q2"]


def test_checker_passes_a_complete_map_and_reports_each_deleted_entry():
    assert coverage_problems("T", MADE_UP, COMPLETE) == []
    for gone in COMPLETE:
        problems = coverage_problems("T", MADE_UP, [e for e in COMPLETE if e != gone])
        line = MADE_UP[gone[2:]]
        assert problems == [f"{gone}: the document shows it (line {line}) but no map entry has this id"]


@pytest.mark.parametrize("extra, says", [
    ("T/Q3", "invented: the document has no question Q3"),
    ("T/Q1.c", "not in the document, where Q1 has Q1.a, Q1.b"),
    ("T/Q2.a", "not in the document, where Q2 has no sub-parts"),
    ("T/Q1.a.3", "not in the document, where Q1.a has Q1.a.1, Q1.a.2"),
    ("T/Q1.a", "the document splits it into Q1.a.1, Q1.a.2: map those instead"),
    ("T/Q1.b", "two entries have this id"),
    ("U/Q2", "the id does not start with T/"),
])
def test_checker_reports_an_entry_the_document_lacks(extra, says):
    assert coverage_problems("T", MADE_UP, COMPLETE + [extra]) == [f"{extra}: {says}"]


def test_outline_builder_on_made_up_marks():
    q1 = Mark(1, "question", "Q1")
    marks = [q1, Mark(2, "part", "a"), Mark(3, "item", ""), Mark(3, "item", ""), Mark(5, "part", "b"),
             Mark(6, "part", "a"),  # a list inside an answer restarts the labels: skipped
             Mark(7, "item", ""),   # part b's only ask is part b itself
             Mark(8, "question", "Q2"), Mark(9, "item", "")]
    assert build_outline(marks) == {"Q1": 1, "Q1.a": 2, "Q1.a.1": 3, "Q1.a.2": 3, "Q1.b": 5, "Q2": 8}
    with pytest.raises(ValueError, match="a label is lost"):
        build_outline([q1, Mark(2, "part", "a"), Mark(3, "part", "c")])
    with pytest.raises(ValueError, match="question Q3 after Q1"):
        build_outline([q1, Mark(2, "question", "Q3")])
    with pytest.raises(ValueError, match="before its first part"):
        build_outline([q1, Mark(2, "item", ""), Mark(3, "part", "a")])
