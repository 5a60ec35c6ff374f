"""committee lab: the committee arithmetic and E_COM vs E_AV on hand-made numbers, the report's sentences
both ways, and quick runs end to end (cached members reused)."""
from __future__ import annotations

import json

import numpy as np
import pytest

from backproplab.labs import committee as lab
from backproplab.labs import committee_stats as S
from backproplab.labs import committee_text as text
from backproplab.labs.config import ConfigError


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
    assert S.committee_errors([a, b, c], y) == pytest.approx([0.5, 0.25, 0.0])
    # a confident member outvotes two hesitant ones: the average of probabilities is not a majority vote
    sure = _onehot([1, 1, 1, 1], p=0.98)
    assert S.committee_errors([sure, b, c], y)[-1] == pytest.approx(0.75)


def test_error_correlation_matches_pearson():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 200)
    probs = [_onehot(np.where(rng.random(200) < 0.3, (y + 1) % 3, y)) for _ in range(3)]
    corr = S.error_correlation(probs, y)
    w = [(p.argmax(1) != y).astype(float) for p in probs]
    manual = np.mean((w[0] - w[0].mean()) * (w[2] - w[2].mean())) / (w[0].std() * w[2].std())
    assert corr.shape == (3, 3)
    assert corr[0, 2] == pytest.approx(manual, rel=1e-12)
    np.testing.assert_allclose(np.diag(corr), 1.0)
    assert S.error_correlation([probs[0], probs[0]], y)[0, 1] == pytest.approx(1.0)


def test_paired_test_counts():
    y = np.array([0, 0, 0, 0, 0])
    r = S.paired_test(np.array([0, 0, 0, 1, 1]), np.array([1, 1, 0, 0, 1]), y)
    assert (r["a_only_right"], r["b_only_right"]) == (2, 1) and 0 < r["p_value"] <= 1


# -- E_COM vs E_AV on made-up members ---------------------------------------------------------------------
def _members(errors: np.ndarray, y: np.ndarray, num_classes: int) -> list[np.ndarray]:
    """'Probabilities' one_hot(y) + e_n: the squared-error algebra holds for any outputs, not only distributions."""
    t = np.eye(num_classes)[y]
    return [t + e for e in errors]


def test_identical_members_gain_nothing():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 4, 300)
    e = rng.normal(0, 0.2, (300, 4))
    se = S.squared_errors(_members(np.stack([e, e, e]), y, 4), y)
    assert se["E_COM"] == pytest.approx(se["E_AV"], rel=1e-12)
    assert se["mean_correlation"] == pytest.approx(1.0, rel=1e-12)
    assert se["bound"]["violations"] == 0


def test_uncorrelated_members_reach_e_av_over_n():
    rng = np.random.default_rng(2)
    n, s, c = 5, 20000, 3
    y = rng.integers(0, c, s)
    se = S.squared_errors(_members(rng.normal(0, 0.3, (n, s, c)), y, c), y)
    # independent zero-mean errors: E_COM = E_AV/N up to sampling noise (|r| ~ 1/sqrt(s·c) ≈ 0.004)
    assert se["E_COM"] == pytest.approx(se["E_AV_over_N"], rel=0.03)
    assert abs(se["mean_correlation"]) < 0.02
    # E_COM is exactly (1/N²) Σ C_nm, and the cross terms are what separates it from E_AV/N
    assert se["E_COM"] == pytest.approx(np.sum(se["second_moment"]) / n ** 2, rel=1e-12)
    assert se["E_COM"] == pytest.approx(se["E_AV_over_N"] + se["cross_terms"], rel=1e-12)
    assert [r["k"] for r in se["k_curve"]] == [1, 2, 3, 4, 5]
    assert se["k_curve"][0]["E_COM"] == pytest.approx(se["k_curve"][0]["E_AV"], rel=1e-12)


