"""receptive_field_calc: holes left by dilation, document 001's question 5(c) (closed form and autograd),
and errors that name the argument."""
import pytest

from backproplab.analysis.receptive_field import seen_offsets
from backproplab.calc import receptive_field_calc


def test_receptive_field_holes_from_dilation():
    # two 3x3 convs with dilation 2: taps {0,2,4} + {0,2,4} = {0,2,4,6,8}: 5 of 9 per axis, 25 of 81 in 2-D
    r = receptive_field_calc([3, 3], dilations=[2])
    assert r["receptive_field"] == 9 and r["seen"] == 5
    assert r["extent_2d"] == 81 and r["seen_2d"] == 25
    assert seen_offsets([3, 3], dilations=[2, 2])[-1] == {0, 2, 4, 6, 8}


@pytest.mark.parametrize("kwargs, name", [
    (dict(kernel_sizes=[]), "kernel_sizes"),
    (dict(kernel_sizes=[3, -1]), r"kernel_sizes\[1\]"),
    (dict(kernel_sizes=[3, 3], strides=[1, 0]), r"strides\[1\]"),
    (dict(kernel_sizes=[3, 3], dilations=[1, 2, 3]), "dilations has 3 entries"),
])
def test_receptive_field_invalid(kwargs, name):
    with pytest.raises(ValueError, match=name):
        receptive_field_calc(**kwargs)


@pytest.mark.parametrize("w", [2, 3, 4, 7])
@pytest.mark.parametrize("d", [2, 3, 5])
def test_question_5c_receptive_field_closed_form(w, d):
    # kernels w-1, w, w+1 with dilations d-1, d, d+1, stride 1: R = 1 + (w-2)(d-1) + (w-1)d + w(d+1) = 3(d(w-1)+1)
    r = receptive_field_calc([w - 1, w, w + 1], None, [d - 1, d, d + 1]).values
    assert r["receptive_field"] == 3 * (d * (w - 1) + 1)
    assert r["layers"][0]["extent"] == 1 + (w - 2) * (d - 1)
    if w > 2:  # the solution's first-layer value 1 + (w-1)(d-1) is too large by d - 1
        assert r["layers"][0]["extent"] != 1 + (w - 1) * (d - 1)


def test_question_5c_receptive_field_by_autograd(torch):
    # independent of the formula: backpropagate a one-hot output gradient through all-ones dilated convs
    w, d = 3, 2
    x = torch.zeros(1, 1, 64, dtype=torch.float64, requires_grad=True)
    y = x
    for k, dil in zip([w - 1, w, w + 1], [d - 1, d, d + 1]):
        y = torch.nn.functional.conv1d(y, torch.ones(1, 1, k, dtype=torch.float64), dilation=dil)
    y[0, 0, 0].backward()
    seen = torch.nonzero(x.grad[0, 0]).flatten()
    assert int(seen.max() - seen.min()) + 1 == 3 * (d * (w - 1) + 1) == 15
