"""norm_stats: how many statistics batch, layer, instance and group normalization compute, over how many
values, and which depend on the batch."""
import pytest

from backproplab.calc.norm_stats import norm_stats


def test_norm_stats_counts_and_batch_dependence():
    v = norm_stats(8, 4, 6, 6, groups=2).values["norms"]
    assert (v["batch"]["statistics"], v["batch"]["values_per_statistic"]) == (4, 288)
    assert (v["layer"]["statistics"], v["layer"]["values_per_statistic"]) == (8, 144)
    assert (v["instance"]["statistics"], v["instance"]["values_per_statistic"]) == (32, 36)
    assert (v["group"]["statistics"], v["group"]["values_per_statistic"]) == (16, 72)
    assert {k: n["depends_on_batch"] for k, n in v.items()} == {"batch": True, "layer": False, "instance": False,
                                                                "group": False}
    with pytest.raises(ValueError, match="groups=3 must divide channels=4"):
        norm_stats(8, 4, groups=3)
