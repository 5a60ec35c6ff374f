"""Table cells and inline text written for one language (shared by the Markdown and HTML renderers)."""
from __future__ import annotations

import math
import re

from .document import CodeText
from .i18n import Msg, _, localize_number

#: an empty or missing value
DASH = "—"


def cell_text(value, fmt: str = ".4g") -> tuple[str, str]:
    """(text, kind) of a table cell in the active language; kind is "num", "code" or "text"."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return DASH, "text"
    if isinstance(value, bool):
        return str(_("yes") if value else _("no")), "text"
    if isinstance(value, (int, float)) or hasattr(value, "dtype"):
        spec = fmt if not isinstance(value, int) or fmt.endswith(("%", "e", "f")) else ""
        try:
            text = format(value, spec)
        except ValueError:
            text = format(value)
        return localize_number(text), "num"
    if isinstance(value, CodeText):
        return value.text, "code"
    if isinstance(value, Msg):
        return str(value), "text"
    if isinstance(value, (list, tuple)):
        return ", ".join(cell_text(v, fmt)[0] for v in value), "text"
    return str(value), "text"


#: ``code``, $math$ and **bold** marks inside report text
INLINE = re.compile(r"(`[^`]+`|\$[^$]+\$|\*\*[^*]+\*\*)")


def split_inline(text: str) -> list[tuple[str, str]]:
    """[(kind, content)] with kind "text", "code", "math" or "bold"."""
    out = []
    for part in INLINE.split(text):
        if not part:
            continue
        if part.startswith("`") and part.endswith("`") and len(part) > 1:
            out.append(("code", part[1:-1]))
        elif part.startswith("$") and part.endswith("$") and len(part) > 1:
            out.append(("math", part[1:-1]))
        elif part.startswith("**") and part.endswith("**") and len(part) > 3:
            out.append(("bold", part[2:-2]))
        else:
            out.append(("text", part))
    return out
