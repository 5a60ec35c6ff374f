"""The rnn-sentiment lab's --quick run on a slice of the real SST files."""
import json

import numpy as np
import pytest

from backproplab.data.sst import find_sst_dir
from backproplab.labs import rnn_sentiment


def test_quick_lab_run(tmp_path):
    try:
        find_sst_dir()
    except FileNotFoundError as e:
        pytest.skip(str(e))
    res = rnn_sentiment.run(rnn_sentiment.Config(quick=True), tmp_path)
    for f in ("report.md", "curves.csv", "accuracy_curves.png", "confusion_matrix.png", "hidden_grad_norms.png",
              "examples.json", "many_to_many.json", "config.json"):
        assert (tmp_path / f).is_file(), f
    curves = res["curves"]
    assert len(curves) == 3
    assert curves[-1]["train_loss"] < curves[0]["train_loss"]  # it learns on the slice
    conf = np.array(res["confusion"])
    assert conf.shape == (5, 5) and conf.sum() == 300
    assert res["test_acc"] == pytest.approx(np.trace(conf) / 300)
    best = max(curves, key=lambda r: r["dev_acc"])
    assert res["best_epoch"] == best["epoch"] and res["test_acc"] == pytest.approx(best["test_acc"])
    g = res["grad_profile"]["mean_norm"]
    assert g[0] > 10 * g[10]  # the gradient through time shrinks
    assert f"{res['test_acc']:.2%}" in (tmp_path / "report.md").read_text()
    examples = json.loads((tmp_path / "examples.json").read_text())
    assert all(abs(sum(e[f"p{c}"] for c in range(5)) - 1) < 0.01 for e in examples)
