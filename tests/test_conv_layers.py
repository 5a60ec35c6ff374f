"""Conv2d, Conv1d, pooling, BatchNorm, residual blocks: float64 central differences with a random dy,
and forward + every gradient against PyTorch on randomized shapes (relative error < 1e-6)."""
from __future__ import annotations

import numpy as np
import pytest

from backproplab import nn
from backproplab.analysis import check_module_grads, rel_error

torch = pytest.importorskip("torch")
TOL = 1e-6
H = 1e-4  # central-difference step: conv/pool are linear (no truncation error), BN smooth (~h² = 1e-8)

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


def _torch_conv(m, dims=2):
    cls = torch.nn.Conv2d if dims == 2 else torch.nn.Conv1d
    t = cls(m.in_channels, m.out_channels, m.kernel_size, m.stride, m.padding, m.dilation, m.groups,
            bias=m.bias is not None).double()
    with torch.no_grad():
        t.weight.copy_(torch.from_numpy(m.weight.data))
        if m.bias is not None:
            t.bias.copy_(torch.from_numpy(m.bias.data))
    return t


def _compare_with_torch(m, t, x, rng):
    """Forward, dx and the gradient of every parameter (matched by name) against PyTorch."""
    y = m.forward(x)
    dy = rng.standard_normal(y.shape)
    m.zero_grad()
    dx = m.backward(dy)
    tx = torch.tensor(x, requires_grad=True)
    ty = t(tx)
    ty.backward(torch.from_numpy(dy))
    assert y.shape == tuple(ty.shape)
    assert rel_error(y, ty.detach().numpy()) < TOL
    assert rel_error(dx, tx.grad.numpy()) < TOL
    tparams = dict(t.named_parameters())
    for name, p in m.named_parameters():
        assert rel_error(p.grad, tparams[name].grad.numpy()) < TOL, name


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")  # PyTorch's own note
@pytest.mark.parametrize("case", CONV_CASES)
def test_conv2d_matches_torch(case):
    cin, cout, k, s, p, d, g, bias, h, w = case
    rng = np.random.default_rng(hash(str(case)) % 2**32)
    n = int(rng.integers(1, 4))
    m = nn.Conv2d(cin, cout, k, s, p, d, g, bias, rng=rng).double()
    _compare_with_torch(m, _torch_conv(m), rng.standard_normal((n, cin, h, w)), rng)


@pytest.mark.parametrize("case", CONV_CASES[:3] + CONV_CASES[4:5] + CONV_CASES[7:10])
def test_conv2d_gradcheck(case):
    cin, cout, k, s, p, d, g, bias, h, w = case
    rng = np.random.default_rng(1)
    m = nn.Conv2d(cin, cout, k, s, p, d, g, bias, rng=rng).double()
    errors = check_module_grads(m, rng.standard_normal((2, cin, h, w)), rng, h=H)
    assert max(errors.values()) < TOL, errors


@pytest.mark.parametrize("cin,cout,k,s,p,d,g", [(2, 3, 3, 1, 1, 1, 1), (4, 4, 3, 2, 0, 2, 4), (2, 3, 4, 1, "same", 1, 1)])
def test_conv1d_matches_torch_and_gradcheck(cin, cout, k, s, p, d, g):
    rng = np.random.default_rng(2)
    m = nn.Conv1d(cin, cout, k, s, p, d, g, rng=rng).double()
    x = rng.standard_normal((3, cin, 11))
    _compare_with_torch(m, _torch_conv(m, dims=1), x, rng)
    assert max(check_module_grads(m, x[:2], rng, h=H).values()) < TOL


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


# -- pooling ------------------------------------------------------------------------------------------
POOL_CASES = [  # kernel, stride, padding, dilation, ceil_mode, H, W
    (2, None, 0, 1, False, 6, 8),
    (2, 2, 0, 1, True, 7, 5),
    (3, 2, 1, 1, False, 7, 8),
    (3, 2, 1, 1, True, 6, 7),
    (3, 1, 1, 1, False, 5, 5),   # overlapping windows
    ((3, 2), (2, 1), (1, 1), 1, True, 7, 6),
]


@pytest.mark.parametrize("case", POOL_CASES)
def test_maxpool_matches_torch(case):
    k, s, p, d, ceil, h, w = case
    rng = np.random.default_rng(4)
    for dil in (1, 2) if p == 0 or (np.max(k) >= 3) else (1,):
        m = nn.MaxPool2d(k, s, p, dil, ceil)
        t = torch.nn.MaxPool2d(k, s, p, dil, ceil_mode=ceil)
        _compare_with_torch(m, t, rng.standard_normal((2, 3, h + 2, w + 2)), rng)


