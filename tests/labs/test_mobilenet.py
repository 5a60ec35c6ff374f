"""mobilenet lab: the MAC counter against the papers' tables, the multipliers' square laws, the report's
sentences on made-up numbers both ways, the goal claimed only in its own setting, and quick runs end to end
(Fashion-MNIST and test-written CIFAR-10 files, cached models reused, the GPU resource asked of a cluster,
the same numbers on Dask workers, one line without PyTorch)."""
from __future__ import annotations

import dataclasses
import json
import subprocess
import sys

import numpy as np
import pytest

from backproplab.labs import mobilenet as lab
from backproplab.labs import mobilenet_text as text
from backproplab.labs.config import ConfigError
from backproplab.report.i18n import language

needs_torch = pytest.mark.usefixtures("torch", "one_torch_thread")


def en(msg) -> str:
    with language("en"):
        return str(msg)


def row(model="v1", width=1.0, side=32, acc=0.9, macs=100e6, params=3e6, s_per_epoch=10.0, latency=5.0):
    return {"model": model, "width": width, "resolution": side, "test_acc": acc, "macs": macs, "params": params,
            "s_per_epoch": s_per_epoch, "latency_b1_ms": latency, "device": "CPU"}


# -- configuration -----------------------------------------------------------------------------------
def test_config_ranges_and_cross_checks():
    with pytest.raises(ConfigError, match="--batch-size 512 is larger than --train-size 100"):
        lab.Config(train_size=100, batch_size=512)
    with pytest.raises(ConfigError, match="--dataset"):
        lab.Config(dataset="mnist")
    with pytest.raises(ConfigError, match="--widths"):
        lab.Config(widths=(0.0,))
    with pytest.raises(ConfigError, match="--models"):
        lab.Config(models=("resnet",))
    with pytest.raises(ConfigError, match="repeat"):
        lab.Config(resolutions=(32, 32))
    with pytest.raises(TypeError):
        dataclasses.replace(lab.Config(), epochs=3)  # the vocabulary is num_epochs


def test_plan_trains_every_width_then_every_side():
    config = lab.Config(models=("cnn", "v2"), widths=(1.0, 0.5), resolutions=(32, 16), resolution_models=("v2",))
    assert lab.plan(config) == [("cnn", 1.0, 32), ("cnn", 0.5, 32), ("v2", 1.0, 32), ("v2", 0.5, 32),
                                ("v2", 1.0, 16)]


# -- counting (no training) ----------------------------------------------------------------------------
@needs_torch
def test_counter_reproduces_the_papers_tables_and_the_tolerance_has_teeth():
    from backproplab.labs.mobilenet_costs import PAPER_TABLE, imagenet_table, matches_paper

    table = imagenet_table()
    assert len(table) == len(PAPER_TABLE) and all(r["matches"] for r in table)
    v1 = next(r for r in table if (r["model"], r["width"], r["resolution"]) == ("v1", 1.0, 224))
    assert abs(v1["macs_m"] - 569) < 1 and abs(v1["params_m"] - 4.2) < 0.05
    # one million MACs or a tenth of a million parameters off is a disagreement
    assert not matches_paper("v1", 571.0, 4.2, 569, 4.2)
    assert not matches_paper("v1", 569.0, 4.3, 569, 4.2)
    assert not matches_paper("v2", 300.0, 3.6, 300, 3.4)
    assert matches_paper("cnn", 4867.3, 29.29, 4866, 29.3)  # the paper's 4866 is within 0.05%


@needs_torch
def test_separable_blocks_cost_one_over_n_plus_one_ninth():
    from backproplab.labs.mobilenet_costs import separable_ratio_table

    rows = separable_ratio_table(channels=3)
    assert len(rows) == 14
    for r in rows[:-1]:
        assert r["measured_ratio"] == pytest.approx(1 / r["out_channels"] + 1 / 9, rel=1e-12)
    blocks = sum(r["separable_macs"] for r in rows[:-1]) / sum(r["standard_macs"] for r in rows[:-1])
    assert blocks < rows[-1]["measured_ratio"] < 0.13  # the shared first conv and classifier add to both


