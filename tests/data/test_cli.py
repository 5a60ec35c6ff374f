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


def test_to_npz_unknown_class(fake, tmp_path, capsys):
    assert top_main(["data", "to-npz", str(tmp_path / "o"), "--data-dir", str(fake), "--classes", "0,11"]) == 1
    assert "unknown Fashion-MNIST class 11" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_bad_subcommand_is_an_argparse_error(capsys):
    with pytest.raises(SystemExit) as info:
        top_main(["data", "locat"])
    assert info.value.code == 2


@pytest.mark.skipif(not REAL, reason=f"Fashion-MNIST not in {DEFAULT_DIR}")
def test_locate_verify_real(capsys):
    assert top_main(["data", "locate", "--data-dir", str(DEFAULT_DIR), "--verify"]) == 0
    out = capsys.readouterr().out
    assert out.count("= official") == 4
    assert "train: 60000 samples" in out and "test: 10000 samples" in out and "Ankle boot: 6000" in out
