"""The check command: table, --json, --junit, --points, exit codes, one-line errors for bad input."""
import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from backproplab.check.cli import main

SUB = Path(__file__).parent / "submissions"
GOOD, BAD = str(SUB / "correct_functions.py"), str(SUB / "bug_missing_mean.py")


def test_table_and_exit_status(capsys):
    assert main([GOOD, "--task", "mse"]) == 0
    out = capsys.readouterr().out
    assert "PASS (3 of 3 checks pass)" in out and "mse: gradient vs numerical" in out
    assert main([BAD]) == 1
    out = capsys.readouterr().out
    assert "FAIL" in out and "hint: missing 1/m" in out


def test_json(capsys):
    assert main([GOOD, BAD, "--task", "mse", "--json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["passed"] is False
    good, bad = data["files"]
    assert good["passed"] and good["tasks"]["mse"]["passed"]
    cost = next(c for c in bad["tasks"]["mse"]["checks"] if c["name"] == "mse: cost")
    assert cost["status"] == "fail" and cost["hint"].startswith("missing 1/m") and cost["error"] > 0.5


def test_junit(tmp_path, capsys):
    path = tmp_path / "out" / "results.xml"
    assert main([GOOD, BAD, "--task", "mse", "--junit", str(path)]) == 1
    root = ET.parse(path).getroot()
    suites = root.findall("testsuite")
    assert [s.get("name") for s in suites] == [str(Path(GOOD).resolve()), str(Path(BAD).resolve())]
    assert suites[0].get("failures") == "0" and suites[0].get("tests") == "3"
    failures = suites[1].findall("testcase/failure")
    assert int(suites[1].get("failures")) == len(failures) >= 1
    assert any("missing 1/m" in f.get("message") for f in failures)
    assert {c.get("classname") for c in suites[1].findall("testcase")} == {"bug_missing_mean.mse"}


def test_points_weight_the_tasks(tmp_path, capsys):
    # bug_missing_mean: 1 of its 3 mse checks passes; it has no l2 entry point, so l2 earns 0
    assert main([BAD, "--points", "mse=3,l2=1", "--json"]) == 1
    score = json.loads(capsys.readouterr().out)["files"][0]["score"]
    assert score["earned"] == pytest.approx(1.0) and score["possible"] == 4
    assert score["tasks"] == {"mse": pytest.approx(1.0), "l2": 0.0}
    toml = tmp_path / "points.toml"
    toml.write_text("[points]\nmse = 6\n")
    assert main([BAD, "--points", str(toml)]) == 1
    assert "score: 2 / 6 (mse 2/6)" in capsys.readouterr().out


@pytest.mark.parametrize("argv, words", [
    (["nosuch.py"], "no such file: nosuch.py"),
    ([GOOD, "--task", "nosuch"], "unknown task 'nosuch'"),
    ([GOOD, "--points", "mse=x"], "weight of mse must be a number"),
    ([GOOD, "--points", "nosuch=1"], "unknown task 'nosuch'"),
    ([GOOD, "--timeout", "0"], "--timeout must be a finite number of seconds > 0, got 0.0"),
    ([GOOD, "--timeout", "inf", "--task", "dense"], "--timeout must be a finite number of seconds > 0, got inf"),
    ([GOOD, "--timeout", "nan"], "--timeout must be a finite number"),
    ([GOOD, "--memory-mb", "0"], "--memory-mb must be >= 64 (MiB), got 0"),
    ([GOOD, "--frobnicate"], "unrecognized arguments: --frobnicate"),
])
def test_bad_input_is_one_line_and_exit_2(capsys, argv, words):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert words in err and err.count("\n") == 1 and err.startswith("backproplab check: error:")


def test_top_level_command_dispatches(capsys):
    from backproplab.cli import main as top

    assert top(["check", "nosuch.py"]) == 2
    assert "no such file" in capsys.readouterr().err


def test_junit_under_a_file_is_one_line_naming_the_option(tmp_path, capsys):
    (tmp_path / "afile").write_text("x")
    assert main([GOOD, "--task", "dense", "--junit", str(tmp_path / "afile" / "out.xml")]) == 1
    err = capsys.readouterr().err
    assert "is a file where a folder is needed; pass another --junit" in err and "Traceback" not in err
