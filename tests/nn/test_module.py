"""Module, Parameter, Sequential: PyTorch's parameter names, state dicts, modes, dtypes (float32 end to
end, optimizer included), gradient accumulation and the needs_input_grad shortcut."""
import numpy as np
import pytest

from backproplab import nn, optim
from backproplab.analysis import check_module_grads


def our_model(rng):
    """Nested Sequential with every kind of parameter layout (weights not yet shared with the twin)."""
    return nn.Sequential(nn.Flatten(), nn.Linear(12, 5, rng=rng), nn.ReLU(), nn.Linear(5, 4, bias=False, rng=rng),
                         nn.PReLU(4), nn.Sequential(nn.Linear(4, 3, rng=rng), nn.Tanh()), nn.Dropout(0.2, rng=rng))


def torch_twin(torch):
    """The same architecture in PyTorch."""
    return torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(12, 5), torch.nn.ReLU(),
                               torch.nn.Linear(5, 4, bias=False), torch.nn.PReLU(4),
                               torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.Tanh()), torch.nn.Dropout(0.2))


def test_named_parameters_match_torch(torch):
    ours, theirs = our_model(np.random.default_rng(0)), torch_twin(torch)
    names = [(n, p.shape) for n, p in ours.named_parameters()]
    expected = [(n, tuple(p.shape)) for n, p in theirs.named_parameters()]
    assert names == expected
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert ours.num_parameters() == sum(p.numel() for p in theirs.parameters())


def test_torch_state_dict_loads_and_gives_torch_outputs(torch):
    rng = np.random.default_rng(1)
    ours, theirs = our_model(rng), torch_twin(torch).double().eval()
    ours.double().eval()
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    x = rng.standard_normal((6, 3, 4))
    y = ours.forward(x)
    assert y.dtype == np.float64
    np.testing.assert_allclose(y, theirs(torch.from_numpy(x)).detach().numpy(), rtol=1e-12, atol=1e-14)


def test_state_dict_round_trip_is_a_copy():
    rng = np.random.default_rng(2)
    a = our_model(rng)
    b = our_model(np.random.default_rng(99))
    sd = a.state_dict()
    b.load_state_dict(sd)
    for (na, pa), (nb, pb) in zip(a.named_parameters(), b.named_parameters()):
        assert na == nb and np.array_equal(pa.data, pb.data) and pa.data is not pb.data
    sd["1.weight"][...] = 7.0  # the state dict holds copies: the model is unaffected
    assert not np.any(a[1].weight.data == 7.0)
    x = rng.standard_normal((3, 12))
    a.eval(), b.eval()
    assert np.array_equal(a.forward(x), b.forward(x))


def test_load_state_dict_errors():
    rng = np.random.default_rng(3)
    model = our_model(rng)
    sd = model.state_dict()
    bad = dict(sd, **{"1.weight": np.zeros((5, 13))})
    with pytest.raises(ValueError, match=r"1\.weight.*\(5, 13\).*\(5, 12\)"):
        model.load_state_dict(bad)
    missing = {k: v for k, v in sd.items() if k != "3.weight"}
    with pytest.raises(KeyError, match="missing keys.*3.weight"):
        model.load_state_dict(missing)
    with pytest.raises(KeyError, match="unexpected keys.*extra"):
        model.load_state_dict(dict(sd, extra=np.zeros(1)))
    model.load_state_dict(missing, strict=False)  # non-strict: loads what is there


def test_train_eval_propagate_to_nested_modules():
    model = our_model(np.random.default_rng(4))
    assert model.eval() is model
    assert all(not m.training for m in model.modules())
    model.train()
    assert all(m.training for m in model.modules())
    model[5].eval()  # a nested Sequential alone
    assert [m.training for m in model[5].modules()] == [False, False, False] and model[1].training


def test_double_and_float_cast_parameters_grads_and_outputs():
    rng = np.random.default_rng(5)
    model = our_model(rng)
    assert all(p.data.dtype == np.float32 for p in model.parameters())
    model.double()
    assert all(p.data.dtype == np.float64 and p.grad.dtype == np.float64 for p in model.parameters())
    model.eval()
    assert model.forward(rng.standard_normal((2, 12))).dtype == np.float64
    model.float()
    assert all(p.data.dtype == np.float32 and p.grad.dtype == np.float32 for p in model.parameters())
    out = model.forward(rng.standard_normal((2, 12)).astype(np.float32))
    assert out.dtype == np.float32