def test_equally_correlated_members_follow_the_formula():
    rng = np.random.default_rng(3)
    n, s, c, r = 4, 40000, 2, 0.5
    y = rng.integers(0, c, s)
    common = rng.normal(0, 1, (s, c))
    e = np.stack([np.sqrt(r) * common + np.sqrt(1 - r) * rng.normal(0, 1, (s, c)) for _ in range(n)])
    se = S.squared_errors(_members(0.1 * e, y, c), y)
    assert se["mean_correlation"] == pytest.approx(r, abs=0.02)
    assert se["E_COM"] == pytest.approx(se["E_AV"] * (r + (1 - r) / n), rel=0.03)
    assert se["equal_correlation_prediction"] == pytest.approx(se["E_COM"], rel=0.01)


def test_anticorrelated_members_go_below_e_av_over_n():
    rng = np.random.default_rng(4)
    y = rng.integers(0, 3, 500)
    e = rng.normal(0, 0.2, (500, 3))
    se = S.squared_errors(_members(np.stack([e, -e]), y, 3), y)
    assert se["E_COM"] == pytest.approx(0.0, abs=1e-12) and se["E_COM"] < se["E_AV_over_N"]
    assert se["mean_correlation"] == pytest.approx(-1.0, rel=1e-12)


def test_real_probabilities_keep_the_bound_per_image():
    rng = np.random.default_rng(5)
    y = rng.integers(0, 10, 1000)
    probs = [rng.dirichlet(np.ones(10), 1000) for _ in range(7)]
    se = S.squared_errors(probs, y)
    assert se["bound"] == {"images": 1000, "violations": 0, "largest_excess": se["bound"]["largest_excess"]}
    assert se["bound"]["largest_excess"] <= 0 and se["E_COM"] < se["E_AV"]


# -- sentences, both ways ---------------------------------------------------------------------------------
def _se(e_av=0.3, e_com=0.1, n=3, r=0.0, violations=0):
    return {"N": n, "E_AV": e_av, "E_COM": e_com, "E_AV_over_N": e_av / n, "mean_correlation": r,
            "cross_terms": e_com - e_av / n, "equal_correlation_prediction": e_av * (r + (1 - r) / n),
            "bound": {"images": 100, "violations": violations, "largest_excess": 1e-3 if violations else -1e-3}}


def test_bound_sentence_both_ways():
    assert "holds on all 100 test images" in str(text.bound_sentence("preprocessing", _se()))
    assert "fails on 2 of 100" in str(text.bound_sentence("preprocessing", _se(violations=2)))


def test_closeness_sentence_three_ways():
    assert "nearly uncorrelated" in text.closeness_sentence("seed-only", _se(e_com=0.105)).msgid
    assert "errors are correlated" in text.closeness_sentence("seed-only", _se(e_com=0.2, r=0.5)).msgid
    assert "2.00 times" in str(text.closeness_sentence("seed-only", _se(e_com=0.2, r=0.5)))
    assert "negatively correlated" in text.closeness_sentence("seed-only", _se(e_com=0.05, r=-0.3)).msgid


def test_prediction_sentence_both_ways():
    assert "accounts for" in text.prediction_sentence("p", _se(e_com=0.1, r=0.0)).msgid  # prediction 0.1
    assert "too unequal" in text.prediction_sentence("p", _se(e_com=0.2, r=0.0)).msgid
    assert "one member" in text.prediction_sentence("p", {**_se(), "equal_correlation_prediction": None}).msgid


def _block(err, best, mean, corr=0.3, curve=(0.2, 0.15, 0.16)):
    return {"committee_error": err, "best_member_error": best, "mean_member_error": mean, "mean_corr": corr,
            "k_curve": list(curve)}


def test_beats_sentence_names_the_setting_both_ways():
    assert "is below its best single member's" in str(text.beats_sentence(_block(0.10, 0.12, 0.13), "S"))
    s = str(text.beats_sentence(_block(0.12, 0.12, 0.13), "Fashion-MNIST, 10 classes"))
    assert "is not below" in s and "In this setting (Fashion-MNIST, 10 classes)" in s
    assert "lowest 15.00% at k = 2" in str(text.k_curve_sentence(_block(0.16, 0.2, 0.2)))


