"""Sub-commands of ``backproplab calc`` for the course documents' derivations and errata.

    cnn-gradients      001 Q3: own gradient formulas vs the library, and the solution's printed ones
    bn-scale           001 Q1(b): conv → BN with the weights or the input scaled by α
    norm-stats         001 Q1(b): what batch / layer / instance / group norm average over
    unet               001 Q1(c): U-Net encoder sizes and conv parameters
    bilinear           001 Q4(c): the bilinear interpolation weights of deformable convolution
    residual-gradient  001 Q6: gradient reaching the first block, plain vs residual
    newton-cost        003 Q5: memory and time of a Newton step vs a GD step
    committee-error    003 Q2: E_COM vs E_AV of a committee
"""
from __future__ import annotations

import argparse
import math

from .bilinear import bilinear
from .bn_scale import bn_scale
from .cnn_gradients import cnn_gradients
from .committee_error import committee_error
from .newton_cost import DEFAULT_FLOPS, SOLVERS, newton_cost
from .norm_stats import norm_stats
from .residual_gradient import residual_gradient
from .unet import unet


def _floats(text: str) -> list[float]:
    """'2,-2' or '1e3 1e6' -> [2.0, -2.0] / [1000.0, 1000000.0]."""
    parts = [p for p in text.replace(",", " ").split() if p]
    try:
        values = [float(p) for p in parts]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected numbers separated by commas, got {text!r}") from None
    if not values:
        raise argparse.ArgumentTypeError("expected at least one number")
    return values


def _counts(text: str) -> list[int]:
    """'1e3,1e6,64' -> [1000, 1000000, 64]: whole numbers, scientific notation allowed."""
    values = _floats(text)
    if any(not math.isfinite(v) or v != int(v) for v in values):
        raise argparse.ArgumentTypeError(f"expected whole numbers (1e6 is fine), got {text!r}")
    return [int(v) for v in values]


def _point(text: str) -> list[float]:
    values = _floats(text)
    if len(values) != 2:
        raise argparse.ArgumentTypeError(f"expected a point y,x, got {text!r}")
    return values


def add_course_calculators(sub, common: argparse.ArgumentParser) -> None:
    """Register the sub-commands listed in the module docstring on ``sub`` (an argparse subparsers object)."""
    q = sub.add_parser("cnn-gradients", parents=[common],
                       help="001 Q3: gradient formulas of the small CNN checked against the library")
    q.add_argument("--seed", type=int, default=0, help="draws the input and the weights")
    q.add_argument("--target", type=float, default=1.0, help="y in L = ½(ŷ - y)²")
    q.set_defaults(fn=lambda a: cnn_gradients(a.seed, a.target))

    q = sub.add_parser("bn-scale", parents=[common], help="conv → BatchNorm with weights or input scaled by α")
    q.add_argument("--alphas", type=_floats, default=[2.0, -2.0], help="scale factors, e.g. 2,-2 (nonzero)")
    q.add_argument("--seed", type=int, default=0)
    q.add_argument("--batch-size", type=int, default=16)
    q.add_argument("--stat-batches", type=int, default=50, help="batches that make the running statistics")
    q.set_defaults(fn=lambda a: bn_scale(a.alphas, a.seed, a.batch_size, a.stat_batches))

    q = sub.add_parser("norm-stats", parents=[common], help="statistics of batch / layer / instance / group norm")
    q.add_argument("--batch-size", type=int, required=True, help="N")
    q.add_argument("--channels", type=int, required=True, help="C (features of a fully connected layer)")
    q.add_argument("--height", type=int, default=1, help="H (1 for a fully connected layer)")
    q.add_argument("--width", type=int, default=1, help="W (1 for a fully connected layer)")
    q.add_argument("--groups", type=int, default=1, help="G of group norm (divides C)")
    q.add_argument("--seed", type=int, default=0)
    q.set_defaults(fn=lambda a: norm_stats(a.batch_size, a.channels, a.height, a.width, a.groups, a.seed))

    q = sub.add_parser("unet", parents=[common], help="U-Net encoder: size per level, conv parameters")
    q.add_argument("--input-size", type=int, required=True)
    q.add_argument("--channels", type=_counts, default=[64, 128, 256, 512, 1024], help="per level")
    q.add_argument("--in-channels", type=int, default=1)
    q.add_argument("--kernel-size", type=int, default=3)
    q.set_defaults(fn=lambda a: unet(a.input_size, a.channels, a.in_channels, a.kernel_size))

    q = sub.add_parser("bilinear", parents=[common], help="bilinear interpolation weights G(q, p) at a point")
    q.add_argument("--point", type=_point, required=True, help="p = y,x (fractional), e.g. 1.3,2.6")
    q.add_argument("--size", type=int, default=5, help="the feature map is size x size")
    q.add_argument("--seed", type=int, default=0)
    q.set_defaults(fn=lambda a: bilinear(a.point[0], a.point[1], a.size, a.seed))

    q = sub.add_parser("residual-gradient", parents=[common], help="first-block gradient, plain vs residual")
    q.add_argument("--depths", type=_counts, default=[2, 10, 30])
    q.add_argument("--width", type=int, default=16)
    q.add_argument("--seed", type=int, default=0)
    q.set_defaults(fn=lambda a: residual_gradient(a.depths, a.width, a.seed))

    q = sub.add_parser("newton-cost", parents=[common], help="memory and time of a Newton step vs a GD step")
    q.add_argument("--params", type=_counts, default=[1_000, 1_000_000, 100_000_000], help="P, e.g. 1e3,1e6,1e8")
    q.add_argument("--flops", type=float, default=DEFAULT_FLOPS,
                   help=f"the machine's rate in flop/s (default {DEFAULT_FLOPS:g}; give a measured GEMM rate)")
    q.add_argument("--solver", choices=sorted(SOLVERS), default="cholesky")
    q.add_argument("--batch-size", type=int, default=1, help="examples per gradient")
    q.add_argument("--bytes-per-number", type=int, default=4, help="4 = float32, 8 = float64")
    q.set_defaults(fn=lambda a: newton_cost(a.params, a.flops, a.solver, a.batch_size, a.bytes_per_number))

    q = sub.add_parser("committee-error", parents=[common], help="committee error E_COM vs members' E_AV")
    q.add_argument("--members", type=int, required=True, help="N")
    q.add_argument("--correlation", type=_floats, default=[0.0],
                   help="r, or several: 0.3,0.9 (default 0; r = 0 is always shown)")
    q.add_argument("--seed", type=int, default=0)
    q.add_argument("--samples", type=int, default=100_000)
    q.add_argument("--std", type=float, default=1.0, help="each member's error std")
    q.set_defaults(fn=lambda a: committee_error(a.members, a.correlation, a.seed, a.samples, a.std))
