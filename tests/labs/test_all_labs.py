"""Generic checks every lab must pass: a quick run writes Markdown and HTML reports in English and
Persian, the Persian report has no untranslated text, the CLI round trip works, options are
validated with one-line errors. Labs are found by the registry, so a new lab is checked here."""
import json
import re

import pytest

from backproplab.cli import main
from backproplab.labs import registry
from backproplab.report import i18n

#: labs that need an optional package or data that may be missing here
NEEDS = {"mobilenet": "torch"}


def _new_style(name):
    module = registry.load_lab(name)
    return hasattr(module, "report")


LABS = sorted(n for n in registry.labs() if _new_style(n))

#: two or more English words in a row (outside code, math and names) = an untranslated sentence
ENGLISH_RUN = re.compile(r"\b[A-Za-z]{2,}(?:[ ,;:]+[A-Za-z]{2,}){2,}\b")


def persian_prose(text: str) -> str:
    """The Persian report without code, formulas, links, image references and table-free identifiers."""
    text = re.sub(r"```.*?```", " ", text, flags=re.S)
    text = re.sub(r"`[^`]*`", " ", text)
    text = re.sub(r"\$[^$]*\$", " ", text)
    text = re.sub(r"!?\[[^\]]*\]\([^)]*\)", " ", text)
    text = re.sub(r"https?://\S+", " ", text)
    return text


@pytest.mark.parametrize("name", LABS)
def test_quick_run_writes_both_languages(name, tmp_path, lab_run):
    if name in NEEDS:
        pytest.importorskip(NEEDS[name])
    module = registry.load_lab(name)
    i18n._missing.clear()
    result, out = lab_run(module, tmp_path / name, langs=("en", "fa"))
    for f in ("config.json", "result.json", "report.md", "report.html", "report.fa.md", "report.fa.html"):
        assert (out / f).exists(), f
    fa_html = (out / "report.fa.html").read_text()
    assert 'dir="rtl"' in fa_html and 'lang="fa"' in fa_html
    assert not i18n.missing("fa"), f"untranslated messages in {name}: {sorted(i18n.missing('fa'))[:5]}"
    leftovers = ENGLISH_RUN.findall(persian_prose((out / "report.fa.md").read_text()))
    assert not leftovers, f"English text in the Persian report of {name}: {leftovers[:5]}"
    assert "Quick run" in (out / "report.md").read_text()
    saved = json.loads((out / "result.json").read_text())
    assert saved["lab"] == name


@pytest.mark.parametrize("name", LABS)
def test_help_lists_every_option_with_text(name, capsys):
    with pytest.raises(SystemExit) as e:
        main(["lab", name, "--help"])
    assert e.value.code == 0
    text = capsys.readouterr().out
    module = registry.load_lab(name)
    import dataclasses

    for f in dataclasses.fields(module.Config):
        if f.metadata.get("cli", True):
            assert "--" + f.name.replace("_", "-") in text
            assert f.metadata.get("help"), f"{name}: option {f.name} has no help text"


def test_lab_help_lists_every_lab_with_a_description(capsys):
    assert main(["lab", "--help"]) == 0
    text = capsys.readouterr().out
    for name in registry.labs():
        assert re.search(rf"^  {re.escape(name)}\s+\S", text, re.M), name
