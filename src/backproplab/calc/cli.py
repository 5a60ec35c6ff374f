"""``backproplab calc NAME [options]``: run one calculator and print its working (``--json``: the result as JSON).

Examples::

    backproplab calc conv-out --input-size 32 --kernel-size 5 --stride 2 --padding 2
    backproplab calc receptive-field --kernel-sizes 3,3,3 --dilations 1,2,4
    backproplab calc macs bottleneck --input-size 28 --in-channels 192 --out-channels 32 --kernel-size 5 --mid-channels 16
"""
from __future__ import annotations

import argparse
import sys

from . import (bottleneck_macs, conv_macs, conv_out, conv_params, densenet_channels, fc_vs_conv, inception_macs, init_stats,
               mlp_params, receptive_field_calc, vanishing_bound)
from ..errors import UsageError, run_command
from ..labs.cli import Parser
from .cli_course import add_course_calculators
from .init import ALIASES, INIT_FORMULAS


def _int_list(text: str) -> list[int]:
    """'3,3,3' or '3 3 3' -> [3, 3, 3] (negative numbers are passed on to the calculator's check)."""
    parts = [p for p in text.replace(",", " ").split() if p]
    try:
        return [int(p) for p in parts]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected integers separated by commas, got {text!r}") from None


def _size(text: str):
    """'32' -> 32, '32,28' or '32x28' -> (32, 28)."""
    values = _int_list(text.lower().replace("x", ","))
    if len(values) == 1:
        return values[0]
    if len(values) == 2:
        return tuple(values)
    raise argparse.ArgumentTypeError(f"expected one integer or h,w, got {text!r}")


