"""MaxPool2d with padding where a window's real inputs are all -inf: the gradient goes to the first
real input (PyTorch's choice), not to the padding that ties with it."""
import numpy as np
import pytest

from backproplab import nn

torch = pytest.importorskip("torch")
INF = np.inf


def forward_backward_both(x, dy_seed=0, **kwargs):
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
def test_neg_inf_windows_match_torch(kwargs, fill):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 3, 7, 6))
    if fill == "all_neg_inf":
        x[:] = -INF
    else:
        x[x > 0.2] = -INF  # most windows hold some -inf, some hold nothing else
    (y, dx), (ty, tdx) = forward_backward_both(x, **kwargs)
    np.testing.assert_array_equal(y, ty)
    np.testing.assert_allclose(dx, tdx, rtol=1e-12, atol=0)
    assert np.any(dx != 0)
