"""Translation of report text through gettext catalogs, and numbers written the reader's way.

Report code marks every sentence with :func:`_` (or :func:`_n` for a count-dependent
sentence). The result is a :class:`Msg`: the English text and its parameters, translated only
when it is turned into a string, in the language that is active then (:func:`language`).
So one report object renders in English and in Persian, and a figure's labels follow the
language the figure is drawn in (matplotlib calls ``str()`` on labels)::

    msg = _("Best test accuracy {acc:.2%} at epoch {epoch}", acc=0.991, epoch=7)
    with language("fa"):
        str(msg)        # the Persian msgstr, formatted with Persian digits

Numbers passed as parameters are formatted with the msgid's format spec, then written with the
language's digits and separators (Persian: ۰-۹, the decimal separator ٫, the percent sign ٪).
Inside a backquoted code span they keep Python's digits: code is quoted as it is written.
A parameter that is itself a :class:`Msg` (or a :func:`join` of names) is translated too.

Catalogs are ``locale/<lang>/LC_MESSAGES/<domain>.mo``, one domain per concern (the
framework, each lab); every domain of a language is loaded and chained, so a lab's catalog is
a file of its own. They are built from ``.po`` files by ``scripts/i18n.py`` (Babel extracts the
messages and compiles the catalogs). A msgid missing from a catalog is recorded in
:func:`missing` (a test fails on any), and falls back to English.

Reference: https://docs.python.org/3/library/gettext.html; https://babel.pocoo.org/
"""
from __future__ import annotations

import contextlib
import contextvars
import gettext
import string
from pathlib import Path

LOCALE_DIR = Path(__file__).resolve().parent.parent / "locale"
#: languages a report can be written in; "en" is the source language (no catalog)
LANGUAGES = {"en": "English", "fa": "فارسی"}
RTL = {"fa"}

_current: contextvars.ContextVar[str] = contextvars.ContextVar("backproplab_language", default="en")
_catalogs: dict[str, gettext.NullTranslations] = {}
_missing: dict[str, set[str]] = {}

_DIGITS = {"fa": str.maketrans("0123456789.%", "۰۱۲۳۴۵۶۷۸۹٫٪")}
_LIST_SEPARATOR = {"en": ", ", "fa": "، "}


def check_language(lang: str) -> str:
    if lang not in LANGUAGES:
        raise ValueError(f"unknown language {lang!r}; choose one of {', '.join(LANGUAGES)}")
    return lang


def current_language() -> str:
    return _current.get()


def is_rtl(lang: str | None = None) -> bool:
    return (lang or current_language()) in RTL


@contextlib.contextmanager
def language(lang: str):
    """Make ``lang`` the active language of ``str(msg)`` inside the block."""
    token = _current.set(check_language(lang))
    try:
        yield
    finally:
        _current.reset(token)


class _Untranslated(gettext.NullTranslations):
    """The end of a language's chain: a msgid that reaches it is in no catalog; remember it."""

    def __init__(self, lang: str):
        super().__init__()
        self.lang = lang

    def gettext(self, message: str) -> str:
        _missing.setdefault(self.lang, set()).add(message)
        return message

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        _missing.setdefault(self.lang, set()).add(singular)
        return singular if n == 1 else plural


def catalog(lang: str) -> gettext.NullTranslations:
    """Every compiled domain of ``lang``, chained (English: no translation)."""
    if lang not in _catalogs:
        chain: gettext.NullTranslations = _Untranslated(lang)
        folder = LOCALE_DIR / lang / "LC_MESSAGES"
        for mo in sorted(folder.glob("*.mo")) if lang != "en" else ():
            with open(mo, "rb") as f:
                t = gettext.GNUTranslations(f)
            t.add_fallback(chain)
            chain = t
        _catalogs[lang] = chain
    return _catalogs[lang]


def reload_catalogs() -> None:
    """Forget loaded catalogs (after ``scripts/i18n.py compile``)."""
    _catalogs.clear()


def missing(lang: str) -> set[str]:
    """Msgids looked up in ``lang`` since start-up that its catalogs do not translate."""
    return set(_missing.get(lang, ()))


def _lookup(lang: str, msgid: str, plural: str | None = None, n: int = 1) -> str:
    if lang == "en":
        return msgid if plural is None or n == 1 else plural
    cat = catalog(lang)
    return cat.gettext(msgid) if plural is None else cat.ngettext(msgid, plural, n)


def localize_number(text: str, lang: str | None = None) -> str:
    """Digits, decimal separator and percent sign of ``lang`` (scientific notation stays Latin)."""
    lang = lang or current_language()
    table = _DIGITS.get(lang)
    if table is None or "e" in text.lower() or "inf" in text.lower() or "nan" in text.lower():
        return text
    return text.translate(table)


