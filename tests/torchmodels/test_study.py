"""The study end to end on a CPU (tiny data), its results file, its command line and its report sentences."""
from __future__ import annotations

import json
import multiprocessing
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from backproplab.torchmodels.study import main  # noqa: E402
from backproplab.torchmodels.study_config import StudyConfig, parse_args, plan  # noqa: E402
from backproplab.torchmodels.study_report import GOAL_ACC, GOAL_SECONDS, observations  # noqa: E402
from backproplab.torchmodels.study_store import ResultStore, record_key  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
OUTPUTS = {"study.json", "study.md", "accuracy_vs_macs.png"}


def run_study(fashion_dir, out, *extra):
    return main(["--tiny", "--device", "cpu", "--data-dir", str(fashion_dir), "--out", str(out), *extra])


def test_tiny_study_writes_everything_and_a_rerun_trains_nothing(fashion_dir, tmp_path, capsys):
    out = tmp_path / "study"
    assert run_study(fashion_dir, out, "--probe", "none") == 0
    assert "img/s alone" in capsys.readouterr().out  # the summary table closes the log
    assert {p.name for p in out.iterdir()} == OUTPUTS
    data = json.loads((out / "study.json").read_text())
    models = data["models"]
    assert len(models) == 4 and all(r["status"] == "finished" for r in models.values())
    for r in models.values():
        assert r["latency_b1_eager_ms"] > 0 and r["alone_images_per_s"] > 0 and r["peak_fraction"] > 0
        assert len(r["history"]["test_acc"]) == 1
    md = (out / "study.md").read_text()
    assert "| plain CNN | 0.125 | 8 px | 0 |" in md and "MobileNet V2 | 0.125 | 4 px" in md
    assert "No probe ran" in md
    capsys.readouterr()
    assert run_study(fashion_dir, out, "--probe", "none") == 0
    assert "nothing to train" in capsys.readouterr().out
    again = json.loads((out / "study.json").read_text())
    assert again["models"] == models and len(again["runs"]) == 2


def test_a_changed_recipe_is_a_new_result(fashion_dir, tmp_path):
    out = tmp_path / "study"
    assert run_study(fashion_dir, out, "--probe", "none", "--models", "v1", "--resolution-models", "") == 0
    assert run_study(fashion_dir, out, "--probe", "none", "--models", "v1", "--resolution-models", "",
                     "--label-smoothing", "0") == 0
    keys = sorted(json.loads((out / "study.json").read_text())["models"])
    assert len(keys) == 2 and keys[0].split("-")[:4] == keys[1].split("-")[:4] and keys[0] != keys[1]


def test_budget_guard_skips_and_still_reports(fashion_dir, tmp_path):
    out = tmp_path / "study"
    assert run_study(fashion_dir, out, "--probe", "none", "--budget-seconds", "1", "--reserve-seconds", "1") == 0
    md = (out / "study.md").read_text()
    assert "## Not done" in md and ("predicted" in md or "deadline" in md)
    data = json.loads((out / "study.json").read_text())
    assert not any(r["status"] == "finished" for r in data["models"].values())


def test_a_failing_probe_or_ceiling_leaves_the_defaults(fashion_dir, tmp_path, monkeypatch):
    from backproplab.torchmodels import study

    def broken(*args, **kwargs):
        raise RuntimeError("CUDA error: an illegal memory access was encountered")

    monkeypatch.setattr(study, "probe", broken)
    monkeypatch.setattr(study, "matmul_peak", broken)
    out = tmp_path / "study"
    assert run_study(fashion_dir, out, "--models", "cnn", "--resolution-models", "") == 0
    md = (out / "study.md").read_text()
    assert "phase probe: RuntimeError: CUDA error" in md and "phase ceilings: RuntimeError" in md
    models = json.loads((out / "study.json").read_text())["models"]
    assert [r["status"] for r in models.values()] == ["finished"] and "peak_fraction" not in next(iter(models.values()))


def test_seeds_stacked_and_resume_from(fashion_dir, tmp_path):
    first = tmp_path / "first"
    assert run_study(fashion_dir, first, "--probe", "none", "--models", "v1", "--resolution-models", "",
                     "--seeds", "0,1", "--stack-seeds", "yes") == 0
    records = json.loads((first / "study.json").read_text())["models"]
    assert sorted(r["seed"] for r in records.values()) == [0, 1]
    assert all(r["stacked_with"] == 2 for r in records.values())
    second = tmp_path / "second"
    assert run_study(fashion_dir, second, "--probe", "none", "--models", "v1", "--resolution-models", "",
                     "--seeds", "0,1", "--resume-from", str(first / "study.json")) == 0
    assert json.loads((second / "study.json").read_text())["models"].keys() == records.keys()


