"""``backproplab calc``: the printed working, --json, and errors that name the argument."""
import json

import pytest

from backproplab.calc.cli import main


def run(capsys, *argv):
    rc = main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


def test_bottleneck_working_printed(capsys):
    rc, out, _ = run(capsys, "macs", "bottleneck", "--input-size", "28", "--in-channels", "192", "--out-channels",
                     "32", "--kernel-size", "5", "--mid-channels", "16")
    assert rc == 0
    assert "120,422,400" in out and "12,443,648" in out and "89.67%" in out


def test_json_output(capsys):
    rc, out, _ = run(capsys, "receptive-field", "--kernel-sizes", "3,3,3", "--dilations", "1,2,4", "--json")
    assert rc == 0
    data = json.loads(out)
    assert data["values"]["receptive_field"] == 15  # 1 + 2 + 4 + 8
    assert data["steps"][0].startswith("R_0 = 1")


@pytest.mark.parametrize("argv, expected", [
    (["conv-out", "--input-size", "32,28", "--kernel-size", "5"], "output size: 28 x 24"),  # 32-5+1, 28-5+1
    (["params", "mlp", "--layer-sizes", "20,10,10,10,10,10,1"], "= 661"),
    (["params", "conv", "--in-channels", "3", "--out-channels", "64", "--kernel-size", "3", "--no-bias"],
     "without bias = 1,728"),  # 64·3·9
    (["fc-vs-conv", "--width", "5", "--height", "5", "--in-channels", "2", "--out-channels", "4", "--kernel-size",
      "3"], "= 5,000"),
    (["macs", "inception", "--input-size", "28", "--in-channels", "192", "--widths", "64,96,128,16,32,32"],
     "128,049,152"),
    (["macs", "conv", "--input-size", "224", "--in-channels", "3", "--out-channels", "64", "--kernel-size", "7",
      "--stride", "2", "--padding", "3"], "118,013,952"),
    (["densenet", "--in-channels", "64", "--growth-rate", "32", "--num-layers", "6", "--compression", "0.5"],
     "= 128 channels"),
    (["init", "he", "--in-channels", "784", "--out-channels", "256"], "std = 0.0505076"),  # sqrt(2/784)
    (["vanishing-bound", "--sigma", "0.25", "--num-layers", "10", "--layer", "1"], "3.8147e-06"),
])
def test_each_calculator_from_cli(capsys, argv, expected):
    rc, out, _ = run(capsys, *argv)
    assert rc == 0 and expected in out


@pytest.mark.parametrize("argv, message", [
    (["conv-out", "--input-size", "3", "--kernel-size", "5"], "kernel_size 5 (dilated span 5) is larger"),
    (["conv-out", "--input-size", "8", "--kernel-size", "3", "--stride", "0"], "stride must be positive"),
    (["conv-out", "--input-size", "-8", "--kernel-size", "3"], "input_size must be positive"),
    (["init", "orthogonal", "--in-channels", "3", "--out-channels", "3"], "unknown init name 'orthogonal'"),
    (["macs", "inception", "--input-size", "28", "--in-channels", "192", "--widths", "64,96"], "--widths needs 6"),
])
def test_invalid_arguments_exit_2_with_message(capsys, argv, message):
    rc, out, err = run(capsys, *argv)
    assert rc == 2 and out == ""
    assert message in err


def test_help_and_unknown_calculator(capsys):
    assert main(["--help"]) == 0
    assert "conv-out" in capsys.readouterr().out
    assert main(["nonsense"]) == 2
    assert "invalid choice" in capsys.readouterr().err


@pytest.mark.parametrize("argv, message", [
    (["conv-out", "--input-size", "x", "--kernel-size", "3"], "argument --input-size: expected one integer or h,w"),
    (["conv-out", "--input-size", "5"], "the following arguments are required: --kernel-size"),
    (["conv-output"], "did you mean 'conv-out'?"),
    (["macs", "cnv"], "did you mean 'conv'?"),
    ([], "the following arguments are required: NAME"),
])
def test_parse_errors_are_one_line_without_the_usage_block(capsys, argv, message):
    rc, out, err = run(capsys, *argv)
    assert rc == 2 and message in err and len(err.strip().splitlines()) == 1 and "usage:" not in err


def test_output_into_a_pipe_closed_early_is_no_error():
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-m", "backproplab", "calc", "conv-out", "--input-size", "32",
                             "--kernel-size", "5"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()  # as `| head` does, here before the working is printed: every write meets a broken pipe
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 0 and "Traceback" not in err and "BrokenPipe" not in err
