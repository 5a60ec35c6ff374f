"""Reports as data (:mod:`.document`), translated (:mod:`.i18n`), rendered to Markdown and HTML."""
from .document import Column, CodeText, Report
from .html import render_html, render_index
from .i18n import LANGUAGES, Msg, N_, _, _n, current_language, join, language, num
from .markdown import render_markdown