def _build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--json", action="store_true", help="print the result as JSON instead of the working")
    # Parser: an error is one line (no usage block), with "did you mean" for a misspelled name
    p = Parser(prog="backproplab calc", description="course calculators that print their working")
    sub = p.add_subparsers(dest="calc", required=True, metavar="NAME", parser_class=Parser)

    q = sub.add_parser("conv-out", parents=[common], help="output size of a convolution (per axis)")
    q.add_argument("--input-size", type=_size, required=True, help="H or H,W")
    q.add_argument("--kernel-size", type=_size, required=True, help="k or kh,kw")
    q.add_argument("--stride", type=_size, default=1)
    q.add_argument("--padding", type=_size, default=0)
    q.add_argument("--dilation", type=_size, default=1, help="1 = ordinary convolution (PyTorch convention)")
    q.set_defaults(fn=lambda a: conv_out(a.input_size, a.kernel_size, a.stride, a.padding, a.dilation))

    q = sub.add_parser("receptive-field", parents=[common], help="receptive field of a stack of layers")
    q.add_argument("--kernel-sizes", type=_int_list, required=True, help="e.g. 3,3,3")
    q.add_argument("--strides", type=_int_list, default=None, help="one per layer or one for all (default 1)")
    q.add_argument("--dilations", type=_int_list, default=None, help="one per layer or one for all (default 1)")
    q.set_defaults(fn=lambda a: receptive_field_calc(a.kernel_sizes, a.strides, a.dilations))

    q = sub.add_parser("fc-vs-conv", parents=[common], help="FC vs conv layer: units, weights, connections")
    q.add_argument("--width", type=int, required=True)
    q.add_argument("--height", type=int, required=True)
    q.add_argument("--in-channels", type=int, required=True, help="I")
    q.add_argument("--out-channels", type=int, required=True, help="J")
    q.add_argument("--kernel-size", type=int, required=True, help="K (odd)")
    q.set_defaults(fn=lambda a: fc_vs_conv(a.width, a.height, a.in_channels, a.out_channels, a.kernel_size))

    q = sub.add_parser("params", help="parameters of a conv layer or an MLP")
    psub = q.add_subparsers(dest="kind", required=True, metavar="KIND")
    r = psub.add_parser("conv", parents=[common], help="one Conv2d layer")
    r.add_argument("--in-channels", type=int, required=True)
    r.add_argument("--out-channels", type=int, required=True)
    r.add_argument("--kernel-size", type=_size, required=True)
    r.add_argument("--groups", type=int, default=1)
    r.add_argument("--bias", action=argparse.BooleanOptionalAction, default=True)
    r.set_defaults(fn=lambda a: conv_params(a.in_channels, a.out_channels, a.kernel_size, a.groups, a.bias))
    r = psub.add_parser("mlp", parents=[common], help="an MLP given its layer sizes")
    r.add_argument("--layer-sizes", type=_int_list, required=True, help="inputs,hidden...,outputs e.g. 20,10,10,1")
    r.add_argument("--bias", action=argparse.BooleanOptionalAction, default=True)
    r.set_defaults(fn=lambda a: mlp_params(a.layer_sizes, a.bias))

    q = sub.add_parser("macs", help="multiply-accumulates: conv, 1x1 bottleneck, Inception module")
    msub = q.add_subparsers(dest="kind", required=True, metavar="KIND")
    r = msub.add_parser("conv", parents=[common], help="one Conv2d layer")
    r.add_argument("--input-size", type=_size, required=True)
    r.add_argument("--in-channels", type=int, required=True)
    r.add_argument("--out-channels", type=int, required=True)
    r.add_argument("--kernel-size", type=_size, required=True)
    r.add_argument("--stride", type=_size, default=1)
    r.add_argument("--padding", type=_size, default=0)
    r.add_argument("--groups", type=int, default=1)
    r.set_defaults(fn=lambda a: conv_macs(a.input_size, a.in_channels, a.out_channels, a.kernel_size, a.stride,
                                          a.padding, a.groups))
    r = msub.add_parser("bottleneck", parents=[common], help="k x k conv directly vs through a 1x1 reduction")
    r.add_argument("--input-size", type=_size, required=True)
    r.add_argument("--in-channels", type=int, required=True)
    r.add_argument("--out-channels", type=int, required=True)
    r.add_argument("--kernel-size", type=int, required=True)
    r.add_argument("--mid-channels", type=int, required=True, help="channels after the 1x1 reduction")
    r.set_defaults(fn=lambda a: bottleneck_macs(a.input_size, a.in_channels, a.out_channels, a.kernel_size,
                                                a.mid_channels))
    r = msub.add_parser("inception", parents=[common], help="a GoogLeNet Inception module")
    r.add_argument("--input-size", type=_size, required=True)
    r.add_argument("--in-channels", type=int, required=True)
    r.add_argument("--widths", type=_int_list, required=True,
                   help="#1x1,#3x3reduce,#3x3,#5x5reduce,#5x5,poolproj (GoogLeNet Table 1), e.g. 64,96,128,16,32,32")
    r.set_defaults(fn=_inception)

    q = sub.add_parser("densenet", parents=[common], help="channels through a dense block")
    q.add_argument("--in-channels", type=int, required=True)
    q.add_argument("--growth-rate", type=int, required=True)
    q.add_argument("--num-layers", type=int, required=True)
    q.add_argument("--compression", type=float, default=None, help="θ of the transition layer (e.g. 0.5)")
    q.set_defaults(fn=lambda a: densenet_channels(a.in_channels, a.growth_rate, a.num_layers, a.compression))

    q = sub.add_parser("init", parents=[common], help="std / limits of Glorot, He, LeCun initializations")
    q.add_argument("name", nargs="?", default="all",
                   help=f"one of {', '.join(list(INIT_FORMULAS) + list(ALIASES))} or all (default)")
    q.add_argument("--in-channels", type=int, required=True, help="input features (dense) or channels (conv)")
    q.add_argument("--out-channels", type=int, required=True)
    q.add_argument("--kernel-size", type=_size, default=None, help="omit for a dense layer")
    q.set_defaults(fn=lambda a: init_stats(a.name, a.in_channels, a.out_channels, a.kernel_size))

    q = sub.add_parser("vanishing-bound", parents=[common], help="||δ_i|| ≤ ||δ_L||·σ^(L-i)")
    q.add_argument("--sigma", type=float, required=True)
    q.add_argument("--num-layers", type=int, required=True, help="L")
    q.add_argument("--layer", type=int, required=True, help="i, index-base..L")
    q.add_argument("--delta-norm", type=float, default=1.0, help="||δ_L||")
    q.add_argument("--index-base", type=int, default=1,
                   help="1: layers numbered 1..L (default); 0: layers 0..L, as document 001 Q6 numbers them")
    q.add_argument("--width", type=int, default=None,
                   help="also check the bound on random chains of this width (ReLU masks, σ_max(W) = σ)")
    q.add_argument("--seed", type=int, default=0, help="seed of the --width check")
    q.set_defaults(fn=lambda a: vanishing_bound(a.sigma, a.num_layers, a.layer, a.delta_norm, a.index_base,
                                                a.width, a.seed))
    add_course_calculators(sub, common)
    return p


def _inception(a):
    if len(a.widths) != 6:
        raise ValueError(f"--widths needs 6 numbers (#1x1,#3x3reduce,#3x3,#5x5reduce,#5x5,poolproj), got {a.widths}")
    return inception_macs(a.input_size, a.in_channels, *a.widths)


def main(argv: list[str] | None = None) -> int:
    """Parse ``argv``, run the calculator, print; 0 on success, 2 on an invalid argument."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = _build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # argparse already printed usage/help
        return int(e.code or 0)

    def go() -> int:
        try:
            result = args.fn(args)
        except ValueError as e:  # a calculator's check of its inputs: the command line must change
            raise UsageError(str(e)) from None
        print(result.to_json() if args.json else result.text())
        return 0

    return run_command(f"backproplab calc {args.calc}", go)


if __name__ == "__main__":
    sys.exit(main())
