"""The activations lab: vanishing gradients in deep sigmoid nets, and its sentences on made-up numbers."""
from backproplab.labs import activations
from backproplab.labs.activations import vanishing


def test_vanishing_names_the_layers_below_the_threshold():
    assert vanishing([0.001, 0.01, 0.5, 1.0]) == [1, 2]
    assert vanishing([0.5, 0.2, 1.0]) == []
    assert vanishing([0.0, 0.0]) == []  # no output gradient: nothing to compare with


def test_depth5_sigmoid_gradients_vanish_but_relu_do_not(tmp_path, lab_run):
    result, folder = lab_run(activations, tmp_path / "act", activations=("sigmoid", "relu"), depths=(1, 5))
    rows = {r["model"]: r for r in result["rows"]}
    sig, relu = rows["sigmoid-d5"], rows["relu-d5"]
    assert sig["grad_ratio_first_last_epoch1"] < 0.1 < relu["grad_ratio_first_last_epoch1"]
    assert sig["vanished_layers"] and not relu["vanished_layers"]
    assert result["vanished"] == ["sigmoid"]
    report = (folder / "report.md").read_text()
    assert f"{sig['grad_ratio_first_last_epoch1']:.2e}" in report
    assert "## Training problems" in report
