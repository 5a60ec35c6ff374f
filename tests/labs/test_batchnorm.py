"""batchnorm lab (document 001, question 1(b)): statistics against hand normalization, the bias before BN
cancels, the training-mode change is exactly what ε predicts, and the report's sentences both ways."""
import numpy as np
import pytest

from backproplab.labs import batchnorm as lab
from backproplab.labs.config import ConfigError
from backproplab.report.i18n import language


def test_quick_run(tmp_path, lab_run):
    res, out = lab_run(lab, tmp_path, langs=("en", "fa"))
    fc, cv = res["fc_vs_conv"]["fc"], res["fc_vs_conv"]["conv"]
    assert fc["max_diff_vs_hand"] < 1e-10 and cv["max_diff_vs_hand"] < 1e-10
    # BN1d on (8, 5): 5 statistics over 8 values; BN2d on (8, 4, 6, 6): 4 over 8·6·6 = 288 values
    assert (fc["num_stats"], fc["values_per_stat"]) == (5, 8) and (cv["num_stats"], cv["values_per_stat"]) == (4, 288)
    np.testing.assert_allclose(fc["running_mean"], fc["expected_running_mean"], atol=1e-12)
    np.testing.assert_allclose(fc["running_var"], fc["expected_running_var"], atol=1e-12)
    b = res["bias_cancel"]
    assert b["max_abs_output_diff"] < 1e-10 and b["max_abs_bias_grad"] < 1e-10
    assert np.max(np.abs(b["bias_grad_without_bn"])) > 1.0  # the gradient BN removes is not small
    for r in res["scaling"]:
        # training mode: only ε changes the output, and by exactly the predicted amount
        assert abs(r["train_max_abs_change"] - r["train_change_from_eps"]) < 1e-9
        assert r["eval_max_abs_change"] > 0.1  # inference with stale running stats is not invariant
    big = [r for r in res["scaling"] if r["alpha"] >= 2]
    assert big and all(r["train_max_abs_change"] < 1e-3 for r in big)
    assert res["eps_gap"] < 1e-9 and res["weights_inputs_gap"] < 1e-9
    text = (out / "report.md").read_text()
    assert "wasted parameter" in text and "undoes the scale exactly" in text
    assert (out / "batchnorm.fa.png").exists()


@pytest.mark.parametrize("changes, match", [
    (dict(batch_size=1), "--batch-size must be"),
    (dict(alphas=(0.5, 0.0)), "--alphas must be"),
    (dict(alphas=()), "--alphas must be"),
    (dict(stat_batches=0), "--stat-batches must be"),
])
def test_bad_settings_are_refused(changes, match):
    with pytest.raises(ConfigError, match=match):
        lab.Config(**changes)


def _en(msg):
    with language("en"):
        return "" if msg is None else str(msg)


def test_sentences_both_ways():
    assert "wasted parameter" in _en(lab.bias_sentence(1e-15, 1e-14))
    assert "did not cancel" in _en(lab.bias_sentence(0.3, 1e-14))
    assert "did not cancel" in _en(lab.bias_sentence(1e-15, 0.2))
    assert "unbiased" in _en(lab.running_sentence(0.0, 1e-16)) and "not PyTorch" in _en(lab.running_sentence(0.0, 0.1))
    assert "just under 1" in _en(lab.variance_sentence([0.99, 0.999]))
    assert _en(lab.variance_sentence([0.99, 1.0])) == ""
    assert "differ by up to" in _en(lab.mode_gap_sentence(0.2, 100)) and "agree" in _en(lab.mode_gap_sentence(0.0, 100))
    assert "same numbers" in _en(lab.weights_inputs_sentence(0.0))
    assert "different numbers" in _en(lab.weights_inputs_sentence(0.01))


def _result(eps_gap=1e-15, eval_best=2.0):
    rows = [{"alpha": 2.0, "scaled": s, "eval_out_std": 2.0} for s in ("weights", "inputs")]
    return {"train_worst": 0.01, "train_worst_alpha": 0.1, "train_worst_eps": 0.01, "eps_gap": eps_gap,
            "eval_best": eval_best, "scaling": rows, "running_stats": {"eval_out_std_alpha1": 1.0}}


def test_mode_sentences_both_ways():
    assert "undoes the scale exactly" in _en(lab.train_sentence(_result()))
    assert "more than" in _en(lab.train_sentence(_result(eps_gap=1e-3)))
    assert "every α changes the output" in _en(lab.eval_sentence(_result()))
    assert "only" in _en(lab.eval_sentence(_result(eval_best=1e-12)))