@pytest.mark.parametrize("case", POOL_CASES)
@pytest.mark.parametrize("count_include_pad", [True, False])
def test_avgpool_matches_torch(case, count_include_pad):
    k, s, p, _, ceil, h, w = case
    rng = np.random.default_rng(5)
    m = nn.AvgPool2d(k, s, p, ceil, count_include_pad)
    t = torch.nn.AvgPool2d(k, s, p, ceil_mode=ceil, count_include_pad=count_include_pad)
    _compare_with_torch(m, t, rng.standard_normal((2, 3, h, w)), rng)


@pytest.mark.parametrize("m", [nn.MaxPool2d(2), nn.MaxPool2d(3, 2, 1, ceil_mode=True), nn.AvgPool2d(3, 2, 1, True, False),
                               nn.AdaptiveAvgPool2d((2, 3)), nn.GlobalAvgPool2d()])
def test_pooling_gradcheck(m):
    rng = np.random.default_rng(6)
    x = rng.standard_normal((2, 2, 5, 7))  # continuous values: no ties, max pooling is differentiable here
    assert check_module_grads(m, x, rng, h=H)["x"] < TOL


def test_maxpool_ties_go_to_the_first_maximum_like_torch():
    x = np.zeros((1, 1, 4, 4))
    x[0, 0, 0, 1] = x[0, 0, 1, 0] = 1.0  # two maxima in the first window
    m = nn.MaxPool2d(2)
    m(x)
    dx = m.backward(np.ones((1, 1, 2, 2)))
    tx = torch.tensor(x, requires_grad=True)
    torch.nn.MaxPool2d(2)(tx).backward(torch.ones(1, 1, 2, 2, dtype=torch.float64))
    np.testing.assert_array_equal(dx, tx.grad.numpy())


@pytest.mark.parametrize("out", [1, (2, 3), (3, 2)])
def test_adaptive_avgpool_matches_torch(out):
    rng = np.random.default_rng(7)
    _compare_with_torch(nn.AdaptiveAvgPool2d(out), torch.nn.AdaptiveAvgPool2d(out),
                        rng.standard_normal((2, 3, 7, 5)), rng)


# -- batch norm -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("cls,tcls,shape", [
    (nn.BatchNorm2d, torch.nn.BatchNorm2d, (4, 3, 5, 6)),
    (nn.BatchNorm1d, torch.nn.BatchNorm1d, (7, 5)),
    (nn.BatchNorm1d, torch.nn.BatchNorm1d, (4, 3, 6)),
])
@pytest.mark.parametrize("momentum", [0.1, None])
def test_batchnorm_matches_torch_train_then_eval(cls, tcls, shape, momentum):
    rng = np.random.default_rng(8)
    m = cls(shape[1], momentum=momentum).double()
    t = tcls(shape[1], momentum=momentum).double()
    m.weight.data[:] = rng.standard_normal(shape[1])
    m.bias.data[:] = rng.standard_normal(shape[1])
    with torch.no_grad():
        t.weight.copy_(torch.from_numpy(m.weight.data))
        t.bias.copy_(torch.from_numpy(m.bias.data))
    for mode in ("train", "train", "eval"):
        getattr(m, mode)(), getattr(t, mode)()
        t.zero_grad()
        _compare_with_torch(m, t, rng.standard_normal(shape) * 3 + 1, rng)
        assert rel_error(m.running_mean, t.running_mean.numpy()) < TOL
        assert rel_error(m.running_var, t.running_var.numpy()) < TOL
        assert int(m.num_batches_tracked) == int(t.num_batches_tracked)


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("affine", [True, False])
def test_batchnorm_gradcheck(training, affine):
    rng = np.random.default_rng(9)
    m = nn.BatchNorm2d(3, affine=affine).double()
    if affine:
        m.weight.data[:] = rng.standard_normal(3)
        m.bias.data[:] = rng.standard_normal(3)
    m.running_mean[:] = rng.standard_normal(3)
    m.running_var[:] = rng.random(3) + 0.5
    m.train(training)
    x = rng.standard_normal((3, 3, 2, 3)) * 2 + 0.5
    stats = (m.running_mean.copy(), m.running_var.copy())

    def forward(v):  # keep the running statistics fixed while differencing
        m.running_mean, m.running_var = stats[0].copy(), stats[1].copy()
        return m.forward(v)

    errors = check_module_grads(m, x, rng, h=H, forward=forward)
    assert max(errors.values()) < TOL, errors


def test_batchnorm_state_dict_has_torch_keys():
    m = nn.BatchNorm2d(4)
    assert set(m.state_dict()) == {"weight", "bias", "running_mean", "running_var", "num_batches_tracked"}


