"""The top-level CLI: unknown commands, labs and options, and bad option values, give a clear
message and a non-zero exit status instead of a traceback."""
import pytest

from backproplab.cli import main


def test_unknown_command(capsys):
    assert main(["nosuch"]) == 2
    assert "unknown command 'nosuch'" in capsys.readouterr().err


def test_unknown_lab():
    with pytest.raises(SystemExit, match="unknown lab 'nosuch'"):
        main(["lab", "nosuch"])


def test_unknown_lab_option(capsys):
    with pytest.raises(SystemExit) as e:
        main(["lab", "init", "--epochz", "3"])
    assert e.value.code == 2
    assert "unrecognized arguments: --epochz" in capsys.readouterr().err


def test_bad_classes_in_a_lab(tmp_path, capsys):
    assert main(["lab", "init", "--quick", "--classes", "0,11", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "backproplab lab init: error:" in err and "0,11" in err


def test_bad_classes_in_a_group(tmp_path):
    with pytest.raises(SystemExit, match="at least two distinct ids"):
        main(["lab", "all", "--quick", "--classes", "3", "--out", str(tmp_path)])


def test_missing_data_names_the_fix(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("BACKPROPLAB_FASHION_MNIST", str(tmp_path / "nowhere"))
    assert main(["lab", "init", "--quick", "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert "nowhere" in err and "apt-get install dataset-fashion-mnist" in err
