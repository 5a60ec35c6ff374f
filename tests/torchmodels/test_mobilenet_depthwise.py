"""backproplab's NumPy Conv2d(groups=in_channels) -- a depthwise conv -- against PyTorch, float64.

Forward and every gradient (dx, dweight, dbias) with a random upstream gradient dy, on
random shapes, relative error < 1e-6.
"""
from __future__ import annotations

import importlib.util

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="the comparison needs PyTorch (backproplab[torch])")

if importlib.util.find_spec("backproplab.nn.conv") is None:
    pytest.skip("backproplab/nn/conv.py (the NumPy Conv2d) does not exist yet", allow_module_level=True)

from backproplab.nn.conv import Conv2d  # noqa: E402


pytestmark = pytest.mark.usefixtures("one_torch_thread")

# (N, C, H, W, channel multiplier, kernel_size, stride, padding, dilation, bias)
CASES = [
    (2, 3, 7, 6, 1, 3, 1, 1, 1, True),
    (3, 4, 9, 9, 2, 3, 2, 1, 1, True),
    (1, 5, 8, 11, 1, (3, 1), (1, 2), (1, 0), 1, False),
    (2, 2, 10, 10, 3, 3, 1, 2, 2, True),
    (2, 6, 5, 5, 1, 5, 1, 2, 1, True),
]


def rel_err(a, b) -> float:
    a, b = np.asarray(a), np.asarray(b)
    return float(np.max(np.abs(a - b)) / max(1e-12, np.max(np.abs(b))))


@pytest.mark.parametrize("n, c, h, w, mult, k, stride, padding, dilation, bias", CASES)
def test_depthwise_conv_matches_torch(n, c, h, w, mult, k, stride, padding, dilation, bias):
    rng = np.random.default_rng(c * 100 + h)
    conv = Conv2d(c, c * mult, k, stride=stride, padding=padding, dilation=dilation, groups=c, bias=bias,
                  rng=rng, dtype=np.float64)
    x = rng.standard_normal((n, c, h, w))
    y = np.ascontiguousarray(conv.forward(x))
    xt = torch.tensor(x, requires_grad=True)
    wt = torch.tensor(conv.weight.data, requires_grad=True)
    bt = torch.tensor(conv.bias.data, requires_grad=True) if bias else None
    yt = torch.nn.functional.conv2d(xt, wt, bt, stride=stride, padding=padding, dilation=dilation, groups=c)
    assert conv.weight.data.shape == (c * mult, 1, *((k, k) if isinstance(k, int) else k))
    assert y.shape == tuple(yt.shape)
    assert rel_err(y, yt.detach().numpy()) < 1e-6
    dy = rng.standard_normal(y.shape)
    dx = conv.backward(dy)
    yt.backward(torch.tensor(dy))
    assert rel_err(dx, xt.grad.numpy()) < 1e-6
    assert rel_err(conv.weight.grad, wt.grad.numpy()) < 1e-6
    if bias:
        assert rel_err(conv.bias.grad, bt.grad.numpy()) < 1e-6
