"""`backproplab lab all`: the four MLP labs run with the shared options and are listed in the index."""
import json

import pytest

from backproplab.cli import main as cli_main
from backproplab.labs import registry


@pytest.fixture(scope="module")
def lab_all(tmp_path_factory):
    out = tmp_path_factory.mktemp("lab_all")
    rc = cli_main(["lab", "all", "--quick", "--num-epochs", "2", "--seed", "0", "--classes", "0,1", "--quiet",
                   "--lang", "en,fa", "--out", str(out)])
    return rc, out, json.loads((out / "index.json").read_text())


def test_lab_all_runs_every_lab_with_the_shared_options_and_indexes_them(lab_all):
    rc, out, index = lab_all
    assert rc == 0
    assert [e["lab"] for e in index["labs"]] == list(registry.GROUPS["all"])
    md, fa_md = (out / "index.md").read_text(), (out / "index.fa.md").read_text()
    html, fa_html = (out / "index.html").read_text(), (out / "index.fa.html").read_text()
    assert 'dir="rtl"' in fa_html
    for e in index["labs"]:
        assert e["ok"], e.get("error")
        cfg = json.loads((out / e["lab"] / "config.json").read_text())["config"]
        assert (cfg["is_quick"], cfg["num_epochs"], cfg["seed"], cfg["classes"]) == (True, 2, 0, "0,1")
        assert e["result"]["num_epochs"] == 2
        for f in ("report.md", "report.html", "report.fa.md", "report.fa.html", "summary.json", "summary.csv",
                  "curves.csv"):
            assert (out / e["lab"] / f).stat().st_size > 0, f"{e['lab']}/{f}"
        assert f"({e['lab']}/report.md)" in md and f"({e['lab']}/report.fa.md)" in fa_md
        assert f'href="{e["lab"]}/report.html"' in html and f'href="{e["lab"]}/report.fa.html"' in fa_html
        acc = e["result"]["best_test_acc"]
        assert 0.5 < acc <= 1.0 and f"{acc:.2%}" in md
        assert e["result"]["summary"].startswith(f"{e['lab']}: best test accuracy {acc:.2%}")
    # the Persian index gives each lab's summary in Persian
    assert "best test accuracy" not in fa_md and fa_md.count("بهترین دقت آزمون") >= 1 + len(index["labs"])


def test_lab_all_resumes_from_the_cached_models(lab_all, capsys):
    _, out, index = lab_all
    steps = sorted((out / "init" / ".steps").glob("*.json"))
    assert len(steps) == len(next(e for e in index["labs"] if e["lab"] == "init")["result"]["rows"])
    before = {p.name: p.stat().st_mtime_ns for p in steps}
    (out / "init" / "result.json").unlink()
    steps[0].unlink()  # as if killed before this model finished
    rc = cli_main(["lab", "all", "--quick", "--num-epochs", "2", "--seed", "0", "--classes", "0,1", "--quiet",
                   "--out", str(out)])
    assert rc == 0
    after = {p.name: p.stat().st_mtime_ns for p in (out / "init" / ".steps").glob("*.json")}
    assert set(after) == set(before)
    assert all(after[k] == before[k] for k in before if k != steps[0].name)  # the others were not retrained


def test_lab_all_reports_a_failing_lab_and_exits_1(tmp_path):
    missing = tmp_path / "no-data-here"
    rc = cli_main(["lab", "all", "--quick", "--quiet", "--data-dir", str(missing), "--out", str(tmp_path / "o")])
    assert rc == 1
    index = json.loads((tmp_path / "o" / "index.json").read_text())
    assert len(index["labs"]) == 4
    assert all(not e["ok"] and "no-data-here" in e["error"] for e in index["labs"])


@pytest.mark.parametrize("argv, named", [(["--epochs", "2"], "--epochs"), (["--num-epochs", "0"], "--num-epochs"),
                                         (["--classes", "0"], "--classes")])
def test_lab_all_rejects_bad_options_before_running(argv, named, tmp_path, capsys):
    try:
        rc = cli_main(["lab", "all", "--quick", "--out", str(tmp_path / "x"), *argv])
    except SystemExit as e:  # argparse: an unknown option
        rc = e.code
    assert rc == 2
    assert named in capsys.readouterr().err
    assert not (tmp_path / "x").exists()
