"""backproplab.course.notebook: what the homework notebooks display and assert."""
import pytest

from backproplab.course import Question, question
from backproplab.course.notebook import QuestionCard, expect, question_card, verdicts


def test_card_shows_both_languages_and_the_errata_of_its_question():
    card = question_card("003/Q1.4")
    text, page = str(card), card._repr_html_()
    q = question("003/Q1.4")
    for shown in (text, page):
        assert "003-E3" in shown and "003-E4" not in shown
    assert q.question_en in text and q.question_fa in text
    assert "dir='rtl' lang='fa'" in page


def test_card_escapes_the_maps_text():
    q = Question("003/Q9", "9", "essay", "t", "is a<b and x>y?", "a<b")
    page = QuestionCard(q, ())._repr_html_()
    assert "a&lt;b and x&gt;y?" in page and "a<b" not in page


def test_expect_passes_the_maps_answer_and_names_the_question_otherwise(capsys):
    q = question("003/Q1.4")  # values.total, expected 661
    expect(q, {"values": {"total": 661}})
    assert "003/Q1.4" in capsys.readouterr().out
    with pytest.raises(AssertionError, match=r"003/Q1.4: got 660 at values.total.*661"):
        expect(q, {"values": {"total": 660}})
    with pytest.raises(KeyError):
        expect(q, {"values": {}})


def test_expect_refuses_a_question_without_an_expected_answer():
    with pytest.raises(ValueError, match="000/Q1.a"):
        expect(question("000/Q1.a"), {})


def test_verdicts_list_every_check_with_its_hint_and_a_file_that_did_not_import():
    report = {"passed": False, "files": [
        {"file": "/tmp/x/good.py", "passed": True, "error": None, "tasks": {"dense": {"passed": True, "checks": [
            {"task": "dense", "name": "forward", "status": "pass", "error": 0.0, "hint": "", "message": ""}]}}},
        {"file": "/tmp/x/bad.py", "passed": False, "error": None, "tasks": {"dense": {"passed": False, "checks": [
            {"task": "dense", "name": "dW", "status": "fail", "error": 1.0, "hint": "dW transposed", "message": ""},
            {"task": "dense", "name": "dx", "status": "error", "error": None, "hint": "", "message": "raised"}]}}},
        {"file": "/tmp/x/broken.py", "passed": False, "error": "SyntaxError at line 3", "tasks": {}}]}
    table = verdicts(report)
    rows = table.rows()
    assert [(r["file"], r["check"], r["status"], r["hint"], r["message"]) for r in rows] == [
        ("good.py", "forward", "pass", "", ""), ("bad.py", "dW", "fail", "dW transposed", ""),
        ("bad.py", "dx", "error", "", "raised"), ("broken.py", "import", "error", "", "SyntaxError at line 3")]
    text = str(table)
    assert "hint: dW transposed" in text and "error: raised" in text and "error: SyntaxError at line 3" in text
    assert "<b>FAIL</b>" in table._repr_html_()
    assert [r["check"] for r in verdicts(report, "dense").rows()] == ["forward", "dW", "dx", "import"]
    assert [r["check"] for r in verdicts(report, "adam").rows()] == ["import"]  # a file that did not import
