"""batch-size lab: steps to a target loss against the batch size; the race over learning rates equals
running each rate alone; the report's sentences on made-up numbers."""
import math

import numpy as np
import pytest

from backproplab.labs import batch_size as lab
from backproplab.report.i18n import language


def test_slope_regimes_and_check_points():
    # steps 800 → 400 when B 1 → 2: slope log(1/2)/log(2) = -1; 400 → 380 for B 2 → 4: log(0.95)/log(2) = -0.074
    assert lab.slope_regime(math.log(400 / 800) / math.log(2)) == "near-perfect scaling"
    assert lab.slope_regime(math.log(0.95) / math.log(2)) == "no further benefit"
    assert lab.slope_regime(-0.5) == "diminishing returns"
    pts = lab.check_points(1000)
    assert pts[:20] == list(range(1, 21)) and pts[-1] == 1000
    assert all(b > a for a, b in zip(pts, pts[1:]))
    assert all(b / a < 1.06 for a, b in zip(pts[20:], pts[21:]) if a >= 100)  # ~5% apart (rounding below 100)
    assert lab.check_points(1000)[:-1] == [p for p in lab.check_points(5000) if p < 1000]  # one grid for every cap


def test_two_segment_fit_finds_the_break():
    # steps = 1024/B for B = 1..8 (slope -1), then flat at 100 for B = 16, 32, 64 (slope 0)
    fit = lab.two_segment_fit([1, 2, 4, 8, 16, 32, 64], [1024, 512, 256, 128, 100, 100, 100])
    assert fit["break_batch_size"] == 16
    assert fit["slope_small"] == pytest.approx(-1.0, abs=1e-9)
    assert fit["slope_large"] == pytest.approx(0.0, abs=1e-9)
    assert lab.two_segment_fit([1, 2, 4], [4, 2, 1]) is None


def _alone(x, y, lr, target, max_steps, batch_size, seed=0):
    """The first check point at which one learning rate alone reaches the target (None: never or diverged)."""
    racer = lab._Racer(x, y, batch_size, lr, seed, int(y.max()) + 1, x, y)
    checks = set(lab.check_points(max_steps))
    for step in range(1, max_steps + 1):
        racer.step()
        if step in checks:
            loss = racer.eval_loss(x, y)
            if loss <= target:
                return step
            if not math.isfinite(loss) or loss > 2 * racer.start:
                return None
    return None


def test_race_equals_the_minimum_over_rates_run_alone():
    rng = np.random.default_rng(5)
    x = rng.standard_normal((300, 10)).astype(np.float32)
    y = (x[:, 0] + 0.5 * x[:, 1] > 0).astype(np.int64)
    lrs = [0.01, 0.03, 0.1, 0.3, 30.0]  # 30 diverges
    res = lab.race(x, y, x, y, 8, lrs, 0.4, 2000, seed=0)
    alone = {lr: _alone(x, y, lr, 0.4, 2000, 8) for lr in lrs}
    best = min(s for s in alone.values() if s is not None)
    assert res["best_steps"] == best
    assert res["best_lr"] == min(lr for lr, s in alone.items() if s == best)
    assert res["per_lr"]["30.0"] == "diverged" and alone[30.0] is None
    # no rate reaches an impossible target: None
    assert lab.race(x, y, x, y, 8, [0.01], 1e-9, 50, seed=0)["best_steps"] is None


def test_quick_run(tmp_path, lab_run, have_fashion_mnist):
    res, out = lab_run(lab, tmp_path)
    rows = [r for r in res["rows"] if r["steps"] is not None]
    assert len(rows) == 5
    assert rows[1]["regime"] == "near-perfect scaling"     # small batches: noise-limited
    assert rows[-1]["regime"] != "near-perfect scaling"    # large batches: curvature-limited
    assert rows[-1]["examples"] > 2 * rows[0]["examples"]  # more examples in total at the largest B
    assert res["fit"]["slope_small"] < -0.6 and res["fit"]["slope_large"] > -0.4
    assert (out / "steps.csv").exists() and (out / "batch_size.png").exists()


def test_sentences_both_ways():
    rows = [{"batch_size": 1, "steps": 800}, {"batch_size": 2, "steps": 400, "interval": "1→2",
                                               "regime": "near-perfect scaling", "best_lr": 0.1}]
    rows[0]["best_lr"] = 0.05
    with language("en"):
        assert "`1→2`" in str(lab.intervals_sentence(rows, "near-perfect scaling"))
        assert "none" in str(lab.intervals_sentence(rows, "no further benefit"))
        assert "B = 64" in str(lab.critical_sentence(64))
        assert "no critical batch size" in str(lab.critical_sentence(None))
        assert "slope -0.87 below B = 64" in str(lab.fit_sentence({"slope_small": -0.87, "break_batch_size": 64,
                                                                 "slope_large": -0.09}))
        assert "too few" in str(lab.fit_sentence(None))
        assert "Every batch size" in str(lab.missing_sentence(rows, 100))
        assert "did not reach" in str(lab.missing_sentence(rows + [{"batch_size": 4, "steps": None}], 100))
        assert "largest value 0.1 at B = 2" in str(lab.lr_sentence(rows))
        assert "nothing to compare" in str(lab.lr_sentence(rows[:1]))
        assert "±0.14" in str(lab.resolution_sentence((1, 2, 4))) and "±0.07" in str(lab.resolution_sentence((1, 4)))
