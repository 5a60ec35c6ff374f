"""Render a :class:`~backproplab.report.document.Report` (and an index of reports) as HTML pages.

The pages are built by jinja2 templates (``templates/``) from a plain view of the report's
blocks. They work offline from a ``file:`` URL: the style sheet is inlined, images are files
of the run folder, and formulas are MathML (converted from LaTeX here by latex2mathml, drawn
by the browser), so nothing is fetched from the network. Right-to-left languages get
``dir="rtl"``; code, formulas and numbers inside them stay left to right.
"""
from __future__ import annotations

import functools
import re

import jinja2
from markupsafe import Markup

from .cells import cell_text, split_inline
from .document import Bullets, Code, Figure, Heading, Math, Note, Paragraph, Report, Table
from .i18n import LANGUAGES, _, is_rtl, language
from .markdown import QUICK_NOTE


@functools.lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    return jinja2.Environment(loader=jinja2.PackageLoader("backproplab.report", "templates"),
                              autoescape=jinja2.select_autoescape(["html", "j2"]),
                              trim_blocks=True, lstrip_blocks=True, undefined=jinja2.StrictUndefined)


@functools.lru_cache(maxsize=512)
def mathml(latex: str, display: bool = False) -> Markup:
    """LaTeX -> MathML (left to right, also inside right-to-left text)."""
    from latex2mathml.converter import convert

    try:
        xml = convert(latex, display="block" if display else "inline")
    except Exception:  # a formula the converter cannot read is shown as its source, not lost
        return Markup('<code dir="ltr">{}</code>').format(latex)
    return Markup(xml.replace("<math ", '<math dir="ltr" ', 1))


#: a number as written in a report (Latin or Persian digits, sign, decimal and percent signs, exponent)
NUMBER = re.compile(r"[-+−]?[0-9۰-۹]+(?:[.,٫][0-9۰-۹]+)*(?:[eE][-+]?[0-9]+)?[%٪]?")


def _numbers(kind: str, content: str) -> list[dict]:
    """Plain text split so that numbers become left-to-right islands (``1e-06`` would otherwise be
    reordered to ``06-1e`` inside right-to-left text)."""
    out, pos = [], 0
    for m in NUMBER.finditer(content):
        if m.start() > pos:
            out.append({"kind": kind, "text": content[pos:m.start()]})
        out.append({"kind": "num" if kind == "text" else kind, "text": m.group()})
        pos = m.end()
    if pos < len(content):
        out.append({"kind": kind, "text": content[pos:]})
    return out


def inline(text) -> list[dict]:
    """Segments of one text for the templates: text / num / code / math (MathML) / bold."""
    segments = []
    for kind, content in split_inline(str(text)):
        if kind == "math":
            segments.append({"kind": "math", "html": mathml(content)})
        elif kind in ("text", "bold"):
            segments.extend(_numbers(kind, content))
        else:
            segments.append({"kind": kind, "text": content})
    return segments


def plain(text) -> str:
    """Text without its inline marks (for the page's <title>)."""
    return "".join(content for _kind, content in split_inline(str(text)))


def _view(block) -> dict:
    if isinstance(block, Heading):
        return {"type": "heading", "level": min(max(block.level, 2), 4), "text": inline(block.text)}
    if isinstance(block, Paragraph):
        return {"type": "paragraph", "text": inline(block.text)}
    if isinstance(block, Bullets):
        return {"type": "bullets", "items": [inline(i) for i in block.items]}
    if isinstance(block, Note):
        label = _("Warning") if block.kind == "warning" else _("Note")
        return {"type": "note", "kind": block.kind, "label": str(label), "text": inline(block.text)}
    if isinstance(block, Code):
        return {"type": "code", "text": block.text.rstrip()}
    if isinstance(block, Math):
        return {"type": "math", "html": mathml(block.latex, display=True)}
    if isinstance(block, Table):
        rows = [[dict(zip(("text", "kind"), cell_text(r.get(c.key), c.fmt))) for c in block.columns]
                for r in block.rows]
        return {"type": "table", "headers": [inline(c.header) for c in block.columns], "rows": rows,
                "caption": inline(block.caption) if block.caption is not None else None}
    if isinstance(block, Figure):
        return {"type": "figure", "file": block.file, "alt": str(block.alt or block.caption or block.file),
                "caption": inline(block.caption) if block.caption is not None else None}
    raise TypeError(f"unknown report block {type(block).__name__}")


def render_html(report: Report, links: dict | None = None) -> str:
    """The report as one HTML page in ``report.lang``.

    ``links``: optional ``{label: href}`` shown at the top (the index, the other language).
    """
    with language(report.lang):
        view = {
            "lang": report.lang, "dir": "rtl" if is_rtl(report.lang) else "ltr",
            "title": plain(report.title), "title_inline": inline(report.title),
            "quick": inline(QUICK_NOTE) if report.quick else None,
            "quick_label": str(_("Warning")),
            "blocks": [_view(b) for b in report.blocks],
            "links": [{"label": str(k), "href": v} for k, v in (links or {}).items()],
        }
        return environment().get_template("report.html.j2").render(**view)


def render_index(title, entries: list[dict], lang: str = "en", intro=None) -> str:
    """An index page linking reports. ``entries``: dicts with ``name``, ``title``, ``href``,
    ``summary`` (text), ``ok`` (bool) and optional ``seconds``."""
    with language(lang):
        view = {
            "lang": lang, "dir": "rtl" if is_rtl(lang) else "ltr", "title": plain(title),
            "intro": inline(intro) if intro is not None else None,
            "headers": {"lab": str(_("lab")), "summary": str(_("summary")), "time": str(_("time (s)"))},
            "failed": str(_("failed")),
            "entries": [{**e, "title": str(e["title"]), "summary": inline(e.get("summary") or ""),
                         "seconds": e.get("seconds")} for e in entries],
            "languages": LANGUAGES,
        }
        return environment().get_template("index.html.j2").render(**view)
