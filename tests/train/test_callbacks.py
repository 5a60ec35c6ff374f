"""Callbacks: hook order, stop_training, EarlyStopping's rule (Keras's), restore_best_weights, and a
stopped or half-patient run surviving checkpoint/resume; plain functions keep working."""
import json

import numpy as np
import pytest

from backproplab import nn, optim
from backproplab.train import Callback, EarlyStopping, Trainer
from backproplab.utils.io import load_npz


def small_problem(n=40):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, 4)).astype(np.float32)
    return x, (x[:, 0] - x[:, 1] > 0).astype(np.int64)


def make_trainer(callbacks, num_epochs=6, ckpt=None):
    rng = np.random.default_rng(0)
    model = nn.Sequential(nn.Linear(4, 8, rng=rng), nn.Tanh(), nn.Linear(8, 2, rng=rng))
    return Trainer(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1), batch_size=10,
                   num_epochs=num_epochs, rng=np.random.default_rng(1), callbacks=callbacks, checkpoint_path=ckpt)


class Recorder(Callback):
    def __init__(self, ckpt=None):
        self.events, self.ckpt = [], ckpt

    def on_train_begin(self, trainer, logs):
        self.events.append("train_begin")

    def on_epoch_begin(self, trainer, epoch, logs):
        self.events.append(f"epoch_begin {epoch}")

    def on_batch_end(self, trainer, step, logs):
        assert set(logs) == {"loss", "batch_size", "grad_norm"} and logs["batch_size"] == 10
        self.events.append(f"batch {step}")

    def on_epoch_end(self, trainer, epoch, logs):
        assert set(logs) == {"train_loss", "train_acc", "lr"}
        saved = json.loads(str(load_npz(self.ckpt)["meta"]))["epoch"] if self.ckpt and self.ckpt.exists() else 0
        self.events.append(f"epoch_end {epoch} (checkpoint at epoch {saved})")

    def on_train_end(self, trainer, logs):
        self.events.append("train_end")


def test_hook_order_and_where_the_checkpoint_falls(tmp_path):
    ckpt = tmp_path / "c.npz"
    rec = Recorder(ckpt)
    seen_by_function = []

    def after(trainer, epoch, history):  # a plain function, as the labs pass them
        seen_by_function.append((epoch, json.loads(str(load_npz(ckpt)["meta"]))["epoch"], len(history.train_loss)))

    make_trainer([rec, after], num_epochs=2, ckpt=ckpt).fit(*small_problem())
    batches = [f"batch {s}" for s in range(4)]
    assert rec.events == (["train_begin", "epoch_begin 0", *batches, "epoch_end 0 (checkpoint at epoch 0)",
                           "epoch_begin 1", *batches, "epoch_end 1 (checkpoint at epoch 1)", "train_end"])
    assert seen_by_function == [(0, 1, 1), (1, 2, 2)]  # functions run after the epoch's checkpoint


class Script(Callback):
    """Puts made-up values of a monitored quantity into the logs (the callbacks after it see them)."""

    def __init__(self, values):
        self.values = values

    def on_epoch_end(self, trainer, epoch, logs):
        logs["score"] = self.values[epoch]


@pytest.mark.parametrize("values, kwargs, stopped_after", [
    ([5, 4, 4, 4, 4, 4, 4, 4], dict(patience=2), 4),              # no improvement at 2 and 3: stop after epoch 4
    ([5, 4, 3, 2, 1, 0, -1, -2], dict(patience=1), 8),            # always improving: never stops
    ([5, 4, 3.95, 3.9, 3.0, 3, 3, 3], dict(patience=2, min_delta=0.1), 4),  # 0.05 steps are no improvement
    ([1, 2, 3, 3, 3, 3, 3, 3], dict(patience=1, mode="max"), 4),
    ([0.5, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6], dict(patience=0), 2),  # "auto" on "score": min; 0.6 is worse
    ([5, float("nan"), 4, float("nan"), float("nan"), 1, 1, 1], dict(patience=2), 5),  # NaN never improves
])
def test_early_stopping_rule(values, kwargs, stopped_after):
    stop = EarlyStopping(monitor="score", **kwargs)
    h = make_trainer([Script(values), stop], num_epochs=8).fit(*small_problem())
    assert len(h.train_loss) == stopped_after
    assert (stop.stopped_epoch is None) == (stopped_after == 8)


