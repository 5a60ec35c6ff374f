"""cnn lab: a quick run learns and writes weights that rebuild the model; the goal is claimed only in its
setting; a run that does not learn says so; bad options and other settings in a run folder are refused;
a killed run resumes to the same numbers; the report's sentences both ways."""
import json

import numpy as np
import pytest

from backproplab.labs import cnn as lab
from backproplab.labs import cnn_report as text
from backproplab.labs.config import ConfigError
from backproplab.labs.run_folder import RunConflict
from backproplab.models.cnn import model_from_run
from backproplab.report.i18n import language
from backproplab.utils.io import load_npz

#: a small quick run: seconds, still far above chance on 10 classes
SMALL = dict(channels=(8, 16), hidden=32, threads=1)


def _en(msg):
    with language("en"):
        return "" if msg is None else str(msg)


def test_quick_run_learns_and_saves_loadable_weights(tmp_path, lab_run, have_fashion_mnist):
    res, out = lab_run(lab, tmp_path, **SMALL)
    assert res["epochs_run"] == 2 and res["test_acc"] > 0.4  # 10 classes: chance is 0.1
    assert res["curves"][-1]["train_loss"] < res["curves"][0]["train_loss"]
    assert [r["lr"] for r in res["curves"]] == pytest.approx([1e-3, 2e-4])  # MultiStepLR after epoch 1
    assert not res["goal"]["applies"] and res["goal"]["met"] is None  # a quick run is not the goal's setting
    assert "meets the goal" not in (out / "report.md").read_text()
    for name in ("curves.csv", "per_class.csv", "summary_table.csv", "cnn_curves.png", "model_weights.npz"):
        assert (out / name).exists(), name
    # the saved weights rebuild the same model from result.json alone (what the gradcam lab does)
    saved = json.loads((out / "result.json").read_text())["result"]["model"]
    model = model_from_run(saved["builder"], load_npz(out / saved["weights"])).eval()
    data = lab.load_data(lab.Config().quick())
    acc = float(np.mean(model.forward(data.x_test).argmax(1) == data.y_test))
    assert acc == pytest.approx(res["test_acc"], abs=1e-12)


def test_a_two_class_run_makes_no_claim_about_the_goal(tmp_path, lab_run, have_fashion_mnist):
    res, out = lab_run(lab, tmp_path, classes="0,1", **SMALL)
    assert res["test_acc"] > 0.925 and not res["goal"]["applies"]  # high accuracy, but not the goal's task
    report = (out / "report.md").read_text()
    assert "meets the goal" not in report and "`--classes 0,1`" in report


def test_a_run_that_does_not_learn_says_so(tmp_path, lab_run, have_fashion_mnist):
    res, out = lab_run(lab, tmp_path, lr=1e4, **SMALL)
    codes = {f["code"] for f in res["findings"]}
    assert codes & {"diverged", "exploded", "at_chance"}, codes
    report = (out / "report.md").read_text()
    assert "found nothing" not in report and ("ended at chance" in report or "diverged" in report)


@pytest.mark.parametrize("changes, match", [
    (dict(num_epochs=0), "--num-epochs must be"),
    (dict(lr_decay=-3.0), "--lr-decay must be"),
    (dict(lr_decay=0.0), "--lr-decay must be"),
    (dict(train_size=-5), "--train-size must be"),
    (dict(train_size=0), "--train-size must be"),
    (dict(lr=0.0), "--lr must be"),
    (dict(dropout=1.0), "--dropout must be"),
    (dict(channels=(8, 8, 8, 8)), "2 or 3 conv stages"),
    (dict(channels=(8,)), "--channels must be"),
    (dict(threads=0), "--threads must be"),
    (dict(classes="0"), "--classes"),
])
def test_bad_options_are_refused(changes, match):
    with pytest.raises(ConfigError, match=match):
        lab.Config(**changes)


def test_another_architecture_in_the_same_folder_is_refused(tmp_path, lab_run, have_fashion_mnist):
    lab_run(lab, tmp_path, num_epochs=1, **SMALL)
    with pytest.raises(RunConflict, match="--channels"):
        lab_run(lab, tmp_path, num_epochs=1, **{**SMALL, "channels": (8, 16, 16)})