def test_correlation_and_verdict_sentences():
    assert "lower with preprocessing" in text.correlation_sentence(_block(0, 0, 0, 0.2), _block(0, 0, 0, 0.3)).msgid
    assert "not lower" in text.correlation_sentence(_block(0, 0, 0, 0.3), _block(0, 0, 0, 0.3)).msgid

    def verdict(a, b, p):
        return str(text.verdict_sentence(_block(a, 0, 0), _block(b, 0, 0),
                                         {"a_only_right": 5, "b_only_right": 3, "p_value": p}))

    assert "beat seed diversity" in verdict(0.10, 0.12, 0.01) and "significant at the 5%" in verdict(0.1, 0.12, 0.01)
    assert "not by more than chance" in verdict(0.10, 0.12, 0.3) and "not significant" in verdict(0.1, 0.12, 0.3)
    assert "tied" in verdict(0.10, 0.10, 1.0)
    assert "did not beat" in verdict(0.12, 0.10, 0.01) and "within chance" not in verdict(0.12, 0.10, 0.01)
    assert "within chance" in verdict(0.12, 0.10, 0.3)


def test_per_class_sentence_both_ways():
    rows = [{"class": "Shirt", "first_member": 0.2, "other_members_mean": 0.3},
            {"class": "Bag", "first_member": 0.1, "other_members_mean": 0.05}]
    s = str(text.per_class_sentence(rows, "original/seed0"))
    assert "most on Shirt (+10.0 points)" in s and "better on 1 of 2" in s
    rows[0]["other_members_mean"] = 0.1
    assert "never worse" in str(text.per_class_sentence(rows, "original/seed0"))


# -- configuration and runs ---------------------------------------------------------------------------------
def test_config_checks():
    with pytest.raises(ConfigError, match="unknown preprocessing"):
        lab.Config(variants=("original", "widht12"))
    with pytest.raises(ConfigError, match="--channels"):
        lab.Config(channels=(4, 8, 8, 8))
    with pytest.raises(ConfigError, match="--variants"):
        lab.Config(variants=("original",))
    with pytest.raises(ConfigError, match="--threads"):
        lab.Config(threads=0)
    # seven members: the original images and the paper's six width normalizations, CNN members
    assert lab.WIDTHS == (10, 12, 14, 16, 18, 20)
    assert lab.Config().variants == ("original",) + tuple(f"width{w}" for w in lab.WIDTHS)
    assert lab.Config().arch == "cnn" and lab.Config().quick().variants == ("original", "width10", "width12")


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory, have_fashion_mnist):
    from backproplab.labs.runner import run_lab

    out = tmp_path_factory.mktemp("committee")
    return run_lab(lab, lab.Config().quick(), out), out


def test_quick_run_end_to_end(quick_run):
    result, out = quick_run
    assert result["committee_error"] <= result["mean_member_error"]
    assert len(result["k_curve"]) == 3 and len(result["control_k_curve"]) == 3
    assert result["k_curve"][0] == result["control_k_curve"][0]  # both start from the shared member
    for name in ("config.json", "members.csv", "k_curve.csv", "squared_error.json", "error_correlation.json",
                 "members.npz", "images.npz", "k_curve.png", "error_correlation.png", "squared_error.png",
                 "preprocessing.png", "report.md"):
        assert (out / name).stat().st_size > 0, name
    assert len(list((out / ".steps").glob("member-*.json"))) == 5  # 3 + 2 control (member 0 shared)
    corr = json.loads((out / "error_correlation.json").read_text())
    assert np.allclose(np.diag(corr["preprocessing"]["corr"]), 1.0)
    for block in result["committees"].values():
        se = block["squared_error"]
        assert se["bound"]["violations"] == 0 and se["E_COM"] <= se["E_AV"]
    assert "seed-only" in (out / "report.md").read_text()


def test_rerun_reuses_the_members(quick_run):
    from backproplab.labs.runner import run_lab

    result, out = quick_run
    (out / "result.json").unlink()
    again = run_lab(lab, lab.Config().quick(), out)
    assert again["k_curve"] == result["k_curve"] and again["members"] == result["members"]
    assert again["committees"] == result["committees"]


def test_quick_run_with_mlp_members(tmp_path, lab_run, have_fashion_mnist):
    result, _ = lab_run(lab, tmp_path, arch="mlp", control=False)
    assert len(result["k_curve"]) == 3 and result["control_k_curve"] is None
    assert all(0.0 <= row["test_error"] < 0.9 for row in result["members"])  # each learned something (chance: 0.9)
