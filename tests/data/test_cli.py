"""`backproplab data ...`: exit codes and what it prints, through the top-level command."""
import numpy as np
import pytest

from backproplab.cli import main as top_main
from backproplab.data import CONTENT_MD5, DEFAULT_DIR

REAL = all((DEFAULT_DIR / f"{n}.gz").is_file() for n in CONTENT_MD5)


@pytest.fixture
def fake(tmp_path, write_fake_fashion_mnist):
    folder = tmp_path / "fm"
    write_fake_fashion_mnist(folder, np.random.default_rng(0), n=(30, 10), compress=False, shuffle_labels=False)
    return folder


def test_locate_fake_and_verify_fails(fake, capsys):
    assert top_main(["data", "locate", "--data-dir", str(fake)]) == 0
    out = capsys.readouterr().out
    assert f"idx files in {fake}" in out and str(fake / "t10k-labels-idx1-ubyte") in out
    assert top_main(["data", "locate", "--data-dir", str(fake), "--verify"]) == 1  # not the official bytes
    err = capsys.readouterr().err
    assert "content MD5" in err and str(fake) in err


def test_locate_missing_folder(tmp_path, capsys):
    assert top_main(["data", "locate", "--data-dir", str(tmp_path / "none")]) == 1
    err = capsys.readouterr().err
    assert str(tmp_path / "none") in err and "apt-get install dataset-fashion-mnist" in err


@pytest.mark.parametrize("classes, words", [
    ("0,11", "unknown Fashion-MNIST class 11"), ("foo,3", "unknown Fashion-MNIST class 'foo'"),
    ("0", "at least two classes"), ("", "non-empty"), ("Trouser,1", "distinct"),
])
def test_to_npz_bad_classes_are_a_usage_error(fake, tmp_path, capsys, classes, words):
    with pytest.raises(SystemExit) as info:
        top_main(["data", "to-npz", str(tmp_path / "o"), "--data-dir", str(fake), "--classes", classes])
    err = capsys.readouterr().err
    assert info.value.code == 2 and "argument --classes" in err and words in err and err.count("\n") == 1
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("argv, words", [
    (["data", "locat"], "did you mean 'locate'?"), (["data", "locate", "--verfy"], "did you mean --verify?"),
    (["data"], "the following arguments are required: COMMAND"),
])
def test_bad_subcommand_or_option_is_one_line(capsys, argv, words):
    with pytest.raises(SystemExit) as info:
        top_main(argv)
    err = capsys.readouterr().err
    assert info.value.code == 2 and words in err and err.count("\n") == 1 and "usage:" not in err


@pytest.mark.parametrize("argv, words", [
    (["to-npz", "afile/o"], "afile/o goes through a file, not a folder; pass another OUT_DIR"),
    (["download", "afile/dl", "--quiet"], "afile/dl goes through a file, not a folder; pass another DIR"),
])
def test_an_output_folder_under_a_file_is_one_line(fake, tmp_path, monkeypatch, capsys, argv, words):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "afile").write_text("x")
    assert top_main(["data", *argv, "--data-dir", str(fake)] if argv[0] == "to-npz" else ["data", *argv]) == 1
    err = capsys.readouterr().err
    assert words in err and "Traceback" not in err and err.count("\n") == 1


@pytest.mark.skipif(not REAL, reason=f"Fashion-MNIST not in {DEFAULT_DIR}")
def test_locate_verify_real(capsys):
    assert top_main(["data", "locate", "--data-dir", str(DEFAULT_DIR), "--verify"]) == 0
    out = capsys.readouterr().out
    assert out.count("= official") == 4
    assert "train: 60000 samples" in out and "test: 10000 samples" in out and "Ankle boot: 6000" in out
