"""residual_gradient: the first block's gradient vanishes with depth in a plain sigmoid stack, not in a residual one."""
from backproplab.calc.residual_gradient import residual_gradient


def test_residual_stack_keeps_the_gradient():
    rows = residual_gradient([2, 10], width=8, seed=0).values["rows"]
    plain = [r["plain_w1"] for r in rows]
    assert plain[1] < 1e-3 * plain[0]          # sigmoid blocks: the plain gradient vanishes with depth
    assert all(r["residual_w1"] > 0.1 * rows[0]["residual_w1"] for r in rows)
    assert rows[1]["ratio_w1"] > 1e3
