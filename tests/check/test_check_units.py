"""The checker's parts: relative error, hypotheses, argument binding, discovery without running the
file, the pickle-free exchange, the optimizer simulations, and the StudentLayer adapter."""
import numpy as np
import pytest

from backproplab.analysis import check_module_grads
from backproplab.check.adapter import StudentLayer
from backproplab.check.exchange import read_folder, write_folder
from backproplab.check.judging import compare, generic_hypotheses, matches, rel_error
from backproplab.check.probing import Unbindable, bind
from backproplab.check.runner import discover, task_inputs
from backproplab.check.tasks.optim_judge import _hypotheses, reference, simulate


def test_rel_error():
    r = np.array([1.0, -2.0, 1e-9])
    assert rel_error(r, r) == 0
    assert rel_error(r * (1 + 1e-7), r) == pytest.approx(1e-7, rel=1e-3)
    # an entry far below the array's scale is judged against 1e-3 of the largest entry
    assert rel_error(np.array([1.0, -2.0, 2e-9]), r) == pytest.approx(1e-9 / 2e-3)
    assert rel_error(np.ones((3, 1)), np.ones(3)) == 0
    assert rel_error(np.ones((3, 2)), np.ones((2, 3))) == float("inf")
    assert rel_error(np.array([np.nan, 1, 1]), r) == float("inf")


def test_hypotheses_name_the_pattern_both_ways():
    rng = np.random.default_rng(0)
    ref = rng.standard_normal((4, 3))
    hyps = generic_hypotheses(ref, m=4, what="dW")
    for student, words in ((ref.T, "transposed"), (-ref, "wrong sign"), (ref * 4, "missing 1/m"),
                           (ref / 4, "extra 1/m"), (ref * 2, "factor 2")):
        check, _ = compare("t", "c", student, ref, 1e-6, hypotheses=hyps)
        assert check.status == "fail" and words in check.hint
    assert compare("t", "c", ref + 1e-9, ref, 1e-6, hypotheses=hyps)[0].status == "pass"
    unknown, _ = compare("t", "c", ref + 1.0, ref, 1e-6, hypotheses=hyps)
    assert unknown.status == "fail" and unknown.hint == ""
    accepted, which = compare("t", "c", ref / 4, ref, 1e-6, accept=[("Ng", ref / 4)])
    assert accepted.passed and which == "Ng" and "Ng" in accepted.note


def test_a_mistake_that_gives_nan_matches_only_with_the_same_nan_entries():
    alt = np.array([1.0, np.nan, 3.0])
    assert matches(np.array([1.0, np.nan, 3.0]), alt, 1e-6)
    assert not matches(np.array([1.0, np.nan, 3.5]), alt, 1e-6)  # the finite rest differs
    assert not matches(np.array([np.nan, 2.0, 3.0]), alt, 1e-6)  # NaN elsewhere
    assert not matches(np.array([np.nan, np.nan, np.nan]), np.full(3, np.nan), 1e-6)  # nothing left to compare
    assert not matches(np.array([1.0, np.nan, 3.0]), np.array([1.0, 2.0, 3.0]), 1e-6)


def test_bind_by_name_then_by_order():
    aliases = {"x": ("x", "inputs"), "w": ("w", "weights"), "lr": ("lr", "learningrate")}

    def f(weights, inputs, learning_rate=0.1):
        return weights, inputs

    args, kwargs, desc = bind(f, {"x": 1, "w": 2, "lr": 3}, aliases, ("x", "w"))
    assert kwargs == {"weights": 2, "inputs": 1, "learning_rate": 3} and "inputs=<x>" in desc

    def g(a, b):
        return a, b

    assert bind(g, {"x": 1, "w": 2}, aliases, ("x", "w"))[1] == {"a": 1, "b": 2}
    with pytest.raises(Unbindable, match="parameter 'c'"):
        bind(lambda a, b, c: 0, {"x": 1, "w": 2}, aliases, ("x", "w"))


def test_discover_reads_the_syntax_tree_only(tmp_path):
    path = tmp_path / "s.py"
    path.write_text("raise SystemExit('never run')\nclass Dense: pass\ndef leaky_ReLU(z): pass\n"
                    "if True:\n    def update_parameters_with_adam(): pass\n")
    tasks, error = discover(str(path))
    assert error is None and tasks == ["activations", "dense", "adam"]
    path.write_text("def f(:\n")
    assert discover(str(path)) == ([], "SyntaxError: invalid syntax (line 1)")


def test_exchange_round_trip_refuses_pickles(tmp_path):
    write_folder(tmp_path / "a", {"x": np.arange(3.0), "odd key/1": np.eye(2)}, {"values": {"n": np.int64(2)}})
    arrays, manifest = read_folder(tmp_path / "a")
    assert np.array_equal(arrays["x"], np.arange(3.0)) and manifest["values"] == {"n": 2}
    np.save(tmp_path / "a" / "a0000.npy", np.array([{"evil": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(ValueError, match="pickle"):
        read_folder(tmp_path / "a")


@pytest.mark.parametrize("kind", ["sgd", "momentum", "rmsprop", "adam"])
def test_simulation_reproduces_the_library_and_each_mistake_differs(kind):
    arrays, _ = task_inputs(0, {kind})[kind]
    p0 = np.concatenate([arrays["p0"].ravel(), arrays["p1"].ravel()])
    ref = reference(kind, arrays) - p0  # the judge compares displacements θ_t − θ_0
    assert rel_error(simulate(kind, arrays) - p0, ref) < 1e-12
    for hint, change in _hypotheses(kind, arrays):
        assert rel_error(simulate(kind, arrays, **change) - p0, ref) > 1e-3, hint


class StudentDense:
    """A student-style layer: (in, out) weights, gradients stored as dW/db, no zero_grad."""

    def __init__(self, n_in, n_out, rng):
        self.W, self.b = rng.standard_normal((n_in, n_out)), rng.standard_normal(n_out)

    def forward(self, x):
        self.x = x
        return x @ self.W + self.b

    def backward(self, dy):
        self.dW, self.db = self.x.T @ dy, dy.sum(axis=0) * self.bias_factor
        return dy @ self.W.T

    bias_factor = 1.0


def test_adapter_runs_the_library_gradcheck_on_a_student_layer():
    rng = np.random.default_rng(0)
    layer = StudentLayer(StudentDense(5, 3, rng))
    errors = check_module_grads(layer, rng.standard_normal((7, 5)), rng)
    assert set(errors) == {"x", "weight", "bias"} and max(errors.values()) < 1e-6
    wrong = StudentDense(5, 3, rng)
    wrong.bias_factor = 1 / 7  # db averaged instead of summed
    errors = check_module_grads(StudentLayer(wrong), rng.standard_normal((7, 5)), rng)
    assert errors["bias"] > 0.5 and errors["weight"] < 1e-6
