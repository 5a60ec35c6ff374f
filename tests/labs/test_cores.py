"""labs.cores: a lab wraps its model in nn.DataParallel only when more than one core is asked for."""
import sys

import numpy as np
import pytest

from backproplab import nn
from backproplab.labs.cores import on_cores, shard_count


def mlp():
    rng = np.random.default_rng(0)
    return nn.Sequential(nn.Linear(4, 3, rng=rng), nn.ReLU(), nn.Linear(3, 2, rng=rng))


def test_labs_wrap_models_only_when_more_than_one_core_is_asked_for():
    model = mlp()
    assert on_cores(model, 1) == (model, 1)
    wrapped, threads = on_cores(model, 3)
    assert isinstance(wrapped, nn.DataParallel) and wrapped.module is model and threads == 3
    assert wrapped.backend == ("process" if sys.platform.startswith("linux") else "thread")
    assert shard_count(0) == shard_count(None) == nn.available_cores()
    with pytest.raises(ValueError, match="--threads must be 0"):
        on_cores(model, -2)
    with pytest.raises(ValueError, match="--threads must be 0"):
        shard_count(True)
