"""A report as data: headings, paragraphs, lists, tables, figures, code and formulas.

A lab's ``report`` function fills a :class:`Report`; :mod:`.markdown` and :mod:`.html` render
the same object, so the Markdown and the HTML page can never say different things. Text is a
:class:`~backproplab.report.i18n.Msg` (translated when rendered) or a plain string (an
identifier, a file name: never translated). Inside text, three marks are understood by both
renderers: ``**bold**``, ```code``` and ``$formula$`` (LaTeX; MathML in the HTML page).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .i18n import Msg, _


@dataclass
class Heading:
    text: Any
    level: int = 2


@dataclass
class Paragraph:
    text: Any


@dataclass
class Bullets:
    items: list


@dataclass
class Note:
    """A highlighted paragraph: ``kind`` is "warning" (read this before the numbers) or "info"."""

    text: Any
    kind: str = "info"


@dataclass
class Code:
    """Preformatted text shown as is (a model summary, a matrix)."""

    text: str


@dataclass
class Math:
    """A displayed formula, in LaTeX."""

    latex: str


@dataclass
class Column:
    """A table column: ``key`` of each row dict, its header, and a format spec for numbers."""

    key: str
    header: Any
    fmt: str = ".4g"


@dataclass
class Table:
    columns: list[Column]
    rows: list[dict]
    caption: Any = None


@dataclass
class Figure:
    """An image file of the run folder (drawn in the report's language) and its caption."""

    file: str
    caption: Any = None
    alt: Any = None


@dataclass
class CodeText:
    """A table cell or parameter shown as code (a model label, an option value)."""

    text: str

    def __str__(self) -> str:
        return f"`{self.text}`"


@dataclass
class Report:
    """One lab's report. ``quick`` puts a warning on top: the numbers are not the lab's answers."""

    title: Any
    lab: str = ""
    quick: bool = False
    lang: str = "en"
    blocks: list = field(default_factory=list)

    def heading(self, text, level: int = 2) -> "Report":
        self.blocks.append(Heading(text, level))
        return self

    def para(self, *parts) -> "Report":
        """A paragraph of ``parts`` (messages or strings) separated by spaces; empty parts are skipped."""
        parts = [p for p in parts if p not in (None, "")]
        if parts:
            self.blocks.append(Paragraph(parts[0] if len(parts) == 1 else _concat(parts)))
        return self

    def bullets(self, items) -> "Report":
        items = [i for i in items if i not in (None, "")]
        if items:
            self.blocks.append(Bullets(items))
        return self

    def note(self, text, kind: str = "info") -> "Report":
        self.blocks.append(Note(text, kind))
        return self

    def code(self, text: str) -> "Report":
        self.blocks.append(Code(text))
        return self

    def math(self, latex: str) -> "Report":
        self.blocks.append(Math(latex))
        return self

    def table(self, columns, rows: list[dict], caption=None) -> "Report":
        """``columns``: :class:`Column` objects or ``(key, header[, fmt])`` tuples."""
        cols = [c if isinstance(c, Column) else Column(*c) for c in columns]
        self.blocks.append(Table(cols, list(rows), caption))
        return self

    def figure(self, file: str, caption=None, alt=None) -> "Report":
        self.blocks.append(Figure(file, caption, alt))
        return self

    def messages(self):
        """Every Msg in the report (for tests that look for untranslated text)."""
        for b in self.blocks:
            for value in vars(b).values():
                yield from _walk(value)


def _concat(parts):
    from .i18n import Concat

    return Concat(parts)


def _walk(value):
    if isinstance(value, Msg):
        yield value
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from _walk(v)
    elif isinstance(value, dict):
        for v in value.values():
            yield from _walk(v)
    elif isinstance(value, Column):
        yield from _walk(value.header)
