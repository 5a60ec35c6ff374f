"""Training jobs stepped side by side (CPU): results, determinism, the time guard, failures, the probe."""
from __future__ import annotations

import math

import pytest

torch = pytest.importorskip("torch")

from backproplab.torchmodels.job import JobOptions, JobSpec, Recipe, TrainJob  # noqa: E402
from backproplab.torchmodels.lanes import run_lanes, time_steps  # noqa: E402
from backproplab.torchmodels.probe import CostModel, probe  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")

RECIPE = Recipe(num_epochs=2, batch_size=16, warmup_epochs=0.5, amp=False)
OPTIONS = JobOptions(engine="graph", warmup_steps=1, eval_batch=16)
CPU = torch.device("cpu")


def train(data, specs, lanes, **kwargs):
    results, log = {}, []
    jobs = [TrainJob(s, data, RECIPE, OPTIONS, CPU) for s in specs]
    run_lanes(jobs, lanes, on_finish=lambda job, rs: results.update({(job.spec.name, r["seed"]): r for r in rs}),
              log=log.append, **kwargs)
    return results, log


def test_jobs_side_by_side_equal_jobs_one_by_one(tiny_data):
    """No dropout in cnn/v1: interleaving the steps of two jobs changes nothing, bit for bit."""
    specs = [JobSpec("v1", 0.25, 8), JobSpec("cnn", 0.125, 4, (0, 1))]
    together, log = train(tiny_data, specs, lanes=2)
    alone, _ = train(tiny_data, specs, lanes=1)
    assert sorted(together) == [("cnn-w0.125-r4-s0,1", 0), ("cnn-w0.125-r4-s0,1", 1), ("v1-w0.25-r8-s0", 0)]
    for key, r in together.items():
        assert r["status"] == "finished" and r["epochs_done"] == 2 and len(r["history"]["test_acc"]) == 2
        assert 0 <= r["test_acc"] <= 1 and r["images_per_s"] > 0 and r["macs"] > 0
        assert r["history"]["train_loss"] == alone[key]["history"]["train_loss"]
        assert r["history"]["test_acc"] == alone[key]["history"]["test_acc"]
    assert together[("cnn-w0.125-r4-s0,1", 0)]["history"] != together[("cnn-w0.125-r4-s0,1", 1)]["history"]
    assert any("[lane 1] start" in line for line in log)


def test_reported_accuracy_is_the_trained_models(tiny_data):
    """The last epoch's test numbers equal a fresh evaluation of the trained model (eval batches of 16 of 40)."""
    job = TrainJob(JobSpec("v1", 0.25, 8), tiny_data, RECIPE, OPTIONS, CPU)
    job.prepare()
    while not job.advance():
        pass
    job.poll()
    job.model.eval()
    with torch.no_grad():
        logits = job.model(tiny_data.x_test)
    hits = (logits.argmax(1) == tiny_data.y_test).sum().item()
    loss = torch.nn.functional.cross_entropy(logits, tiny_data.y_test).item()
    assert job.history[0]["test_acc"][-1] == hits / len(tiny_data.y_test)
    assert job.history[0]["test_loss"][-1] == pytest.approx(loss, rel=1e-5)
    assert job.step.x.data_ptr() != job._epoch_data[0].data_ptr()


def test_learning_rate_follows_warmup_then_cosine(tiny_data):
    results, _ = train(tiny_data, [JobSpec("v1", 0.25, 8)], lanes=1)
    # the rate of each epoch's last step: 4 steps per epoch, 2 of warm-up, so steps 3 and 7 are 1/6 and 5/6
    # of the way down the cosine
    lrs = results[("v1-w0.25-r8-s0", 0)]["history"]["lr"]
    assert lrs == pytest.approx([RECIPE.lr * 0.5 * (1 + math.cos(math.pi * t)) for t in (1 / 6, 5 / 6)], rel=1e-12)


