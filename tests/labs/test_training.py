"""The training labs' shared sentences (labs/training.py, labs/training_problems.py) on made-up numbers,
each where it can go both ways."""
import numpy as np
import pytest

from backproplab.labs.training import best_text, reach_threshold, stalled_text
from backproplab.labs.training_problems import (excursion_evidence, excursion_text, excursions, findings_bullets,
                                                growing_instability, training_findings)
from backproplab.report.i18n import language


def text(msg, lang="en"):
    with language(lang):
        return str(msg)


def fake_run(step_loss, train_acc, test_acc, steps_per_epoch, grad=None, weight=None, batch=128):
    """A train_run result with a step record; epoch losses are each epoch's last step loss."""
    n_epochs = len(train_acc)
    ends = [steps_per_epoch * (e + 1) - 1 for e in range(n_epochs)]
    train_loss = [float(step_loss[min(k + 1, len(step_loss) - 1)]) for k in ends]
    return {"history": {"train_loss": train_loss, "train_acc": train_acc, "test_loss": train_loss,
                        "test_acc": test_acc, "step_loss": list(step_loss),
                        "step_grad_norm": list(grad if grad is not None else np.ones(len(step_loss))),
                        "epoch_steps": [steps_per_epoch] * n_epochs, "weight_norm": [1.0] * n_epochs},
            "init": {"train_loss": 0.69, "train_acc": 0.5, "test_loss": 0.69, "test_acc": 0.5},
            "step_weight_norm": list(weight if weight is not None else np.full(len(step_loss), 460.0)),
            "steps_per_epoch": steps_per_epoch, "n_train": steps_per_epoch * batch, "diverged": None,
            "train_time_s": 1.0}


def collapse_run():
    """5 epochs of 20 steps; the loss grows 5 steps in a row at the end of epoch 3 (grad norm with it)
    and the evaluation after epoch 3 is at chance; back to normal in epoch 4."""
    rng = np.random.default_rng(0)
    loss = 0.02 * np.exp(rng.normal(0, 0.3, 100))
    grad = 0.4 * np.exp(rng.normal(0, 0.2, 100))
    loss[55:61] = [0.01, 0.1, 0.13, 0.34, 0.84, 3.99]  # steps 56..61 (1-based); 61 = first of epoch 4
    grad[55:61] = [0.1, 1.8, 4.2, 6.4, 13.6, 17.4]
    loss[61] = 0.34
    weight = np.full(100, 460.0) + np.linspace(0, 0.2, 100)
    return fake_run(loss, [0.98, 0.99, 0.5, 0.99, 0.99], [0.97, 0.98, 0.5, 0.98, 0.98], 20, grad, weight)


def test_a_transient_collapse_is_found_and_shown_step_by_step():
    run = collapse_run()
    findings = {"sgd": training_findings(run, chance=0.5)}
    codes = [f["code"] for f in findings["sgd"]]
    assert "transient_collapse" in codes
    bullets = [text(b) for b in findings_bullets(findings, {"sgd": run})]
    assert any("fell from 99.00% to 50.00%" in b and "epoch 3" in b for b in bullets), bullets
    found = excursions(findings, {"sgd": run})
    assert len(found) == 1  # train and test accuracy and both loss spikes name one event
    model, ev = found[0]
    assert (ev["epoch"], ev["peak_step"], ev["peak_epoch"], ev["peak_step_in_epoch"]) == (3, 61, 4, 1)
    assert ev["climb_steps"] == 5 and ev["start_loss"] == pytest.approx(0.01)
    assert ev["weight_change"] < 1e-3 and ev["recovered_after"] is not None
    assert growing_instability(ev)
    said = text(excursion_text(model, ev))
    assert "climbed from 0.01 to 3.99 in 5 steps (peak at step 1 of epoch 4)" in said
    assert "too large for the local curvature" in said
    assert "۵" in text(excursion_text(model, ev), "fa")


def test_a_calm_run_reports_no_problem_and_no_excursion():
    rng = np.random.default_rng(1)
    run = fake_run(0.05 * np.exp(-np.arange(100) / 40 + rng.normal(0, 0.05, 100)), [0.98, 0.985, 0.99, 0.99, 0.991],
                   [0.97, 0.975, 0.98, 0.98, 0.982], 20)
    findings = {"calm": [f for f in training_findings(run, 0.5) if f["values"].get("series") != "step_loss"]}
    assert findings == {"calm": []}
    assert text(findings_bullets(findings)[0]).startswith("No run diverged")
    assert excursions(findings, {"calm": run}) == []


