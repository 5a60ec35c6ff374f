"""The top-level CLI: unknown commands, labs and options, and bad option values, give one clear line on
stderr and the documented exit status (backproplab.errors: 2 when the command line must change, 1 when
the run cannot proceed, e.g. missing data) instead of a traceback."""
import pytest

from backproplab.cli import main
from backproplab.errors import FAILURE, USAGE


def test_unknown_command(capsys):
    assert main(["nosuch"]) == USAGE
    assert "unknown command 'nosuch'" in capsys.readouterr().err


def test_unknown_lab(capsys):
    assert main(["lab", "nosuch"]) == USAGE
    err = capsys.readouterr().err
    assert "unknown lab 'nosuch'" in err and err.count("\n") == 1


def test_unknown_lab_option(capsys):
    with pytest.raises(SystemExit) as e:
        main(["lab", "init", "--epochz", "3"])
    assert e.value.code == USAGE
    assert "unrecognized arguments: --epochz" in capsys.readouterr().err


def test_bad_classes_in_a_lab(tmp_path, capsys):
    assert main(["lab", "init", "--quick", "--classes", "0,11", "--out", str(tmp_path)]) == USAGE
    err = capsys.readouterr().err
    assert "backproplab lab init: error:" in err and "0,11" in err


def test_bad_classes_in_a_group(tmp_path, capsys):
    assert main(["lab", "all", "--quick", "--classes", "3", "--out", str(tmp_path / "run")]) == USAGE
    assert "at least two distinct ids" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()  # refused before any lab ran


def test_missing_data_names_the_fix(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("BACKPROPLAB_FASHION_MNIST", str(tmp_path / "nowhere"))
    assert main(["lab", "init", "--quick", "--out", str(tmp_path / "run")]) == FAILURE
    err = capsys.readouterr().err
    assert "nowhere" in err and "apt-get install dataset-fashion-mnist" in err
