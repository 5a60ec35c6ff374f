"""bn-noise lab: Var(μ_B) = σ²/M and Var(σ_B) ≈ σ²(κ-1)/(4M) on known populations and on Fashion-MNIST
activations; the report's sentences on made-up numbers."""
import numpy as np
import pytest

from backproplab.labs import bn_noise as lab
from backproplab.report.i18n import language


def test_kurtosis_and_variance_formulas_on_known_distributions():
    # population [0, 0, 0, 1] per unit: mean 1/4, σ² = 3/16, 4th central moment (3·(1/4)⁴ + (3/4)⁴)/4 = 21/256;
    # κ = (21/256)/(9/256) = 7/3
    vals = np.tile(np.array([[0.0], [0.0], [0.0], [1.0]]), (250, 1))  # (1000, 1)
    _, st = lab.compare(vals, [8], 50, np.random.default_rng(0), unit=0)
    assert st["kappa"][0] == pytest.approx(7 / 3, rel=1e-12)
    assert st["var"][0] == pytest.approx(3 / 16, rel=1e-12)
    # uniform(0, 1): σ² = 1/12, κ = 9/5 → Var(σ_B) ≈ (1/12)(4/5)/(4M); M = 256: 6.51e-5; Var(μ_B) = 1/(12·256)
    rng = np.random.default_rng(0)
    u = rng.random((200_000, 1))
    rows, _ = lab.compare(u, [256], 3000, rng, unit=0)
    assert rows[0]["unit_var_mu"] == pytest.approx(1 / (12 * 256), rel=0.1)
    assert rows[0]["unit_var_sigma"] == pytest.approx((1 / 12) * 0.8 / (4 * 256), rel=0.1)


def test_gaussian_check_against_the_document_forms():
    # σ = 2, M = 256: σ²/M = 0.015625 (document σ/M = 0.0078125); σ²(κ-1)/(4M) = 4·2/1024 = 0.0078125,
    # document (ρ+2)/(4M) with ρ = 0: 2/1024 = 0.001953125
    row = lab.gaussian_check([256], 4000, np.random.default_rng(3))[0]
    assert row["theory_mu"] == 0.015625 and row["document_mu"] == 0.0078125
    assert row["theory_sigma"] == 0.0078125 and row["document_sigma"] == 0.001953125
    assert row["var_mu"] == pytest.approx(row["theory_mu"], rel=0.1)
    assert row["var_sigma"] == pytest.approx(row["theory_sigma"], rel=0.1)


def test_quick_run(tmp_path, lab_run, have_fashion_mnist):
    res, out = lab_run(lab, tmp_path)
    assert res["batch_sizes"] == [4, 16, 64]
    for key in ("pre_relu", "relu"):
        assert all(0.85 < r < 1.15 for r in res["ratio_mu"][key])
        assert 0.8 < res["ratio_sigma"][key][-1] < 1.2  # the formula holds at the largest M
    assert res["median_kappa"]["relu"] > res["median_kappa"]["pre_relu"]  # zeros from the ReLU fatten the tails
    assert (out / "bn_noise.csv").exists() and (out / "sigma_b.npz").exists() and (out / "gaussian.csv").exists()


def test_mu_sentence_both_ways():
    with language("en"):
        assert "holds" in str(lab.mu_sentence([0.98, 1.02], 2000))       # 3 SE = 0.095
        assert "NOT consistent" in str(lab.mu_sentence([0.8, 1.02], 2000))


def test_sigma_sentence_three_ways():
    ms = [2, 4, 8, 16]
    with language("en"):
        assert "at every M" in str(lab.sigma_sentence("z", ms, [0.97, 1.01, 1.0, 0.99], 2000))
        small = str(lab.sigma_sentence("z", ms, [0.64, 0.8, 1.0, 0.99], 2000))
        assert "only at the smallest batch sizes, M = 2, 4" in small and "from M = 8 on" in small
        assert "not only the small-M end" in str(lab.sigma_sentence("z", ms, [0.64, 1.0, 1.0, 0.7], 2000))


def test_kurtosis_and_gaussian_sentences_both_ways():
    row = {"M": 256, "var_mu": 0.0158, "theory_mu": 0.0156, "document_mu": 0.0078, "var_sigma": 0.0079,
           "theory_sigma": 0.0078, "document_sigma": 0.00195}
    with language("en"):
        assert "heavier tails after" in str(lab.kurtosis_sentence(2.8, 4.4))
        assert "NOT heavier" in str(lab.kurtosis_sentence(4.4, 2.8))
        assert "lacking the factor" in str(lab.gaussian_sentence(row))
        assert "is NOT closer" in str(lab.gaussian_sentence({**row, "var_sigma": 0.002}))


def test_a_population_without_spread_is_a_usage_error_not_a_crash():
    from backproplab.errors import UsageError

    rng = np.random.default_rng(0)
    with pytest.raises(UsageError, match="no unit of the hidden layer varies"):
        lab.compare(np.zeros((5, 3)), (2,), 10, rng, unit=0)
    two_images = np.array([[0.0, 1.0], [2.0, 5.0]])  # (N=2, units=2): every unit has kurtosis 1
    with pytest.raises(UsageError, match="kurtosis 1"):
        lab.compare(two_images, (2,), 10, rng, unit=0)
    with pytest.raises(UsageError, match="--train-size must be >= 3"):
        lab.Config(train_size=2)
