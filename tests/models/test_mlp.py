"""models.make_mlp: layer layout and weight shapes as PyTorch, gradients, zeros init, dropout."""
import numpy as np
import pytest

from backproplab.analysis import check_module_grads
from backproplab.models import make_mlp


@pytest.mark.parametrize("hidden, activation, names", [
    ((), "relu", ["0.weight", "0.bias"]),
    ((5,), "sigmoid", ["0.weight", "0.bias", "2.weight", "2.bias"]),
    ((5, 4), "prelu", ["0.weight", "0.bias", "1.weight", "2.weight", "2.bias", "3.weight", "4.weight", "4.bias"]),
])
def test_make_mlp_layout(hidden, activation, names):
    model = make_mlp(6, hidden, 3, activation, "he", rng=np.random.default_rng(0))
    assert [n for n, _ in model.named_parameters()] == names
    widths = [6, *hidden, 3]
    weights = [p for n, p in model.named_parameters() if n.endswith("weight") and p.data.ndim == 2]
    assert [w.shape for w in weights] == [(o, i) for i, o in zip(widths, widths[1:])]  # PyTorch (out, in)
    assert all(p.data.dtype == np.float32 for _, p in model.named_parameters())
    assert model.forward(np.zeros((2, 6), np.float32)).shape == (2, 3)


@pytest.mark.parametrize("activation, init", [("tanh", "xavier"), ("elu", "he"), ("leaky_relu", "pytorch")])
def test_make_mlp_gradients_match_central_differences(activation, init):
    rng = np.random.default_rng(1)
    model = make_mlp(7, (6, 5), 3, activation, init, rng=rng, dtype=np.float64)
    errs = check_module_grads(model, rng.normal(size=(4, 7)), rng)
    assert set(errs) == {"x", *(n for n, _ in model.named_parameters())}
    assert max(errs.values()) < 1e-6, errs


def test_make_mlp_zeros_init_and_bad_sizes():
    model = make_mlp(4, (3,), 2, "relu", "zeros", rng=np.random.default_rng(0))
    assert all(np.all(p.data == 0) for p in model.parameters())
    with pytest.raises(ValueError):
        make_mlp(4, (0,), 2, rng=np.random.default_rng(0))


def test_make_mlp_dropout_layers():
    from backproplab.nn import Dropout

    model = make_mlp(6, (5, 4), 3, "relu", "he", rng=np.random.default_rng(0), dropout=0.5)
    assert [type(m).__name__ for m in model] == ["Linear", "ReLU", "Dropout", "Linear", "ReLU", "Dropout", "Linear"]
    assert all(m.p == 0.5 for m in model if isinstance(m, Dropout))
    x = np.random.default_rng(1).random((8, 6), dtype=np.float32)
    model.eval()
    np.testing.assert_array_equal(model.forward(x), model.forward(x))  # no masks in eval mode
    model.train()
    assert not np.array_equal(model.forward(x), model.forward(x))  # fresh masks per call
