"""Checks shared by the layer tests: the PyTorch comparison of a layer table, and memory layouts."""
import numpy as np
import pytest

from backproplab.analysis import compare_with_torch

TOL = 1e-6


@pytest.fixture
def matches_torch():
    """``matches_torch(layer, twin, x, rng, tol=1e-6, forward=None)``: the layer against its PyTorch twin.

    The parameters must come in PyTorch's order; the forward output, dx and every parameter gradient agree
    within ``tol`` (relative error, float64, random dy), and every parameter gradient is non-zero, so that
    zeros compared with zeros cannot pass. Returns the errors by name.
    """
    def check(layer, twin, x, rng, tol=TOL, forward=None):
        ours = [(n, p.shape) for n, p in layer.named_parameters()]
        assert ours == [(n, tuple(p.shape)) for n, p in twin.named_parameters()]
        errors = compare_with_torch(layer, twin, x, rng, forward=forward)
        assert max(errors.values()) < tol, errors
        for name, p in layer.named_parameters():
            assert np.abs(p.grad).max() > 0, f"{name}: the gradient is all zeros"
        return errors

    return check


def _layouts(a):
    """The same (N, C, H, W) values stored four ways: NCHW, NHWC, CNHW and the layers' own CHWN."""
    return {"NCHW": np.ascontiguousarray(a),
            "NHWC": np.ascontiguousarray(a.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2),
            "CNHW": np.ascontiguousarray(a.transpose(1, 0, 2, 3)).transpose(1, 0, 2, 3),
            "CHWN": np.ascontiguousarray(a.transpose(1, 2, 3, 0)).transpose(3, 0, 1, 2)}


@pytest.fixture
def layouts_agree():
    """``layouts_agree(make)``: every memory layout of x and of dy gives the same y, dx and gradients.

    The layers pick their buffers by memory order (batch-innermost for convolution, the input's order
    for BatchNorm rows); the values must not depend on how x or dy happen to be stored. ``make(rng)``
    builds the layer (the same generator seed gives the same weights).
    """
    def check(make):
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

    return check
