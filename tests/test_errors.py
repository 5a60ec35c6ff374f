"""The command line's errors: one line with the problem and the fix, exit 2 for usage, 1 for failures."""
import errno

import pytest

from backproplab.errors import FAILURE, INTERRUPTED, USAGE, UsageError, run_command


@pytest.mark.parametrize("exc, status, words", [
    (UsageError("--lr must be > 0"), USAGE, "--lr must be > 0"),
    (OSError(errno.ENOSPC, "No space left on device", "/runs/x/result.json"), FAILURE, "the disk is full"),
    (OSError(errno.EROFS, "Read-only file system", "/ro/run"), FAILURE, "pass an --out folder you can write to"),
    (PermissionError(errno.EACCES, "Permission denied", "/root/x"), FAILURE, "you can write to"),
    (FileNotFoundError(errno.ENOENT, "No such file", "/data/x"), FAILURE, "No such file"),
    (ValueError("checkpoint x is damaged; delete it"), FAILURE, "checkpoint x is damaged"),
    (KeyboardInterrupt(), INTERRUPTED, "interrupted"),
    (FileExistsError(errno.EEXIST, "File exists", "/runs/afile"), FAILURE,
     "/runs/afile is a file where a folder is needed; pass another --out"),
])
def test_expected_failures_are_one_line(exc, status, words, capsys):
    def fail():
        raise exc

    assert run_command("backproplab test", fail) == status
    err = capsys.readouterr().err
    assert words in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_a_bug_shows_its_traceback_and_says_so(capsys):
    def bug():
        return {}["missing"]

    assert run_command("backproplab test", bug) == FAILURE
    err = capsys.readouterr().err
    assert "Traceback" in err and "this is a bug" in err


def test_debug_reraises(capsys):
    def fail():
        raise UsageError("boom")

    with pytest.raises(UsageError):
        run_command("backproplab test", fail, debug=True)


def test_the_place_outputs_go_is_named_as_the_command_names_it(capsys):
    def fail():
        raise NotADirectoryError(errno.ENOTDIR, "Not a directory", "afile/x")

    assert run_command("backproplab data to-npz", fail, out="OUT_DIR") == FAILURE
    assert "afile/x goes through a file, not a folder; pass another OUT_DIR" in capsys.readouterr().err
