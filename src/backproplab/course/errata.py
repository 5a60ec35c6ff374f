"""The errata of the documents' solutions as one Markdown page (docs/errata.md is this output)."""
from __future__ import annotations

from ..report.i18n import N_, _, language

#: headings and labels (marked here: messages inside f-strings are not extracted)
W = {w: w for w in (N_("Errata of the course documents"), N_("question"), N_("The solution claims"), N_("Correct"),
                    N_("Demonstrated by"))}
from .map import load_map


def errata_markdown(lang: str = "en") -> str:
    with language(lang):
        lines = [f"# {_(W['Errata of the course documents'])}", "",
                 str(_("Errors found in the worked solutions of the five homework documents, each derived "
                       "independently, with the correct statement and a command whose output demonstrates it. "
                       "`backproplab course show ID` shows an erratum at its question. Generated from the "
                       "course map by `backproplab course errata --lang {lang}`.", lang=lang)), ""]
        for s in load_map().values():
            if not s.errata:
                continue
            lines += [f"## {s.set}: {s.title(lang)}", "", f"`{s.document}`", ""]
            for e in s.errata:
                lines += [f"### {e.id} — {_(W['question'])} `{e.question}` ({_(e.kind)})", "",
                          f"- **{_(W['The solution claims'])}:** {e.claim(lang)}",
                          f"- **{_(W['Correct'])}:** {e.correct(lang)}"]
                if e.command:
                    lines.append(f"- **{_(W['Demonstrated by'])}:** `{e.command}`")
                lines.append("")
        return "\n".join(lines).rstrip() + "\n"