# -- residual ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("cin,cout,stride", [(3, 3, 1), (3, 5, 2)])
def test_residual_block_matches_torch(cin, cout, stride):
    rng = np.random.default_rng(10)
    m = nn.ResidualBlock(cin, cout, stride, rng=rng).double()

    class TorchBlock(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = torch.nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
            self.bn1 = torch.nn.BatchNorm2d(cout)
            self.conv2 = torch.nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
            self.bn2 = torch.nn.BatchNorm2d(cout)
            self.downsample = (torch.nn.Sequential(torch.nn.Conv2d(cin, cout, 1, stride, bias=False),
                                                   torch.nn.BatchNorm2d(cout)) if m.downsample else None)

        def forward(self, x):
            out = self.bn2(self.conv2(torch.relu(self.bn1(self.conv1(x)))))
            return torch.relu(out + (x if self.downsample is None else self.downsample(x)))

    t = TorchBlock().double()
    t.load_state_dict({k: torch.from_numpy(np.asarray(v)) for k, v in m.state_dict().items()})
    _compare_with_torch(m, t, rng.standard_normal((2, cin, 6, 5)), rng)


def test_generic_residual_gradcheck():
    rng = np.random.default_rng(11)
    body = nn.Sequential(nn.Conv2d(2, 2, 3, padding=1, rng=rng), nn.Tanh())
    for block in (nn.Residual(body), nn.Residual(body, nn.Conv2d(2, 2, 1, rng=rng))):
        block.double()
        errors = check_module_grads(block, rng.standard_normal((2, 2, 4, 4)), rng, h=H)
        assert max(errors.values()) < TOL, errors


# -- bad input -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("make,x_shape,match", [
    (lambda r: nn.Conv2d(3, 4, 3, rng=r), (1, 2, 5, 5), r"expects input \(N, 3, H, W\).*\(1, 2, 5, 5\)"),
    (lambda r: nn.Conv2d(1, 1, 5, rng=r), (1, 1, 3, 8), r"kernel_size \(5, 5\).*padded input \(3, 8\)"),
    (lambda r: nn.Conv2d(1, 1, 3, dilation=3, rng=r), (1, 1, 5, 5), r"spans \(7, 7\)"),
    (lambda r: nn.MaxPool2d(4), (1, 1, 3, 3), r"kernel_size \(4, 4\)"),
    (lambda r: nn.BatchNorm2d(3), (2, 4, 3, 3), r"BatchNorm2d\(3\).*\(2, 4, 3, 3\)"),
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


def test_float32_stays_float32():
    rng = np.random.default_rng(12)
    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1, rng=rng), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
                          nn.AvgPool2d(2), nn.GlobalAvgPool2d())
    x = rng.standard_normal((2, 1, 8, 8)).astype(np.float32)
    y = model(x)
    assert y.dtype == np.float32 and model.backward(np.ones_like(y)).dtype == np.float32


def _layouts(a):
    """The same (N, C, H, W) values stored four ways: NCHW, NHWC, CNHW and the layers' own CHWN."""
    return {"NCHW": np.ascontiguousarray(a),
            "NHWC": np.ascontiguousarray(a.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2),
            "CNHW": np.ascontiguousarray(a.transpose(1, 0, 2, 3)).transpose(1, 0, 2, 3),
            "CHWN": np.ascontiguousarray(a.transpose(1, 2, 3, 0)).transpose(3, 0, 1, 2)}


@pytest.mark.parametrize("make", [
    lambda rng: nn.Conv2d(3, 4, 3, padding=1, rng=rng),
    lambda rng: nn.Conv2d(4, 4, 3, stride=2, dilation=2, padding=2, groups=2, rng=rng),
    lambda rng: nn.MaxPool2d(2),
    lambda rng: nn.MaxPool2d(3, stride=2, padding=1, ceil_mode=True),
    lambda rng: nn.AvgPool2d(3, stride=2, padding=1),
    lambda rng: nn.BatchNorm2d(4),
], ids=["conv", "conv-strided-grouped", "maxpool", "maxpool-padded", "avgpool", "batchnorm"])
def test_every_memory_layout_of_x_and_dy_gives_the_same_numbers(make):
    """The layers pick their buffers by memory order (batch-innermost for convolution, the input's
    order for BatchNorm rows); the values must not depend on how x or dy happen to be stored."""
    rng = np.random.default_rng(21)
    x = rng.standard_normal((5, getattr(make(rng), "in_channels", 4), 7, 7))
    ref_layer = make(np.random.default_rng(0)).double()
    y_ref = ref_layer.forward(x)
    dy = rng.standard_normal(y_ref.shape)
    dx_ref = ref_layer.backward(dy)
    for x_name, xl in _layouts(x).items():
        for dy_name, dyl in _layouts(dy).items():
            layer = make(np.random.default_rng(0)).double()
            y = layer.forward(xl)
            dx = layer.backward(dyl)
            assert np.allclose(y, y_ref, rtol=1e-12, atol=1e-12), (x_name, dy_name)
            assert np.allclose(dx, dx_ref, rtol=1e-12, atol=1e-12), (x_name, dy_name)
            for p, q in zip(layer.parameters(), ref_layer.parameters()):
                assert np.allclose(p.grad, q.grad, rtol=1e-12, atol=1e-12), (x_name, dy_name)
