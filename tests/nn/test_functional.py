"""nn.functional.softmax / log_softmax against torch in float64, including logits that overflow exp."""
import numpy as np
import pytest

from backproplab.analysis import rel_error
from backproplab.nn import functional as F


@pytest.mark.parametrize("shape, axis", [((5, 7), -1), ((5, 7), 0), ((2, 3, 4), 1), ((6,), 0)])
@pytest.mark.parametrize("scale", [1.0, 1e3])  # 1e3: e^{x} overflows without the max shift
def test_matches_torch(torch, shape, axis, scale):
    x = np.random.default_rng(0).standard_normal(shape) * scale
    tx = torch.tensor(x)
    p, lp = F.softmax(x, axis=axis), F.log_softmax(x, axis=axis)
    assert rel_error(p, torch.softmax(tx, dim=axis).numpy()) < 1e-12
    assert rel_error(lp, torch.log_softmax(tx, dim=axis).numpy()) < 1e-12
    assert np.all(np.isfinite(lp)) and np.allclose(p.sum(axis=axis), 1.0, rtol=1e-14)


def test_dtypes_and_inputs_left_alone():
    x = np.array([[1.0, 2.0, 3.0]], np.float32)
    before = x.copy()
    assert F.softmax(x).dtype == np.float32 and F.log_softmax(x).dtype == np.float32
    np.testing.assert_array_equal(x, before)
    assert F.softmax(np.array([1, 2, 3])).dtype == np.float64
