"""Multiply-accumulates: the bottleneck and Inception (3a) textbook examples, ResNet's stem, by hand
(arithmetic in the comments); 001 Q4(b)'s Inception cost with its 3x3 max-pool branch counted as
comparisons (against brute force); errors that name the argument."""
import numpy as np
import pytest

from backproplab.calc import bottleneck_macs, conv_macs, inception_macs
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


def test_bottleneck_textbook_example():
    # 28x28x192 -> 28x28x32 with 5x5: direct 28·28·32·5·5·192 = 120,422,400;
    # via 16 channels 28·28·16·192 + 28·28·32·5·5·16 = 2,408,448 + 10,035,200 = 12,443,648; 89.67% saved
    r = bottleneck_macs(28, 192, 32, 5, 16)
    assert r["direct"] == 120_422_400
    assert (r["reduce"], r["conv"], r["bottleneck"]) == (2_408_448, 10_035_200, 12_443_648)
    assert r["saved"] == 107_978_752
    assert r["saved_percent"] == pytest.approx(100 * 107_978_752 / 120_422_400, rel=1e-12)
    assert round(r["saved_percent"], 1) == 89.7


def test_inception_3a():
    # GoogLeNet inception (3a), 28x28x192, widths 64, 96->128, 16->32, pool->32 (Szegedy et al. Table 1: 128M ops)
    # 28·28 = 784; 784·(192·64 + 192·96 + 96·128·9 + 192·16 + 16·32·25 + 192·32)
    #   = 784·(12288 + 18432 + 110592 + 3072 + 12800 + 6144) = 784·163328 = 128,049,152
    r = inception_macs(28, 192, 64, 96, 128, 16, 32, 32)
    assert r["macs"] == 128_049_152
    assert r["out_channels"] == 256
    assert r["params"] == 163_328 + (64 + 96 + 128 + 16 + 32 + 32)  # paper: 159K = 163,328/1024
    # naive: 784·(192·64 + 192·128·9 + 192·32·25) = 784·(12288 + 221184 + 153600) = 784·387072 = 303,464,448
    assert r["naive_macs"] == 303_464_448


def test_conv_macs_resnet_stem():
    # 224x224x3, 7x7/2 pad 3 -> 112x112x64; 112·112·64·(7·7·3 = 147) = 118,013,952 MACs
    r = conv_macs(224, 3, 64, 7, stride=2, padding=3)
    assert r["output"] == [112, 112, 64] and r["macs"] == 118_013_952
    assert r["params"] == 64 * 147 + 64


def test_macs_invalid():
    with pytest.raises(ValueError, match="mid_channels"):
        bottleneck_macs(28, 192, 32, 5, 0)
    with pytest.raises(ValueError, match="kernel_size 5 is larger than the input_size 4x4"):
        bottleneck_macs(4, 8, 8, 5, 2)
    with pytest.raises(ValueError, match="stride"):
        conv_macs(8, 3, 4, 3, stride=0)
