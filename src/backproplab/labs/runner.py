"""Run one lab into its run folder and write its report (in every language asked for).

    result = run_lab(module, config, "runs/quadratic", langs=("en", "fa"))

1. open and lock the folder (a folder holding other settings is refused: :class:`RunConflict`);
2. ``module.run(config, folder)`` unless ``result.json`` of this configuration is there already
   (its cached steps make a killed run resume where it stopped);
3. ``module.report(result, config, doc)`` once per language, then ``report.md`` and
   ``report.html`` (``report.fa.md`` ... for Persian) from that one document.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..report import Report, render_html, render_markdown
from ..report.i18n import LANGUAGES, _, check_language, language
from ..utils.io import atomic_write_text, to_jsonable
from . import progress as progress_mod
from .run_folder import RunFolder


def suffix(lang: str) -> str:
    """File-name suffix of a language: none for English, ``.fa`` for Persian."""
    return "" if lang == "en" else f".{lang}"


class LabReport(Report):
    """A :class:`Report` that can save figures into the run folder, in its own language."""

    def __init__(self, title, lab: str, quick: bool, lang: str, folder: RunFolder):
        super().__init__(title=title, lab=lab, quick=quick, lang=lang)
        self.folder = folder

    def plot(self, fig, name: str, caption=None, alt=None) -> str:
        """Save ``fig`` as NAME.png (NAME.fa.png in Persian) and add it to the report."""
        file = self.folder.save_figure(fig, name + suffix(self.lang))
        self.figure(file, caption, alt)
        return file


def report_files(lang: str) -> tuple[str, str]:
    return f"report{suffix(lang)}.md", f"report{suffix(lang)}.html"


def write_reports(module, result, config, folder: RunFolder, langs) -> list[Path]:
    """Render the lab's report in each language; return the files written."""
    written = []
    for lang in langs:
        with language(lang):
            doc = LabReport(_(module.TITLE), module.NAME, bool(config.is_quick), lang, folder)
            module.report(result, config, doc)
            md, html = report_files(lang)
            # every other language written now or earlier (`backproplab report RUN --lang fa` adds one)
            links = {LANGUAGES[other]: report_files(other)[1] for other in LANGUAGES if other != lang
                     and (other in langs or folder.file(report_files(other)[1]).exists())}
            written.append(atomic_write_text(folder.file(md), render_markdown(doc)))
            written.append(atomic_write_text(folder.file(html), render_html(doc, links)))
    return written


def run_lab(module, config, out, *, langs=("en",), overwrite: bool = False, executor=None,
            progress: progress_mod.Progress | None = None):
    """Run ``module`` (a lab) with ``config`` into ``out``; return its result."""
    langs = tuple(check_language(lang) for lang in langs)
    prog = progress or progress_mod.current()
    with RunFolder(out, module.NAME, config, overwrite=overwrite, executor=executor) as folder, \
            progress_mod.use(prog):
        result = folder.finished_result()
        if result is None:
            # the report reads the result as a resumed run would read it back from result.json
            # a run that diverges overflows in every later operation; the report names the divergence
            # from the numbers (train.diagnose), so NumPy's per-operation warnings would only repeat it
            with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                result = to_jsonable(module.run(config, folder))
            folder.write_result(result)
        else:
            prog.info(f"{module.NAME}: finished before with these settings; writing its report again")
        write_reports(module, result, config, folder, langs)
    return result
