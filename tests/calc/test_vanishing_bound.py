"""vanishing_bound: σ^(L-i)·||δ_L|| by hand for the sigmoid's 1/4, with 001 Q6(a)'s layer numbering 0..L
(index_base=0) as well as 1..L, against random and tight chains; errors that say how to fix them."""
import pytest

from backproplab.calc import vanishing_bound


def test_layer_zero_with_index_base_0():
    r = vanishing_bound(0.9, 100, 0, index_base=0)
    assert r["exponent"] == 100
    assert r["bound"] == pytest.approx(0.9 ** 100, rel=1e-12)  # 2.6561e-05
    assert [row["layer"] for row in r["per_layer"]][-1] == 0 and len(r["per_layer"]) == 101


def test_index_base_1_refuses_layer_zero_and_says_how():
    with pytest.raises(ValueError, match="between 1 and num_layers=10, got 0; pass --index-base 0"):
        vanishing_bound(0.5, 10, 0)
    with pytest.raises(ValueError, match="index_base must be 0"):
        vanishing_bound(0.5, 10, 3, index_base=2)
    with pytest.raises(ValueError, match="between 0 and num_layers=10"):
        vanishing_bound(0.5, 10, 11, index_base=0)


def test_same_exponent_in_both_numberings():
    assert vanishing_bound(0.7, 12, 4, index_base=0)["bound"] == vanishing_bound(0.7, 12, 4)["bound"]


@pytest.mark.parametrize("sigma, layers, layer", [(0.9, 30, 0), (0.5, 8, 2), (1.3, 6, 1)])
def test_random_chains_respect_the_bound_and_the_tight_chain_reaches_it(sigma, layers, layer):
    r = vanishing_bound(sigma, layers, layer, delta_norm=2.0, index_base=0, width=24, seed=1)
    assert r["bound_holds"]
    assert r["random_norm"] < r["bound"]
    assert r["tight_norm"] == pytest.approx(r["bound"], rel=1e-9)


def test_vanishing_bound_sigmoid():
    # σ = 1/4, L = 10, i = 1: (1/4)^9 = 1/262144 = 3.814697265625e-06
    r = vanishing_bound(0.25, 10, 1)
    assert r["exponent"] == 9
    assert r["bound"] == pytest.approx(1 / 262144, rel=1e-12)
    # 0.25^k < 1e-6 first at k = 10 (0.25^9 = 3.8e-6, 0.25^10 = 9.5e-7)
    assert r["layers_to_1e-6"] == 10
    # with ||δ_L|| = 2, σ = 0.5, L = 5, i = 3: 2·0.5² = 0.5
    assert vanishing_bound(0.5, 5, 3, delta_norm=2.0)["bound"] == pytest.approx(0.5, rel=1e-12)
    assert vanishing_bound(0.5, 5, 5)["bound"] == 1.0  # i = L: σ^0


def test_vanishing_bound_invalid():
    with pytest.raises(ValueError, match="layer must be between 1 and num_layers=5"):
        vanishing_bound(0.5, 5, 6)
    with pytest.raises(ValueError, match="sigma"):
        vanishing_bound(-0.1, 5, 1)
    with pytest.raises(ValueError, match="num_layers"):
        vanishing_bound(0.5, 0, 1)


def test_a_bound_that_overflows_is_a_value_error_naming_sigma():
    with pytest.raises(ValueError, match=r"sigma\^\(L-i\) = 1e\+308\^299 overflows"):
        vanishing_bound(1e308, 300, 1)
    assert vanishing_bound(1e3, 100, 1)["factor"] == pytest.approx(1e297, rel=1e-12)  # large, still a float
