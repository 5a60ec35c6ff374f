"""utils.cores.per_core_blocks: the work is split along the given axis into one block per core, and small
inputs stay in one block."""
import numpy as np

from backproplab.utils import cores, per_core_blocks


def test_per_core_blocks_splits_along_the_axis(monkeypatch):
    monkeypatch.setattr(cores, "available_cores", lambda: 3)
    a = np.arange(2 * 1000 * 3).reshape(2, 1000, 3)
    calls = []

    def fn(block):
        calls.append(block.shape)
        return block * 2

    assert np.array_equal(per_core_blocks(fn, 1000, a, axis=1, min_block=100), a * 2)
    assert sorted(calls) == [(2, 333, 3), (2, 333, 3), (2, 334, 3)]
    calls.clear()
    b = a[:, :500]
    assert np.array_equal(per_core_blocks(fn, 500, b, axis=1), b * 2) and calls == [(2, 500, 3)]  # < 256 per core
