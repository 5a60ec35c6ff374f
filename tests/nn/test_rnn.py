"""RNN (Elman, tanh; BPTT, several layers, variable lengths by lengths or mask): float64 central
differences with random upstream gradients, PyTorch float64 (packed sequences for variable lengths),
PyTorch's parameter names and init, per-step hidden gradient norms, errors."""
import numpy as np
import pytest

from backproplab.analysis import numerical_grad
from backproplab.nn import RNN

RTOL = 1e-6


def rel_err(a, b):
    """max |a - b| over the largest magnitude of either (one scale for the whole array)."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(a)), np.max(np.abs(b)), 1e-12))


def torch_rnn_like(torch, rnn):
    t = torch.nn.RNN(rnn.input_size, rnn.hidden_size, rnn.num_layers, bias=rnn.bias, batch_first=True).double()
    with torch.no_grad():
        for name, p in rnn.named_parameters():
            getattr(t, name).copy_(torch.from_numpy(p.data))
    return t


CASES = [  # N, T, input, hidden, layers, bias, lengths (None = all full), with h0
    (3, 5, 4, 6, 1, True, None, False),
    (4, 7, 3, 5, 1, True, [7, 2, 5, 1], True),
    (3, 6, 2, 4, 2, True, [3, 6, 1], True),
    (2, 4, 3, 3, 1, False, [4, 2], False),
    (5, 9, 4, 7, 3, True, [9, 9, 4, 8, 2], False),
]


def torch_forward(torch, t, tx, lens, th0, t_max):
    """PyTorch's outputs (N, T, H) and final states, through a packed sequence when lengths vary."""
    if lens is None:
        return t(tx, th0)
    packed = torch.nn.utils.rnn.pack_padded_sequence(tx, torch.from_numpy(lens), batch_first=True,
                                                     enforce_sorted=False)
    py, thn = t(packed, th0)
    ty, _ = torch.nn.utils.rnn.pad_packed_sequence(py, batch_first=True, total_length=t_max)
    return ty, thn


@pytest.mark.parametrize("n, t_max, i, h, layers, bias, lengths, with_h0", CASES)
def test_rnn_matches_torch(torch, n, t_max, i, h, layers, bias, lengths, with_h0):
    rng = np.random.default_rng(n * 100 + t_max)
    rnn = RNN(i, h, layers, bias, rng=rng).double()
    x = rng.standard_normal((n, t_max, i))
    h0 = rng.standard_normal((layers, n, h)) if with_h0 else None
    lens = None if lengths is None else np.array(lengths)
    y, h_last = rnn.forward(x, lens, h0)
    dy = rng.standard_normal(y.shape)
    dh = rng.standard_normal(h_last.shape)
    dx = rnn.backward(dy, dh)

    t = torch_rnn_like(torch, rnn)
    tx = torch.from_numpy(x).requires_grad_()
    th0 = torch.from_numpy(h0).requires_grad_() if with_h0 else None
    ty, thn = torch_forward(torch, t, tx, lens, th0, t_max)
    (torch.sum(ty * torch.from_numpy(dy)) + torch.sum(thn[-1] * torch.from_numpy(dh))).backward()

    assert rel_err(y, ty.detach().numpy()) < RTOL
    assert rel_err(h_last, thn[-1].detach().numpy()) < RTOL
    assert rel_err(rnn.h_n, thn.detach().numpy()) < RTOL
    assert rel_err(dx, tx.grad.numpy()) < RTOL
    if with_h0:
        assert rel_err(rnn.dh0, th0.grad.numpy()) < RTOL
    for name, p in rnn.named_parameters():
        assert rel_err(p.grad, getattr(t, name).grad.numpy()) < RTOL, name
    if lens is not None:  # padded inputs get no gradient
        assert np.all(dx[np.arange(t_max)[None, :] >= lens[:, None]] == 0)


def test_rnn_parameter_names_match_torch(torch):
    rnn = RNN(3, 400, 2, rng=np.random.default_rng(0))
    names = [n for n, _ in rnn.named_parameters()]
    assert names == [n for n, _ in torch.nn.RNN(3, 400, 2).named_parameters()]


def test_rnn_parameter_names_and_init():
    rnn = RNN(3, 400, 2, rng=np.random.default_rng(0))
    assert [n for n, _ in rnn.named_parameters()] == [f"{kind}_l{k}" for k in (0, 1) for kind in
                                                      ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
    w = rnn.weight_hh_l1.data
    bound = 1 / np.sqrt(400)
    assert w.max() <= bound and w.min() >= -bound and w.max() > 0.95 * bound  # U(-1/sqrt(H), 1/sqrt(H))


def test_rnn_gradcheck_variable_lengths():
    rng = np.random.default_rng(3)
    rnn = RNN(3, 4, 2, rng=rng).double()
    x = rng.standard_normal((3, 5, 3))
    h0 = rng.standard_normal((2, 3, 4))
    mask = np.array([[1, 1, 1, 1, 1], [1, 1, 0, 0, 0], [1, 1, 1, 1, 0]], bool)  # mask form of lengths
    dy = rng.standard_normal((3, 5, 4))
    dh = rng.standard_normal((3, 4))

    def loss():
        y, h_last = rnn.forward(x, h0=h0, mask=mask)
        return float(np.sum(y * dy) + np.sum(h_last * dh))

    loss()
    rnn.zero_grad()
    dx = rnn.backward(dy, dh)
    analytic = {name: p.grad.copy() for name, p in rnn.named_parameters()}
    dh0 = rnn.dh0.copy()
    for name, p in rnn.named_parameters():
        assert rel_err(analytic[name], numerical_grad(loss, p.data, 1e-6)) < 1e-7, name
    assert rel_err(dx, numerical_grad(loss, x, 1e-6)) < 1e-7
    assert rel_err(dh0, numerical_grad(loss, h0, 1e-6)) < 1e-7
    # a padded step leaves the state unchanged: h_last of sequence 1 is its state after step 2
    y, h_last = rnn.forward(x, h0=h0, mask=mask)
    assert np.array_equal(h_last[1], y[1, 1]) and np.all(y[1, 2:] == 0)


def test_rnn_hidden_grad_norms_and_errors():
    rng = np.random.default_rng(4)
    rnn = RNN(2, 3, rng=rng).double()
    x = rng.standard_normal((2, 6, 2))
    rnn.forward(x, np.array([6, 3]))
    dh = rng.standard_normal((2, 3))
    rnn.backward(None, dh)
    norms = rnn.hidden_grad_norms()
    assert norms.shape == (2, 6)
    assert np.allclose(norms[:, -1], np.linalg.norm(dh, axis=1))  # dL/dh_T = upstream
    assert np.allclose(norms[1, 3:], norms[1, -1])  # padded steps pass the gradient through unchanged
    with pytest.raises(ValueError):
        rnn.forward(x, np.array([7, 3]))
    with pytest.raises(ValueError):
        rnn.forward(x[:, :, :1])
