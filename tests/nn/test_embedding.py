"""Embedding: PyTorch float64 (forward and the weight gradient, repeated ids and padding_idx), float64
central differences with a random dy (the padding row stays frozen), PyTorch's N(0, 1) init, errors."""
import numpy as np
import pytest

from backproplab.analysis import numerical_grad
from backproplab.nn import Embedding

RTOL = 1e-6


def rel_err(a, b):
    """max |a - b| over the largest magnitude of either (one scale for the whole array)."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(a)), np.max(np.abs(b)), 1e-12))


@pytest.mark.parametrize("num, dim, padding_idx, shape", [
    (7, 3, None, (4, 5)),
    (5, 4, 0, (3, 6)),
    (6, 2, -1, (2, 3, 4)),
])
def test_embedding_matches_torch(torch, num, dim, padding_idx, shape):
    rng = np.random.default_rng(num * 10 + dim)
    emb = Embedding(num, dim, padding_idx, rng=rng).double()
    x = rng.integers(0, num, shape)
    x.flat[:3] = num - 1 if padding_idx == -1 else 0  # repeated ids and the padding id occur
    if padding_idx is not None:
        assert np.all(emb.weight.data[padding_idx % num] == 0)
    dy = rng.standard_normal(shape + (dim,))
    y = emb(x)
    emb.backward(dy)
    t = torch.nn.Embedding(num, dim, padding_idx=padding_idx).double()
    with torch.no_grad():
        t.weight.copy_(torch.from_numpy(emb.weight.data))
    ty = t(torch.from_numpy(x))
    ty.backward(torch.from_numpy(dy))
    assert rel_err(y, ty.detach().numpy()) < RTOL
    assert rel_err(emb.weight.grad, t.weight.grad.numpy()) < RTOL


def test_embedding_init_and_errors():
    emb = Embedding(1000, 50, rng=np.random.default_rng(0))
    assert emb.weight.data.dtype == np.float32
    assert abs(emb.weight.data.std() - 1.0) < 0.02  # N(0, 1) as PyTorch; 0.02 is 6 standard errors of 50,000 draws
    with pytest.raises(IndexError):
        emb(np.array([[0, 1000]]))
    with pytest.raises(TypeError):
        emb(np.array([0.5]))


def test_embedding_gradcheck():
    rng = np.random.default_rng(1)
    emb = Embedding(5, 3, padding_idx=2, rng=rng).double()
    x = np.array([[0, 2, 4, 4], [1, 0, 2, 2]])
    dy = rng.standard_normal((2, 4, 3))
    emb(x)
    emb.backward(dy)
    num = numerical_grad(lambda: float(np.sum(emb(x) * dy)), emb.weight.data, 1e-6)
    num[2] = 0  # the padding row is frozen by definition
    assert rel_err(emb.weight.grad, num) < 1e-8
    assert np.all(emb.weight.grad[2] == 0)
