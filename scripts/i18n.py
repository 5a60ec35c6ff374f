"""Message catalogs of the reports: extract, update and compile them with Babel.

    python scripts/i18n.py update      # extract the msgids from the code; add new ones to every .po
    python scripts/i18n.py compile     # .po -> .mo (what the package loads)
    python scripts/i18n.py apply fa lab_NAME FILE.json   # set msgstrs from {msgid: msgstr}
    python scripts/i18n.py check       # exit 1 if a .po lacks a msgid of the code, has an empty or
                                       # fuzzy msgstr, or its .mo is out of date

Domains: each lab module ``labs/NAME.py`` (with its helpers ``labs/NAME_*.py``) has the domain
``lab_NAME``, so a lab and its translation are files of their own; everything else is the domain
``backproplab``. Catalogs: ``src/backproplab/locale/<lang>/LC_MESSAGES/<domain>.po``.
Marked messages: ``_("...")``, ``_n("one", "many", n)`` and ``N_("...")``.
"""
from __future__ import annotations

import datetime
import io
import sys
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_file
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "src" / "backproplab"
LOCALE = PACKAGE / "locale"
KEYWORDS = {"_": None, "_n": (1, 2), "N_": None}
LANGS = ("fa",)


def lab_modules() -> set[str]:
    """Module names (without .py) of the files in labs/ that define a lab (``NAME = ...``)."""
    names = set()
    for path in (PACKAGE / "labs").glob("*.py"):
        text = path.read_text(encoding="utf-8")
        if any(line.startswith("NAME = ") for line in text.splitlines()):
            names.add(path.stem)
    return names


def domain_of(path: Path, labs: set[str]) -> str:
    if path.parent == PACKAGE / "labs":
        for name in sorted(labs, key=len, reverse=True):
            if path.stem == name or path.stem.startswith(name + "_"):
                return f"lab_{name}"
    return "backproplab"


#: fixed header dates, so that a catalog changes only when its messages do
EPOCH = datetime.datetime(2026, 12, 1, tzinfo=datetime.timezone.utc)


def new_catalog(domain: str, lang: str | None = None) -> Catalog:
    return Catalog(locale=lang, domain=domain, project="backproplab", version="1",
                   copyright_holder="the backproplab authors", creation_date=EPOCH, revision_date=EPOCH,
                   last_translator="the backproplab authors", language_team=f"{lang or 'en'}",
                   header_comment=f"# {lang or 'Template'} messages of backproplab, domain {domain}.\n"
                                  "# Update with: python scripts/i18n.py update")


def extract() -> dict[str, Catalog]:
    """One template catalog per domain, from every .py file of the package."""
    labs = lab_modules()
    templates: dict[str, Catalog] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        domain = domain_of(path, labs)
        catalog = templates.setdefault(domain, new_catalog(domain))
        rel = path.relative_to(ROOT).as_posix()
        for lineno, message, comments, _context in extract_from_file("python", str(path), keywords=KEYWORDS):
            catalog.add(message, None, [(rel, lineno)], auto_comments=comments)
    return {d: c for d, c in templates.items() if len(c)}


def po_path(lang: str, domain: str) -> Path:
    return LOCALE / lang / "LC_MESSAGES" / f"{domain}.po"


def read(path: Path, lang: str, domain: str) -> Catalog:
    if path.exists():
        with open(path, "rb") as f:
            return read_po(f, locale=lang, domain=domain)
    return new_catalog(domain, lang)


def write(catalog: Catalog, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    catalog.fuzzy = False
    catalog.revision_date = EPOCH
    write_po(buf, catalog, width=100, omit_header=False, sort_output=False, ignore_obsolete=True,
             include_lineno=False)
    path.write_bytes(buf.getvalue())


def update() -> None:
    for domain, template in extract().items():
        for lang in LANGS:
            path = po_path(lang, domain)
            catalog = read(path, lang, domain)
            catalog.update(template, no_fuzzy_matching=True)
            write(catalog, path)
            print(f"{path.relative_to(ROOT)}: {len(catalog)} messages, {untranslated(catalog)} untranslated")


def untranslated(catalog: Catalog) -> int:
    return sum(1 for m in catalog if m.id and (not m.string or (isinstance(m.string, tuple) and not all(m.string))))


def mo_bytes(catalog: Catalog) -> bytes:
    buf = io.BytesIO()
    write_mo(buf, catalog, use_fuzzy=False)
    return buf.getvalue()


def compile_all() -> None:
    for path in sorted(LOCALE.glob("*/LC_MESSAGES/*.po")):
        lang, domain = path.parent.parent.name, path.stem
        path.with_suffix(".mo").write_bytes(mo_bytes(read(path, lang, domain)))
        print(f"compiled {path.with_suffix('.mo').relative_to(ROOT)}")


def problems() -> list[str]:
    """What `check` complains about (also used by the test suite)."""
    found = []
    templates = extract()
    for lang in LANGS:
        for domain, template in templates.items():
            path = po_path(lang, domain)
            if not path.exists():
                found.append(f"{path.relative_to(ROOT)} is missing ({len(template)} messages): run update")
                continue
            catalog = read(path, lang, domain)
            for m in template:
                if not m.id:
                    continue
                got = catalog.get(m.id)
                if got is None:
                    found.append(f"{path.name}: no entry for {m.id!r}: run update and translate it")
                elif got.fuzzy or not got.string or (isinstance(got.string, tuple) and not all(got.string)):
                    found.append(f"{path.name}: {m.id!r} is untranslated or fuzzy")
            mo = path.with_suffix(".mo")
            if not mo.exists() or mo.read_bytes() != mo_bytes(catalog):
                found.append(f"{mo.relative_to(ROOT)} is out of date: run compile")
    return found


def apply(lang: str, domain: str, json_file: str) -> None:
    """Set msgstrs from a JSON object {msgid: msgstr} (a list of forms for a plural message)."""
    import json

    path = po_path(lang, domain)
    catalog = read(path, lang, domain)
    table = json.loads(Path(json_file).read_text(encoding="utf-8"))
    unknown = [k for k in table if catalog.get(k) is None]
    for msgid, msgstr in table.items():
        m = catalog.get(msgid)
        if m is not None:
            m.string = tuple(msgstr) if isinstance(msgstr, list) else msgstr
            m.flags.discard("fuzzy")
    write(catalog, path)
    print(f"{path.relative_to(ROOT)}: {len(table) - len(unknown)} set, {untranslated(catalog)} untranslated")
    for k in unknown:
        print(f"  not in the catalog (run update first?): {k!r}")


def main(argv: list[str]) -> int:
    if argv[:1] == ["apply"] and len(argv) == 4:
        apply(*argv[1:])
    elif argv[:1] == ["update"]:
        update()
    elif argv[:1] == ["compile"]:
        compile_all()
    elif argv[:1] == ["check"]:
        found = problems()
        for line in found:
            print(line)
        return 1 if found else 0
    else:
        print(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