@needs_torch
def test_multipliers_scale_macs_as_the_report_states():
    """ρ: MACs × ρ² (within 1%; only the classifier does not shrink), parameters unchanged. α: the plain
    CNN and V1 within 10% of α² down to α = 0.5; V2 at 0.25 far above α² (its 1280-channel head stays)."""
    from backproplab.labs.mobilenet_costs import multiplier_rows
    from backproplab.torchmodels import count_model

    rows = []
    for family in lab.FAMILIES:
        for width, side in ((1.0, 32), (0.5, 32), (0.25, 32), (1.0, 16)):
            cost = count_model(family, width, 10, side, in_channels=3, variant="cifar")
            rows.append({"model": family, "width": width, "resolution": side, "macs": cost.macs,
                         "params": cost.params})
    mult = {(m["model"], m["multiplier"], m["factor"]): m for m in multiplier_rows(rows, 1.0, 32)}
    assert len(mult) == 9
    for family in lab.FAMILIES:
        side = mult[(family, "resolution", 0.5)]
        assert side["macs_ratio"] == pytest.approx(0.25, rel=0.01) and side["params_ratio"] == 1.0
        assert "square law holds" in en(text.multiplier_sentence(side))
        assert "parameters unchanged" in en(text.multiplier_sentence(side))
    for family in ("cnn", "v1"):
        half = mult[(family, "width", 0.5)]
        assert abs(half["macs_ratio"] / 0.25 - 1) <= text.SCALING_RTOL
        assert "square law holds" in en(text.multiplier_sentence(half))
    thin_v2 = mult[("v2", "width", 0.25)]
    assert thin_v2["macs_ratio"] > 1.5 * 0.25 ** 2
    assert "times the square" in en(text.multiplier_sentence(thin_v2))


# -- sentences on made-up numbers ----------------------------------------------------------------------
def test_paper_sentence_all_or_the_rows_that_disagree():
    good = [{"model": "v1", "width": 1.0, "resolution": 224, "matches": True}] * 3
    assert "all 3 rows" in en(text.paper_sentence(good))
    bad = good[:2] + [{"model": "v2", "width": 1.0, "resolution": 224, "matches": False}]
    sentence = en(text.paper_sentence(bad))
    assert "2 of 3 rows" in sentence and "MobileNet V2 1.0, 224 px" in sentence


def test_compare_sentence_beyond_or_within_the_noise():
    cnn, v1 = row("cnn", acc=0.90, macs=1500e6, params=28e6), row("v1", macs=175e6, params=3.2e6)
    # 10000 test images: the SE of a difference near 90% is 0.42 points
    assert "no clear difference" in en(text.compare_sentence(cnn, {**v1, "test_acc": 0.905}, 10000))
    higher = en(text.compare_sentence(cnn, {**v1, "test_acc": 0.93}, 10000))
    assert "3.00 points higher" in higher and "0.117 of the MACs" in higher
    assert "3.00 points lower" in en(text.compare_sentence(cnn, {**v1, "test_acc": 0.87}, 10000))
    # the same 3 points on 100 test images are noise
    assert "no clear difference" in en(text.compare_sentence(cnn, {**v1, "test_acc": 0.93}, 100))


def test_speed_sentence_follows_or_lags_the_macs():
    cnn = row("cnn", macs=1000e6, s_per_epoch=10.0, latency=10.0)
    follows = en(text.speed_sentence(cnn, row("v1", macs=100e6, s_per_epoch=1.5, latency=0.8)))
    assert follows.count("in line with the MACs") == 2 and "do not set the time" not in follows
    lags = en(text.speed_sentence(cnn, row("v1", macs=100e6, s_per_epoch=5.0, latency=9.0)))
    assert lags.count("far more than the MACs suggest") == 2 and "do not set the time" in lags
    assert text.time_verdict(0.01, 0.1) == "beats"


def test_multiplier_sentence_both_ways():
    base = {"model": "v1", "width": 0.5, "resolution": 32, "multiplier": "width", "factor": 0.5,
            "macs_ratio": 0.26, "predicted": 0.25, "params_ratio": 0.27}
    assert "square law holds" in en(text.multiplier_sentence(base))
    assert "1.4 times the square" in en(text.multiplier_sentence({**base, "macs_ratio": 0.35}))
    side = {**base, "width": 1.0, "resolution": 16, "multiplier": "resolution", "params_ratio": 1.0}
    assert "parameters unchanged" in en(text.multiplier_sentence(side))
    assert "parameters 1.100 of the base's" in en(text.multiplier_sentence({**side, "params_ratio": 1.1}))


def test_width_or_side_sentence_three_ways():
    thin, small = row("v2", width=0.5, acc=0.92, macs=28e6), row("v2", side=16, acc=0.90, macs=22e6)
    assert "thinning kept more accuracy" in en(text.width_or_side_sentence(thin, small, 10000))
    assert "shrinking the input kept more" in en(text.width_or_side_sentence({**thin, "test_acc": 0.88}, small,
                                                                              10000))
    assert "neither way" in en(text.width_or_side_sentence(thin, small, 100))


