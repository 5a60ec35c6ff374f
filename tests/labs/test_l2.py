"""The L2 lab: the cosine schedule, its sentences on made-up numbers both ways, and its claims on quick data."""
import math

import numpy as np
import pytest

from backproplab.labs import l2
from backproplab.labs.config import ConfigError
from backproplab.labs.l2 import sweep_lines, with_without_lines
from backproplab.report.i18n import language


def text(msgs):
    with language("en"):
        return [str(m) for m in msgs]


def test_cosine_annealing_gives_the_per_epoch_learning_rates_of_the_old_schedule():
    """The lab used to set lr₀·(1 + cos(π(e+1)/E))/2 after epoch e; CosineAnnealingLR(T_max=E) stepped
    after every epoch gives the same rates (its chained update differs in the last bit at most)."""
    from backproplab.nn import Parameter
    from backproplab.optim import SGD
    from backproplab.optim.lr_scheduler import CosineAnnealingLR

    for num_epochs, lr0 in ((20, 0.02), (30, 0.001), (3, 0.1)):
        opt = SGD([Parameter(np.zeros(2))], lr=lr0)
        scheduler = CosineAnnealingLR(opt, T_max=num_epochs)
        assert opt.param_groups[0]["lr"] == lr0  # epoch 1 trains at lr₀
        for e in range(num_epochs):
            scheduler.step()
            old = lr0 * 0.5 * (1.0 + math.cos(math.pi * (e + 1) / num_epochs))
            assert opt.param_groups[0]["lr"] == pytest.approx(old, rel=1e-15, abs=1e-17 * lr0)


def test_quick_cosine_run_trains_with_the_scheduler(tmp_path, lab_run):
    result, _ = lab_run(l2, tmp_path / "l2c", lr_schedule="cosine", gammas=(0.0, 10.0), num_epochs=2)
    assert all(r["final_test_acc"] > 0.6 for r in result["rows"])


def run_row(gamma, norm, gap, acc):
    return {"gamma": gamma, "final_weight_norm": norm, "final_gap": gap, "final_test_acc": acc,
            "best_test_acc": acc, "final_train_acc": acc}


def test_with_without_sentences_both_ways():
    lines = text(with_without_lines(run_row(0, 900.0, 0.01, 0.992), run_row(10, 500.0, 0.005, 0.992), 10, 2000))
    assert "lowers the weights' Σ W²" in lines[0] and "(×0.556)" in lines[0]
    assert "(smaller with L2)" in lines[1]
    assert "99.20% both without and with L2" in lines[2]
    lines = text(with_without_lines(run_row(0, 500.0, 0.005, 0.990), run_row(10, 900.0, 0.01, 0.9915), 10, 2000))
    assert "does NOT lower" in lines[0] and "NOT smaller" in lines[1]
    assert "higher with L2, by 3 test images" in lines[2]
    lines = text(with_without_lines(run_row(0, 500.0, 0.005, 0.990), run_row(10, 400.0, 0.01, 0.9895), 10, 2000))
    assert "lower with L2, by 1 test image)" in lines[2]
    assert "nothing to compare" in text(with_without_lines(run_row(0, 1, 0, 0.9), run_row(0, 1, 0, 0.9), 0, 2000))[0]


def test_sweep_sentences_follow_gamma_order_not_the_option_order():
    rows = [run_row(10, 500.0, 0, 0.99), run_row(0, 900.0, 0, 0.99), run_row(100, 11.0, 0, 0.98)]
    lines = text(sweep_lines(rows))
    assert "for γ = 0, 10 (a tie)" in lines[0]
    assert "falls at every larger γ: 900, 500, 11" in lines[1]
    rows[2]["final_weight_norm"] = 950.0
    assert "does NOT fall" in text(sweep_lines(rows))[1]
    assert "for γ = 0;" in text(sweep_lines([run_row(0, 900.0, 0, 0.99), run_row(10, 500.0, 0, 0.98)]))[0]


def test_gammas_must_hold_zero_and_gamma():
    with pytest.raises(ConfigError, match="must hold 0"):
        l2.Config(gammas=(1.0, 10.0))
    with pytest.raises(ConfigError, match="--gamma 5"):
        l2.Config(gamma=5.0)
    with pytest.raises(ConfigError, match="--lr-schedule"):
        l2.Config(lr_schedule="step")


def test_quick_run_l2_lowers_the_weight_norm(tmp_path, lab_run):
    result, folder = lab_run(l2, tmp_path / "l2")
    wn = result["weight_norm"]
    assert wn["with"] < 0.99 * wn["without"]
    norms = [r["final_weight_norm"] for r in sorted(result["rows"], key=lambda r: r["gamma"])]
    assert norms[-1] < norms[0]
    assert "lowers the weights' Σ W²" in (folder / "report.md").read_text()
