"""mlp_params and conv_params: counts by hand (arithmetic in the comments) and against PyTorch's modules."""
import pytest

from backproplab.calc import conv_params, mlp_params


def test_mlp_params_five_hidden_layers_of_10():
    # 20·10+10 = 210; four 10·10+10 = 110 each = 440; 10·1+1 = 11; total 661 (610 weights + 51 biases)
    r = mlp_params([20, 10, 10, 10, 10, 10, 1])
    assert (r["weights"], r["biases"], r["total"]) == (610, 51, 661)
    assert mlp_params([20, 10, 10, 10, 10, 10, 1], bias=False)["total"] == 610


def test_conv_params_by_hand():
    # 3x3 conv 64 -> 128: 128·64·9 = 73,728 weights + 128 = 73,856
    r = conv_params(64, 128, 3)
    assert (r["total_without_bias"], r["total_with_bias"]) == (73728, 73856)
    # depthwise 3x3 on 32 channels (groups=32): 32·1·9 = 288 + 32
    assert conv_params(32, 32, 3, groups=32)["total"] == 320


def test_conv_params_match_torch(torch):
    c = torch.nn.Conv2d(6, 9, (3, 5), groups=3)
    assert conv_params(6, 9, (3, 5), groups=3)["total"] == sum(p.numel() for p in c.parameters())


def test_params_invalid():
    with pytest.raises(ValueError, match="groups=4 must divide"):
        conv_params(6, 8, 3, groups=4)
    with pytest.raises(ValueError, match=r"layer_sizes\[1\]"):
        mlp_params([3, -2, 1])
    with pytest.raises(ValueError, match="at least an input and an output"):
        mlp_params([3])
