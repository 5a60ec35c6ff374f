"""saturation lab: large positive weights saturate every sigmoid unit and zero the gradient; the
report's sentences on made-up numbers."""
import pytest

from backproplab.labs import saturation as lab
from backproplab.report.i18n import language


def test_quick_run(tmp_path, lab_run, have_fashion_mnist):
    res, out = lab_run(lab, tmp_path)
    bad, good = res["runs"]["large_positive"]["before"], res["runs"]["glorot_uniform"]["before"]
    assert all(r["saturated"] > 0.99 for r in bad if "saturated" in r)
    assert all(r["saturated"] < 0.05 for r in good if "saturated" in r)
    assert res["grad_norm_bad"] < 1e-6 * res["grad_norm_good"]  # first layer: σ' ≈ 0 blocks the gradient
    assert res["test_acc_good"] > res["test_acc_bad"] + 0.05
    assert res["rows"][0]["stalled"] and not res["rows"][1]["stalled"]
    assert len(res["runs"]["large_positive"]["histograms"]) == 3
    assert (out / "probe_large_positive.csv").exists() and (out / "saturation.png").exists()


def test_a_small_scale_does_not_saturate(tmp_path, lab_run, have_fashion_mnist):
    # |N(0, 0.001²)| weights: z = Σ w x stays far below 1 for pixels in [0, 1], so σ ≈ ½ and σ' ≈ ¼
    res, _ = lab_run(lab, tmp_path, large_scale=0.001, num_epochs=1)
    assert res["saturated_bad"] == 0.0 and min(res["mean_dsigma_bad"]) > 0.2


def test_init_arms_are_independent_of_each_other(tmp_path, lab_run, have_fashion_mnist):
    # each init is a task seeded from the lab's seed: changing the other arm leaves this one's numbers alone
    a, _ = lab_run(lab, tmp_path / "a", num_epochs=1)
    b, _ = lab_run(lab, tmp_path / "b", num_epochs=1, good_init="he")
    assert a["runs"]["large_positive"]["before"] == b["runs"]["large_positive"]["before"]


def test_gradient_sentence_three_ways():
    with language("en"):
        assert "vanished" in str(lab.gradient_sentence(0.0, 0.04, "glorot_uniform"))
        assert "times smaller" in str(lab.gradient_sentence(1e-9, 0.04, "glorot_uniform"))
        assert "NOT smaller" in str(lab.gradient_sentence(0.05, 0.04, "glorot_uniform"))
