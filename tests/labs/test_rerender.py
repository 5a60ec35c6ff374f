"""`backproplab report RUN_DIR`: a finished run's report again; a folder that is not one gets one line
naming its config.json and the fix (exit 1), never a traceback."""
import json

import pytest

from backproplab.cli import main
from backproplab.labs import graph


def _folder(tmp_path, text):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "config.json").write_text(text)
    return tmp_path / "run"


BAD_CONFIGS = [
    ('{"lab": "nosuch", "fingerprint": "x", "config": {}}', "names a lab this backproplab lacks"),
    ("[1, 2]", "lacks the lab and its settings"),
    ('{"lab": "graph", "fingerprint": "x"}', "lacks the lab and its settings"),
    (json.dumps({"lab": "graph", "fingerprint": "x", "config": {**graph.Config().to_dict(), "seed": -4}}),
     "--seed must be >= 0"),
    ('{"lab": "gra', "is damaged"),
]


@pytest.mark.parametrize("text, words", BAD_CONFIGS)
def test_a_bad_config_json_is_one_line_naming_it(tmp_path, capsys, text, words):
    run = _folder(tmp_path, text)
    assert main(["report", str(run)]) == 1
    err = capsys.readouterr().err
    assert str(run / "config.json") in err and words in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_a_folder_without_config_json(tmp_path, capsys):
    assert main(["report", str(tmp_path / "nowhere")]) == 1
    assert "is not a lab run" in capsys.readouterr().err


def test_a_finished_run_is_reported_again_in_persian(tmp_path):
    assert main(["lab", "graph", "--quick", "--quiet", "--out", str(tmp_path / "g")]) == 0
    assert main(["report", str(tmp_path / "g"), "--lang", "fa"]) == 0
    assert (tmp_path / "g" / "report.fa.md").exists()
    # the page added later links back to the English one written with the run
    assert 'href="report.html"' in (tmp_path / "g" / "report.fa.html").read_text()
