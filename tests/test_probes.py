"""The fast probes of scripts/probes.py (bad options, names, files, run folders: each well under a second),
run here through ``backproplab.cli.main``: each must still pass, and still get the exit status and
message docs/reliability.md records for it, so the document cannot drift from the behaviour. The full
probe run (quick lab runs, faults, snippets) stays a script: ``.venv/bin/python scripts/probes.py``."""
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

from reliability import doc  # noqa: E402
from reliability.files import FinishedRuns  # noqa: E402
from reliability.harness import run_inprocess  # noqa: E402
from reliability.table import all_probes  # noqa: E402

# the fast probes never make a finished run: the cache folder is never written
FAST = [p for p in all_probes(FinishedRuns(Path("/nonexistent"))) if p.fast]
DOC = (ROOT / "docs" / "reliability.md").read_text(encoding="utf-8")


def test_there_are_fast_probes_of_every_kind():
    families = {p.family for p in FAST}
    assert len(FAST) > 300 and len(families) >= 10, families


@pytest.mark.parametrize("probe", FAST, ids=lambda p: p.id)
def test_probe(probe, tmp_path):
    result = run_inprocess(probe, tmp_path)
    assert result.ok, f"{probe.id}: {'; '.join(result.problems)}\nstderr: {result.stderr[-2000:]}"
    row = doc.row(probe, result)
    assert row in DOC, (f"docs/reliability.md does not record what {probe.id} now gets:\n{row}\n"
                        "regenerate it with `.venv/bin/python scripts/probes.py`")
