"""gradcam lab: it explains the model of a cnn lab run (rebuilt from its result.json and weights, no pickle)
or one it trains itself; a bad --cnn-run is a one-line usage error; the report's sentences both ways."""
import json

import numpy as np
import pytest

from backproplab.errors import UsageError
from backproplab.labs import cnn, gradcam as lab
from backproplab.labs import gradcam_report as text
from backproplab.labs.config import ConfigError
from backproplab.report.i18n import language


def _en(msg):
    with language("en"):
        return "" if msg is None else str(msg)


def test_explains_a_cnn_run(tmp_path, lab_run, have_fashion_mnist):
    from backproplab.data import load_fashion_mnist
    from backproplab.models.cnn import model_from_run
    from backproplab.utils.io import load_npz

    cnn_res, cnn_out = lab_run(cnn, tmp_path / "cnn", num_epochs=1, channels=(4, 8), hidden=0, threads=1)
    res, out = lab_run(lab, tmp_path / "gradcam", cnn_run=str(cnn_out), test_size=200, num_examples=2)
    saved = json.loads((cnn_out / "result.json").read_text())["result"]["model"]
    model = model_from_run(saved["builder"], load_npz(cnn_out / saved["weights"])).eval()
    data = load_fashion_mnist(None, flatten=False)
    expected = float(np.mean(model.forward(data.x_test[:200]).argmax(axis=1) == data.y_test[:200]))
    assert res["accuracy"] == pytest.approx(expected, abs=1e-12)
    assert res["layer"] == "6"  # conv-BN-ReLU-pool-conv-BN-ReLU: the last ReLU with a (N, 8, 14, 14) output
    assert res["model"]["activation_shape"] == [14, 14] and not res["model"]["trained_here"]
    rows = res["examples"]
    assert 1 <= len(rows) <= 4 and all((r["cam_object_share"] is None) == r["cam_all_zero"] for r in rows)
    assert np.shape(res["alpha"]) == (len(rows), 8)  # one α_k per feature map of the explained layer
    assert all(r["raw_negative_share"] is None or 0 <= r["raw_negative_share"] <= 1 for r in rows)
    assert (out / "gradcam.png").stat().st_size > 1000
    assert cnn_res["model"]["weights"] == "model_weights.npz"


def test_trains_its_own_cnn(tmp_path, lab_run, have_fashion_mnist):
    res, out = lab_run(lab, tmp_path, langs=("en", "fa"), train_size=64, test_size=100, num_examples=1)
    assert res["model"]["trained_here"] and res["model"]["n_train"] == 64 and 0.0 <= res["accuracy"] <= 1.0
    assert "trained here" in (out / "report.md").read_text() and (out / "gradcam.fa.png").exists()


def test_a_bad_cnn_run_is_a_usage_error(tmp_path, lab_run):
    with pytest.raises(UsageError, match="no such folder"):
        lab_run(lab, tmp_path / "a", cnn_run=str(tmp_path / "missing"))
    (tmp_path / "unfinished").mkdir()
    with pytest.raises(UsageError, match="no finished cnn run"):
        lab_run(lab, tmp_path / "b", cnn_run=str(tmp_path / "unfinished"))
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "result.json").write_text(json.dumps({"lab": "batchnorm", "result": {}}))
    with pytest.raises(UsageError, match="not of the cnn lab"):
        lab_run(lab, tmp_path / "c", cnn_run=str(tmp_path / "other"))


@pytest.mark.parametrize("changes, match", [
    (dict(num_epochs=0), "--num-epochs must be"),
    (dict(train_size=0), "--train-size must be"),
    (dict(test_size=-1), "--test-size must be"),
    (dict(num_examples=0), "--num-examples must be"),
    (dict(channels=(4, 4, 4, 4)), "2 or 3 conv stages"),
])
def test_bad_options_are_refused(changes, match):
    with pytest.raises(ConfigError, match=match):
        lab.Config(**changes)


def _row(correct, cam, object_pixels=0.4, negative=0.3, zero=False):
    return {"test_index": 1, "correct": correct, "cam_object_share": cam, "guided_object_share": cam,
            "deconvnet_object_share": cam, "object_pixel_share": object_pixels, "cam_all_zero": zero,
            "raw_negative_share": negative, "guided_vs_plain_corr": 0.2}


def test_share_sentence_compares_with_the_object_pixels():
    above = _en(text.share_sentence([_row(True, 0.8), _row(False, 0.7)], "cam_object_share"))
    assert "concentrate on the item" in above and "do not" not in above
    below = _en(text.share_sentence([_row(True, 0.3), _row(False, 0.2)], "cam_object_share"))
    assert "do not concentrate" in below
    assert "one group only" in _en(text.share_sentence([_row(True, 0.8), _row(False, 0.2)], "cam_object_share"))
    assert "none (wrong)" in _en(text.share_sentence([_row(True, 0.8)], "cam_object_share"))
    assert "all zero" in _en(text.share_sentence([_row(True, None, zero=True)], "cam_object_share"))


def test_other_sentences_both_ways():
    assert "No Grad-CAM map is all zero" in _en(text.zero_sentence([_row(True, 0.5)]))
    assert "1 of 2" in _en(text.zero_sentence([_row(True, 0.5), _row(False, None, zero=True)]))
    assert "removes them" in _en(text.relu_sentence([_row(True, 0.5, negative=0.3)]))
    assert "changed nothing" in _en(text.relu_sentence([_row(True, 0.5, negative=0.0)]))
    model = {"trained_here": True, "eval_accuracy": 0.7}
    assert "rough" in _en(text.weak_model_sentence(model))
    assert _en(text.weak_model_sentence({**model, "eval_accuracy": 0.9})) == ""
    assert _en(text.weak_model_sentence({**model, "trained_here": False})) == ""
    assert "no wrong example" in _en(text.examples_sentence(4, 0, 4, 0))
    assert "have no more" in _en(text.examples_sentence(4, 2, 4, 2))
    assert _en(text.examples_sentence(4, 4, 4, 30)) == ""
    alpha = _en(text.alpha_sentence([[0.5, -0.25, 0.1], [0.2, 0.3, -0.1]]))
    assert "3 maps" in alpha and "2.0 maps per image have `α_k > 0`" in alpha and "0.5" in alpha
