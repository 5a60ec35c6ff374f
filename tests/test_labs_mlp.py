"""The MLP labs (activations, init, optimizers, l2), `backproplab lab all`, and make_mlp.

One `backproplab lab all --quick` run (through the CLI function) is shared by the tests;
each test asserts a claim of the assignment that a broken lab would fail.
"""
from __future__ import annotations

import json
import os

import numpy as np
import pytest

from backproplab.analysis import check_module_grads
from backproplab.cli import main as cli_main
from backproplab.labs import GROUPS
from backproplab.models import make_mlp

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def lab_all(tmp_path_factory):
    out = tmp_path_factory.mktemp("lab_all")
    rc = cli_main(["lab", "all", "--quick", "--epochs", "3", "--seed", "0", "--classes", "0,1", "--out", str(out)])
    index = json.loads((out / "index.json").read_text())
    return rc, out, index


def _result(index, name):
    entry = next(e for e in index["labs"] if e["lab"] == name)
    assert entry["ok"], entry.get("traceback")
    return entry["result"]


def _row(result, model):
    return next(r for r in result["rows"] if r["model"] == model)


def test_lab_all_writes_every_lab_and_the_index(lab_all):
    rc, out, index = lab_all
    assert rc == 0
    assert [e["lab"] for e in index["labs"]] == GROUPS["all"]
    md = (out / "index.md").read_text()
    for e in index["labs"]:
        d = out / e["lab"]
        cfg = json.loads((d / "config.json").read_text())
        assert (cfg["quick"], cfg["epochs"], cfg["seed"], cfg["classes"]) == (True, 3, 0, "0,1")  # options passed on
        assert e["result"]["epochs"] == 3
        for f in ("report.md", "summary.json", "summary.csv", "curves.json", "curves.csv"):
            assert (d / f).stat().st_size > 0, f"{e['lab']}/{f}"
        assert e["result"]["figures"]
        for fig in e["result"]["figures"]:
            assert (d / fig).read_bytes()[:8] == PNG
            assert f"({e['lab']}/{fig})" in md  # linked from the index
        acc = e["result"]["best_test_acc"]
        assert 0.5 < acc <= 1.0
        assert f"{acc:.2%}" in md
        report = (d / "report.md").read_text()
        assert "## Observations (computed from this run)" in report


def test_init_he_relu_beats_all_zeros_and_zeros_keeps_units_identical(lab_all):
    r = _result(lab_all[2], "init")
    he, zeros = _row(r, "he"), _row(r, "zeros")
    assert he["final_test_acc"] > zeros["final_test_acc"] + 0.2
    assert zeros["stalled"] and not he["stalled"]
    for name in ("zeros", "zeros+sigmoid"):
        for layer in r["symmetry"][name]:
            scale = max(layer["weight_norm"], 1.0)
            assert layer["max_weight_diff"] <= 1e-6 * scale, (name, layer)
            assert layer["max_output_diff"] <= 1e-6, (name, layer)
    # with sigmoid the zero weights do move (sigmoid(0) = 1/2), yet stay identical: symmetry, not stillness
    assert r["symmetry"]["zeros+sigmoid"][-1]["weight_norm"] > 1e-6
    assert min(layer["max_weight_diff"] for layer in r["symmetry"]["he"]) > 1e-2


def test_adam_beats_plain_sgd_training_loss_at_same_epochs(lab_all):
    r = _result(lab_all[2], "optimizers")
    nums = r["adam_vs_sgd"]
    assert nums["adam_final_train_loss"] < nums["sgd_final_train_loss"]
    assert _row(r, "SGD b=1")["n_train"] < _row(r, "Adam b=128")["n_train"]  # SGD runs on a subsample


def test_depth5_sigmoid_gradients_vanish_but_relu_do_not(lab_all):
    r = _result(lab_all[2], "activations")
    van = r["vanishing"]
    assert van["sigmoid"]["ratio_first_last"] < 0.1
    assert van["relu"]["ratio_first_last"] > 0.1
    assert van["sigmoid"]["vanished_layers"] and not van["relu"]["vanished_layers"]
    # the profile shrinks towards the input for sigmoid
    prof = van["sigmoid"]["profile_epoch1"]
    assert prof[0] < prof[-2] < prof[-1]


def test_l2_lowers_the_weight_norm(lab_all):
    r = _result(lab_all[2], "l2")
    wn = r["weight_norm"]
    assert wn["with"] < 0.99 * wn["without"]
    norms = [row["final_weight_norm"] for row in sorted(r["rows"], key=lambda row: row["gamma"])]
    assert norms[-1] < norms[0]


def test_reports_state_numbers_of_the_run(lab_all):
    _, out, index = lab_all
    r = _result(index, "optimizers")
    report = (out / "optimizers" / "report.md").read_text()
    assert f"{r['adam_vs_sgd']['adam_final_train_loss']:.4g}" in report
    act = (out / "activations" / "report.md").read_text()
    assert f"{_result(index, 'activations')['vanishing']['sigmoid']['ratio_first_last']:.2e}" in act


