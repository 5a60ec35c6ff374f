"""The homework notebooks (notebooks/NNN_*.py, jupytext's percent format) run top to bottom on a
fresh kernel, each in a temporary working folder, and any error in any cell fails the test.

jupytext reads the .py into a notebook; nbclient runs it on the ``python3`` kernelspec. That spec
launches ``python -m ipykernel_launcher``, and jupyter_client replaces a bare ``python`` with the
interpreter running the test (sys.executable), so the kernel imports this environment's
backproplab: test_kernel_runs_this_interpreter checks it.
"""
import re
import sys
from pathlib import Path

import jupytext
import nbformat
import pytest
from nbclient import NotebookClient

from backproplab.course import load_map

NOTEBOOK_DIR = Path(__file__).resolve().parents[2] / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("[0-9][0-9][0-9]_*.py"))
#: seconds per cell; the slowest cell is one lab's quick run (about 20 s alone on 2 cores)
CELL_TIMEOUT_S = 300


def execute(nb, folder: Path):
    """Run every cell of ``nb`` on a new python3 kernel whose working folder is ``folder``."""
    client = NotebookClient(nb, kernel_name="python3", timeout=CELL_TIMEOUT_S, startup_timeout=120,
                            resources={"metadata": {"path": str(folder)}})
    client.execute()  # raises CellExecutionError, with the cell's traceback, on the first error
    return nb


def test_every_homework_document_has_a_notebook():
    assert [p.name[:3] for p in NOTEBOOKS] == sorted(load_map())


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_shows_every_question_of_its_document_in_order(path):
    shown = re.findall(r'show_question\("([^"]+)"\)', path.read_text(encoding="utf-8"))
    assert shown == [q.id for q in load_map()[path.name[:3]].questions]


def test_kernel_runs_this_interpreter(tmp_path):
    cell = nbformat.v4.new_code_cell("import os, sys; print(sys.executable); print(sys.prefix); print(os.getcwd())")
    nb = execute(nbformat.v4.new_notebook(cells=[cell]), tmp_path)
    executable, prefix, cwd = nb.cells[0].outputs[0]["text"].splitlines()
    assert (executable, prefix) == (sys.executable, sys.prefix)
    assert Path(cwd).resolve() == tmp_path.resolve()


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_top_to_bottom(path, tmp_path, monkeypatch):
    beside = sorted(p.name for p in NOTEBOOK_DIR.iterdir())
    nb = jupytext.read(path)
    assert nb.metadata["kernelspec"]["name"] == "python3"
    assert not any(c.get("outputs") for c in nb.cells if c.cell_type == "code"), "sources carry no outputs"
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setenv("TMPDIR", str(scratch))  # the kernel inherits it: the notebook's temporary folders go here
    execute(nb, tmp_path)
    assert sorted(p.name for p in NOTEBOOK_DIR.iterdir()) == beside, "a notebook wrote beside its source"
