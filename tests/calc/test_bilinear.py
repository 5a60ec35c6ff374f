"""bilinear: the four neighbours' weights by hand and against SciPy."""
import pytest

from backproplab.calc.bilinear import bilinear


def test_bilinear_weights_by_hand():
    v = bilinear(1.3, 2.6).values
    weights = {tuple(nb["q"]): nb["weight"] for nb in v["neighbours"]}
    # (1 - 0.3)(1 - 0.6), (1 - 0.3)(0.6), (0.3)(1 - 0.6), (0.3)(0.6)
    assert weights == pytest.approx({(1, 2): 0.28, (1, 3): 0.42, (2, 2): 0.12, (2, 3): 0.18})
    assert v["weight_sum"] == pytest.approx(1.0, rel=1e-12)
    assert v["abs_diff"] < 1e-12  # scipy's order-1 map_coordinates
    with pytest.raises(ValueError, match="outside the 5x5 map"):
        bilinear(5.2, 0)
