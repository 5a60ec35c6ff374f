"""003 Q2.1: a committee's error E_COM against its members' average E_AV."""
import pytest

from backproplab.calc.committee_error import committee_error


def test_uncorrelated_errors_give_e_av_over_n():
    v = committee_error(10, 0.0, seed=1, samples=200_000).values
    (case,) = v["cases"]
    assert case["E_COM_exact"] == pytest.approx(0.1, rel=1e-12) and v["uncorrelated_ratio"] == 0.1
    assert abs(case["E_COM"] - 0.1) < 4 * case["E_COM_se"]
    assert case["E_AV"] == pytest.approx(1.0, abs=0.01)


@pytest.mark.parametrize("r", [0.3, 0.9, -0.1])
def test_correlated_errors_match_the_closed_form(r):
    cases = committee_error(5, r, seed=2, samples=200_000, std=2.0).values["cases"]
    assert [c["correlation"] for c in cases] == [0.0, r]
    c = cases[1]
    assert c["E_COM_exact"] == pytest.approx(4.0 * (r + (1 - r) / 5), rel=1e-12)
    assert abs(c["z"]) < 4
    assert c["bound_holds_every_sample"]
    if r > 0:  # between E_AV/N and E_AV
        assert 4.0 / 5 < c["E_COM_exact"] < 4.0


def test_perfectly_correlated_members_gain_nothing():
    c = committee_error(4, 1.0, seed=0, samples=10_000).values["cases"][1]
    assert c["E_COM"] == pytest.approx(c["E_AV"], rel=1e-9)


def test_same_seed_same_numbers_and_different_seed_different():
    a = committee_error(3, 0.5, seed=7, samples=5_000).values["cases"][1]["E_COM"]
    assert committee_error(3, 0.5, seed=7, samples=5_000).values["cases"][1]["E_COM"] == a
    assert committee_error(3, 0.5, seed=8, samples=5_000).values["cases"][1]["E_COM"] != a


@pytest.mark.parametrize("args, message", [
    ((5, -0.5), "impossible for 5 equally correlated members; use a value in \\[-0.25, 1\\]"),
    ((0, 0.0), "members must be positive"),
    ((3, 1.5), "impossible"),
])
def test_bad_arguments(args, message):
    with pytest.raises(ValueError, match=message):
        committee_error(*args)