def test_guard_skips_and_deadline_stops(tiny_data):
    skipped = []
    results, _ = train(tiny_data, [JobSpec("v1", 0.25, 8), JobSpec("cnn", 0.125, 8)], lanes=1,
                       can_start=lambda job: "too long" if job.spec.model == "cnn" else "",
                       on_skip=lambda job, why: skipped.append((job.spec.name, why)))
    assert list(results) == [("v1-w0.25-r8-s0", 0)] and skipped == [("cnn-w0.125-r8-s0", "too long")]
    skipped.clear()
    results, log = train(tiny_data, [JobSpec("v1", 0.25, 8), JobSpec("cnn", 0.125, 8)], lanes=1, deadline=0.0,
                         on_skip=lambda job, why: skipped.append(job.spec.name))
    r = results[("v1-w0.25-r8-s0", 0)]
    assert r["status"] == "unfinished" and r["epochs_done"] == 0 and r["test_acc"] is None
    assert skipped == ["cnn-w0.125-r8-s0"] and any("deadline" in line for line in log)


def test_a_failing_job_does_not_stop_the_others(tiny_data):
    results, log = train(tiny_data, [JobSpec("v9", 1.0, 8), JobSpec("v1", 0.25, 8)], lanes=1)
    assert results[("v9-w1.0-r8-s0", 0)]["status"].startswith("failed: ValueError: unknown model 'v9'")
    assert results[("v1-w0.25-r8-s0", 0)]["status"] == "finished"
    assert any("Traceback" in line for line in log)


def test_time_steps_and_probe_choose(tiny_data):
    job = TrainJob(JobSpec("v1", 0.25, 4), tiny_data, RECIPE, OPTIONS, CPU)
    job.prepare()
    assert time_steps([job], 3) > 0 and job.batch == 3
    result = probe(tiny_data, RECIPE, OPTIONS, CPU, JobSpec("v1", 0.25, 4), steps=2, lanes=(2,), stack=2,
                   log=lambda m: None)
    options = [r["option"] for r in result["rows"]]
    assert options == ["eager", "graph", "NCHW", "2 lanes", "stacked x2"]
    assert all(r["images_per_s"] > 0 and r["engine"] == "eager" for r in result["rows"])
    assert result["choice"]["lanes"] in (1, 2) and set(result["choice"]) == {"engine", "channels_last", "lanes",
                                                                              "stack_seeds"}
    assert result["rows"][3]["jobs"] == 2 and result["rows"][4]["stacked"] == 2


def test_cost_model_fits_the_probe_and_learns_from_jobs():
    model = CostModel.fit(seconds_per_image=1e-4, activations=1000, train_flops=1e9, flops_per_s=1e14)
    assert model.raw_seconds(1000, 1e9, 1) == pytest.approx(1e-4)  # reproduces the measurement it was fitted to
    assert model.raw_seconds(2000, 1e9, 10) == pytest.approx(10 * (2 * 0.9e-4 + 1e-5))
    model.observe(raw_predicted_s=10.0, measured_s=20.0)
    model.observe(raw_predicted_s=10.0, measured_s=30.0)
    model.observe(raw_predicted_s=10.0, measured_s=15.0)
    assert model.correction == pytest.approx(2.0)  # the median ratio
    assert model.seconds(1000, 1e9, 1) == pytest.approx(2e-4)


def test_an_engine_that_changes_the_numbers_is_not_chosen(tiny_data, monkeypatch):
    """A 'graph' whose replay does nothing is very fast; the update check keeps the probe on eager."""
    from backproplab.torchmodels import step as step_module
    from backproplab.torchmodels.probe import engines_agree

    same = engines_agree(tiny_data, RECIPE, OPTIONS, CPU, JobSpec("v1", 0.25, 4), "graph")
    assert same["ok"] and same["relative_difference"] < 1e-6 and same["ran_as"] == "eager"

    class Idle:
        def replay(self):
            pass

    monkeypatch.setattr(step_module, "graphs_available", lambda x: True)
    monkeypatch.setattr(step_module, "capture_graph", lambda step, warmup: Idle())
    lost = engines_agree(tiny_data, RECIPE, OPTIONS, CPU, JobSpec("v1", 0.25, 4), "graph")
    assert not lost["ok"] and lost["relative_difference"] == pytest.approx(1.0)
    result = probe(tiny_data, RECIPE, OPTIONS, CPU, JobSpec("v1", 0.25, 4), steps=2, lanes=(), stack=2,
                   log=lambda m: None)
    graph_row = next(r for r in result["rows"] if r["option"] == "graph")
    eager_row = next(r for r in result["rows"] if r["option"] == "eager")
    assert graph_row["images_per_s"] > 1.05 * eager_row["images_per_s"]  # faster, and wrong
    assert result["choice"]["engine"] == "eager" and not result["checks"][0]["ok"]
