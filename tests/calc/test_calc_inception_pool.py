"""001 Q4(b): the Inception module's cost with its 3x3 max-pool branch counted as comparisons."""
import numpy as np
import pytest

from backproplab.calc import inception_macs
from backproplab.calc.macs import _max_pool_3x3_cost


def brute_force_comparisons(h, w):
    """Comparisons of a 3x3/1 max-pool with padding 1 on one h x w map, skipping padded taps."""
    valid = np.zeros((h + 2, w + 2))
    valid[1:-1, 1:-1] = 1
    total = 0
    for i in range(h):
        for j in range(w):
            total += int(valid[i:i + 3, j:j + 3].sum()) - 1
    return total


@pytest.mark.parametrize("h, w", [(28, 28), (5, 7), (2, 3)])
def test_pool_comparisons_inside_match_brute_force(h, w):
    assert _max_pool_3x3_cost(h, w, 3)["inside"] == 3 * brute_force_comparisons(h, w)


def test_inception_3a_totals():
    v = inception_macs(28, 192, 64, 96, 128, 16, 32, 32).values
    # convolutions (hand products): 9,633,792 + 14,450,688 + 86,704,128 + 2,408,448 + 10,035,200 + 4,816,896
    assert v["macs"] == 128_049_152
    assert v["branches"]["pool_proj"] == 28 * 28 * 192 * 32 == 4_816_896
    assert v["pool_comparisons"] == 28 * 28 * 192 * 8 == 1_204_224
    assert v["pool_reads"] == 28 * 28 * 192 * 9 == 1_354_752
    assert v["pool_comparisons_inside"] == 192 * (82 * 82 - 784) == 1_140_480  # (3·28-2)² taps - 784 outputs
    assert v["ops"] == 128_049_152 + 1_204_224
    assert v["flops"] == 2 * 128_049_152 + 1_204_224
