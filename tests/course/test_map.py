"""The course map loads, is validated (bad data is refused with a message naming the entry), and
its errata point at questions both ways."""
import textwrap

import pytest

from backproplab.course import map as course_map
from backproplab.course.answers import extract, matches


def test_the_shipped_map_loads():
    sets = course_map.load_map()
    assert list(sets) == ["000", "001", "002", "003", "004"]
    assert sum(len(s.questions) for s in sets.values()) >= 100
    for s in sets.values():
        for q in s.questions:
            assert q.question_en and q.question_fa and q.kind in course_map.KINDS


GOOD = """
document = "x.txt"
set = "009"
title_en = "t"
title_fa = "ت"

[[question]]
id = "009/Q1.a"
number = "1(a)"
kind = "computation"
topic = "t"
question_en = "q"
question_fa = "س"
command = "backproplab calc params mlp --layer-sizes 2,1 --json"
answer = "values.total"
expected = 3
errata = ["009-E1"]

[[erratum]]
id = "009-E1"
question = "009/Q1.a"
kind = "sign slip"
claim_en = "c"
claim_fa = "ک"
correct_en = "r"
correct_fa = "ر"
"""


@pytest.mark.parametrize("change, match", [
    (("kind = \"computation\"", "kind = \"guess\""), "kind 'guess'"),
    (("id = \"009/Q1.a\"", "id = \"009-Q1\""), "not of the form"),
    (("topic = \"t\"", "topic = \"t\"\ncolour = \"red\""), "unknown key"),
    (("expected = 3", "expected = {a = 1}"), "'expected' is a dict"),
    (("errata = [\"009-E1\"]", "errata = [\"009-E7\"]"), "does not list its erratum|not in the map"),
    (("question = \"009/Q1.a\"", "question = \"009/Q9\""), "points at 009/Q9"),
    (("command = \"backproplab calc", "command = \"python calc"), "must start with 'backproplab '"),
    (("question_fa = \"س\"", "question_fa = \"\""), "'question_fa' is missing or empty"),
])
def test_bad_map_data_is_refused_with_a_message(tmp_path, change, match):
    path = tmp_path / "009.toml"
    path.write_text(GOOD, encoding="utf-8")
    assert course_map.load_file(path).questions[0].expected == 3  # the good file loads
    path.write_text(GOOD.replace(*change), encoding="utf-8")
    with pytest.raises(course_map.MapError, match=match):
        course_map.load_file(path)


def test_question_lookup_suggests_close_ids():
    assert course_map.question("003/Q1.4").expected == 661
    with pytest.raises(ValueError, match="did you mean"):
        course_map.question("003/Q1.44")


def test_extract_follows_dotted_paths():
    data = {"values": {"rows": [{"a": 1}, {"a": 2}]}}
    assert extract(data, "values.rows.1.a") == 2
    with pytest.raises(KeyError, match="no item '5'"):
        extract(data, "values.rows.5.a")
    with pytest.raises(KeyError, match="no key 'x'"):
        extract(data, "values.x")


@pytest.mark.parametrize("expected, got, tol, ok", [
    (661, 661, 0.0, True), (661, 662, 0.0, False), (0.1, 0.1000001, 1e-5, True), (0.1, 0.1001, 1e-5, False),
    ([1, [2, 3]], [1, [2, 3]], 0.0, True), ([1, [2, 3]], [1, [2, 4]], 0.0, False), ([1, 2], [1, 2, 3], 0, False),
    (True, True, 0.0, True), (True, 1, 0.0, False), ("bilinear", "bilinear", 0, True), (3.0, None, 0.1, False),
    (0.0, 1e-13, 1e-9, True), (0.0, 1e-6, 1e-9, False), (0.0, 1.5e-8, 1e-6, True), (1e6, 1e6 + 2, 1e-6, False),
])
def test_matches_both_ways(expected, got, tol, ok):
    assert matches(expected, got, tol) is ok
