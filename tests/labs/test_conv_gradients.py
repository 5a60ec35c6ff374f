"""conv-gradients lab: the assignment's dL/dW and dL/dX (documents 000/002 question 2, 001 question 2)
derived by hand in the comments, random matrices against an einsum over sliding windows, bad matrices
refused when the Config is built, and the report's sentences both ways."""
import json

import numpy as np
import pytest

from backproplab.labs import conv_gradients as lab
from backproplab.labs.config import ConfigError
from backproplab.labs.heatmap import parse_matrix
from backproplab.report.i18n import language


def test_the_assignments_gradients(tmp_path, lab_run):
    res, out = lab_run(lab, tmp_path, langs=("en", "fa"))
    # Y[0,0] = [[1,2,1],[2,1,0],[1,0,2]] ⊙ W = (1-2+0) + (0+1-0) + (-1+0+2) = 1
    # Y[1,1] = [[1,0,1],[0,2,1],[1,2,1]] ⊙ W = (1-0+0) + (0+2-1) + (-1+0+1) = 2
    np.testing.assert_allclose(res["Y"], [[1, 1], [1, 2]], atol=1e-12)
    # dL/dW = P00 - P01 - P10 + P11 (dL/dY = [[1,-1],[-1,1]]); e.g. [0,0]: 1-2-2+1 = -2, [1,1]: 1-0-0+2 = 3
    np.testing.assert_allclose(res["dW"], [[-2, 0, 2], [0, 3, -2], [2, -1, 0]], atol=1e-12)
    # dL/dX as a scatter (not the lab's rotated-kernel form): W stamped at each output position, times dL/dY
    w = np.array([[1, -1, 0], [0, 1, -1], [-1, 0, 1]], float)
    dx = np.zeros((4, 4))
    for (i, j), g in np.ndenumerate(np.array([[1, -1], [-1, 1]], float)):
        dx[i:i + 3, j:j + 3] += g * w
    np.testing.assert_allclose(res["dX"], dx, atol=1e-12)
    np.testing.assert_allclose(res["dX"], [[1, -2, 1, 0], [-1, 3, -3, 1], [-1, 0, 3, -2], [1, -1, -1, 1]])
    assert res["fan_out_corner"] == 1 and res["fan_out_max"] == 4  # corners see one output, the centre all four
    # 1-D: dW_j = Σ_i dz_i x_{i+j}, x = 1,2,-1,3,0,2, dz = 1,0,-1,2:
    #   j=0: 1 + 0 + 1 + 6 = 8;  j=1: 2 + 0 - 3 + 0 = -1;  j=2: -1 + 0 - 0 + 4 = 3
    np.testing.assert_allclose(res["dW_1d"], [8, -1, 3], atol=1e-12)
    assert res["torch_checked"] and res["max_rel_error"] < 1e-12  # torch is pinned in this project
    assert res["dw_as_correlation_diff"] == 0 and res["dw_1d_as_correlation_diff"] == 0
    checks = json.loads((out / "checks.json").read_text())
    assert {r["against"] for r in checks} == {"library Conv2d", "library Conv1d", "torch autograd"}
    matrices = json.loads((out / "matrices.json").read_text())  # the file and keys the course map's hints quote
    assert matrices["dL/dW"] == res["dW"] and matrices["dL/dX"] == res["dX"]
    assert "`dL/dW_0 = (1)(1) + (0)(2) + (-1)(-1) + (2)(3)` = 8" in (out / "report.md").read_text()


def test_random_matrices_against_an_einsum(tmp_path, lab_run):
    rng = np.random.default_rng(3)
    x, w, dy = rng.standard_normal((5, 6)), rng.standard_normal((2, 3)), rng.standard_normal((4, 4))
    fmt = lambda m: ";".join(",".join(repr(float(v)) for v in row) for row in m)  # noqa: E731
    res, _ = lab_run(lab, tmp_path, x=fmt(x), weight=fmt(w), dy=fmt(dy))
    # dL/dW[u,v] = Σ_ij dy[i,j] x[i+u, j+v], written as one tensor contraction
    windows = np.lib.stride_tricks.sliding_window_view(x, (2, 3))  # (4, 4, 2, 3)
    np.testing.assert_allclose(res["dW"], np.einsum("ij,ijuv->uv", dy, windows), rtol=1e-12)
    assert res["max_rel_error"] < 1e-10 and res["scatter_max_diff"] < 1e-12


@pytest.mark.parametrize("changes, match", [
    (dict(dy="1,2,3;4,5,6"), "shape of Y"),
    (dict(weight="1,2,3,4,5;1,2,3,4,5"), "larger than"),
    (dict(x="1,2;3"), "different lengths"),
    (dict(dy1d="1,2"), "shape of Y"),
    (dict(weight="1,a;2,3"), "not a comma list"),
    (dict(x1d="1,inf,2"), "finite"),
])
def test_bad_matrices_are_refused(changes, match):
    with pytest.raises(ConfigError, match=match):
        lab.Config(**changes)


def test_parse_matrix():
    np.testing.assert_array_equal(parse_matrix("1,2;3,4"), [[1, 2], [3, 4]])
    assert parse_matrix(" 1, -2.5 ,3").shape == (3,)


def _en(msg):
    with language("en"):
        return str(msg) if msg is not None else ""


def test_sentences_both_ways():
    assert "agree to float64" in _en(lab.agreement_sentence(1e-16))
    assert "disagree" in _en(lab.agreement_sentence(1e-3))
    assert _en(lab.torch_sentence(True, True)) == ""
    assert "not installed" in _en(lab.torch_sentence(True, False))
    assert "turned off" in _en(lab.torch_sentence(False, False))
    assert "the same matrix" in _en(lab.scatter_sentence(0.0))
    assert "disagree" in _en(lab.scatter_sentence(0.5))
    assert "itself a convolution" in _en(lab.correlation_sentence(0.0, 0.0))
    assert "wrong" in _en(lab.correlation_sentence(0.0, 1.0))
    assert "feeds 1 output " in _en(lab.fan_out_sentence(1, 4, 1.0))
    assert "feeds 2 outputs" in _en(lab.fan_out_sentence(2, 4, 1.0))
