"""The sandbox's limits refuse values no process limit can express."""
import math

import pytest

from backproplab.check.sandbox import Limits


@pytest.mark.parametrize("timeout_s", [0.0, -1.0, math.inf, math.nan])
def test_a_timeout_must_be_finite_and_positive(timeout_s):
    with pytest.raises(ValueError, match="need a finite timeout > 0 s"):
        Limits(timeout_s=timeout_s)


def test_memory_below_64_mib_is_refused():
    with pytest.raises(ValueError, match="memory >= 64 MiB"):
        Limits(memory_bytes=1 << 20)
    assert Limits(timeout_s=0.5).timeout_s == 0.5
