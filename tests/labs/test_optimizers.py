"""The optimizers lab: step noise, its sentences on made-up numbers both ways, and its claims on quick data."""
import numpy as np
import pytest

from backproplab.labs import optimizers
from backproplab.labs.optimizers_text import NOISE_MIN, adam_vs_sgd_text, batch_noise_text, noise_text, step_noise
from backproplab.report.i18n import language


def text(msg):
    with language("en"):
        return str(msg)


def test_step_noise_measures_scatter_not_descent():
    rng = np.random.default_rng(0)
    # full-batch GD: one smooth step per epoch, the loss falling fast: too few steps to say anything
    gd = list(0.7 * np.exp(-0.3 * np.arange(15)))
    assert step_noise(gd, steps_per_epoch=1) is None
    # many smooth steps falling 20x over the window: no scatter, whatever the descent
    smooth = list(0.7 * np.exp(-0.1 * np.arange(200)))
    assert step_noise(smooth, steps_per_epoch=30) < 1e-6
    # a flat but noisy mini-batch loss: its scatter is measured (ln-loss std about 0.5)
    noisy = list(0.02 * np.exp(rng.normal(0, 0.5, 200)))
    assert step_noise(noisy, steps_per_epoch=94) == pytest.approx(0.5, rel=0.2)
    # the old measure, std/mean over the last steps, ranked a steep smooth descent as the noisier
    tail = np.asarray(smooth[-30:])
    assert tail.std() / tail.mean() > 0.5


def row(model, noise, batch, lr=0.05, optimizer="sgd", steps=100):
    return {"model": model, "step_noise": noise, "batch_size": batch, "lr": lr, "optimizer": optimizer,
            "steps_total": steps}


def test_noise_sentences_rank_only_what_was_measured():
    rows = [row("GD (full batch)", None, 12000, steps=15), row("mini-batch b=128", 0.2, 128),
            row("mini-batch b=64", 0.4, 64), row("SGD b=1", 2.0, 1, lr=0.005)]
    said = text(noise_text(rows))
    assert "smoothest `mini-batch b=128`, noisiest `SGD b=1`" in said
    assert f"at least {NOISE_MIN} are needed): `GD (full batch)` (15 steps in all)" in said
    assert "GD (full batch)` 0" not in said
    assert "not ranked" in text(noise_text(rows[:2]))
    assert "grows each time the batch gets smaller" in text(batch_noise_text(rows))
    rows[2]["step_noise"] = 0.1  # b=64 smoother than b=128
    assert "does NOT grow steadily" in text(batch_noise_text(rows))
    assert batch_noise_text(rows[:2]) is None


def test_adam_against_sgd_both_ways():
    assert "is lower than" in text(adam_vs_sgd_text({"final_train_loss": 0.004}, {"final_train_loss": 0.02}, 128))
    assert "is NOT lower than" in text(adam_vs_sgd_text({"final_train_loss": 0.03}, {"final_train_loss": 0.02}, 128))
    assert "equals" in text(adam_vs_sgd_text({"final_train_loss": 0.02}, {"final_train_loss": 0.02}, 128))
    assert "no comparison" in text(adam_vs_sgd_text(None, {"final_train_loss": 0.02}, 128))


def test_plan_uses_the_optimizer_registry_names():
    from backproplab.optim import OPTIMIZERS
    from backproplab.optim.registry import hyperparameters_of

    for p in optimizers.plan_of(optimizers.Config()):
        assert set(p["hyper"]) <= set(hyperparameters_of(OPTIMIZERS[p["opt"]])), p


def test_quick_run(tmp_path, lab_run):
    result, folder = lab_run(optimizers, tmp_path / "opt")
    nums = result["adam_vs_sgd"]
    assert nums["adam_final_train_loss"] < nums["sgd_final_train_loss"]
    rows = {r["model"]: r for r in result["rows"]}
    assert rows["SGD b=1"]["n_train"] < rows["Adam b=128"]["n_train"]  # batch-1 SGD runs on a subsample
    assert rows["GD (full batch)"]["step_noise"] is None  # 3 steps in all: not measurable
    run = result["runs"]["mini-batch b=128"]
    steps = len(run["history"]["step_loss"])
    assert steps == 8 * 3 and len(run["history"]["step_grad_norm"]) == steps == len(run["step_weight_norm"])
    report = (folder / "report.md").read_text()
    assert f"{nums['adam_final_train_loss']:.4g}" in report
    assert "## Training problems" in report
