"""MobileNet V1/V2 and the plain CNN: the papers' ImageNet cost tables, output shapes, eq. 5's ratio.

Tolerances: the papers print MACs in whole millions and parameters in tenths of millions;
we ask for |counted - printed| <= max(1M, 0.05%) MACs (160px counts 290.7M, printed 290M:
truncated; Conv MobileNet counts 4867.3M, printed 4866M) and <= 0.05M parameters.
MobileNetV2's 3.4M (paper) / 3.5M (reference code) is asked as 3.40-3.55M and its 300M MACs as 295-305M.
"""
from __future__ import annotations

import subprocess
import sys

import pytest

torch = pytest.importorskip("torch", reason="the mobilenet models need the optional extra backproplab[torch]")
from torch import nn  # noqa: E402

from backproplab.torchmodels import (MobileNetV1, MobileNetV2, PlainCNN, build_model, count_macs,  # noqa: E402
                                     separable_cost_ratio)
from backproplab.torchmodels.mobilenet_v2 import InvertedResidual, make_divisible  # noqa: E402


pytestmark = pytest.mark.usefixtures("one_torch_thread")

# (model, width, resolution, paper million mult-adds, paper million params): MobileNet V1 paper
# (Howard et al. 2017) Tables 4, 6, 7; "cnn" = Table 4's "Conv MobileNet"
PAPER_ROWS = [
    ("v1", 1.0, 224, 569, 4.2), ("v1", 0.75, 224, 325, 2.6), ("v1", 0.5, 224, 149, 1.3),
    ("v1", 0.25, 224, 41, 0.5), ("v1", 1.0, 192, 418, 4.2), ("v1", 1.0, 160, 290, 4.2),
    ("v1", 1.0, 128, 186, 4.2), ("cnn", 1.0, 224, 4866, 29.3),
]


@pytest.mark.parametrize("name, width, res, paper_macs, paper_params", PAPER_ROWS)
def test_mobilenet_v1_paper_table(name, width, res, paper_macs, paper_params):
    cost = count_macs(build_model(name, width, 1000, res), (3, res, res))
    assert abs(cost.macs / 1e6 - paper_macs) <= max(1.0, 5e-4 * paper_macs), cost.macs
    assert abs(cost.params / 1e6 - paper_params) <= 0.05, cost.params
    assert cost.flops == 2 * cost.macs


def test_mobilenet_v2_paper_numbers():
    cost = count_macs(MobileNetV2(1.0, 1000, 224), (3, 224, 224))
    assert 295e6 <= cost.macs <= 305e6, cost.macs
    assert 3.40e6 <= cost.params <= 3.55e6, cost.params
    # 10 of the 17 bottleneck blocks have stride 1 and equal channels: those carry the residual
    blocks = [m for m in MobileNetV2(1.0, 1000, 224).modules() if isinstance(m, InvertedResidual)]
    assert len(blocks) == 17 and sum(b.use_residual for b in blocks) == 10


def test_v1_cost_breakdown_matches_paper_table_2():
    """Paper Table 2: 1x1 convs 94.86% of mult-adds, depthwise 3.06%, fully connected 0.18%."""
    cost = count_macs(MobileNetV1(1.0, 1000, 224), (3, 224, 224))
    share = {k: 100 * v["macs"] / cost.macs for k, v in cost.by_kind().items()}
    assert share["pointwise"] == pytest.approx(94.86, abs=0.005)
    assert share["depthwise"] == pytest.approx(3.06, abs=0.005)
    assert share["linear"] == pytest.approx(0.18, abs=0.005)


@pytest.mark.parametrize("cls", [MobileNetV1, MobileNetV2, PlainCNN])
@pytest.mark.parametrize("in_channels, size, num_classes, variant, final", [
    (3, 224, 1000, "imagenet", 7), (3, 32, 10, "cifar", 4), (1, 32, 10, None, 4), (1, 16, 10, "cifar", 2)])
def test_output_shapes(cls, in_channels, size, num_classes, variant, final):
    width = 0.25 if size == 224 else 0.5  # thin nets keep the test fast; shapes do not depend on width
    model = cls(width, num_classes, size, in_channels=in_channels, variant=variant).eval()
    assert model.variant == ("imagenet" if size > 64 else "cifar")
    with torch.no_grad():
        x = torch.randn(2, in_channels, size, size)
        assert model(x).shape == (2, num_classes)
        assert model.features(x).shape[-2:] == (final, final)


def test_count_macs_on_any_model_by_hand():
    model = nn.Sequential(nn.Conv2d(4, 6, 3, stride=2, padding=1, groups=2), nn.ReLU(),
                          nn.Conv2d(6, 6, 3, padding=1, groups=6), nn.Conv2d(6, 5, 1), nn.Flatten(),
                          nn.Linear(5 * 5 * 5, 7))
    cost = count_macs(model, (4, 10, 10))
    expected = [5 * 5 * 6 * (4 // 2) * 9, 5 * 5 * 6 * 9, 5 * 5 * 5 * 6, 125 * 7]
    assert [layer.macs for layer in cost.layers] == expected
    assert [layer.kind for layer in cost.layers] == ["conv", "depthwise", "pointwise", "linear"]
    assert cost.params == sum(p.numel() for p in model.parameters())
    assert model.training  # restored


@pytest.mark.parametrize("in_channels, out_channels, size, stride", [(3, 5, 9, 1), (16, 64, 12, 2), (7, 1, 5, 1)])
def test_separable_ratio_equals_paper_eq5(in_channels, out_channels, size, stride):
    separable = nn.Sequential(nn.Conv2d(in_channels, in_channels, 3, stride, 1, groups=in_channels),
                              nn.Conv2d(in_channels, out_channels, 1))
    standard = nn.Conv2d(in_channels, out_channels, 3, stride, 1)
    shape = (in_channels, size, size)
    ratio = count_macs(separable, shape).macs / count_macs(standard, shape).macs
    assert ratio == pytest.approx(separable_cost_ratio(out_channels, 3), rel=1e-12)
    assert separable_cost_ratio(out_channels, 3) == pytest.approx(1 / out_channels + 1 / 9)


def test_width_rounding():
    assert [make_divisible(c * 0.75) for c in (32, 16, 24, 320)] == [24, 16, 24, 240]
    assert make_divisible(1280 * max(1.0, 0.5)) == 1280  # V2 keeps its 1280-channel head below width 1
    assert MobileNetV1(0.25, 10, 32).classifier.in_features == 256


def test_backproplab_never_imports_torch():
    code = ("import sys, backproplab, backproplab.cli, backproplab.labs, backproplab.labs.mobilenet, "
            "backproplab.data, backproplab.data.cifar10, backproplab.nn; "
            "assert 'torch' not in sys.modules, 'torch was imported'")
    subprocess.run([sys.executable, "-c", code], check=True)