class _Num:
    """A number that formats itself in the active language (used for Msg parameters)."""

    __slots__ = ("value",)

    def __init__(self, value):
        self.value = value

    def __format__(self, spec: str) -> str:
        return localize_number(format(self.value, spec))

    def __str__(self) -> str:
        return self.__format__("")


class _Formatter(string.Formatter):
    def format_field(self, value, spec):
        if isinstance(value, bool) or value is None:
            return format(str(value), spec)
        if isinstance(value, (int, float)) or hasattr(value, "dtype"):
            return _Num(value).__format__(spec)
        if isinstance(value, Msg):
            return format(str(value), spec)
        return format(value, spec)


_FORMATTER = _Formatter()


def _fill(template: str, params: dict) -> str:
    """``template`` with its ``{fields}`` filled: numbers in the language's digits, except inside a
    backquoted code span, where they stay as Python writes them (``make_mlp(784, 2)`` is code)."""
    out, in_code = [], False
    for literal, field, spec, conversion in _FORMATTER.parse(template):
        out.append(literal)
        in_code ^= literal.count("`") % 2 == 1
        if field is None:
            continue
        value = _FORMATTER.convert_field(_FORMATTER.get_field(field, (), params)[0], conversion)
        spec = _FORMATTER.vformat(spec, (), params) if "{" in (spec or "") else spec
        if in_code and not isinstance(value, Msg):
            out.append(format(value.item() if hasattr(value, "item") and hasattr(value, "dtype") else value, spec))
        else:
            out.append(_FORMATTER.format_field(value, spec))
    return "".join(out)


class Msg:
    """A translatable sentence with its parameters; ``str()`` translates it in the active language."""

    __slots__ = ("msgid", "plural", "n", "params")

    def __init__(self, msgid: str, plural: str | None = None, n: int = 1, params: dict | None = None):
        self.msgid, self.plural, self.n, self.params = msgid, plural, n, dict(params or {})

    def text(self, lang: str | None = None) -> str:
        lang = lang or current_language()
        template = _lookup(lang, self.msgid, self.plural, self.n)
        if not self.params:
            return template
        with language(lang):
            try:
                return _fill(template, self.params)
            except (KeyError, IndexError, ValueError):
                # a catalog whose msgstr names other fields must not break a report: use English
                _missing.setdefault(lang, set()).add(self.msgid)
                return _fill(self.plural if self.plural and self.n != 1 else self.msgid, self.params)

    def __str__(self) -> str:
        return self.text()

    def __repr__(self) -> str:
        return f"Msg({self.msgid!r}, params={self.params!r})"

    def __add__(self, other) -> "Concat":
        return Concat([self, other])

    def __radd__(self, other) -> "Concat":
        return Concat([other, self])


class Concat(Msg):
    """Several messages (or plain strings) rendered side by side, separated by a space."""

    __slots__ = ("parts", "sep")

    def __init__(self, parts, sep: str = " "):
        super().__init__("")
        self.parts, self.sep = [p for p in parts if p not in (None, "")], sep

    def text(self, lang: str | None = None) -> str:
        lang = lang or current_language()
        with language(lang):
            return self.sep.join(str(p) for p in self.parts)

    def __add__(self, other) -> "Concat":
        return Concat(self.parts + [other], self.sep)


class Join(Msg):
    """A list of items joined with the language's list separator (``, `` / ``، ``)."""

    __slots__ = ("items", "wrap")

    def __init__(self, items, wrap: str = ""):
        super().__init__("")
        self.items, self.wrap = list(items), wrap

    def text(self, lang: str | None = None) -> str:
        lang = lang or current_language()
        with language(lang):
            parts = [f"{self.wrap}{localize_item(i)}{self.wrap}" for i in self.items]
        return _LIST_SEPARATOR.get(lang, ", ").join(parts)


def localize_item(item) -> str:
    if isinstance(item, (int, float)) and not isinstance(item, bool):
        return localize_number(format(item, "g"))
    return str(item)


def _(msgid: str, **params) -> Msg:
    """Mark ``msgid`` for translation; ``params`` fill its ``{fields}`` when it is rendered."""
    return Msg(msgid, params=params)


def _n(singular: str, plural: str, n: int, **params) -> Msg:
    """A sentence whose form depends on the count ``n`` (gettext's ngettext); ``n`` is also a parameter."""
    return Msg(singular, plural, int(n), {"n": n, **params})


def N_(msgid: str) -> str:
    """Mark a constant string for extraction only; translate it later with ``_(CONSTANT)``."""
    return msgid


def join(items, code: bool = False) -> Join:
    """``items`` joined with the language's list separator; ``code=True`` puts each in backquotes."""
    return Join(items, wrap="`" if code else "")


def num(value, spec: str = "") -> str:
    """``value`` formatted with ``spec`` in the active language's digits."""
    return localize_number(format(value, spec))
