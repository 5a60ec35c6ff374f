"""Trainer: the three batch modes, one full-batch epoch as one gradient step, determinism, divergence
and bad-input errors, evaluation and accuracy for every target form, and the acceptance run on
Fashion-MNIST. Resuming is in test_resume.py, damaged checkpoints in test_checkpoint.py."""
import json

import numpy as np
import pytest

from backproplab import nn, optim
from backproplab.train import History, Trainer, TrainingDiverged


class CountingSGD(optim.SGD):
    def __init__(self, *a, **k):
        super().__init__(*a, **k)
        self.calls = 0

    def step(self):
        self.calls += 1
        super().step()


def small_problem(seed=0, n=50):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 4)).astype(np.float32)
    y = (x[:, 0] + 0.5 * x[:, 1] > 0).astype(np.int64)
    return x, y


def small_model(seed=0, dropout=0.0):
    rng = np.random.default_rng(seed)
    layers = [nn.Linear(4, 8, rng=rng), nn.Tanh()]
    if dropout:
        layers.append(nn.Dropout(dropout, rng=np.random.default_rng(seed + 100)))
    return nn.Sequential(*layers, nn.Linear(8, 2, rng=rng))


@pytest.mark.parametrize("batch_size, steps_per_epoch", [(None, 1), (50, 1), (80, 1), (16, 4), (7, 8), (1, 50)],
                         ids=["full", "full_exact", "bigger_than_n", "mini16", "mini7", "sgd"])
def test_modes_count_optimizer_steps(batch_size, steps_per_epoch):
    x, y = small_problem()
    model = small_model()
    opt = CountingSGD(model.parameters(), lr=0.1)
    history = Trainer(model, nn.CrossEntropyLoss(), opt, batch_size=batch_size, num_epochs=3,
                      rng=np.random.default_rng(0), record_steps=True).fit(x, y)
    assert opt.calls == 3 * steps_per_epoch
    assert len(history.step_loss) == 3 * steps_per_epoch and len(history.train_loss) == 3


def test_full_batch_epoch_is_one_gradient_descent_step():
    x, y = small_problem()
    model, manual = small_model(), small_model()
    Trainer(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.5), num_epochs=1,
            rng=np.random.default_rng(0)).fit(x, y)
    loss_fn = nn.CrossEntropyLoss()
    manual.zero_grad()
    loss_fn(manual.forward(x), y)
    manual.backward(loss_fn.backward())
    for p in manual.parameters():
        p.data -= np.float32(0.5) * p.grad
    for a, b in zip(model.parameters(), manual.parameters()):
        np.testing.assert_allclose(a.data, b.data, rtol=1e-6, atol=1e-7)


def run_with_seed(seed):
    x, y = small_problem(seed)
    model = small_model(seed, dropout=0.3)
    trainer = Trainer(model, nn.CrossEntropyLoss(), optim.Adam(model.parameters(), lr=0.01), batch_size=8,
                      num_epochs=3, rng=np.random.default_rng(seed), record_grad_norms=True)
    history = trainer.fit(x, y, x, y)
    return history, [p.data.copy() for p in model.parameters()]


def test_same_seed_same_numbers():
    h1, w1 = run_with_seed(5)
    h2, w2 = run_with_seed(5)
    h3, w3 = run_with_seed(6)
    for key in ("train_loss", "train_acc", "test_loss", "test_acc", "weight_norm", "grad_norms"):
        assert getattr(h1, key) == getattr(h2, key), key
    assert all(np.array_equal(a, b) for a, b in zip(w1, w2))
    assert h1.train_loss != h3.train_loss
    assert set(h1.grad_norms) == {"0.weight", "0.bias", "3.weight", "3.bias"}
    assert all(len(v) == 3 and all(g > 0 for g in v) for v in h1.grad_norms.values())


def test_diverging_run_stops_with_a_clear_message():
    x, y = small_problem()
    x = x * np.float32(1e3)
    model = nn.Sequential(nn.Linear(4, 1, rng=np.random.default_rng(0)))
    trainer = Trainer(model, nn.MSELoss(), optim.SGD(model.parameters(), lr=1e8), batch_size=10, num_epochs=5,
                      rng=np.random.default_rng(0))
    with np.errstate(all="ignore"), pytest.raises(TrainingDiverged, match=r"epoch 1, step \d+ \(lr=100000000\.0\)"):
        trainer.fit(x, y.astype(np.float32))
    assert model.needs_input_grad  # restored even though fit raised