@pytest.mark.slow
def test_worker_processes_share_the_plan(fashion_dir, tmp_path):
    out = tmp_path / "study"
    env_python = sys.executable
    proc = subprocess.run([env_python, "-m", "backproplab.torchmodels.study", "--tiny", "--device", "cpu",
                           "--data-dir", str(fashion_dir), "--out", str(out), "--probe", "none", "--processes", "2"],
                          capture_output=True, text=True, timeout=600, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    assert proc.returncode == 0, proc.stderr[-2000:]
    models = json.loads((out / "study.json").read_text())["models"]
    assert len(models) == 4 and all(r["status"] == "finished" for r in models.values())


@pytest.mark.slow
def test_dry_run_script(tmp_path):
    """scripts/gpu_study.sh --device cpu --tiny: the GPU command's every phase (with the probe) on this CPU."""
    if not (REPO / "data-cache/fashion-mnist").is_dir() and not Path("/usr/share/datasets/fashion-mnist").is_dir():
        pytest.skip("no Fashion-MNIST here (scripts/gpu_study.sh --prepare copies it into data-cache/)")
    if shutil.which("bash") is None:
        pytest.skip("no bash")
    out = tmp_path / "dry"
    proc = subprocess.run(["bash", str(REPO / "scripts/gpu_study.sh"), "--device", "cpu", "--tiny", "--out", str(out),
                           "--budget-seconds", "300"], capture_output=True, text=True, timeout=900,
                          env={**os.environ, "PYTHON": sys.executable})
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert {p.name for p in out.iterdir()} == OUTPUTS | {"log.txt"}
    log = (out / "log.txt").read_text()
    assert "probe stacked x2" in log and "done in" in log
    md = (out / "study.md").read_text()
    assert "## Probe: how the study chose to run" in md and "| 2 lanes |" in md


# -- the pieces ----------------------------------------------------------------------
def test_plan_is_the_labs_sixteen_models():
    p = plan(StudyConfig())
    assert len(p) == 16 and len(set(p)) == 16
    assert [x for x in p if x[2] == 32 and x[1] == 1.0] == [("cnn", 1.0, 32), ("v1", 1.0, 32), ("v2", 1.0, 32)]
    assert {(m, r) for m, w, r in p if r != 32} == {("v1", 24), ("v1", 16), ("v2", 24), ("v2", 16)}


def test_command_line(capsys):
    config, recipe = parse_args(["--widths", "1.0,0.5", "--no-flip", "--lanes", "2", "--budget-seconds", "60"])
    assert config.widths == (1.0, 0.5) and not recipe.flip and config.lanes == 2 and config.budget_seconds == 60
    with pytest.raises(SystemExit):
        parse_args(["--epochs", "3"])  # the vocabulary is num_epochs; a wrong name is an error
    assert main(["--engine", "fast"]) == 2
    assert "--engine takes auto, eager, graph, compile" in capsys.readouterr().err
    assert main(["--probe-model", "v3-w1-r32"]) == 2
    assert "FAMILY-wWIDTH-rSIDE" in capsys.readouterr().err
    assert main(["--shard", "2/2"]) == 2
    assert "--shard takes I/P" in capsys.readouterr().err
    assert main(["--device", "cpu", "--data-dir", "/nonexistent", "--out", "/tmp/x"]) == 2
    assert "does not exist" in capsys.readouterr().err


def _put(path, i):
    ResultStore(path).put_models({f"k{i}-{j}": {"status": "finished"} for j in range(20)})


def test_store_keeps_every_writer(tmp_path):
    path = tmp_path / "study.json"
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_put, args=(path, i)) for i in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    assert len(ResultStore(path).finished_keys()) == 80
    assert {p.name for p in tmp_path.iterdir()} == {"study.json"}  # no temporary or lock files left
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(ValueError, match="move it away"):
        ResultStore(tmp_path / "bad.json").read()


def test_record_key_hashes_the_settings():
    a = record_key("v2", 1.0, 32, 0, {"lr": 0.2})
    assert a.startswith("v2-w1.0-r32-s0-") and a == record_key("v2", 1.0, 32, 0, {"lr": 0.2})
    assert a != record_key("v2", 1.0, 32, 0, {"lr": 0.1}) and a != record_key("v2", 1.0, 32, 1, {"lr": 0.2})


# -- report sentences, on made-up numbers, both ways ---------------------------------
def rec(model="v2", width=1.0, resolution=32, acc=0.95, seed=0, **extra):
    return {**dict(model=model, width=width, resolution=resolution, seed=seed, test_acc=acc, status="finished",
                   macs=87e6), **extra}


@pytest.mark.parametrize("accs, verdict", [((0.946,), "meets"), ((0.944,), "misses"),
                                           ((0.95, 0.94), "meets in 1 of 2 seeds")])
def test_goal_sentence(accs, verdict):
    records = [rec(acc=a, seed=i) for i, a in enumerate(accs)]
    text = observations(records, {}, 1.0, 32)[0]
    assert f"it {verdict} the {100 * GOAL_ACC:.2f}% goal" in text


def test_goal_untested_and_time_sentences():
    assert "did not finish here" in observations([rec(model="v1")], {}, 1.0, 32)[0]
    within = observations([], {"total_s": GOAL_SECONDS - 1, "phases_s": {"training": 300}}, 1.0, 32)
    over = observations([], {"total_s": GOAL_SECONDS + 1}, 1.0, 32)
    assert "within the 8-minute goal" in within[-1] and "(5.0 min training)" in within[-1]
    assert "over the 8-minute goal" in over[-1]


def test_peak_sentences():
    big = rec(model="cnn", macs=1.5e9, alone_images_per_s=20000.0, peak_fraction=0.23)
    small = rec(model="v2", width=0.25, macs=9e6, alone_images_per_s=90000.0, peak_fraction=0.006)
    obs = observations([big, small], {}, 1.0, 32)
    assert any("largest model (plain CNN 1.0, 32 px, 1500M MACs) trains at 20000 images/s" in o and "23.00%" in o
               for o in obs)
    assert any("Fastest to train alone: MobileNet V2 0.25" in o for o in obs)
    alone_fastest = observations([dict(big, alone_images_per_s=1e6)], {}, 1.0, 32)
    assert not any("Fastest" in o for o in alone_fastest)
