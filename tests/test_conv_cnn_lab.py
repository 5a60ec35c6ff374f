"""The cnn lab in quick mode: it trains, learns something, writes its outputs and loadable weights."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from backproplab.data.fashion_mnist import locate_fashion_mnist
from backproplab.labs import cnn
from backproplab.models.cnn import make_cnn, model_from_run


def _have_data() -> bool:
    try:
        locate_fashion_mnist(None)
        return True
    except Exception:
        return False


def test_make_cnn_shapes_and_bad_channels():
    rng = np.random.default_rng(0)
    model = make_cnn(rng, num_classes=7, channels=(4, 8))
    assert model.forward(np.zeros((3, 1, 28, 28), np.float32)).shape == (3, 7)
    with pytest.raises(ValueError, match="channels"):
        make_cnn(rng, channels=(4,))


@pytest.mark.skipif(not _have_data(), reason="Fashion-MNIST files not found")
def test_quick_cnn_lab(tmp_path: Path):
    out = tmp_path / "cnn"
    res = cnn.run(cnn.Config(quick=True, channels=(8, 16, 16), hidden=32), out)
    assert res["epochs"] == 2
    assert res["test_acc"] > 0.4  # 10 classes: chance is 0.1; a broken backward stays near it
    for name in ("report.md", "curves.csv", "cnn_curves.png", "model_weights.npz", "config.json"):
        assert (out / name).exists(), name
    assert "core(s) (" in (out / "report.md").read_text()  # the report says how the batches were sharded
    curves = json.loads((out / "curves.json").read_text())
    assert curves[-1]["train_loss"] < curves[0]["train_loss"]
    # the saved weights rebuild the same model (what the gradcam lab does)
    with np.load(out / "model_weights.npz", allow_pickle=False) as z:
        state = {k: z[k] for k in z.files}
    model = model_from_run(json.loads((out / "config.json").read_text()), state).eval()
    from backproplab.data.fashion_mnist import load_fashion_mnist

    data = load_fashion_mnist(None, flatten=False)
    acc = float(np.mean(model.forward(data.x_test[:512]).argmax(1) == data.y_test[:512]))
    assert abs(acc - res["test_acc"]) < 1e-9
