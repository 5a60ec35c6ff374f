"""Conv2d and Conv1d (grouped and depthwise included): float64 central differences with a random dy,
forward + every gradient against PyTorch on randomized shapes (relative error < 1e-6), the
needs_input_grad shortcut, memory layouts, and errors that name the sizes or the argument."""
from __future__ import annotations

import zlib

import numpy as np
import pytest

from backproplab import nn
from backproplab.analysis import check_module_grads, rel_error

TOL = 1e-6
H = 1e-4  # central-difference step: convolution is linear, so there is no truncation error

# (in, out, kernel, stride, padding, dilation, groups, bias, H, W)
CONV_CASES = [
    (2, 3, 3, 1, 0, 1, 1, True, 6, 7),
    (2, 4, 3, 1, 1, 1, 1, True, 5, 6),
    (3, 4, 3, 2, 1, 1, 1, False, 7, 6),
    (2, 2, (2, 3), (2, 1), (1, 0), 1, 1, True, 6, 7),
    (2, 3, 3, 1, "same", 2, 1, True, 7, 6),
    (2, 2, 2, 1, "same", 1, 1, True, 5, 6),   # even kernel: the odd pad goes bottom/right
    (2, 3, 3, 1, "valid", (2, 1), 1, True, 7, 6),
    (4, 6, 3, 1, 1, 1, 2, True, 5, 5),        # grouped
    (3, 3, 3, 2, 1, 1, 3, True, 6, 7),        # depthwise, strided
    (3, 6, 3, 1, 1, 2, 3, False, 6, 6),       # depthwise multiplier 2, dilated
    (2, 2, 3, 3, 0, 1, 1, True, 8, 10),       # stride larger than 1 with leftover pixels
]


def torch_twin(torch, m, dims=2):
    """PyTorch's convolution with the layer's settings (the comparison copies the weights)."""
    cls = torch.nn.Conv2d if dims == 2 else torch.nn.Conv1d
    return cls(m.in_channels, m.out_channels, m.kernel_size, m.stride, m.padding, m.dilation, m.groups,
               bias=m.bias is not None)


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")  # PyTorch's own note
@pytest.mark.parametrize("case", CONV_CASES)
def test_conv2d_matches_torch(torch, matches_torch, case):
    cin, cout, k, s, p, d, g, bias, h, w = case
    rng = np.random.default_rng(zlib.crc32(str(case).encode()))  # the same seed in every process
    n = int(rng.integers(1, 4))
    m = nn.Conv2d(cin, cout, k, s, p, d, g, bias, rng=rng).double()
    matches_torch(m, torch_twin(torch, m), rng.standard_normal((n, cin, h, w)), rng, TOL)


@pytest.mark.parametrize("case", CONV_CASES[:3] + CONV_CASES[4:5] + CONV_CASES[7:10])
def test_conv2d_gradcheck(case):
    cin, cout, k, s, p, d, g, bias, h, w = case
    rng = np.random.default_rng(1)
    m = nn.Conv2d(cin, cout, k, s, p, d, g, bias, rng=rng).double()
    errors = check_module_grads(m, rng.standard_normal((2, cin, h, w)), rng, h=H)
    assert max(errors.values()) < TOL, errors


CONV1D_CASES = [(2, 3, 3, 1, 1, 1, 1), (4, 4, 3, 2, 0, 2, 4), (2, 3, 4, 1, "same", 1, 1)]  # cin,cout,k,s,p,d,g


@pytest.mark.parametrize("cin,cout,k,s,p,d,g", CONV1D_CASES)
def test_conv1d_matches_torch(torch, matches_torch, cin, cout, k, s, p, d, g):
    rng = np.random.default_rng(2)
    m = nn.Conv1d(cin, cout, k, s, p, d, g, rng=rng).double()
    matches_torch(m, torch_twin(torch, m, dims=1), rng.standard_normal((3, cin, 11)), rng, TOL)


