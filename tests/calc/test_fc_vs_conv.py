"""fc_vs_conv: weights, biases and connections of a dense layer against a convolution, by hand."""
import pytest

from backproplab.calc import fc_vs_conv


def test_fc_vs_conv_small_example():
    r = fc_vs_conv(width=5, height=5, in_channels=2, out_channels=4, kernel_size=3)
    same, valid = r["same"], r["valid"]
    # same: 5·5·4 = 100 units; FC 5·5·2 = 50 inputs → 50·100 = 5000 weights; conv 3·3·2·4 = 72
    assert same["output"] == [5, 5, 4]
    assert same["fc"] == {"outputs": 100, "weights": 5000, "biases": 100, "connections": 5000}
    assert same["conv"]["weights"] == 72 and same["conv"]["biases"] == 4
    assert same["conv"]["connections"] == 100 * 18  # each of 100 outputs sees 3·3·2 = 18 inputs
    # taps inside per axis over the 5 output columns: 2+3+3+3+2 = 13; 4·2·13·13 = 1352
    assert same["conv"]["connections_inside"] == 1352
    # valid: 3·3·4 = 36 units; FC 50·36 = 1800; conv connections 36·18 = 648 (no padding: all real)
    assert valid["output"] == [3, 3, 4]
    assert valid["fc"]["weights"] == 1800
    assert valid["conv"]["connections"] == 648 == valid["conv"]["connections_inside"]


def test_fc_vs_conv_invalid():
    with pytest.raises(ValueError, match="kernel_size 7 is larger than the input"):
        fc_vs_conv(5, 5, 1, 1, 7)
    with pytest.raises(ValueError, match="in_channels"):
        fc_vs_conv(5, 5, 0, 1, 3)
    with pytest.raises(ValueError, match="kernel_size must be odd"):
        fc_vs_conv(5, 5, 1, 1, 2)
