"""Render a :class:`~backproplab.report.document.Report` as GitHub-flavoured Markdown."""
from __future__ import annotations

from .cells import cell_text
from .document import Bullets, Code, Figure, Heading, Math, Note, Paragraph, Report, Table
from .i18n import _, language

QUICK_NOTE = _("**Quick run.** These numbers come from a quick run (less data, fewer steps or epochs): "
               "they show that the lab works and are not the lab's answers. Run the lab without `--quick` "
               "for those.")


def _table(block: Table) -> str:
    headers = [str(c.header).replace("|", "\\|") for c in block.columns]
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    for row in block.rows:
        cells = []
        for c in block.columns:
            text, kind = cell_text(row.get(c.key), c.fmt)
            text = text.replace("|", "\\|")
            cells.append(f"`{text}`" if kind == "code" else text)
        lines.append("| " + " | ".join(cells) + " |")
    out = "\n".join(lines)
    if block.caption is not None:
        out += f"\n\n*{block.caption}*"
    return out


def _block(block) -> str:
    if isinstance(block, Heading):
        return "#" * block.level + f" {block.text}"
    if isinstance(block, Paragraph):
        return str(block.text)
    if isinstance(block, Bullets):
        return "\n".join(f"- {item}" for item in block.items)
    if isinstance(block, Note):
        label = _("Warning") if block.kind == "warning" else _("Note")
        return f"> **{label}:** {block.text}"
    if isinstance(block, Code):
        return f"```\n{block.text.rstrip()}\n```"
    if isinstance(block, Math):
        return f"$$\n{block.latex}\n$$"
    if isinstance(block, Table):
        return _table(block)
    if isinstance(block, Figure):
        alt = block.alt or block.file.rsplit(".", 1)[0]
        out = f"![{alt}]({block.file})"
        if block.caption is not None:
            out += f"\n\n*{block.caption}*"
        return out
    raise TypeError(f"unknown report block {type(block).__name__}")


def render_markdown(report: Report) -> str:
    """The report as Markdown in ``report.lang``."""
    with language(report.lang):
        parts = [f"# {report.title}"]
        if report.quick:
            parts.append(f"> {QUICK_NOTE}")
        parts.extend(_block(b) for b in report.blocks)
        return "\n\n".join(parts).rstrip() + "\n"