def test_a_killed_run_resumes_to_the_same_numbers(tmp_path, lab_run, monkeypatch, have_fashion_mnist):
    small = dict(train_size=256, test_size=128, **SMALL)
    whole, _ = lab_run(lab, tmp_path / "whole", **small)
    calls = []
    end = lab.LearningRates.on_epoch_end

    def killed(self, trainer, epoch, logs):  # the second epoch is killed before its checkpoint
        calls.append(epoch)
        if epoch == 1:
            raise KeyboardInterrupt
        end(self, trainer, epoch, logs)

    monkeypatch.setattr(lab.LearningRates, "on_epoch_end", killed)
    with pytest.raises(KeyboardInterrupt):
        lab_run(lab, tmp_path / "killed", **small)
    monkeypatch.setattr(lab.LearningRates, "on_epoch_end", end)
    resumed, _ = lab_run(lab, tmp_path / "killed", **small)
    assert calls == [0, 1]
    for a, b in zip(whole["curves"], resumed["curves"]):
        assert {k: v for k, v in a.items() if k != "epoch_time"} == {k: v for k, v in b.items() if k != "epoch_time"}


def _facts(num_classes=10, n_train=60000, n_test=10000):
    return {"num_classes": num_classes, "n_train": n_train, "n_test": n_test}


def test_the_goal_applies_only_in_its_setting():
    goal = lab.goal_status(lab.Config(), _facts(), 0.93)
    assert goal["applies"] and goal["met"] and "meets the goal" in _en(text.goal_sentence(goal, 0.93))
    goal = lab.goal_status(lab.Config(), _facts(), 0.92)
    assert goal["applies"] and not goal["met"] and "does not meet" in _en(text.goal_sentence(goal, 0.92))
    assert lab.goal_status(lab.Config(seed=3, threads=1), _facts(), 0.93)["applies"]  # the same recipe
    for config, facts, flag in ((lab.Config(classes="0,1"), _facts(num_classes=2), "--classes 0,1"),
                                (lab.Config(), _facts(n_train=1024), "--train-size 1024"),
                                (lab.Config(lr=1e-2), _facts(), "--lr 0.01"),
                                (lab.Config(channels=(8, 16)), _facts(), "--channels 8,16")):
        goal = lab.goal_status(config, facts, 0.99)
        assert not goal["applies"] and goal["met"] is None and flag in goal["differences"]
        sentence = _en(text.goal_sentence(goal, 0.99))
        assert "meet" not in sentence and "not compared" in sentence and flag in sentence
    diverged = lab.goal_status(lab.Config(), _facts(), None)
    assert diverged["met"] is False and "diverged" in _en(text.goal_sentence(diverged, None))


def test_problems_are_reported_and_their_absence_too():
    assert "found nothing" in _en(text.problems_bullets([])[0])
    at_chance = {"code": "at_chance", "values": {"series": "test_acc", "accuracy": 0.0996, "chance": 0.1,
                                                 "margin": 0.05, "epoch": 2}}
    assert "ended at chance" in _en(text.problems_bullets([at_chance])[0])


def test_class_and_confusion_sentences_name_ties():
    names = ["A", "B", "C"]
    assert "Hardest class: `B` (0.500); easiest: `A` (0.900)" in _en(text.classes_sentence([0.9, 0.5, 0.7], names))
    assert "`B`, `C`" in _en(text.classes_sentence([0.9, 0.5, 0.5], names))
    assert "same test accuracy" in _en(text.classes_sentence([0.5, 0.5, 0.5], names))
    one = _en(text.confusion_sentence([[8, 2, 0], [1, 9, 0], [0, 0, 10]], names))
    assert "true `A` predicted as `B` (2 of 10" in one
    tie = _en(text.confusion_sentence([[8, 2, 0], [2, 8, 0], [0, 0, 10]], names))
    assert "a tie at 2 images" in tie and "true `B` predicted as `A`" in tie
    assert "No test image" in _en(text.confusion_sentence(np.eye(3) * 5, names))


def test_schedule_and_accuracy_sentences():
    assert "after each of the epochs 6, 9" in _en(text.schedule_sentence(1e-3, 0.2, (6, 9), 10))
    assert "constant" in _en(text.schedule_sentence(1e-3, 0.2, (10,), 10))  # a decay after the last epoch
    assert "after epoch 6 " in _en(text.schedule_sentence(1e-3, 0.2, (6, 12), 10))
    assert "the best of the run" in _en(text.accuracy_sentence(0.93, 0.93, 10, 10))
    assert "first reached at epoch 8" in _en(text.accuracy_sentence(0.92, 0.93, 8, 10))
    assert "before training diverged" in _en(text.accuracy_sentence(None, 0.5, 1, 1))
