"""Tests of the gradcam lab. Expected values are computed here in a different way than the lab computes them."""
from __future__ import annotations

import json

import numpy as np
import pytest


# -- the gradcam lab ------------------------------------------------------------------------------------------
def test_gradcam_lab_from_cnn_run(tmp_path):
    from backproplab.data.fashion_mnist import load_fashion_mnist
    from backproplab.labs import gradcam
    from backproplab.models.cnn import make_cnn

    # a cnn-lab-like run folder: config.json with the builder keys + np.savez weights
    run_dir = tmp_path / "cnn"
    run_dir.mkdir()
    model = make_cnn(np.random.default_rng(5), channels=(4, 8), hidden=0, dropout=0.0)
    model.eval()
    for name, b in model.named_buffers():  # non-trivial running stats, so a wrong load shows
        if name.endswith("running_var"):
            b[...] = 0.5
    np.savez(run_dir / "model_weights.npz", **model.state_dict())
    (run_dir / "config.json").write_text(json.dumps({"channels": [4, 8], "hidden": 0, "dropout": 0.0}))
    res = gradcam.run(gradcam.Config(cnn_run=str(run_dir), eval_size=200, num_examples=2), tmp_path / "out")
    data = load_fashion_mnist(None, flatten=False)
    expected = float(np.mean(model.forward(data.x_test[:200]).argmax(axis=1) == data.y_test[:200]))
    assert res["accuracy"] == pytest.approx(expected, abs=1e-12)
    assert res["layer"] == "6"  # conv-BN-ReLU-pool-conv-BN-ReLU: the last ReLU with a (N, 8, 14, 14) output
    info = json.loads((tmp_path / "out" / "model.json").read_text())
    assert info["activation_shape"] == [14, 14] and not info["trained_here"]
    rows = res["examples"]
    assert 1 <= len(rows) <= 4 and all((r["cam_object_share"] is None) == r["cam_all_zero"] for r in rows)
    assert (tmp_path / "out" / "gradcam.png").stat().st_size > 1000


def test_gradcam_lab_trains_its_own_cnn(tmp_path):
    from backproplab.labs import gradcam

    res = gradcam.run(gradcam.Config(quick=True, train_size=64, eval_size=100, num_examples=1), tmp_path)
    assert 0.0 <= res["accuracy"] <= 1.0 and "trained here" in (tmp_path / "report.md").read_text()
    with pytest.raises(FileNotFoundError, match="no such folder"):
        gradcam.run(gradcam.Config(cnn_run=str(tmp_path / "missing")), tmp_path / "x")
