"""Trainer options: schedulers per epoch and per step (and through a resume), metric None or a
callable, gradient clipping with the pre-clip norm recorded, NaN targets, argument errors."""
import numpy as np
import pytest

from backproplab import nn, optim
from backproplab.optim import lr_scheduler
from backproplab.train import Callback, Trainer


def small_problem(n=40, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 4)).astype(np.float32)
    return x, (x[:, 0] - x[:, 1] > 0).astype(np.int64)


def small_model(seed=0, dropout=0.0):
    rng = np.random.default_rng(seed)
    layers = [nn.Linear(4, 8, rng=rng), nn.Tanh()]
    if dropout:
        layers.append(nn.Dropout(dropout, rng=np.random.default_rng(seed + 7)))
    return nn.Sequential(*layers, nn.Linear(8, 2, rng=rng))


class LrLog(Callback):
    def __init__(self):
        self.epoch_lr, self.step_lr = [], []

    def on_batch_end(self, trainer, step, logs):
        self.step_lr.append(trainer.optimizer.param_groups[0]["lr"])

    def on_epoch_end(self, trainer, epoch, logs):
        self.epoch_lr.append(logs["lr"])


def test_epoch_scheduler_sets_each_epochs_lr():
    model, log = small_model(), LrLog()
    opt = optim.SGD(model.parameters(), lr=0.1)
    Trainer(model, nn.CrossEntropyLoss(), opt, batch_size=10, num_epochs=5, rng=np.random.default_rng(0),
            scheduler=lr_scheduler.StepLR(opt, step_size=2, gamma=0.5), callbacks=[log]).fit(*small_problem())
    assert log.epoch_lr == pytest.approx([0.1, 0.1, 0.05, 0.05, 0.025], rel=1e-15)


def test_step_scheduler_runs_onecycle_over_every_step():
    model, log = small_model(), LrLog()
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    sched = lr_scheduler.OneCycleLR(opt, max_lr=0.5, epochs=3, steps_per_epoch=4)
    Trainer(model, nn.CrossEntropyLoss(), opt, batch_size=10, num_epochs=3, rng=np.random.default_rng(0),
            scheduler=sched, scheduler_interval="step", callbacks=[log]).fit(*small_problem())
    assert sched.last_epoch == 12 and max(log.step_lr) == pytest.approx(0.5, rel=0.05)
    assert log.epoch_lr[0] == pytest.approx(0.5 / 25, rel=1e-12) and log.step_lr[-2] < 1e-5  # min_lr at the last step


class Crash(Exception):
    pass


def run_scheduled(ckpt, crash_after=None):
    """SGD+momentum, dropout, OneCycleLR per step (lr and momentum move every step), killable."""
    model = small_model(1, dropout=0.3)
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-3)
    sched = lr_scheduler.OneCycleLR(opt, max_lr=0.3, total_steps=5 * 4)

    def crash(trainer, epoch, history):
        if epoch + 1 == crash_after:
            raise Crash

    trainer = Trainer(model, nn.CrossEntropyLoss(), opt, batch_size=10, num_epochs=5, rng=np.random.default_rng(2),
                      scheduler=sched, scheduler_interval="step", checkpoint_path=ckpt, callbacks=[crash])
    try:
        h = trainer.fit(*small_problem())
    except Crash:
        return None
    return h.train_loss, [p.data.copy() for p in model.parameters()], opt.param_groups[0]["momentum"]


def test_scheduled_run_resumes_bit_identical(tmp_path):
    loss_ref, w_ref, mom_ref = run_scheduled(None)
    assert run_scheduled(tmp_path / "c.npz", crash_after=2) is None
    loss, w, mom = run_scheduled(tmp_path / "c.npz")
    assert loss == loss_ref and mom == mom_ref
    assert all(np.array_equal(a, b) for a, b in zip(w, w_ref))


def test_metric_none_and_callable():
    x, y = small_problem()
    model = small_model()
    h = Trainer(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1), num_epochs=2,
                metric=None).fit(x, y, x, y)
    assert h.train_acc == [None, None] and h.test_acc == [None, None] and h.metric is None
    assert h.epoch_rows()[0]["train_acc"] is None

    def error_rate(logits, targets):
        return float(np.mean(logits.argmax(1) != targets))

    trainer = Trainer(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1), num_epochs=1,
                      metric=error_rate, eval_batch_size=7)
    _, err = trainer.evaluate(x, y)
    _, acc = Trainer(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1)).evaluate(x, y)
    assert err == pytest.approx(1.0 - acc, rel=1e-12) and 0.0 < err < 1.0  # batch means weighted by size
    with pytest.raises(ValueError, match="unknown metric 'f1'"):
        Trainer(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1), metric="f1")


def test_clipping_records_the_norm_before_clipping():
    x, y = small_problem()
    runs = {}
    for clip in (None, 0.05):
        model = small_model()
        h = Trainer(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.5), batch_size=10,
                    num_epochs=1, shuffle=False, record_step_grad_norms=True, clip_grad_norm=clip).fit(x, y)
        runs[clip] = h.step_grad_norm, [p.data.copy() for p in model.parameters()]
    (n_free, w_free), (n_clip, w_clip) = runs[None], runs[0.05]
    assert len(n_free) == len(n_clip) == 4 and n_clip[0] == pytest.approx(n_free[0], rel=1e-12)
    assert min(n_clip) > 0.05  # every step was clipped; the recorded norm is the one before
    # one manual clipped step from the same start reproduces the first update
    model = small_model()
    loss_fn = nn.CrossEntropyLoss()
    loss_fn(model.forward(x[:10]), y[:10])
    model.zero_grad()
    model.backward(loss_fn.backward())
    total = nn.clip_grad_norm_(model.parameters(), 0.05)
    assert total == pytest.approx(n_clip[0], rel=1e-6)
    assert not all(np.array_equal(a, b) for a, b in zip(w_free, w_clip))


@pytest.mark.parametrize("where", ["fit_train", "fit_test", "evaluate"])
def test_nan_targets_are_named_not_reported_as_divergence(where):
    x, y = small_problem()
    y = y.astype(np.float32)
    bad = y.copy()
    bad[5] = np.nan
    model = nn.Sequential(nn.Linear(4, 1, rng=np.random.default_rng(0)))
    trainer = Trainer(model, nn.MSELoss(), optim.SGD(model.parameters(), lr=0.1), num_epochs=1)
    with pytest.raises(ValueError, match="the targets contain NaN or inf; remove or fix those samples"):
        if where == "fit_train":
            trainer.fit(x, bad)
        elif where == "fit_test":
            trainer.fit(x, y, x, bad)
        else:
            trainer.evaluate(x, bad)


def test_argument_errors():
    model = small_model()
    opt = optim.SGD(model.parameters(), lr=0.1)
    other = optim.SGD(small_model().parameters(), lr=0.1)
    loss = nn.CrossEntropyLoss()
    with pytest.raises(ValueError, match="scheduler drives another optimizer"):
        Trainer(model, loss, opt, scheduler=lr_scheduler.StepLR(other, 2))
    with pytest.raises(ValueError, match="scheduler_interval must be 'epoch' or 'step'"):
        Trainer(model, loss, opt, scheduler_interval="batch")
    with pytest.raises(ValueError, match="clip_grad_norm must be > 0"):
        Trainer(model, loss, opt, clip_grad_norm=0.0)
