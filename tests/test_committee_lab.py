"""The committee lab: its arithmetic on hand-made numbers, and a quick run end to end."""
from __future__ import annotations

import json

import numpy as np
import pytest

from backproplab.labs import committee as C


def _onehot(pred, num_classes=3, p=0.8):
    probs = np.full((len(pred), num_classes), (1 - p) / (num_classes - 1))
    probs[np.arange(len(pred)), pred] = p
    return probs


def test_committee_errors_average_probabilities():
    y = np.array([0, 1, 2, 0])
    a = _onehot([0, 1, 1, 1], p=0.6)  # wrong on images 2, 3
    b = _onehot([0, 2, 2, 0], p=0.6)  # wrong on image 1
    c = _onehot([1, 1, 2, 0], p=0.6)  # wrong on image 0
    # k=2 on image 3: a says 1, b says 0, a tie of 0.4 each -> argmax takes class 0 (right);
    # image 2: a says 1, b says 2, tie -> class 1 (wrong); image 1: a says 1, b says 2 -> class 1 (right)
    assert C.committee_errors([a, b, c], y) == pytest.approx([0.5, 0.25, 0.0])
    # a confident member outvotes two hesitant ones: the average of probabilities is not a majority vote
    sure = _onehot([1, 1, 1, 1], p=0.98)
    assert C.committee_errors([sure, b, c], y)[-1] == pytest.approx(0.75)


def test_error_correlation_matches_pearson():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 200)
    probs = [_onehot(np.where(rng.random(200) < 0.3, (y + 1) % 3, y)) for _ in range(3)]
    corr = C.error_correlation(probs, y)
    w = [(p.argmax(1) != y).astype(float) for p in probs]
    manual = np.mean((w[0] - w[0].mean()) * (w[2] - w[2].mean())) / (w[0].std() * w[2].std())
    assert corr.shape == (3, 3)
    assert corr[0, 2] == pytest.approx(manual, rel=1e-12)
    np.testing.assert_allclose(np.diag(corr), 1.0)
    assert C.error_correlation([probs[0], probs[0]], y)[0, 1] == pytest.approx(1.0)


def test_paired_test_counts():
    y = np.array([0, 0, 0, 0, 0])
    r = C.paired_test(np.array([0, 0, 0, 1, 1]), np.array([1, 1, 0, 0, 1]), y)
    assert (r["a_only_right"], r["b_only_right"]) == (2, 1) and 0 < r["p_value"] <= 1


def test_unknown_variant_fails_before_training(tmp_path):
    with pytest.raises(ValueError, match="unknown preprocessing"):
        C.run(C.Config(quick=True, variants=("original", "widht12")), tmp_path)


def test_quick_run_beats_its_mean_member_and_writes_files(tmp_path):
    from backproplab.data.fashion_mnist import DatasetNotFoundError

    try:
        result = C.run(C.Config(quick=True), tmp_path)
    except DatasetNotFoundError:
        pytest.skip("Fashion-MNIST not installed")
    assert result["committee_error"] <= result["mean_member_error"]
    assert len(result["k_curve"]) == 3 and len(result["control_k_curve"]) == 3
    assert result["k_curve"][0] == result["control_k_curve"][0]  # both start from the shared member
    for name in ("config.json", "members.csv", "k_curve.csv", "summary.json", "error_correlation.json",
                 "k_curve.png", "error_correlation.png", "preprocessing.png", "report.md"):
        assert (tmp_path / name).stat().st_size > 0, name
    assert len(list((tmp_path / "members").glob("*.npz"))) == 5  # 3 + 2 control (member 0 shared)
    corr = json.loads((tmp_path / "error_correlation.json").read_text())
    assert np.allclose(np.diag(corr["preprocessing"]["corr"]), 1.0)
    report = (tmp_path / "report.md").read_text()
    assert "committee" in result["summary"] and "seed-only" in report
    # a second run with the same config resumes from members/ and gives the same numbers
    again = C.run(C.Config(quick=True), tmp_path)
    assert again["k_curve"] == result["k_curve"] and again["members"] == result["members"]


def test_quick_run_with_mlp_members(tmp_path):
    from backproplab.data.fashion_mnist import DatasetNotFoundError

    try:
        result = C.run(C.Config(quick=True, arch="mlp", control=False), tmp_path)
    except DatasetNotFoundError:
        pytest.skip("Fashion-MNIST not installed")
    assert len(result["k_curve"]) == 3 and result["control_k_curve"] is None
    assert all(0.0 <= row["test_error"] < 0.9 for row in result["members"])  # each learned something (chance: 0.9)


def test_defaults_follow_the_paper():
    # seven members: the original images and the paper's six width normalizations, CNN members
    assert C.WIDTHS == (10, 12, 14, 16, 18, 20)
    assert C.Config().variants == ("original",) + tuple(f"width{w}" for w in C.WIDTHS)
    assert C.Config().arch == "cnn"
