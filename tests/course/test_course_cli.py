"""`backproplab course`: list, show (with its erratum and the working), check (every checkable entry
matches its expected value, quick forms), errata; --json and --lang fa."""
import json
from pathlib import Path

import pytest

from backproplab.cli import main
from backproplab.course.errata import errata_markdown

ROOT = Path(__file__).resolve().parents[2]


def test_list_one_set_in_english_and_persian(capsys):
    assert main(["course", "list", "003", "--lang", "en"]) == 0
    out = capsys.readouterr().out
    assert "003/Q1.4" in out and "backproplab calc params mlp" in out
    assert main(["course", "list", "003", "--json", "--lang", "fa"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data[0]["set"] == "003" and any("۲۰" in q["question"] for q in data[0]["questions"])


def test_show_prints_the_question_erratum_and_the_working(capsys):
    assert main(["course", "show", "003/Q1.4", "--lang", "en"]) == 0
    out = capsys.readouterr().out
    assert "003-E3" in out and "total = 610 weights + 51 biases = 661" in out and "pass" in out


def test_show_unknown_id_is_one_line(capsys):
    assert main(["course", "show", "003/Q1.44"]) == 2
    err = capsys.readouterr().err
    assert "did you mean" in err and "Traceback" not in err


def test_check_every_checkable_entry(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # lab runs go to ./runs/course
    status = main(["course", "check", "--json", "--lang", "en"])
    data = json.loads(capsys.readouterr().out)
    failed = [r for r in data["rows"] if r["verdict"] != "pass"]
    assert status == 0 and not failed, failed
    assert data["checked"] >= 20


@pytest.mark.parametrize("lang, page", [("en", "errata.md"), ("fa", "errata.fa.md")])
def test_docs_errata_is_the_generated_page(lang, page):
    assert (ROOT / "docs" / page).read_text(encoding="utf-8") == errata_markdown(lang), \
        f"docs/{page} is out of date: backproplab course errata --lang {lang} > docs/{page}"


@pytest.mark.parametrize("lang", ["en", "fa"])
def test_errata_page_lists_every_erratum(lang):
    from backproplab.course import load_map

    text = errata_markdown(lang)
    for s in load_map().values():
        for e in s.errata:
            assert f"### {e.id}" in text and e.claim(lang) in text and e.correct(lang) in text
