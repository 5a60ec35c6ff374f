"""Atomic writes: whole files or none, with the permissions a plain open() would give."""
import os
import stat

import numpy as np
import pytest

from backproplab.utils.io import atomic_savez, atomic_write_json, atomic_write_text, load_npz


@pytest.mark.parametrize("mask, mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_files_follow_the_umask(tmp_path, mask, mode):
    old = os.umask(mask)
    try:
        atomic_write_text(tmp_path / "a.txt", "x")
        atomic_write_json(tmp_path / "b.json", {"a": 1})
        atomic_savez(tmp_path / "c.npz", a=np.zeros(2))
    finally:
        os.umask(old)
    for name in ("a.txt", "b.json", "c.npz"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == mode


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    atomic_write_text(tmp_path / "a.txt", "old")

    class Boom(Exception):
        pass

    def bad(_f):
        raise Boom

    from backproplab.utils import io as io_mod

    with pytest.raises(Boom):
        io_mod._atomic_replace(tmp_path / "a.txt", bad)
    assert (tmp_path / "a.txt").read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt"]


def test_npz_round_trip_refuses_pickles(tmp_path):
    atomic_savez(tmp_path / "x.npz", a=np.arange(3))
    assert load_npz(tmp_path / "x.npz")["a"].tolist() == [0, 1, 2]
    np.savez(tmp_path / "evil.npz", a=np.array([{"x": 1}], dtype=object))
    with pytest.raises(ValueError):
        load_npz(tmp_path / "evil.npz")
