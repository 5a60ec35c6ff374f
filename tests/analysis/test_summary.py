"""analysis.summary: output shapes, parameter counts and MACs against numbers derived by hand."""
from __future__ import annotations

import numpy as np

from backproplab import nn
from backproplab.analysis import format_summary, summary


def _model():
    rng = np.random.default_rng(0)
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, stride=2, padding=1, dilation=2, rng=rng),  # 9x9 -> floor((9+2-4-1)/2)+1 = 4
        nn.BatchNorm2d(8), nn.ReLU(),
        nn.Conv2d(8, 8, 3, padding=1, groups=4, rng=rng),              # 4x4, 2 input channels per group
        nn.Flatten(), nn.Linear(128, 5, rng=rng),
    )


def test_summary_rows_match_hand_counts():
    model = _model().train()
    rows = summary(model, (2, 3, 9, 9))
    by_name = {r["name"]: r for r in rows}
    assert [r["type"] for r in rows] == ["Conv2d", "BatchNorm2d", "ReLU", "Conv2d", "Flatten", "Linear"]
    assert by_name["0"]["output_shape"] == (2, 8, 4, 4)
    assert by_name["0"]["macs"] == 2 * 8 * 4 * 4 * 3 * 3 * 3      # N·O·Ho·Wo·C·kh·kw = 6912
    assert by_name["3"]["macs"] == 2 * 8 * 4 * 4 * (8 // 4) * 9     # groups: C/groups inputs per output = 4608
    assert by_name["5"]["macs"] == 2 * 128 * 5                     # N·in·out = 1280
    assert by_name["1"]["macs"] == 0 and by_name["1"]["params"] == 16
    assert [r["params"] for r in rows] == [8 * 3 * 9 + 8, 16, 0, 8 * 2 * 9 + 8, 0, 128 * 5 + 5]
    assert model.training and int(model[1].num_batches_tracked) == 0  # mode restored, no BN update
    assert "forward" not in vars(model[0])  # the recording wrapper is gone
    text = format_summary(rows)
    assert "MACs 12,800" in text and "FLOPs = 2 x MACs = 25,600" in text


def test_summary_conv1d_macs():
    rng = np.random.default_rng(1)
    rows = summary(nn.Sequential(nn.Conv1d(2, 4, 3, rng=rng)), (1, 2, 10))
    assert rows[0]["output_shape"] == (1, 4, 8) and rows[0]["macs"] == 4 * 8 * 2 * 3
