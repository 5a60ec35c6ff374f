"""unet: the U-Net's sizes and parameter counts of document 001, by hand."""
import pytest

from backproplab.calc.unet import unet


def test_unet_sizes_and_params():
    v = unet(256).values
    assert [lvl["size"] for lvl in v["levels"]] == [256, 128, 64, 32, 16]
    assert v["bottleneck_pixels"] == 256
    # the 64 -> 128 conv: 3·3·64·128 + 128; the second conv of level 1 (64 -> 64): 3·3·64·64 + 64
    assert v["convs"][2]["params"] == 73_856 and v["convs"][1]["params"] == 36_928
    with pytest.raises(ValueError, match="too small for 4 halvings"):
        unet(8)