def test_backward_adds_into_grad_and_zero_grad_resets():
    rng = np.random.default_rng(6)
    layer = nn.Linear(4, 3, rng=rng).double()
    x, dy = rng.standard_normal((5, 4)), rng.standard_normal((5, 3))
    layer.zero_grad()
    layer.forward(x)
    layer.backward(dy)
    once = {n: p.grad.copy() for n, p in layer.named_parameters()}
    np.testing.assert_allclose(once["weight"], dy.T @ x, rtol=1e-13)
    layer.backward(dy)  # no zero_grad: contributions add up
    for n, p in layer.named_parameters():
        np.testing.assert_allclose(p.grad, 2 * once[n], rtol=1e-13)
    layer.zero_grad()
    assert all(np.all(p.grad == 0) for p in layer.parameters())
    layer.zero_grad()
    layer.weight.grad += 1.0  # someone else adds first: the product must add to it, not overwrite it
    layer.backward(dy)
    np.testing.assert_allclose(layer.weight.grad, once["weight"] + 1.0, rtol=1e-13)


def test_needs_input_grad_false_skips_dx_and_keeps_parameter_grads():
    rng = np.random.default_rng(7)
    model = nn.Sequential(nn.Flatten(), nn.Linear(6, 4, rng=rng), nn.ReLU(), nn.Linear(4, 2, rng=rng)).double()
    x, dy = rng.standard_normal((3, 2, 3)), rng.standard_normal((3, 2))
    model.forward(x)
    model.zero_grad()
    dx = model.backward(dy)
    assert dx.shape == x.shape
    full = [p.grad.copy() for p in model.parameters()]
    model.needs_input_grad = False
    assert [m.needs_input_grad for m in model] == [False, False, True, True]
    model.zero_grad()
    assert model.backward(dy) is None
    for g, p in zip(full, model.parameters()):
        np.testing.assert_array_equal(g, p.grad)
    model.needs_input_grad = True
    model.zero_grad()
    np.testing.assert_array_equal(model.backward(dy), dx)


def test_sequential_gradcheck():
    rng = np.random.default_rng(8)
    model = nn.Sequential(nn.Linear(5, 4, rng=rng), nn.Tanh(), nn.Linear(4, 3, rng=rng), nn.Sigmoid()).double()
    errors = check_module_grads(model, rng.standard_normal((3, 5)), rng)
    assert set(errors) == {"x", "0.weight", "0.bias", "2.weight", "2.bias"}
    assert max(errors.values()) < 1e-6, errors


def test_repr_names_children():
    model = nn.Sequential(nn.Linear(3, 2, rng=np.random.default_rng(0)), nn.LeakyReLU(0.2))
    text = repr(model)
    assert "(0): Linear(in_features=3, out_features=2, bias=True)" in text and "negative_slope=0.2" in text


def test_float32_end_to_end_no_upcast():
    """A float32 model stays float32 after every layer, in every gradient and in the optimizer."""
    rng = np.random.default_rng(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(12, 8, rng=rng), nn.ReLU(), nn.Dropout(0.2, rng=rng),
                          nn.Linear(8, 8, rng=rng), nn.LeakyReLU(), nn.GaussianDropout(0.2, rng=rng),
                          nn.Linear(8, 8, rng=rng), nn.PReLU(8), nn.ELU(), nn.Tanh(), nn.Sigmoid(), nn.Identity(),
                          nn.Linear(8, 3, rng=rng))
    opt = optim.Adam(model.parameters(), lr=1e-3, weight_decay=1e-4)
    x = rng.standard_normal((5, 3, 4)).astype(np.float32)
    for layer in model:
        x = layer.forward(x)
        assert x.dtype == np.float32, type(layer).__name__
    loss_fn = nn.CrossEntropyLoss()
    loss_fn(x, rng.integers(0, 3, 5))
    dy = loss_fn.backward()
    for layer in reversed(model.layers):
        dy = layer.backward(dy)
        assert dy.dtype == np.float32, type(layer).__name__
    opt.step()
    for name, p in model.named_parameters():
        assert p.data.dtype == p.grad.dtype == np.float32, name


def test_float32_conv_stack_stays_float32():
    rng = np.random.default_rng(12)
    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1, rng=rng), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
                          nn.AvgPool2d(2), nn.GlobalAvgPool2d())
    x = rng.standard_normal((2, 1, 8, 8)).astype(np.float32)
    y = model(x)
    dx = model.backward(rng.standard_normal(y.shape).astype(np.float32))
    assert y.dtype == np.float32 and dx.dtype == np.float32
    assert all(p.grad.dtype == np.float32 for p in model.parameters())
