"""batch-size lab: quick runs + hand checks.

The quick runs go through the CLI in a subprocess with one BLAS thread: on a machine
shared by many processes, OpenBLAS's worker threads can make small matrix products
100x slower, and the environment variable only takes effect before numpy loads.
"""
import json
import math
import os
import subprocess
import sys

import numpy as np
import pytest

from backproplab.labs import batch_size


@pytest.fixture(scope="module")
def have_data():
    from backproplab.data import DatasetNotFoundError, locate_fashion_mnist

    try:
        locate_fashion_mnist()
    except DatasetNotFoundError as e:
        pytest.skip(f"Fashion-MNIST not available: {e}")


def run_quick(name: str, out, *options) -> dict:
    """``backproplab lab NAME --quick --out OUT`` in a subprocess; the JSON metrics it wrote, by file stem."""
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg"}
    proc = subprocess.run([sys.executable, "-m", "backproplab", "lab", name, "--quick", "--out", str(out), *options],
                          env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (out / "report.md").exists() and (out / "config.json").exists()
    return {p.stem: json.loads(p.read_text()) for p in out.glob("*.json")}


# -- batch-size ---------------------------------------------------------------------
def test_slope_regimes_and_check_points():
    # steps 800 → 400 when B 1 → 2: slope log(1/2)/log(2) = -1; 400 → 380 for B 2 → 4: log(0.95)/log(2) = -0.074
    assert batch_size.slope_regime(math.log(400 / 800) / math.log(2)) == "near-perfect scaling"
    assert batch_size.slope_regime(math.log(0.95) / math.log(2)) == "no further benefit"
    assert batch_size.slope_regime(-0.5) == "diminishing returns"
    pts = batch_size.check_points(1000)
    assert pts[:20] == list(range(1, 21)) and pts[-1] == 1000
    assert all(b > a for a, b in zip(pts, pts[1:]))
    assert all(b / a < 1.06 for a, b in zip(pts[20:], pts[21:]) if a >= 100)  # ~5% apart (rounding below 100)


def test_two_segment_fit_finds_the_break():
    # steps = 1024/B for B = 1..8 (slope -1), then flat at 100 for B = 16, 32, 64 (slope 0)
    fit = batch_size.two_segment_fit([1, 2, 4, 8, 16, 32, 64], [1024, 512, 256, 128, 100, 100, 100])
    assert fit["break_batch_size"] == 16
    assert fit["slope_small"] == pytest.approx(-1.0, abs=1e-9)
    assert fit["slope_large"] == pytest.approx(0.0, abs=1e-9)
    assert batch_size.two_segment_fit([1, 2, 4], [4, 2, 1]) is None


def test_batch_size_quick(tmp_path, have_data):
    res = run_quick("batch-size", tmp_path)
    rows = [r for r in res["steps"] if r["steps"] is not None]
    assert len(rows) == len(batch_size.QUICK["batch_sizes"])
    regimes = [r.get("regime") for r in rows[1:]]
    assert regimes[0] == "near-perfect scaling"     # small batches: noise-limited
    assert regimes[-1] != "near-perfect scaling"    # large batches: curvature-limited
    # more examples are needed in total at the largest batch size than at the smallest
    assert rows[-1]["examples"] > 2 * rows[0]["examples"]
    fit = res["fit"]["two_segment"]
    assert fit["slope_small"] < -0.6 and fit["slope_large"] > -0.4
    assert (tmp_path / "steps.csv").exists() and (tmp_path / "batch_size.png").exists()
