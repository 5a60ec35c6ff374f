"""The init lab: its claims on quick data, and its sentences on made-up numbers both ways."""
import numpy as np
import pytest

from backproplab.labs import init_lab
from backproplab.labs.init_lab import (activation_at_zero, he_vs_zeros_text, symmetry_text, unit_symmetry,
                                       units_identical)
from backproplab.models import make_mlp
from backproplab.report.i18n import language


def text(msg):
    with language("en"):
        return str(msg)


def layer(rel_param, rel_output=0.0, weight_norm=0.0):
    return {"rel_param_diff": rel_param, "rel_output_diff": rel_output, "weight_norm": weight_norm}


def test_rounding_is_not_symmetry_breaking():
    # units that are copies up to float32 rounding (1.1e-15 off on weights of scale 3e-9): identical
    same = [layer(3.9e-7, 0.0, 6.3e-14), layer(0.0, 0.0, 3.1e-7)]
    assert units_identical(same)
    said = text(symmetry_text("zeros+sigmoid", same, "sigmoid", 0.5))
    assert "identical up to rounding" in said and "NOT" not in said
    assert "moved the same way" in said
    # units that learned different functions: not identical, and no claim that they moved alike
    apart = [layer(0.2, 0.5, 3.0), layer(1e-9, 0.0, 2.0)]
    assert not units_identical(apart)
    said = text(symmetry_text("he", apart, "relu", 0.0))
    assert "NOT identical" in said and "moved the same way" not in said
    assert not units_identical([layer(0.0, 2e-5)])  # the outputs count too


def test_the_never_moved_sentence_names_its_reason_only_where_it_holds():
    still = [layer(0.0), layer(0.0)]
    assert "`relu(0) = 0`" in text(symmetry_text("zeros", still, "relu", activation_at_zero("relu")))
    assert "(0) = 0" not in text(symmetry_text("zeros", still, "sigmoid", activation_at_zero("sigmoid")))
    assert activation_at_zero("sigmoid") == pytest.approx(0.5) and activation_at_zero("tanh") == 0.0


def test_he_against_zeros_both_ways():
    row = lambda m, a: {"model": m, "final_test_acc": a}  # noqa: E731
    assert text(he_vs_zeros_text([row("he", 0.98), row("zeros", 0.5)])).startswith("He beats")
    assert "does NOT beat" in text(he_vs_zeros_text([row("he", 0.5), row("zeros", 0.6)]))
    assert "the same test accuracy" in text(he_vs_zeros_text([row("he", 0.5), row("zeros", 0.5)]))
    assert he_vs_zeros_text([row("he", 0.9)]) is None


def test_unit_symmetry_measures_relative_to_the_layer():
    model = make_mlp(5, (4, 3), 2, "sigmoid", "zeros", rng=np.random.default_rng(0))
    lin = model[0]
    lin.weight.data[:] = 1e-3
    lin.weight.data[1, 0] = np.nextafter(np.float32(1e-3), np.float32(1))  # one float32 step apart
    stats = unit_symmetry(model, np.ones((2, 5), np.float32))
    assert stats[0]["max_weight_diff"] > 0 and stats[0]["rel_param_diff"] < 1e-5
    lin.weight.data[1, 0] = 2e-3  # a real difference: 1e-3 on a largest value of 2e-3
    stats = unit_symmetry(model, np.ones((2, 5), np.float32))
    assert stats[0]["rel_param_diff"] == pytest.approx(0.5, rel=1e-6)


def test_quick_run_he_learns_and_all_zeros_units_stay_identical(tmp_path, lab_run):
    result, folder = lab_run(init_lab, tmp_path / "init")
    rows = {r["model"]: r for r in result["rows"]}
    assert rows["he"]["final_test_acc"] > rows["zeros"]["final_test_acc"] + 0.2
    assert rows["zeros"]["stalled"] and not rows["he"]["stalled"]
    assert rows["zeros"]["identical_units"] and rows["zeros+sigmoid"]["identical_units"]
    assert not rows["he"]["identical_units"]
    sym = result["runs"]["zeros+sigmoid"]["symmetry_after"]
    assert sym[-1]["weight_norm"] > 0  # sigmoid(0) = 1/2: the zero weights do move, all alike
    report = (folder / "report.md").read_text()
    assert "`zeros+sigmoid`: after training its hidden units are identical up to rounding" in report
    assert "NOT identical" not in report
    assert (folder / "symmetry.png").exists() and (folder / "init_activation_stats.png").exists()


def test_config_ranges():
    from backproplab.labs.config import ConfigError

    with pytest.raises(ConfigError, match="--inits"):
        init_lab.Config(inits=("zeros", "huge"))
    with pytest.raises(ConfigError, match="--lr"):
        init_lab.Config(lr=0)
    assert [m[0] for m in init_lab.models_of(init_lab.Config(symmetry_activation=None))] == \
        ["zeros", "small", "large", "xavier", "he"]


def test_a_large_scale_that_overflows_float32_weights_is_refused():
    from backproplab.labs.config import ConfigError

    with pytest.raises(ConfigError, match=r"--large-scale must be \(0, 1000\]"):
        init_lab.Config(large_scale=1e300)
    assert init_lab.Config(large_scale=1000.0).large_scale == 1000.0
