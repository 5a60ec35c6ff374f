"""backproplab check on example submissions: correct ones in every supported shape pass every task they
define; each typical bug is caught with its hint; a hung or memory-hungry check fails only itself."""
import time
from pathlib import Path

import pytest

from backproplab.check.runner import check_files
from backproplab.check.sandbox import Limits

SUB = Path(__file__).parent / "submissions"
OPTIMIZERS = ["sgd", "momentum", "rmsprop", "adam"]
CORRECT = {
    "correct_functions.py": ["activations", "init", "dense", "softmax-ce", "mse", *OPTIMIZERS, "l2", "conv",
                             "residual-block"],
    "correct_classes_in_out.py": ["activations", "dense", "softmax-ce", "mse", *OPTIMIZERS, "conv"],
    "correct_classes_out_in.py": ["activations", "dense", "softmax-ce", "mse", *OPTIMIZERS, "l2", "conv"],
    "correct_feature_first.py": ["activations", "init", "dense", "softmax-ce", "mse", "sgd", "momentum", "adam", "l2",
                                 "conv"],
}
#: file -> (task, check name, words of the hint)
BUGS = {
    "bug_transposed.py": ("dense", "dW", "transposed"),
    "bug_dense_db.py": ("dense", "db", "sum over the batch axis"),
    "bug_missing_mean.py": ("mse", "mse: cost", "missing 1/m"),
    "bug_sign.py": ("softmax-ce", "cross-entropy: gradient", "wrong sign"),
    "bug_post_activation.py": ("activations", "sigmoid: derivative", "written for the output"),
    "bug_adam_offset.py": ("adam", "adam: θ_t − θ_0 over 5 steps", "off by one step"),
    "bug_l2_bias.py": ("l2", "l2: gradient", "biases"),
    "bug_flipped_kernel.py": ("conv", "conv2d(image, kernel)", "kernel flipped"),
    "bug_conv_kernel_transposed.py": ("conv", "dW", "rows and columns swapped"),
    "bug_leaky_sign.py": ("activations", "leaky_relu: derivative", "wrong sign for z < 0"),
    "bug_adam_s_from_v.py": ("adam", "adam: θ_t − θ_0 over 5 steps", "S is computed from V"),
}


@pytest.fixture(scope="module")
def reports():
    files = [str(SUB / f) for f in [*CORRECT, *BUGS]]
    return {Path(r.path).name: r for r in check_files(files, limits=Limits(timeout_s=30), parallel=2)}


@pytest.mark.parametrize("name", CORRECT)
def test_correct_submission_passes_every_task(reports, name):
    r = reports[name]
    assert r.tasks == CORRECT[name]
    failed = [(c.task, c.name, c.message, c.hint) for c in r.checks if not c.passed]
    assert not failed
    assert all(r.task_checks(t) for t in r.tasks)


@pytest.mark.parametrize("name, words", [
    ("correct_functions.py", ["weights (in, out)", "batch-first"]),
    ("correct_classes_in_out.py", ["weights (in, out)", "batch-first", "stored as .dweights"]),
    ("correct_classes_out_in.py", ["weights (out, in)", "batch-first", "returned by backward"]),
    ("correct_feature_first.py", ["weights (out, in)", "feature-first", "Ng's convention"]),
])
def test_the_assumed_layout_is_said(reports, name, words):
    notes = " ".join(c.note for c in reports[name].task_checks("dense"))
    for w in words:
        assert w in notes


@pytest.mark.parametrize("name, words", [
    ("correct_functions.py", ["x (N, C, H, W)", "conv_backward_naive", "a random subset, 84 of 292 entries"]),
    ("correct_classes_in_out.py", ["x (N, C, H, W)", "stored as .dW"]),
    ("correct_classes_out_in.py", ["single-channel conv2d, padding 1"]),
    ("correct_feature_first.py", ["x (N, H, W, C)", "Ng's course"]),
])
def test_the_assumed_conv_layout_is_said(reports, name, words):
    notes = " ".join(c.note for c in reports[name].task_checks("conv"))
    for w in words:
        assert w in notes


def test_ng_convention_agrees_with_the_loss(reports):
    names = [c.name for c in reports["correct_feature_first.py"].task_checks("dense")]
    assert "1/m counted once (dense with softmax-ce)" in names


@pytest.mark.parametrize("name", BUGS)
def test_bug_is_caught_with_its_hint(reports, name):
    task, check, words = BUGS[name]
    r = reports[name]
    c = next(c for c in r.task_checks(task) if c.name == check)
    assert c.status == "fail"
    assert words in c.hint
    assert not r.passed


def test_bugs_fail_only_where_they_are(reports):
    transposed = {c.name: c.passed for c in reports["bug_transposed.py"].checks}
    assert transposed["forward"] and transposed["dx"] and transposed["db"] and not transposed["dW"]
    sign = {c.name: c.passed for c in reports["bug_sign.py"].checks}
    assert sign["softmax"] and sign["cross-entropy: loss"] and not sign["cross-entropy: gradient"]
    l2 = {c.name: (c.passed, c.hint) for c in reports["bug_l2_bias.py"].checks}
    assert not l2["l2: cost"][0] and "biases" in l2["l2: cost"][1]


def test_hung_and_memory_hungry_checks_fail_alone():
    start = time.monotonic()
    reports = check_files([str(SUB / "hung.py"), str(SUB / "memory_hog.py")],
                          limits=Limits(timeout_s=4, memory_bytes=256 << 20), parallel=2)
    assert time.monotonic() - start < 25
    hung, hog = reports
    assert [c.message for c in hung.task_checks("activations")] == ["timed out after 4 s (while calling sigmoid)"]
    assert hung.task_checks("mse") and all(c.passed for c in hung.task_checks("mse"))
    assert all(c.passed for c in hog.task_checks("activations"))
    cost = next(c for c in hog.task_checks("mse") if c.name == "mse: cost")
    assert cost.status == "error" and cost.message.startswith("used more than 256 MiB of memory (line 16")


def test_syntax_and_import_errors_name_the_line():
    syntax, failing = check_files([str(SUB / "syntax_error.py"), str(SUB / "import_error.py")])
    assert syntax.error == "SyntaxError: '(' was never closed (line 5)"
    assert not syntax.passed and syntax.checks[0].status == "error"
    assert "FileNotFoundError" in failing.error and "(line 9" in failing.error
    assert [c.message for c in failing.checks] == ["the submission could not be imported"]
