"""The run folder: tied to one configuration (refused or replaced, never mixed), locked while a
run writes it, files written atomically with the usual permissions, clear errors for bad places."""
import json
import os
import stat

import pytest

from backproplab.cli import main
from backproplab.labs import quadratic
from backproplab.labs.run_folder import RunConflict, RunFolder, RunLocked


def test_other_settings_are_refused_with_the_differences_and_the_ways_out(tmp_path, capsys):
    out = tmp_path / "q"
    assert main(["lab", "quadratic", "--quick", "--out", str(out), "--quiet"]) == 0
    first = json.loads((out / "result.json").read_text())
    assert main(["lab", "quadratic", "--quick", "--out", str(out), "--quiet", "--num-steps", "7", "--seed", "3"]) == 2
    err = capsys.readouterr().err
    assert "--num-steps 25 -> 7" in err and "--seed 0 -> 3" in err
    assert "--overwrite" in err and f"--out {out}-" in err and "Traceback" not in err
    assert json.loads((out / "result.json").read_text()) == first  # nothing was changed
    assert main(["lab", "quadratic", "--quick", "--out", str(out), "--quiet", "--num-steps", "7", "--overwrite"]) == 0
    assert json.loads((out / "config.json").read_text())["config"]["num_steps"] == 7


def test_same_settings_reuse_the_finished_run(tmp_path, capsys):
    out = tmp_path / "q"
    assert main(["lab", "quadratic", "--quick", "--out", str(out)]) == 0
    stamp = (out / "result.json").stat().st_mtime_ns
    assert main(["lab", "quadratic", "--quick", "--out", str(out)]) == 0
    assert (out / "result.json").stat().st_mtime_ns == stamp


def test_cached_steps_are_tied_to_the_configuration(tmp_path):
    config = quadratic.Config()
    with RunFolder(tmp_path / "r", "quadratic", config) as folder:
        folder.store("a", {"v": 1})
        assert folder.cached("a") == (True, {"v": 1})
    other = quadratic.Config(num_steps=5)
    with pytest.raises(RunConflict):
        RunFolder(tmp_path / "r", "quadratic", other)
    with RunFolder(tmp_path / "r", "quadratic", other, overwrite=True) as folder:
        assert folder.cached("a") == (False, None)


def test_a_second_run_into_a_folder_in_use_is_refused(tmp_path, capsys):
    out = tmp_path / "busy"
    with RunFolder(out, "quadratic", quadratic.Config().quick()):
        with pytest.raises(RunLocked, match="being written by another run"):
            RunFolder(out, "quadratic", quadratic.Config().quick())
        assert main(["lab", "quadratic", "--quick", "--out", str(out)]) == 1
        assert "being written by another run" in capsys.readouterr().err
    assert main(["lab", "quadratic", "--quick", "--out", str(out)]) == 0  # released when the first ends


def test_a_folder_with_other_files_is_never_emptied(tmp_path, capsys):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "thesis.tex").write_text("precious")
    for extra in ([], ["--overwrite"]):
        assert main(["lab", "quadratic", "--quick", "--out", str(out)] + extra) == 2
        assert "holds files but no backproplab run" in capsys.readouterr().err
    assert (out / "thesis.tex").read_text() == "precious"


def test_out_under_a_file_is_one_line(tmp_path, capsys):
    (tmp_path / "afile").write_text("x")
    assert main(["lab", "quadratic", "--quick", "--out", str(tmp_path / "afile" / "run")]) == 1
    err = capsys.readouterr().err
    assert "a file is in the way" in err and "--out" in err and "Traceback" not in err


def test_outputs_get_the_usual_permissions(tmp_path):
    old = os.umask(0o022)
    try:
        assert main(["lab", "quadratic", "--quick", "--out", str(tmp_path / "q"), "--quiet"]) == 0
    finally:
        os.umask(old)
    for f in ("result.json", "report.md", "report.html", "quadratic.png", "runs.csv"):
        assert stat.S_IMODE((tmp_path / "q" / f).stat().st_mode) == 0o644, f


@pytest.mark.parametrize("text", ['{"lab": "quadratic", "fing', "[1, 2]", ""])
def test_a_damaged_config_json_is_named_with_the_way_out(tmp_path, capsys, text):
    out = tmp_path / "q"
    out.mkdir()
    (out / "config.json").write_text(text)
    assert main(["lab", "quadratic", "--quick", "--out", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert f"{out / 'config.json'} is damaged" in err and "--overwrite" in err and "lab '?'" not in err
    assert len(err.strip().splitlines()) == 1 and (out / "config.json").read_text() == text
    assert main(["lab", "quadratic", "--quick", "--out", str(out), "--quiet", "--overwrite"]) == 0


def test_damaged_or_foreign_step_and_result_files_are_recomputed(tmp_path):
    config = quadratic.Config()
    with RunFolder(tmp_path / "r", "quadratic", config) as folder:
        for text in ("[1]", '{"fingerprint": "%s", "key": "a"}' % folder.fingerprint, '{"key": "a", "resu'):
            folder._step_path("a").parent.mkdir(exist_ok=True)
            folder._step_path("a").write_text(text)
            assert folder.cached("a") == (False, None)
            (folder.path / "result.json").write_text(text)
            assert folder.finished_result() is None


def test_settings_equal_but_fingerprint_differs_says_so(tmp_path, capsys):
    out = tmp_path / "q"
    config = quadratic.Config().quick()
    out.mkdir()
    (out / "config.json").write_text(json.dumps({"lab": "quadratic", "fingerprint": "0" * 16,
                                                 "config": config.to_dict()}))
    assert main(["lab", "quadratic", "--quick", "--out", str(out), "--quiet"]) == 2
    assert "does not match its fingerprint" in capsys.readouterr().err