def test_auto_mode_maximizes_accuracies():
    assert EarlyStopping(monitor="test_acc").mode == "max" and EarlyStopping().mode == "min"


class WeightLog(Callback):
    def __init__(self):
        self.weights = []

    def on_epoch_end(self, trainer, epoch, logs):
        self.weights.append(trainer.model.state_dict())


def test_restore_best_weights_loads_the_best_epoch_at_the_end():
    log = WeightLog()
    stop = EarlyStopping(monitor="score", patience=2, restore_best_weights=True)
    trainer = make_trainer([Script([3, 1, 2, 2.5, 0.5, 9]), log, stop], num_epochs=6)
    trainer.fit(*small_problem())
    assert stop.best_epoch == 1 and len(log.weights) == 4  # stopped after epoch 3 (0-based)
    for name, value in trainer.model.state_dict().items():
        np.testing.assert_array_equal(value, log.weights[1][name])


class Crash(Exception):
    pass


def test_stopped_and_half_patient_runs_survive_resume(tmp_path):
    values = [5, 3, 4, 4, 4, 4, 4, 4]

    def run(ckpt, num_epochs, crash_at=None):
        def crash(trainer, epoch, history):
            if epoch == crash_at:
                raise Crash
        stop = EarlyStopping(monitor="score", patience=3, restore_best_weights=True)
        trainer = make_trainer([Script(values), stop, crash], num_epochs=num_epochs, ckpt=ckpt)
        try:
            trainer.fit(*small_problem())
        except Crash:
            return None
        return trainer, stop

    ref, ref_stop = run(None, 8)
    assert len(ref.history.train_loss) == 5 and ref_stop.best_epoch == 1
    ckpt = tmp_path / "c.npz"
    assert run(ckpt, 8, crash_at=2) is None  # killed with the wait at 1 of 3
    resumed, stop = run(ckpt, 8)
    assert resumed.history.train_loss == ref.history.train_loss and stop.stopped_epoch == 4
    for a, b in zip(resumed.model.parameters(), ref.model.parameters()):
        np.testing.assert_array_equal(a.data, b.data)  # the best epoch's weights, restored
    again, _ = run(ckpt, 20)  # a stopped run stays stopped, even with more epochs allowed
    assert len(again.history.train_loss) == 5
    for a, b in zip(again.model.parameters(), ref.model.parameters()):
        np.testing.assert_array_equal(a.data, b.data)


def test_a_plain_function_can_stop_training_durably(tmp_path):
    def stop_at_1(trainer, epoch, history):
        if epoch == 1:
            trainer.stop_training = True

    ckpt = tmp_path / "c.npz"
    assert len(make_trainer([stop_at_1], ckpt=ckpt).fit(*small_problem()).train_loss) == 2
    assert json.loads(str(load_npz(ckpt)["meta"]))["stop_training"] is True
    assert len(make_trainer([stop_at_1], num_epochs=9, ckpt=ckpt).fit(*small_problem()).train_loss) == 2


def test_errors(tmp_path):
    with pytest.raises(ValueError, match="monitors 'test_loss' but the epoch's logs hold"):
        make_trainer([EarlyStopping()]).fit(*small_problem())
    with pytest.raises(ValueError, match="mode must be"):
        EarlyStopping(mode="up")
    with pytest.raises(TypeError, match="callbacks must be Callback objects or functions"):
        make_trainer([42])
    with pytest.raises(ValueError, match=r"written with callbacks \['EarlyStopping'\], this run has \[\]"):
        ckpt = tmp_path / "c.npz"
        make_trainer([EarlyStopping(monitor="train_loss")], num_epochs=1, ckpt=ckpt).fit(*small_problem())
        make_trainer([], num_epochs=2, ckpt=ckpt).fit(*small_problem())
