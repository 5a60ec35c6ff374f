"""densenet_channels: DenseNet-121's first blocks and transitions by hand, and bad arguments."""
import pytest

from backproplab.calc import densenet_channels


def test_densenet121_first_blocks():
    # block 1: 64 + 6·32 = 256 -> transition 0.5·256 = 128; block 2: 128 + 12·32 = 512 -> 256
    r = densenet_channels(64, 32, 6, compression=0.5)
    assert [row["out_channels"] for row in r["layers"]] == [96, 128, 160, 192, 224, 256]
    assert r["layers"][3]["in_channels"] == 160  # 64 + 3·32
    assert (r["out_channels"], r["transition_channels"]) == (256, 128)
    assert densenet_channels(128, 32, 12, 0.5)["transition_channels"] == 256
    # floor: 0.5·(24 + 3·12 = 60) = 30; 0.7·60 = 42
    assert densenet_channels(24, 12, 3, 0.7)["transition_channels"] == 42


def test_densenet_invalid():
    with pytest.raises(ValueError, match="growth_rate"):
        densenet_channels(16, -4, 3)
    with pytest.raises(ValueError, match="compression"):
        densenet_channels(16, 4, 3, compression=1.5)
