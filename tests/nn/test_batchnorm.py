"""BatchNorm1d and BatchNorm2d: forward, every gradient and the running statistics against PyTorch through
train, train, eval (relative error < 1e-6), float64 central differences with a random dy in both modes
(the sum of a normalized output does not depend on x, so dy = ones would compare zeros with zeros),
PyTorch's state-dict keys, memory layouts, and errors that name the sizes."""
import numpy as np
import pytest

from backproplab import nn
from backproplab.analysis import check_module_grads, rel_error

TOL = 1e-6
H = 1e-4  # BatchNorm is smooth: the truncation error is about h² = 1e-8


@pytest.mark.parametrize("name,shape", [("BatchNorm2d", (4, 3, 5, 6)), ("BatchNorm1d", (7, 5)),
                                        ("BatchNorm1d", (4, 3, 6))])
@pytest.mark.parametrize("momentum", [0.1, None])
def test_batchnorm_matches_torch_train_then_eval(torch, matches_torch, name, shape, momentum):
    rng = np.random.default_rng(8)
    m = getattr(nn, name)(shape[1], momentum=momentum).double()
    t = getattr(torch.nn, name)(shape[1], momentum=momentum).double()
    m.weight.data[:] = rng.standard_normal(shape[1])
    m.bias.data[:] = rng.standard_normal(shape[1])
    for mode in ("train", "train", "eval"):
        getattr(m, mode)(), getattr(t, mode)()
        t.zero_grad()
        matches_torch(m, t, rng.standard_normal(shape) * 3 + 1, rng, TOL)
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


def test_every_memory_layout_of_x_and_dy_gives_the_same_numbers(layouts_agree):
    layouts_agree(lambda rng: nn.BatchNorm2d(4))


def test_wrong_channel_count_names_the_sizes():
    with pytest.raises(ValueError, match=r"BatchNorm2d\(3\).*\(2, 4, 3, 3\)"):
        nn.BatchNorm2d(3).forward(np.zeros((2, 4, 3, 3)))