@pytest.mark.parametrize("cin,cout,k,s,p,d,g", CONV1D_CASES)
def test_conv1d_gradcheck(cin, cout, k, s, p, d, g):
    rng = np.random.default_rng(2)
    m = nn.Conv1d(cin, cout, k, s, p, d, g, rng=rng).double()
    x = rng.standard_normal((3, cin, 11))
    assert max(check_module_grads(m, x[:2], rng, h=H).values()) < TOL


@pytest.mark.parametrize("kwargs", [dict(kernel_size=(3,)), dict(kernel_size=[3], stride=(2,)),
                                    dict(kernel_size=3, padding=(1,), dilation=(2,)),
                                    dict(kernel_size=(2,), padding="same", dilation=(2,))])
def test_conv1d_one_tuples_work_as_in_torch(torch, kwargs):
    rng = np.random.default_rng(0)
    m = nn.Conv1d(2, 3, rng=rng, **kwargs).double()
    t = torch.nn.Conv1d(2, 3, **kwargs).double()
    with torch.no_grad():
        t.weight.copy_(torch.from_numpy(m.weight.data))
        t.bias.copy_(torch.from_numpy(m.bias.data))
    x = rng.standard_normal((2, 2, 11))
    tx = torch.tensor(x, requires_grad=True)
    ty = t(tx)
    y = m.forward(x)
    dy = rng.standard_normal(y.shape)
    ty.backward(torch.from_numpy(dy))
    assert y.shape == tuple(ty.shape) and rel_error(y, ty.detach().numpy()) < 1e-10
    assert rel_error(m.backward(dy), tx.grad.numpy()) < 1e-10


@pytest.mark.parametrize("name", ["kernel_size", "stride", "padding", "dilation"])
def test_conv1d_two_tuples_are_refused_as_in_torch(torch, name):
    kwargs = {"kernel_size": 3, name: (2, 2)}
    with pytest.raises(RuntimeError):  # PyTorch refuses at construction or at the first forward
        torch.nn.Conv1d(1, 1, **kwargs)(torch.zeros(1, 1, 9))
    with pytest.raises(ValueError, match=rf"Conv1d: {name} must be an int or a 1-tuple, got \(2, 2\)"):
        nn.Conv1d(1, 1, rng=np.random.default_rng(0), **kwargs)


@pytest.mark.parametrize("kwargs, message", [(dict(kernel_size=0), "kernel_size must be >= 1"),
                                             (dict(kernel_size=3, padding=-1), "padding must be >= 0"),
                                             (dict(kernel_size=()), "1-tuple, got \\(\\)"),
                                             (dict(kernel_size=2.5), "must be an int")])
def test_conv1d_bad_values(kwargs, message):
    with pytest.raises(ValueError, match=message):
        nn.Conv1d(1, 1, rng=np.random.default_rng(0), **kwargs)


# (N, C, H, W, channel multiplier, kernel_size, stride, padding, dilation, bias)
DEPTHWISE_CASES = [
    (2, 3, 7, 6, 1, 3, 1, 1, 1, True),
    (3, 4, 9, 9, 2, 3, 2, 1, 1, True),
    (1, 5, 8, 11, 1, (3, 1), (1, 2), (1, 0), 1, False),
    (2, 2, 10, 10, 3, 3, 1, 2, 2, True),
    (2, 6, 5, 5, 1, 5, 1, 2, 1, True),
]