def test_one_bad_batch_is_not_called_an_instability():
    ev = {"climb_steps": 1, "start_normal": True, "grad_peak": 5.0, "grad_start": 0.5, "weight_change": 0.0001}
    assert not growing_instability(ev)
    assert growing_instability({**ev, "climb_steps": 4})
    assert not growing_instability({**ev, "climb_steps": 4, "weight_change": 0.2})  # the weights moved a lot
    assert not growing_instability({**ev, "climb_steps": 4, "grad_peak": 0.4})  # the gradient shrank
    assert not growing_instability({**ev, "climb_steps": 4, "start_normal": False})  # no normal step to start from


def test_batch_one_runs_are_not_followed_step_by_step():
    run = collapse_run()
    assert excursion_evidence(run, 3) is not None
    assert excursion_evidence({**run, "n_train": 20}, 3) is None  # batch 1: a peak of one image's loss means nothing


def test_chance_on_train_and_test_is_one_sentence():
    run = fake_run(np.full(60, 0.69), [0.5, 0.5, 0.505], [0.5, 0.5, 0.52], 20)
    bullets = [text(b) for b in findings_bullets({"zeros": training_findings(run, 0.505)})]
    chance = [b for b in bullets if "ended at chance" in b]
    assert len(chance) == 1 and "training accuracy 50.50% and test accuracy 52.00%" in chance[0]


def test_stalled_and_best_sentences_both_ways():
    rows = [{"model": "a", "stalled": False, "diverged": False, "final_train_acc": 0.99, "best_test_acc": 0.98,
             "final_test_acc": 0.97, "best_epoch": 3},
            {"model": "b", "stalled": True, "diverged": False, "final_train_acc": 0.52, "best_test_acc": 0.98,
             "final_test_acc": 0.5, "best_epoch": 1}]
    assert "ended at 52.0%" in text(stalled_text(rows, 0.5))
    assert text(stalled_text(rows[:1], 0.5)).startswith("No run stalled (every final training accuracy is above 55.0%")
    assert "a tie between `a`, `b`" in text(best_text(rows))
    assert text(best_text(rows[:1])).startswith("Best test accuracy: `a` with 98.00% at epoch 3")


def test_reach_threshold():
    assert reach_threshold(None, 2) == 0.98 and reach_threshold(None, 10) == 0.85 and reach_threshold(0.5, 2) == 0.5


def test_a_climb_that_dips_on_the_way_counts_from_the_last_normal_step():
    rng = np.random.default_rng(2)
    loss = 0.024 * np.exp(rng.normal(0, 0.2, 100))
    loss[44:53] = [0.019, 0.043, 0.09, 0.12, 0.52, 5.96, 3.31, 9.07, 0.89]  # steps 45..53; peak at step 52
    grad = np.where(loss > 0.1, 30.0, 0.4)
    run = fake_run(loss, [0.98, 0.99, 0.6, 0.99, 0.99], [0.97, 0.98, 0.6, 0.98, 0.98], 20, grad)
    ev = excursion_evidence(run, 3)
    assert (ev["peak_step"], ev["start_step"], ev["climb_steps"]) == (52, 46, 6)  # 0.043 was still normal
    assert "an unusual batch" not in text(excursion_text("prelu", ev))


def test_step_spikes_of_all_runs_are_one_sentence():
    findings = {m: [{"code": "spike", "values": {"series": "step_loss", "count": c, "step": s, "factor": f,
                                                  "threshold": 5.0, "steps": [s]}}]
                for m, c, s, f in (("a", 3, 10, 6.0), ("b", 40, 99, 52.5))}
    runs = {m: {"history": {"step_loss": [0.1] * 1410}} for m in findings}
    bullets = [text(b) for b in findings_bullets(findings, runs)]
    assert len(bullets) == 1
    assert "`a` 3 of 1410, `b` 40 of 1410; the largest, `b` step 99, was 52.5 times" in bullets[0]


def test_the_labs_train_on_one_blas_thread_and_restore_the_count():
    from backproplab.labs.training import _blas_context
    from backproplab.utils.cores import blas_libraries

    libs = blas_libraries()
    if not libs:
        pytest.skip("no BLAS library whose thread count can be read")
    before = [lib.num_threads for lib in libs]
    with _blas_context():
        assert [lib.num_threads for lib in libs] == [1] * len(libs)
    assert [lib.num_threads for lib in libs] == before
