"""residual-walkthrough lab: every matrix of the block against an independent loop and hand values (document
002, practical question 1), bad settings refused when the Config is built, and the report's sentences."""
import json

import numpy as np
import pytest

from backproplab.labs import residual_walkthrough as lab
from backproplab.labs.config import ConfigError
from backproplab.report.i18n import language

X5 = np.array([[100, 150, 200, 50, 30], [80, 120, 180, 255, 90], [40, 70, 110, 230, 200],
               [30, 60, 100, 150, 120], [20, 50, 80, 100, 90]], dtype=float)
W3 = np.array([[0.1, -0.2, 0.1], [-0.1, 0.4, 0.1], [0.2, -0.1, 0.1]])


def test_the_assignments_numbers(tmp_path, lab_run):
    res, out = lab_run(lab, tmp_path, langs=("en", "fa"))
    m = {k: np.array(v) for k, v in res["steps"].items()}
    # centre Z[2,2]: patch [[120,180,255],[70,110,230],[60,100,150]] ⊙ W
    #   row 0: 12 - 36 + 25.5 = 1.5;  row 1: -7 + 44 + 23 = 60;  row 2: 12 - 10 + 15 = 17;  total 78.5
    # corner Z[0,0] (zero padding): row 1: 0.4·100 + 0.1·150 = 55; row 2: -0.1·80 + 0.1·120 = 4; total 59
    assert m["Z"][2, 2] == pytest.approx(78.5, abs=1e-9) and m["Z"][0, 0] == pytest.approx(59.0, abs=1e-9)
    assert res["centre"]["row_sums"] == pytest.approx([1.5, 60, 17], abs=1e-9)
    # the whole Z, computed independently with a loop over the padded input
    pad = np.pad(X5, 1)
    z = np.array([[np.sum(pad[i:i + 3, j:j + 3] * W3) for j in range(5)] for i in range(5)])
    np.testing.assert_allclose(m["Z"], z, atol=1e-9)
    np.testing.assert_allclose(m["A"], z, atol=1e-9)  # every conv output is positive (smallest 13)
    h = np.maximum(np.maximum(z, 0) + X5, 0)
    np.testing.assert_allclose(m["H"], h, atol=1e-9)
    assert res["relu1_zeroed"] == 0 and res["relu2_zeroed"] == 0 and res["residual_block_diff"] < 1e-9
    # floor: windows rows/cols {0,1},{2,3}: max(159, 242, 122, 190) = 242, ...
    np.testing.assert_allclose(m["P_floor"], [[242, 380], [117, 324]], atol=1e-9)
    # ceil adds the partial window of row/col 4: [max(79,125.5), max(282.5,147)] and [max(33,77), max(118,133), 107]
    np.testing.assert_allclose(m["P_ceil"], [[242, 380, 125.5], [117, 324, 282.5], [77, 133, 107]], atol=1e-9)
    assert res["gap_floor"] == pytest.approx((242 + 380 + 117 + 324) / 4, abs=1e-12)  # 265.75
    assert res["gap_ceil"] == pytest.approx(1788 / 9, abs=1e-12)
    saved = json.loads((out / "matrices.json").read_text())  # the file and keys the course map's hints quote
    assert saved["Z = conv(X)"][2][2] == pytest.approx(78.5) and saved["gap_floor"] == pytest.approx(265.75)
    report = (out / "report.md").read_text()
    assert "cross-correlation" in report and "78.5" in report and "265.75" in report
    assert (out / "matrices.png").stat().st_size > 1000 and (out / "matrices.fa.png").exists()


def test_a_filter_with_negative_outputs(tmp_path, lab_run):
    # Laplacian-like filter on a constant-ish image: the centre output is 4·x - (4 neighbours)
    x = "0,0,0;0,1,0;0,0,0"
    res, _ = lab_run(lab, tmp_path, x=x, weight="0,-1,0;-1,4,-1;0,-1,0", pool=2)
    z = np.array(res["steps"]["Z"])
    np.testing.assert_allclose(z, [[0, -1, 0], [-1, 4, -1], [0, -1, 0]], atol=1e-12)
    assert res["relu1_zeroed"] == 4 and res["relu2_zeroed"] == 0


@pytest.mark.parametrize("changes, match", [
    (dict(padding=0), "skip connection"),
    (dict(weight="1,2;3,4"), "skip connection"),
    (dict(x="1,2;3"), "different lengths"),
    (dict(pool=9), "larger than"),
    (dict(pool=0), "--pool must be"),
    (dict(padding=-1), "--padding must be"),
])
def test_bad_settings_are_refused(changes, match):
    with pytest.raises(ConfigError, match=match):
        lab.Config(**changes)


def test_pool_windows_follow_pytorch():
    assert lab.pool_windows(5, 2, ceil=False) == [[0, 2], [2, 4]]
    assert lab.pool_windows(5, 2, ceil=True) == [[0, 2], [2, 4], [4, 5]]
    assert lab.pool_windows(4, 2, ceil=True) == [[0, 2], [2, 4]]  # no window may start outside


def _en(msg):
    with language("en"):
        return str(msg)


def test_sentences_both_ways():
    centre = {"i": 1, "j": 1, "terms": "1·2", "row_sums": [2.0], "hand": 2.0, "layer": 2.0}
    assert "gives the same" in _en(lab.agree_sentence(centre))
    assert "disagree" in _en(lab.agree_sentence({**centre, "layer": 2.5}))
    assert "none of the 25" in _en(lab.relu1_sentence(0, 25))
    assert "set 3 of the 25" in _en(lab.relu1_sentence(3, 25))
    assert "input is non-negative" in _en(lab.relu2_sentence(0, True))
    assert "input is non-negative" not in _en(lab.relu2_sentence(0, False))
    assert "sets them to zero" in _en(lab.relu2_sentence(2, True))
    assert "does not change" in _en(lab.gap_sentence(3.0, 3.0))
    assert "+50.0%" in _en(lab.gap_sentence(2.0, 3.0))
    assert "%" not in _en(lab.gap_sentence(0.0, 3.0))
    assert "same `S`" in _en(lab.residual_sentence(0.0)) and "disagree" in _en(lab.residual_sentence(1.0))


def test_pool_sentence_names_what_floor_mode_leaves_out():
    odd = {f"{m}_{a}": lab.pool_windows(5, 2, m == "ceil") for m in ("floor", "ceil") for a in ("rows", "cols")}
    text = _en(lab.pool_sentence(odd, np.zeros((2, 2)), np.zeros((3, 3))))
    assert "row 4" in text and "column 4" in text
    even = {f"{m}_{a}": lab.pool_windows(4, 2, m == "ceil") for m in ("floor", "ceil") for a in ("rows", "cols")}
    assert "agree" in _en(lab.pool_sentence(even, np.zeros((2, 2)), np.zeros((2, 2))))
