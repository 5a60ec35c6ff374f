"""diagnose(): every finding on made-up histories, both where it must come out and where it must not."""
import json

import pytest

from backproplab.train import History
from backproplab.train.diagnostics import (AT_CHANCE, CODES, DIVERGED, EXPLODED, LOSS_RISING, SPIKE,
                                           TRANSIENT_COLLAPSE, diagnose)

HEALTHY = dict(train_loss=[1.2, 0.8, 0.6, 0.5, 0.45], train_acc=[0.6, 0.75, 0.82, 0.86, 0.88],
               test_loss=[1.25, 0.85, 0.7, 0.62, 0.6], test_acc=[0.58, 0.72, 0.8, 0.83, 0.85])


def codes(h, chance=0.1, **kw):
    return [f.code for f in diagnose(h, chance, **kw)]


def test_a_healthy_run_has_no_findings():
    assert diagnose(History(**HEALTHY), 0.1) == []
    assert diagnose(HEALTHY, 0.1) == []  # the dict form (as saved by History.to_dict) too


@pytest.mark.parametrize("h, expected", [
    (dict(HEALTHY, diverged_at={"epoch": 3, "step": 7, "loss": None}), {"epoch": 3, "step": 7, "loss": None}),
    (dict(HEALTHY, train_loss=[1.2, 0.8, None]), {"series": "train_loss", "epoch": 3, "loss": None}),
    (dict(HEALTHY, step_loss=[2.3, 1.9, float("nan"), 1.0]), {"series": "step_loss", "step": 3, "loss": None}),
])
def test_diverged(h, expected):
    (f,) = [f for f in diagnose(h, 0.1) if f.code == DIVERGED]
    assert f.values == expected
    assert DIVERGED not in codes(HEALTHY)


def test_exploded_adam_at_lr_1e8():
    h = dict(train_loss=[3.1e12, 5.0e14, 4.2e14], train_acc=[0.1, 0.1, 0.1], step_loss=[2.31, 9e9, 5e14, 3e14])
    (f,) = [f for f in diagnose(h, 0.1) if f.code == EXPLODED]
    assert f.values["reference"] == "first step" and f.values["peak_loss"] == 5e14 and f.values["step"] == 3
    assert f.values["factor"] == pytest.approx(5e14 / 2.31)
    # without steps the reference is what the caller knows, else the first epoch
    (f,) = diagnose(dict(train_loss=[2.0, 300.0]), initial_loss=2.3)[:1]
    assert f.code == EXPLODED and f.values["reference"] == "initial loss"
    assert f.values["factor"] == pytest.approx(300 / 2.3)
    assert EXPLODED in codes(dict(train_loss=[2.0, 201.0]))
    assert EXPLODED not in codes(dict(train_loss=[2.0, 199.0]))  # a bad but bounded run
    assert EXPLODED not in codes(HEALTHY)


def test_at_chance():
    stuck = dict(train_loss=[2.3, 2.3, 2.3], train_acc=[0.1, 0.11, 0.14], test_acc=[0.1, 0.1, 0.16],
                 test_loss=[2.3, 2.3, 2.3])
    found = [f for f in diagnose(stuck, 0.1) if f.code == AT_CHANCE]
    assert [f.values["series"] for f in found] == ["train_acc"]  # test at 0.16 is more than 5 points above
    assert found[0].values == {"series": "train_acc", "accuracy": 0.14, "chance": 0.1, "margin": 0.05, "epoch": 3}
    assert AT_CHANCE not in codes(HEALTHY)
    assert AT_CHANCE not in codes(stuck, chance=None)  # no chance given: no accuracy findings
    assert AT_CHANCE not in codes(dict(HEALTHY, train_acc=[None] * 5, test_acc=[None] * 5))  # metric=None


def test_loss_rising():
    rising = dict(HEALTHY, train_loss=[0.9, 0.7, 0.8, 0.95, 1.0])
    (f,) = [f for f in diagnose(rising, 0.1) if f.code == LOSS_RISING]
    assert f.values["first_loss"] == 0.9 and f.values["final_loss"] == 1.0
    assert LOSS_RISING not in codes(dict(HEALTHY, train_loss=[0.9, 0.7, 0.8, 0.905]))  # within 1%
    assert LOSS_RISING not in codes(HEALTHY)


def test_transient_collapse():
    dip = dict(HEALTHY, test_acc=[0.6, 0.8, 0.12, 0.09, 0.81, 0.84])
    (f,) = [f for f in diagnose(dip, 0.1) if f.code == TRANSIENT_COLLAPSE]
    assert f.values == {"series": "test_acc", "epochs": [3, 4], "before": 0.8, "lowest": 0.09, "after": 0.81,
                        "recovered_at": 5, "chance": 0.1}
    assert TRANSIENT_COLLAPSE not in codes(dict(HEALTHY, test_acc=[0.6, 0.8, 0.12, 0.1]))  # no recovery
    assert TRANSIENT_COLLAPSE not in codes(dict(HEALTHY, test_acc=[0.1, 0.12, 0.5, 0.7]))  # chance first, never learned
    assert TRANSIENT_COLLAPSE not in codes(dict(HEALTHY, test_acc=[0.6, 0.8, 0.3, 0.81]))  # a dip, not to chance
    assert TRANSIENT_COLLAPSE not in codes(HEALTHY)


def test_epoch_spike():
    spiky = dict(HEALTHY, train_loss=[1.2, 0.8, 2.5, 0.6, 0.5])
    (f,) = [f for f in diagnose(spiky, 0.1) if f.code == SPIKE]
    assert f.values["series"] == "train_loss" and f.values["epoch"] == 3 and f.values["neighbours"] == [0.8, 0.6]
    assert SPIKE not in codes(dict(HEALTHY, train_loss=[1.2, 0.8, 1.5, 0.6, 0.5]))  # under 2x the larger neighbour
    assert SPIKE not in codes(HEALTHY)


def test_step_spike():
    noisy = [1.0 + 0.2 * ((k * 7) % 5) / 5 for k in range(60)]  # between 1.0 and 1.16
    assert SPIKE not in codes(dict(HEALTHY, step_loss=noisy))
    spiky = list(noisy)
    spiky[30] = 9.0
    (f,) = [f for f in diagnose(dict(HEALTHY, step_loss=spiky), 0.1) if f.code == SPIKE]
    assert f.values["series"] == "step_loss" and f.values["step"] == 31 and f.values["count"] == 1
    spiky[30] = 4.0  # under 5x the neighbours' median
    assert SPIKE not in codes(dict(HEALTHY, step_loss=spiky))


def test_findings_are_plain_json_with_stable_codes():
    h = dict(train_loss=[3.1e12, 5.0e14, 4.2e14], train_acc=[0.1, 0.1, 0.1], step_loss=[2.31, 9e9, 5e14, 3e14])
    found = diagnose(h, 0.1)
    assert [f.code for f in found] == [EXPLODED, AT_CHANCE, LOSS_RISING, SPIKE]  # in the order of CODES
    assert json.loads(json.dumps([f.to_dict() for f in found]))[0]["code"] == "exploded"
    assert CODES == ("diverged", "exploded", "at_chance", "loss_rising", "transient_collapse", "spike")
