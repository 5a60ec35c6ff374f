"""conv_out: output sizes against hand-worked answers (arithmetic in the comments) and PyTorch's Conv2d,
the leftover pixels per axis, and errors that name the argument."""
import numpy as np
import pytest

from backproplab.calc import conv_out


@pytest.mark.parametrize("n, k, s, p, d, expected", [
    (32, 5, 1, 0, 1, 28),   # (32 - 5)/1 + 1 = 28 (LeNet C1)
    (32, 5, 2, 2, 1, 16),   # floor((32 + 4 - 5)/2) + 1 = floor(15.5) + 1 = 16
    (224, 7, 2, 3, 1, 112),  # ResNet stem: floor((224 + 6 - 7)/2) + 1 = 111 + 1 = 112
    (227, 11, 4, 0, 1, 55),  # AlexNet conv1: (227 - 11)/4 + 1 = 54 + 1 = 55
    (7, 3, 1, 0, 2, 3),     # dilated span 2·(3-1)+1 = 5; 7 - 5 + 1 = 3
    (5, 5, 1, 0, 1, 1),     # kernel exactly as large as the input: one output
])
def test_conv_out_examples(n, k, s, p, d, expected):
    assert conv_out(n, k, s, p, d)["output_size"] == [expected, expected]


def test_conv_out_per_axis_and_leftover():
    r = conv_out((10, 7), (3, 2), stride=(2, 3))
    # h: floor((10-3)/2)+1 = 3+1 = 4, (7 mod 2) = 1 left over; w: floor((7-2)/3)+1 = 1+1 = 2, 5 mod 3 = 2
    assert r["output_size"] == [4, 2]
    assert r["leftover"] == [1, 2]


def test_conv_out_matches_torch_on_random_shapes(torch):
    rng = np.random.default_rng(0)
    for _ in range(20):
        k, s, p, d = (int(v) for v in (rng.integers(1, 6), rng.integers(1, 4), rng.integers(0, 3), rng.integers(1, 3)))
        n = int(rng.integers(d * (k - 1) + 1, 20))
        conv = torch.nn.Conv2d(1, 1, k, stride=s, padding=p, dilation=d)
        y = conv(torch.zeros(1, 1, n, n + 1))
        assert conv_out((n, n + 1), k, s, p, d)["output_size"] == list(y.shape[2:])


@pytest.mark.parametrize("kwargs, name", [
    (dict(input_size=-3, kernel_size=2), "input_size"),
    (dict(input_size=8, kernel_size=0), "kernel_size"),
    (dict(input_size=8, kernel_size=3, stride=0), "stride"),
    (dict(input_size=8, kernel_size=3, padding=-1), "padding"),
    (dict(input_size=8, kernel_size=3, dilation=0), "dilation"),
    (dict(input_size=4, kernel_size=5), "larger than the padded input_size"),
    (dict(input_size=5, kernel_size=3, dilation=3), "larger than the padded input_size"),  # span 7 > 5
    (dict(input_size=2.5, kernel_size=1), "input_size must be an integer"),
])
def test_conv_out_invalid(kwargs, name):
    with pytest.raises(ValueError, match=name):
        conv_out(**kwargs)
