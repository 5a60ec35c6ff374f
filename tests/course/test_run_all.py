"""`backproplab course run`: which commands it runs, and the index it writes from them.

The full run takes half an hour; here the command list is cut to a calculator and one quick lab, and
every question whose lab was left out must come back "not run" without that lab running in-process.
"""
import json

import pytest

from backproplab.course import answers, run_all
from backproplab.labs import registry

CALC = ("backproplab calc fc-vs-conv --width 5 --height 5 --in-channels 2 --out-channels 4 --kernel-size 3 "
        "--json")
LAB = "backproplab lab quadratic --quick"


@pytest.mark.parametrize("quick", [False, True])
def test_every_lab_runs_once_and_the_gpu_lab_only_when_asked(quick):
    without, with_gpu = run_all.commands(quick, False), run_all.commands(quick, True)
    labs = [c.split()[2] for c in without if c.split()[1] == "lab"]
    assert "mobilenet" not in labs and "mobilenet" in [c.split()[2] for c in with_gpu if c.split()[1] == "lab"]
    assert set(labs) == set(registry.labs()) - {"mobilenet"}
    assert len(without) == len(set(without))
    if not quick:  # the full run: no quick form anywhere (a quick run uses the map's quick forms where it has them)
        assert not [c for c in without if "--quick" in c]


def test_the_index_is_written_from_what_ran(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(run_all, "commands", lambda quick, include_gpu: [CALC, LAB])
    real_run = answers.run

    def no_lab_in_process(command, root, lang):
        assert command.split()[1] != "lab", f"the index ran a lab in-process: {command}"
        return real_run(command, root, lang)

    monkeypatch.setattr(answers, "run", no_lab_in_process)
    status = run_all.run_all(str(tmp_path), "en", quick=True, jobs=1)
    capsys.readouterr()
    data = json.loads((tmp_path / "answers.json").read_text())
    rows = {r["id"]: r for r in data["rows"]}
    assert [t["command"] for t in data["timing"]] == [CALC, LAB]
    quadratic = [r for r in rows.values() if r["command"] == LAB]
    assert quadratic and all(r["verdict"] not in ("error", "not run") for r in quadratic)
    assert all(r["report"].endswith("report.html") and (tmp_path / r["report"]).exists() for r in quadratic)
    mobilenet = [r for r in rows.values() if (r["command"] or "").startswith("backproplab lab mobilenet")]
    assert mobilenet and all(r["verdict"] == "not run" and "--include-gpu" in r["detail"] for r in mobilenet)
    assert all(r["verdict"] == "not run" for r in rows.values()
               if (r["command"] or "").split()[1:2] == ["lab"] and r["command"] != LAB)
    html = (tmp_path / "index.html").read_text()
    assert quadratic[0]["report"] in html and "course run --include-gpu" in html
    assert status == 0


def test_a_left_out_gpu_lab_says_how_to_run_it():
    cache = {}
    run_all._mark_skipped(cache, quick=False)
    gpu = {c: r for c, r in cache.items() if c.split()[2] == "mobilenet"}
    assert gpu and all(not r.ran and "--include-gpu" in r.error for r in gpu.values())
    assert all(not r.ran and r.error == "left out of this run" for c, r in cache.items() if c not in gpu)
