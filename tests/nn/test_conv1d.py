"""Conv1d's kernel_size/stride/padding/dilation: an int or a 1-tuple as PyTorch, a 2-tuple refused."""
import numpy as np
import pytest

from backproplab import nn
from backproplab.analysis import rel_error

torch = pytest.importorskip("torch")


@pytest.mark.parametrize("kwargs", [dict(kernel_size=(3,)), dict(kernel_size=[3], stride=(2,)),
                                    dict(kernel_size=3, padding=(1,), dilation=(2,)),
                                    dict(kernel_size=(2,), padding="same", dilation=(2,))])
def test_one_tuples_work_as_in_torch(kwargs):
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
def test_two_tuples_are_refused_as_in_torch(name):
    kwargs = {"kernel_size": 3, name: (2, 2)}
    with pytest.raises(RuntimeError):  # PyTorch refuses at construction or at the first forward
        torch.nn.Conv1d(1, 1, **kwargs)(torch.zeros(1, 1, 9))
    with pytest.raises(ValueError, match=rf"Conv1d: {name} must be an int or a 1-tuple, got \(2, 2\)"):
        nn.Conv1d(1, 1, rng=np.random.default_rng(0), **kwargs)


@pytest.mark.parametrize("kwargs, message", [(dict(kernel_size=0), "kernel_size must be >= 1"),
                                             (dict(kernel_size=3, padding=-1), "padding must be >= 0"),
                                             (dict(kernel_size=()), "1-tuple, got \\(\\)"),
                                             (dict(kernel_size=2.5), "must be an int")])
def test_bad_values(kwargs, message):
    with pytest.raises(ValueError, match=message):
        nn.Conv1d(1, 1, rng=np.random.default_rng(0), **kwargs)
