"""003 Q5: memory and time per step, Newton vs gradient descent."""
import pytest

from backproplab.calc.newton_cost import human_bytes, human_seconds, newton_cost


def test_rows_by_hand():
    r = newton_cost([1000], flops=1e9, batch_size=1).values["rows"][0]
    assert r["gd_bytes"] == 4_000 and r["newton_bytes"] == 4_000_000      # P and P² float32 numbers
    assert r["gd_flops"] == 6_000 + 2_000                                  # gradient 6P + update 2P
    # gradient 6e3 + Hessian P·2·6P = 1.2e7 + Cholesky 1e9/3 + solves 2e6 + update 2e3
    assert r["newton_flops"] == pytest.approx(6e3 + 1.2e7 + 1e9 / 3 + 2e6 + 2e3, rel=1e-12)
    assert r["newton_seconds"] == pytest.approx(r["newton_flops"] / 1e9, rel=1e-12)


def test_lu_costs_twice_the_cholesky_factorization():
    chol = newton_cost([10**6]).values["rows"][0]
    lu = newton_cost([10**6], solver="lu").values["rows"][0]
    assert lu["newton_factor_flops"] == pytest.approx(2 * chol["newton_factor_flops"], rel=1e-12)
    assert chol["newton_bytes"] == 4e12  # 4 TB for a million float32 parameters


def test_default_table_grows_as_p_cubed():
    rows = newton_cost().values["rows"]
    assert [r["params"] for r in rows] == [1_000, 1_000_000, 100_000_000]
    # from 1e6 to 1e8 parameters the factorization dominates: time x1e6, memory x1e4
    assert rows[2]["newton_seconds"] / rows[1]["newton_seconds"] == pytest.approx(1e6, rel=1e-3)
    assert rows[2]["newton_bytes"] / rows[1]["newton_bytes"] == pytest.approx(1e4, rel=1e-12)
    assert rows[2]["gd_seconds"] / rows[1]["gd_seconds"] == pytest.approx(100, rel=1e-12)


def test_human_units():
    assert human_bytes(4e12) == "4 TB" and human_bytes(512) == "512 B"
    assert human_seconds(3.33e6) == "38.5 days" and human_seconds(0.5) == "0.5 s"


@pytest.mark.parametrize("kwargs, message", [
    (dict(params=[0]), "params\\[0\\] must be positive"),
    (dict(params=[10], flops=0), "flops .* must be positive"),
    (dict(params=[10], solver="qr"), "unknown solver 'qr'"),
])
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        newton_cost(**kwargs)