@pytest.mark.usefixtures("one_torch_thread")
@pytest.mark.parametrize("n, c, h, w, mult, k, stride, padding, dilation, bias", DEPTHWISE_CASES)
def test_depthwise_conv_matches_torch_functional(torch, n, c, h, w, mult, k, stride, padding, dilation, bias):
    """Conv2d(groups=in_channels), the depthwise convolution of MobileNet, against F.conv2d."""
    rng = np.random.default_rng(c * 100 + h)
    conv = nn.Conv2d(c, c * mult, k, stride=stride, padding=padding, dilation=dilation, groups=c, bias=bias,
                     rng=rng, dtype=np.float64)
    x = rng.standard_normal((n, c, h, w))
    y = np.ascontiguousarray(conv.forward(x))
    xt = torch.tensor(x, requires_grad=True)
    wt = torch.tensor(conv.weight.data, requires_grad=True)
    bt = torch.tensor(conv.bias.data, requires_grad=True) if bias else None
    yt = torch.nn.functional.conv2d(xt, wt, bt, stride=stride, padding=padding, dilation=dilation, groups=c)
    assert conv.weight.data.shape == (c * mult, 1, *((k, k) if isinstance(k, int) else k))
    assert y.shape == tuple(yt.shape)
    assert rel_error(y, yt.detach().numpy()) < TOL
    dy = rng.standard_normal(y.shape)
    dx = conv.backward(dy)
    yt.backward(torch.tensor(dy))
    assert rel_error(dx, xt.grad.numpy()) < TOL
    assert rel_error(conv.weight.grad, wt.grad.numpy()) < TOL
    if bias:
        assert rel_error(conv.bias.grad, bt.grad.numpy()) < TOL


def test_conv_input_grad_off_skips_dx_but_not_dw():
    rng = np.random.default_rng(3)
    m = nn.Conv2d(1, 2, 3, padding=1, rng=rng).double()
    m.needs_input_grad = False  # as Sequential/Trainer set it for a first layer
    ref = nn.Conv2d(1, 2, 3, padding=1, rng=np.random.default_rng(3)).double()
    x = rng.standard_normal((2, 1, 5, 5))
    dy = rng.standard_normal((2, 2, 5, 5))
    m(x), ref(x)
    assert m.backward(dy) is None
    ref.backward(dy)
    assert rel_error(m.weight.grad, ref.weight.grad) < 1e-12 and np.abs(m.weight.grad).max() > 0


@pytest.mark.parametrize("make", [
    lambda rng: nn.Conv2d(3, 4, 3, padding=1, rng=rng),
    lambda rng: nn.Conv2d(4, 4, 3, stride=2, dilation=2, padding=2, groups=2, rng=rng),
], ids=["conv", "conv-strided-grouped"])
def test_every_memory_layout_of_x_and_dy_gives_the_same_numbers(layouts_agree, make):
    layouts_agree(make)


@pytest.mark.parametrize("make,x_shape,match", [
    (lambda r: nn.Conv2d(3, 4, 3, rng=r), (1, 2, 5, 5), r"expects input \(N, 3, H, W\).*\(1, 2, 5, 5\)"),
    (lambda r: nn.Conv2d(1, 1, 5, rng=r), (1, 1, 3, 8), r"kernel_size \(5, 5\).*padded input \(3, 8\)"),
    (lambda r: nn.Conv2d(1, 1, 3, dilation=3, rng=r), (1, 1, 5, 5), r"spans \(7, 7\)"),
])
def test_bad_inputs_name_the_sizes(make, x_shape, match):
    with pytest.raises(ValueError, match=match):
        make(np.random.default_rng(0)).forward(np.zeros(x_shape))


@pytest.mark.parametrize("kwargs,match", [
    (dict(in_channels=3, out_channels=4, kernel_size=3, stride=0), r"stride must be >= 1"),
    (dict(in_channels=3, out_channels=4, kernel_size=3, dilation=-1), r"dilation must be >= 1"),
    (dict(in_channels=4, out_channels=6, kernel_size=3, groups=4), r"groups=4 must divide.*out_channels=6"),
    (dict(in_channels=3, out_channels=4, kernel_size=3, stride=2, padding="same"), r"'same'.*stride=\(2, 2\)"),
    (dict(in_channels=3, out_channels=4, kernel_size=3, padding="full"), r"padding must be"),
])
def test_bad_conv_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        nn.Conv2d(**kwargs, rng=np.random.default_rng(0))
