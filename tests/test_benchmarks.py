"""The benchmark scripts still run (tiny sizes, no timing asserted: speed is measured by running them,
never in a test). They import test references and library internals, so a change elsewhere can
break them without any other test noticing."""
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TINY = {
    "bench_deform.py": ["--batch-size", "2", "--channels", "4", "--size", "6", "--steps", "1", "--repeats", "1"],
    "bench_deform.py --modulation": ["--batch-size", "2", "--channels", "4", "--size", "6", "--steps", "1",
                                     "--repeats", "1", "--modulation"],
    "bench_cnn.py": ["--steps", "2", "--batch-size", "8", "--repeats", "1"],
}


@pytest.mark.parametrize("name", TINY)
def test_benchmark_runs_and_prints_its_ratio(name, torch):
    script = ROOT / "benchmarks" / name.split()[0]
    done = subprocess.run([sys.executable, str(script), *TINY[name]], capture_output=True, text=True, timeout=300,
                          cwd=ROOT)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "ratio" in done.stdout