@pytest.mark.parametrize("eval_train", [True, False])
def test_a_last_step_that_leaves_inf_weights_is_divergence(eval_train):
    """One full-batch step per epoch: its loss is finite, the step overflows the weights to inf, and the
    end-of-epoch evaluation meets inf logits: TrainingDiverged at that step, nothing recorded for the epoch."""
    x, y = small_problem()
    model = nn.Sequential(nn.Linear(4, 2, rng=np.random.default_rng(0)))
    trainer = Trainer(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=1e308), num_epochs=3,
                      rng=np.random.default_rng(0), eval_train=eval_train)
    with np.errstate(all="ignore"), pytest.raises(TrainingDiverged, match=r"epoch 1, step 1 \(lr=1e\+308\)"):
        trainer.fit(x, y, x, y)
    assert trainer.history.diverged_at["epoch"] == 1
    assert trainer.history.train_loss == [] and trainer.history.test_loss == []


@pytest.mark.parametrize("where", ["train", "test"])
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_nan_inputs_are_rejected(where, bad):
    x, y = small_problem()
    xb = x.copy()
    xb[3, 1] = bad
    model = small_model()
    trainer = Trainer(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1), num_epochs=1,
                      rng=np.random.default_rng(0))
    args = (xb, y, x, y) if where == "train" else (x, y, xb, y)
    with pytest.raises(ValueError, match=f"{where}.*NaN or inf"):
        trainer.fit(*args)


def test_argument_and_data_errors():
    x, y = small_problem()
    model = small_model()
    opt = optim.SGD(model.parameters(), lr=0.1)
    loss = nn.CrossEntropyLoss()
    with pytest.raises(ValueError, match="batch_size"):
        Trainer(model, loss, opt, batch_size=0, rng=np.random.default_rng(0))
    with pytest.raises(TypeError, match="rng=np.random.Generator"):
        Trainer(model, loss, opt, rng=0)
    with pytest.raises(ValueError, match="pair up"):
        Trainer(model, loss, opt, rng=np.random.default_rng(0)).fit(x, y[:-1])


def test_evaluate_and_history_dict():
    x, y = small_problem()
    model = small_model()
    trainer = Trainer(model, nn.CrossEntropyLoss(), optim.Adam(model.parameters(), lr=0.05), batch_size=10,
                      num_epochs=4, rng=np.random.default_rng(0), eval_batch_size=7)
    history = trainer.fit(x, y, x, y)
    loss, acc = trainer.evaluate(x, y)
    assert loss == pytest.approx(history.test_loss[-1], rel=1e-5) and acc == history.test_acc[-1]
    assert history.train_loss[-1] < history.train_loss[0] and acc > 0.8
    assert History.from_dict(json.loads(json.dumps(history.to_dict()))) == history


@pytest.mark.parametrize("target_form", ["ids", "onehot", "column"])
def test_accuracy_for_every_target_form(target_form):
    """Accuracy compares predicted ids with targets given as ids, one-hot rows or a (N, 1) column."""
    x, y = small_problem()
    model = small_model()
    if target_form == "column":
        model = nn.Sequential(nn.Linear(4, 1, rng=np.random.default_rng(0)))
        targets, loss_fn = y.reshape(-1, 1).astype(np.float32), nn.BCEWithLogitsLoss()
    elif target_form == "onehot":
        targets, loss_fn = np.eye(2, dtype=np.float32)[y], nn.MSELoss()
    else:
        targets, loss_fn = y, nn.CrossEntropyLoss()
    trainer = Trainer(model, loss_fn, optim.SGD(model.parameters(), lr=0.1), num_epochs=1,
                      rng=np.random.default_rng(0))
    _, acc = trainer.evaluate(x, targets)
    out = model.eval().forward(x)
    pred = loss_fn.predict(out)
    assert acc == pytest.approx(np.mean(pred == y))
    assert 0.0 < acc < 1.0  # a real comparison, not a broadcast (N, N) one


# -- acceptance: the seed's task on the real data -------------------------------------------------
def test_two_class_mlp_on_fashion_mnist_reaches_99_percent():
    from backproplab.data.fashion_mnist import DatasetNotFoundError, load_fashion_mnist

    try:
        data = load_fashion_mnist(classes=(0, 1))  # T-shirt/top vs Trouser
    except DatasetNotFoundError as e:
        pytest.skip(f"Fashion-MNIST not installed: {e}")
    assert data.x_train.shape == (12000, 784) and data.x_train.dtype == np.float32
    rng = np.random.default_rng(0)
    model = nn.Sequential(nn.Linear(784, 128, rng=rng, init="he"), nn.ReLU(), nn.Linear(128, 2, rng=rng))
    opt = optim.Adam(model.parameters(), lr=1e-3)
    fit = dict(x_train=data.x_train, y_train=data.y_train, x_test=data.x_test, y_test=data.y_test)
    Trainer(model, nn.CrossEntropyLoss(), opt, batch_size=32, num_epochs=4, rng=rng, eval_train=False).fit(**fit)
    for group in opt.param_groups:  # then 2 epochs at a tenth of the rate: Adam's last steps settle
        group["lr"] = 1e-4
    history = Trainer(model, nn.CrossEntropyLoss(), opt, batch_size=32, num_epochs=2, rng=rng,
                      eval_train=False).fit(**fit)
    assert history.test_acc[-1] >= 0.99, history.test_acc