def test_rerun_resumes_from_cached_steps(lab_all):
    from backproplab.labs import init_lab

    _, out, index = lab_all
    d = out / "init"
    steps = sorted((d / ".steps").glob("*.json"))
    assert len(steps) == len(_result(index, "init")["rows"])
    before = {p.name: p.stat().st_mtime_ns for p in steps}
    steps[0].unlink()  # as if killed before this model finished
    config = init_lab.Config(quick=True, epochs=3, seed=0)
    again = init_lab.run(config, d)
    after = {p.name: p.stat().st_mtime_ns for p in (d / ".steps").glob("*.json")}
    assert set(after) == set(before)
    assert all(after[k] == before[k] for k in before if k != steps[0].name)  # others not retrained
    old_rows = {row["model"]: row for row in _result(index, "init")["rows"]}
    for row in again["rows"]:  # the retrained model reproduces its numbers (seeded; BLAS rounding may differ)
        assert row["final_train_loss"] == pytest.approx(old_rows[row["model"]]["final_train_loss"], rel=1e-3)


def test_lab_all_reports_a_failing_lab_and_exits_1(tmp_path):
    # every lab fails on its own (no data there); each failure is recorded and the run goes on
    missing = tmp_path / "no-data-here"
    rc = cli_main(["lab", "all", "--quick", "--data-dir", str(missing), "--out", str(tmp_path)])
    assert rc == 1
    index = json.loads((tmp_path / "index.json").read_text())
    assert len(index["labs"]) == 4
    assert all(not e["ok"] and "no-data-here" in e["error"] for e in index["labs"])
    assert "FAILED" in (tmp_path / "index.md").read_text()


def test_lab_all_rejects_unknown_option(tmp_path):
    with pytest.raises(SystemExit):
        cli_main(["lab", "all", "--epoch", "2", "--out", str(tmp_path)])


@pytest.mark.parametrize("hidden, activation, names", [
    ((), "relu", ["0.weight", "0.bias"]),
    ((5,), "sigmoid", ["0.weight", "0.bias", "2.weight", "2.bias"]),
    ((5, 4), "prelu", ["0.weight", "0.bias", "1.weight", "2.weight", "2.bias", "3.weight", "4.weight", "4.bias"]),
])
def test_make_mlp_layout(hidden, activation, names):
    model = make_mlp(6, hidden, 3, activation, "he", rng=np.random.default_rng(0))
    assert [n for n, _ in model.named_parameters()] == names
    widths = [6, *hidden, 3]
    weights = [p for n, p in model.named_parameters() if n.endswith("weight") and p.data.ndim == 2]
    assert [w.shape for w in weights] == [(o, i) for i, o in zip(widths, widths[1:])]  # PyTorch (out, in)
    assert all(p.data.dtype == np.float32 for _, p in model.named_parameters())
    assert model.forward(np.zeros((2, 6), np.float32)).shape == (2, 3)


@pytest.mark.parametrize("activation, init", [("tanh", "xavier"), ("elu", "he"), ("leaky_relu", "pytorch")])
def test_make_mlp_gradients_match_central_differences(activation, init):
    rng = np.random.default_rng(1)
    model = make_mlp(7, (6, 5), 3, activation, init, rng=rng, dtype=np.float64)
    errs = check_module_grads(model, rng.normal(size=(4, 7)), rng)
    assert set(errs) == {"x", *(n for n, _ in model.named_parameters())}
    assert max(errs.values()) < 1e-6, errs


def test_make_mlp_zeros_init_and_bad_sizes():
    model = make_mlp(4, (3,), 2, "relu", "zeros", rng=np.random.default_rng(0))
    assert all(np.all(p.data == 0) for p in model.parameters())
    with pytest.raises(ValueError):
        make_mlp(4, (0,), 2, rng=np.random.default_rng(0))


def test_one_blas_thread_restores_the_thread_count():
    from backproplab.labs.mlp_common import _openblas, one_blas_thread

    fns = _openblas()
    if fns is None:
        pytest.skip("numpy does not use its bundled OpenBLAS here")
    get, _ = fns
    before = get()
    with one_blas_thread():
        inside = get()
    assert get() == before
    assert inside == (before if "OPENBLAS_NUM_THREADS" in os.environ else 1)


def test_make_mlp_dropout_layers_and_cosine_schedule():
    from backproplab.labs.mlp_common import cosine_lr
    from backproplab.nn import Dropout
    from backproplab.optim import SGD

    model = make_mlp(6, (5, 4), 3, "relu", "he", rng=np.random.default_rng(0), dropout=0.5)
    assert [type(m).__name__ for m in model] == ["Linear", "ReLU", "Dropout", "Linear", "ReLU", "Dropout", "Linear"]
    assert all(m.p == 0.5 for m in model if isinstance(m, Dropout))
    x = np.random.default_rng(1).random((8, 6), dtype=np.float32)
    model.eval()
    np.testing.assert_array_equal(model.forward(x), model.forward(x))  # no masks in eval mode
    model.train()
    assert not np.array_equal(model.forward(x), model.forward(x))  # fresh masks per call
    opt = SGD(model.parameters(), lr=0.1)
    cb = cosine_lr(opt, epochs=4)
    lrs = []
    for epoch in range(4):
        cb(None, epoch, None)
        lrs.append(opt.param_groups[0]["lr"])
    np.testing.assert_allclose(lrs, [0.1 * (1 + np.cos(np.pi * e / 4)) / 2 for e in range(1, 5)], atol=1e-12)
    assert lrs[-1] == pytest.approx(0.0, abs=1e-12)