def test_rank_sentence_and_spearman():
    assert text.spearman([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert text.spearman([1, 2, 3, 4], [40, 30, 20, 10]) == pytest.approx(-1.0)
    assert text.spearman([1, 2], [1, 2]) is None
    assert "rank the x well" in en(text.rank_sentence(0.9, 5, "x"))
    assert "rank the x poorly" in en(text.rank_sentence(0.2, 5, "x"))


def test_data_sentence_names_the_fallback_only_when_cifar_was_looked_for():
    facts = {"dataset": "fashion-mnist", "name": "Fashion-MNIST", "n_train": 60000, "n_test": 10000,
             "channels": 1, "num_classes": 10, "source": "idx", "padded": True}
    assert "was not found" in en(text.data_sentence(facts, "auto"))
    assert "was not found" not in en(text.data_sentence(facts, "fashion-mnist"))
    cifar = {**facts, "dataset": "cifar10", "name": "CIFAR-10", "channels": 3, "padded": False}
    assert "zero-padded" not in en(text.data_sentence(cifar, "auto")) and "3 channels" in en(
        text.data_sentence(cifar, "auto"))


GOAL_CONFIG = lab.Config(num_epochs=30, dataset="fashion-mnist")
FASHION = {"dataset": "fashion-mnist"}


@pytest.mark.parametrize("acc, state", [(0.9451, "met"), (0.9449, "missed")])
def test_goal_met_or_missed_only_in_its_setting(acc, state):
    rows = [row("v2", 1.0, 32, acc=acc), row("v1", 1.0, 32, acc=0.99)]
    status = text.goal_status(GOAL_CONFIG, FASHION, rows)
    assert status["state"] == state
    assert ("meets" if state == "met" else "misses") in en(text.goal_sentence(status))


@pytest.mark.parametrize("changes, facts, flag", [
    ({"num_epochs": 20}, FASHION, "--num-epochs 20"),
    ({"train_size": 30000}, FASHION, "--train-size 30000"),
    ({"test_size": 1000}, FASHION, "--test-size 1000"),
    ({}, {"dataset": "cifar10"}, "--dataset cifar10"),
])
def test_goal_not_claimed_in_another_setting(changes, facts, flag):
    """A V2 above 94.5% with fewer epochs, less data or on CIFAR-10 says nothing about the goal."""
    config = dataclasses.replace(GOAL_CONFIG, **changes)
    status = text.goal_status(config, facts, [row("v2", 1.0, 32, acc=0.99)])
    sentence = en(text.goal_sentence(status))
    assert status["state"] == "other_setting" and "is not tested" in sentence and flag in sentence
    assert "meets" not in sentence


def test_goal_untested_without_v2_at_full_width_and_32px():
    rows = [row("v2", 0.5, 32, acc=0.99), row("v2", 1.0, 24, acc=0.99)]
    status = text.goal_status(GOAL_CONFIG, FASHION, rows)
    assert status["state"] == "not_trained" and "not trained" in en(text.goal_sentence(status))


# -- the lab end to end --------------------------------------------------------------------------------
@needs_torch
def test_quick_run_end_to_end_and_cached(tmp_path, lab_run, have_fashion_mnist):
    from backproplab.labs.runner import run_lab

    result, out = lab_run(lab, tmp_path / "run", dataset="fashion-mnist")
    rows = result["rows"]
    config = lab.Config().quick()
    assert [(r["model"], r["width"], r["resolution"]) for r in rows] == lab.plan(dataclasses.replace(
        config, dataset="fashion-mnist"))
    assert result["data"]["n_train"] == 256 and result["data"]["n_test"] == 128 and result["data"]["channels"] == 1
    for r in rows:
        assert 0 <= r["test_acc"] <= 1 and r["macs"] > 0 and r["latency_b1_ms"] > 0 and r["s_per_epoch"] > 0
        assert r["engine"] == "eager" and r["status"] == "finished" and len(result["histories"][r["key"]]["epoch"]) == 1
    by = {r["key"]: r for r in rows}
    assert by["v2-w0.25-r8"]["macs"] < by["v2-w0.25-r16"]["macs"]
    assert by["v2-w0.25-r8"]["params"] == by["v2-w0.25-r16"]["params"]
    assert all(r["matches"] for r in result["imagenet_table"])
    assert result["goal"]["state"] == "not_trained"  # the quick run has no V2 1.0 at 32 px
    report = (out / "report.md").read_text()
    assert "94.5% goal is not tested" in report and "Quick run" in report
    for name in ("models.csv", "curves.csv", "imagenet_macs.csv", "accuracy_vs_macs.png", "time_vs_macs.png",
                 "multipliers.png"):
        assert (out / name).exists(), name
    # the folder already holds every model: a rerun (the lab's run again, not just its report) trains nothing
    (out / "result.json").unlink()
    again = run_lab(lab, dataclasses.replace(config, dataset="fashion-mnist"), out)
    assert json.dumps(again["rows"]) == json.dumps(rows)


def write_cifar_binary(root, rng, n=64):
    """CIFAR-10's binary version as the official archive unpacks it (records of 1 + 3072 bytes)."""
    folder = root / "cifar-10-batches-bin"
    folder.mkdir(parents=True)
    for name in [f"data_batch_{i}.bin" for i in range(1, 6)] + ["test_batch.bin"]:
        y = rng.integers(0, 10, n).astype(np.uint8)
        x = rng.integers(0, 256, (n, 3072)).astype(np.uint8)
        (folder / name).write_bytes(np.concatenate([y[:, None], x], axis=1).tobytes())
    return folder


TINY = dict(models=("v1",), widths=(0.125,), resolutions=(8,), resolution_models=(), train_size=128, test_size=64)


@needs_torch
def test_cifar_files_are_found_and_used(tmp_path, lab_run, monkeypatch):
    monkeypatch.delenv("BACKPROPLAB_CIFAR10", raising=False)
    write_cifar_binary(tmp_path / "data", np.random.default_rng(0))
    result, out = lab_run(lab, tmp_path / "run", data_dir=str(tmp_path / "data"), **TINY)
    assert result["data"]["name"] == "CIFAR-10" and result["data"]["channels"] == 3
    assert result["data"]["n_train"] == 128 and not result["data"]["padded"]
    assert result["goal"]["state"] == "not_trained"
    report = (out / "report.md").read_text()
    assert "CIFAR-10" in report and "was not found" not in report


def test_fashion_mnist_fallback_is_padded(monkeypatch, have_fashion_mnist):
    from backproplab.labs.mobilenet_train import load_arrays, resolve_dataset

    monkeypatch.delenv("BACKPROPLAB_CIFAR10", raising=False)
    assert resolve_dataset("auto", None) == "fashion-mnist"
    ds, facts = load_arrays("fashion-mnist", None, False, 200, 50, 0)
    assert ds.x_train.shape == (200, 1, 32, 32) and ds.x_test.shape == (50, 1, 32, 32) and facts["padded"]
    assert np.all(ds.x_train[:, :, :2] == 0) and np.all(ds.x_train[:, :, :, -2:] == 0)  # the 2-pixel border


class _Asked(Exception):
    pass


class _RecordingExecutor:
    """Records what the lab asks of a cluster, then stops the run."""

    def map(self, folder, tasks, label="", resources=None):
        self.tasks, self.resources = tasks, resources
        raise _Asked


@needs_torch
@pytest.mark.parametrize("device, wanted", [("cuda", {"GPU": 1}), ("cpu", None)])
def test_each_model_is_a_task_asking_for_a_gpu_when_it_trains_on_one(tmp_path, device, wanted, have_fashion_mnist):
    import pickle

    from backproplab.labs.runner import run_lab

    executor = _RecordingExecutor()
    config = dataclasses.replace(lab.Config().quick(), device=device, dataset="fashion-mnist")
    with pytest.raises(_Asked):
        run_lab(lab, config, tmp_path / "run", executor=executor)
    assert executor.resources == wanted
    assert sorted(executor.tasks) == sorted(f"train-{lab.model_key(*p)}" for p in lab.plan(config))
    pickle.dumps(executor.tasks)  # Dask sends them to its workers


@needs_torch
@pytest.mark.slow
def test_dask_workers_give_the_serial_numbers(tmp_path, lab_run, have_fashion_mnist):
    pytest.importorskip("distributed")
    from backproplab.labs.cluster import cluster_executor
    from backproplab.labs.runner import run_lab

    config = dataclasses.replace(lab.Config().quick(), dataset="fashion-mnist", models=("v1", "v2"),
                                 widths=(0.125,), resolutions=(8,), resolution_models=())
    serial = run_lab(lab, config, tmp_path / "serial")
    with cluster_executor("local:2") as executor:
        parallel = run_lab(lab, config, tmp_path / "cluster", executor=executor)
    for a, b in zip(serial["rows"], parallel["rows"]):
        for key in ("test_acc", "train_acc", "train_loss", "macs", "params"):
            assert a[key] == b[key], (a["key"], key)
    for k in serial["histories"]:
        for key in ("train_loss", "train_acc", "test_loss", "test_acc", "lr"):
            assert serial["histories"][k][key] == parallel["histories"][k][key], (k, key)


def test_without_torch_one_line_and_status_1(tmp_path):
    code = ("import sys; sys.modules['torch'] = None; from backproplab.cli import main; "
            f"sys.exit(main(['lab', 'mobilenet', '--quick', '--out', {str(tmp_path / 'run')!r}]))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr
    assert "pip install 'backproplab[torch]'" in lines[0] and "torch==2.13.0" in lines[0]
