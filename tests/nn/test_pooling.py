"""MaxPool2d, AvgPool2d, AdaptiveAvgPool2d, GlobalAvgPool2d: forward and dx against PyTorch on many
geometries (relative error < 1e-6), float64 central differences with a random dy, ties and windows of
-inf (the gradient goes to the first real input, PyTorch's choice, not to the padding that ties with it),
memory layouts and errors."""
import numpy as np
import pytest

from backproplab import nn
from backproplab.analysis import check_module_grads

INF = np.inf
TOL = 1e-6
H = 1e-4  # pooling is piecewise linear: no truncation error away from ties

POOL_CASES = [  # kernel, stride, padding, dilation, ceil_mode, H, W
    (2, None, 0, 1, False, 6, 8),
    (2, 2, 0, 1, True, 7, 5),
    (3, 2, 1, 1, False, 7, 8),
    (3, 2, 1, 1, True, 6, 7),
    (3, 1, 1, 1, False, 5, 5),   # overlapping windows
    ((3, 2), (2, 1), (1, 1), 1, True, 7, 6),
]


@pytest.mark.parametrize("case", POOL_CASES)
def test_maxpool_matches_torch(torch, matches_torch, case):
    k, s, p, d, ceil, h, w = case
    rng = np.random.default_rng(4)
    for dil in (1, 2) if p == 0 or (np.max(k) >= 3) else (1,):
        m = nn.MaxPool2d(k, s, p, dil, ceil)
        t = torch.nn.MaxPool2d(k, s, p, dil, ceil_mode=ceil)
        matches_torch(m, t, rng.standard_normal((2, 3, h + 2, w + 2)), rng, TOL)


@pytest.mark.parametrize("case", POOL_CASES)
@pytest.mark.parametrize("count_include_pad", [True, False])
def test_avgpool_matches_torch(torch, matches_torch, case, count_include_pad):
    k, s, p, _, ceil, h, w = case
    rng = np.random.default_rng(5)
    m = nn.AvgPool2d(k, s, p, ceil, count_include_pad)
    t = torch.nn.AvgPool2d(k, s, p, ceil_mode=ceil, count_include_pad=count_include_pad)
    matches_torch(m, t, rng.standard_normal((2, 3, h, w)), rng, TOL)


@pytest.mark.parametrize("m", [nn.MaxPool2d(2), nn.MaxPool2d(3, 2, 1, ceil_mode=True),
                               nn.AvgPool2d(3, 2, 1, True, False), nn.AdaptiveAvgPool2d((2, 3)), nn.GlobalAvgPool2d()])
def test_pooling_gradcheck(m):
    rng = np.random.default_rng(6)
    x = rng.standard_normal((2, 2, 5, 7))  # continuous values: no ties, max pooling is differentiable here
    assert check_module_grads(m, x, rng, h=H)["x"] < TOL


@pytest.mark.parametrize("out", [1, (2, 3), (3, 2)])
def test_adaptive_avgpool_matches_torch(torch, matches_torch, out):
    rng = np.random.default_rng(7)
    matches_torch(nn.AdaptiveAvgPool2d(out), torch.nn.AdaptiveAvgPool2d(out), rng.standard_normal((2, 3, 7, 5)), rng,
                  TOL)


def test_maxpool_ties_go_to_the_first_maximum_like_torch(torch):
    x = np.zeros((1, 1, 4, 4))
    x[0, 0, 0, 1] = x[0, 0, 1, 0] = 1.0  # two maxima in the first window
    m = nn.MaxPool2d(2)
    m(x)
    dx = m.backward(np.ones((1, 1, 2, 2)))
    tx = torch.tensor(x, requires_grad=True)
    torch.nn.MaxPool2d(2)(tx).backward(torch.ones(1, 1, 2, 2, dtype=torch.float64))
    np.testing.assert_array_equal(dx, tx.grad.numpy())


@pytest.mark.parametrize("make", [
    lambda rng: nn.MaxPool2d(2),
    lambda rng: nn.MaxPool2d(3, stride=2, padding=1, ceil_mode=True),
    lambda rng: nn.AvgPool2d(3, stride=2, padding=1),
], ids=["maxpool", "maxpool-padded", "avgpool"])
def test_every_memory_layout_of_x_and_dy_gives_the_same_numbers(layouts_agree, make):
    layouts_agree(make)


def test_a_kernel_larger_than_the_input_names_the_sizes():
    with pytest.raises(ValueError, match=r"kernel_size \(4, 4\)"):
        nn.MaxPool2d(4).forward(np.zeros((1, 1, 3, 3)))


def forward_backward_both(torch, x, dy_seed=0, **kwargs):
    m, t = nn.MaxPool2d(**kwargs), torch.nn.MaxPool2d(**kwargs)
    tx = torch.tensor(x, requires_grad=True)
    ty = t(tx)
    dy = np.random.default_rng(dy_seed).standard_normal(tuple(ty.shape))
    ty.backward(torch.from_numpy(dy))
    y = m.forward(x)
    return (y, m.backward(dy)), (ty.detach().numpy(), tx.grad.numpy())


def test_the_reported_case():
    x = np.array([[[[-INF, -INF, 1.0, 2.0]]]])
    m = nn.MaxPool2d((1, 2), stride=(1, 2), padding=(0, 1))
    y = m.forward(x)
    dx = m.backward(np.ones_like(y))
    np.testing.assert_array_equal(dx, [[[[1.0, 0.0, 1.0, 1.0]]]])  # PyTorch's dx


@pytest.mark.parametrize("kwargs", [
    dict(kernel_size=3, stride=2, padding=1),
    dict(kernel_size=3, stride=2, padding=1, ceil_mode=True),
    dict(kernel_size=(3, 2), stride=(2, 1), padding=(1, 1), ceil_mode=True),
    dict(kernel_size=3, stride=2, padding=1, dilation=2),
    dict(kernel_size=2, stride=1, padding=1),
])
@pytest.mark.parametrize("fill", ["all_neg_inf", "some_neg_inf"])
def test_neg_inf_windows_match_torch(torch, kwargs, fill):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 3, 7, 6))
    if fill == "all_neg_inf":
        x[:] = -INF
    else:
        x[x > 0.2] = -INF  # most windows hold some -inf, some hold nothing else
    (y, dx), (ty, tdx) = forward_backward_both(torch, x, **kwargs)
    np.testing.assert_array_equal(y, ty)
    np.testing.assert_allclose(dx, tdx, rtol=1e-12, atol=0)
    assert np.any(dx != 0)
