"""dilated-conv lab: K⊗A by hand (document 001, question 5(b)), output sizes against the layer, receptive
fields and holes with and without stride, bad stacks refused, and the report's sentences both ways."""
import numpy as np
import pytest

from backproplab.labs import dilated_conv as lab
from backproplab.labs.config import ConfigError
from backproplab.report.i18n import language


def test_dilated_kernel_kron():
    # K = [[1,2],[3,4]], D = 2: A = [[1,0],[0,0]]; K⊗A is 4x4 with K's taps at even positions; trimming gives 3x3
    a, kron, z = lab.dilated_kernel(np.array([[1.0, 2.0], [3.0, 4.0]]), 2)
    np.testing.assert_array_equal(a, [[1, 0], [0, 0]])
    assert kron.shape == (4, 4)
    np.testing.assert_array_equal(z, [[1, 0, 2], [0, 0, 0], [3, 0, 4]])


def test_quick_run(tmp_path, lab_run):
    res, out = lab_run(lab, tmp_path, langs=("en", "fa"))
    assert res["output_size_ok"] and res["output_size_mismatches"] == 0
    assert len(res["output_size_rows"]) == 2 * 4 * 3 - 3  # M = 7 with F = 5, D = 2 or 3 and M = 10, F = 5, D = 3 fail
    assert res["equivalence_max_abs_diff"] < 1e-12
    assert res["a_matrix"] == [[1.0, 0.0], [0.0, 0.0]]
    main, comp = res["rf_checks"]
    # k=3, d=2,2,2: R = 1 + 2·2·3 = 13; seen offsets per axis {0,2,...,12} = 7 -> 49 of 169, 120 holes
    assert (main["span_delta"], main["seen_delta_2d"], main["holes_delta_2d"]) == (13, 49, 120)
    # d=1,2,4 (Yu & Koltun): 3, 7, 15 and every pixel seen
    assert (comp["span_delta"], comp["seen_delta_2d"], comp["holes_delta_2d"]) == (15, 225, 0)
    assert (out / "receptive_field.png").exists() and (out / "dilated_kernel.fa.png").exists()
    assert "equal dilations repeat" in (out / "report.md").read_text()


def test_the_full_table_has_42_cases(tmp_path, lab_run):
    res, _ = lab_run(lab, tmp_path, quick=False)
    assert len(res["output_size_rows"]) == 42 and res["output_size_ok"]


def test_delta_pattern_with_stride():
    # k=(3,3), s=(2,1), d=(1,2): R1 = 3, jump 2; R2 = 3 + 2·2·2 = 11.
    # offsets: {0,1,2} + {0,4,8} = {0,1,2,4,5,6,8,9,10}: 9 of 11 per axis -> 81 seen, 121-81 = 40 holes
    p = lab.delta_pattern([3, 3], [1, 2], [2, 1])
    assert (p["span"], p["seen"], p["holes"]) == (11, 81, 40)
    assert list(np.nonzero(p["box_pattern"][0])[0]) == [0, 1, 2, 4, 5, 6, 8, 9, 10]


@pytest.mark.parametrize("changes, match", [
    (dict(dilations=(2, 2)), "one entry per layer"),
    (dict(input_size=4, kernel_size=3, dilation=2), "spans 5 pixels"),
    (dict(dilation=0), "--dilation must be"),
    (dict(strides=(1, 0, 1)), "--strides must be"),
    (dict(kernel_sizes=()), "--kernel-sizes must be"),
])
def test_bad_settings_are_refused(changes, match):
    with pytest.raises(ConfigError, match=match):
        lab.Config(**changes)


def _en(msg):
    with language("en"):
        return str(msg)


def _check(ds, holes, agree=True):
    return {"dilations": ds, "extent_formula": 13, "span_delta": 13 if agree else 11, "seen_formula_2d": 49,
            "seen_delta_2d": 49, "holes_delta_2d": holes}


def test_sentences_both_ways():
    assert "every case" in _en(lab.size_sentence(42, 0)) and "disagrees" in _en(lab.size_sentence(42, 2))
    assert "agree" in _en(lab.stack_sentence(_check([2, 2, 2], 120)))
    assert "disagree" in _en(lab.stack_sentence(_check([2, 2, 2], 120, agree=False)))
    # the reason "equal dilations" is given only when the stack with holes has equal dilations
    assert "equal dilations" in _en(lab.holes_sentence(_check([2, 2, 2], 120), _check([1, 2, 4], 0)))
    text = _en(lab.holes_sentence(_check([1, 2, 4], 0), _check([2, 3, 6], 10)))
    assert "2, 3, 6 leave holes" in text and "equal dilations" not in text
    assert "Neither" in _en(lab.holes_sentence(_check([1, 2, 4], 0), _check([1, 2, 3], 0)))
    assert "Both" in _en(lab.holes_sentence(_check([2, 2, 2], 1), _check([3, 3, 3], 2)))


def test_equivalence_sentence_both_ways():
    config = lab.Config()
    result = {"output_shape_dilated": [5, 5], "output_shape_plain": [5, 5], "zero_inserted": np.zeros((5, 5)),
              "equivalence_max_abs_diff": 0.0}
    assert "the same operation" in _en(lab.equivalence_sentence(result, config))
    assert "not equal" in _en(lab.equivalence_sentence({**result, "equivalence_max_abs_diff": 0.1}, config))
