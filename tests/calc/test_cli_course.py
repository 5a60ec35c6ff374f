"""The course calculators from the command line: printed working, --json paths the course map uses, and
one-line errors with exit status 2."""
import json

import pytest

from backproplab.calc.cli import main


def run(capsys, *argv):
    rc = main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


def json_at(capsys, path, *argv):
    rc, out, _ = run(capsys, *argv, "--json")
    assert rc == 0
    node = json.loads(out)
    for part in path.split("."):
        node = node[int(part)] if isinstance(node, list) else node[part]
    return node


@pytest.mark.parametrize("argv, path, expected", [
    (["cnn-gradients"], "values.own.P1.pass", True),
    (["cnn-gradients"], "values.solution_failures", ["Q3(a)ii conv step", "Q3(a)ii", "Q3(b)", "Q3(c) middle step",
                                                     "Q3(c)"]),
    (["vanishing-bound", "--sigma", "0.5", "--num-layers", "4", "--layer", "0", "--index-base", "0"],
     "values.bound", 0.0625),  # 0.5^4
    (["macs", "inception", "--input-size", "28", "--in-channels", "192", "--widths", "64,96,128,16,32,32"],
     "values.pool_comparisons", 1_204_224),
    (["newton-cost", "--params", "1e3"], "values.rows.0.newton_bytes", 4e6),
    (["committee-error", "--members", "4", "--correlation", "0.5"], "values.cases.1.E_COM_exact", 0.625),
    (["bn-scale", "--alphas", "-2"], "values.cases.0.train.sign_alpha_times_y.matches", False),
    (["unet", "--input-size", "256"], "values.bottleneck_pixels", 256),
    (["norm-stats", "--batch-size", "8", "--channels", "4", "--height", "6", "--width", "6"],
     "values.norms.batch.values_per_statistic", 288),
    (["bilinear", "--point", "0.5,0.5"], "values.neighbours.0.weight", 0.25),
])
def test_json_paths(capsys, argv, path, expected):
    assert json_at(capsys, path, *argv) == pytest.approx(expected)


@pytest.mark.parametrize("argv, text", [
    (["cnn-gradients", "--seed", "1"], "with all fixes"),
    (["newton-cost"], "P = 1e+06: memory GD 4 MB vs Newton 4 TB"),
    (["residual-gradient", "--depths", "2,4"], "4 blocks: ||∂L/∂W_1|| plain"),
    (["vanishing-bound", "--sigma", "0.9", "--num-layers", "100", "--layer", "0", "--index-base", "0"],
     "bound = 1·2.65614e-05"),
])
def test_working_printed(capsys, argv, text):
    rc, out, _ = run(capsys, *argv)
    assert rc == 0 and text in out


@pytest.mark.parametrize("argv, message", [
    (["vanishing-bound", "--sigma", "0.9", "--num-layers", "100", "--layer", "0"], "pass --index-base 0"),
    (["committee-error", "--members", "3", "--correlation", "-0.9"], "use a value in [-0.5, 1]"),
    (["newton-cost", "--params", "1e3", "--flops", "-1"], "flops (the machine's rate in flop/s) must be positive"),
    (["bn-scale", "--alphas", "0"], "alpha must be a nonzero number"),
    (["bilinear", "--point", "9,1"], "outside the 5x5 map"),
    (["norm-stats", "--batch-size", "1", "--channels", "4"], "batch_size must be at least 2"),
    (["unet", "--input-size", "4"], "too small for 4 halvings"),
])
def test_bad_input_one_line_exit_2(capsys, argv, message):
    rc, out, err = run(capsys, *argv)
    assert rc == 2 and out == ""
    assert message in err and err.count("\n") == 1


def test_unparseable_list_is_an_argparse_error(capsys):
    rc, _, err = run(capsys, "newton-cost", "--params", "1.5,abc")
    assert rc == 2 and "expected numbers separated by commas" in err
