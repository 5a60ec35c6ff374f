"""Task ``residual-block``: the walkthrough of assignment 002 (practical question 1), step by step.

Protocol: ``residual_block(x, kernel)`` returns H = ReLU(ReLU(conv(x)) + x) for a 2-D x and a 3×3 kernel
(stride 1, zero padding 1, cross-correlation); ``max_pool(h)`` (2×2, stride 2; floor or ceil mode,
the note says which) and ``global_average_pool(p)`` are checked when present. Inputs: the
assignment's 5×5 matrix and filter, then random ones with negative entries (where each ReLU matters).
Reference: backproplab.labs.residual_walkthrough.walkthrough (the library's Conv2d, ReLU, MaxPool2d).
"""
from __future__ import annotations

import numpy as np

from ..judging import Check, compare, tolerance
from ..probing import call, find
from .base import Task

BLOCK_NAMES = ("residualblock", "residualforward", "residual", "resblock", "residualblockforward", "resnetblock")
POOL_NAMES = ("maxpool", "maxpooling", "maxpool2d", "maxpooling2d", "maxpoolforward", "pool", "maxpoolfunction")
GAP_NAMES = ("globalaveragepool", "globalavgpool", "gap", "globalaveragepooling", "globalavgpooling",
             "globalaveragepool2d", "globalpool", "averagepool", "avgpool")
ALIASES = {"x": ("x", "image", "img", "input", "inputs", "matrix", "a", "h", "p", "featuremap", "fmap", "data", "m"),
           "weight": ("kernel", "w", "weight", "weights", "filter", "filters", "k"),
           "size": ("size", "poolsize", "f", "kernelsize", "pool", "window", "ksize", "poolingsize"),
           "stride": ("stride", "s", "strides")}
#: the assignment's fixed input and filter (document 002, practical question 1)
X = np.array([[100, 150, 200, 50, 30], [80, 120, 180, 255, 90], [40, 70, 110, 230, 200], [30, 60, 100, 150, 120],
              [20, 50, 80, 100, 90]], dtype=np.float64)
KERNEL = np.array([[0.1, -0.2, 0.1], [-0.1, 0.4, 0.1], [0.2, -0.1, 0.1]])


def _inputs(rng):
    return {"x": X, "w": KERNEL, "x_random": 50 * rng.standard_normal((5, 5)), "w_random": rng.standard_normal((3, 3)),
            "h": 50 * rng.standard_normal((5, 5)), "p": rng.standard_normal((2, 2))}, {}


def probe(module, probe):
    inp = probe.inputs
    found = []
    for key, names, calls in (
            ("block", BLOCK_NAMES, {"given": ("x", "w"), "random": ("x_random", "w_random")}),
            ("pool", POOL_NAMES, {"given": ("h", None)}),
            ("gap", GAP_NAMES, {"given": ("p", None)})):
        fn = find(module, names, "function")
        if fn is None:
            continue
        found.append(key)
        for label, (xa, wa) in calls.items():
            values = {"x": inp[xa].copy(), "size": 2, "stride": 2}
            if wa:
                values["weight"] = inp[wa].copy()

            def run(values=values, fn=fn):
                result, desc = call(fn[1], values, ALIASES, ("x", "weight") if "weight" in values else ("x",))
                probe.note(key, f"called {desc}")
                return result
            probe.put(f"{key}@{label}", probe.attempt(f"{key}@{label}", run, f"calling {fn[0]}"))
    probe.values["found"] = found


def _block_variants(x, w):
    """(H, hints) for the reference and the typical mistakes in the block."""
    from ...labs.residual_walkthrough import walkthrough

    ref = walkthrough(x, w)["H"]
    flipped = walkthrough(x, w[::-1, ::-1].copy())["H"]
    z = walkthrough(x, w)["Z"]
    return ref, [
        ("kernel flipped: that is mathematical convolution; CNN layers compute cross-correlation", flipped),
        ("ReLU after the skip connection missing: H = ReLU(A + X)", np.maximum(z, 0) + x),
        ("ReLU before the addition missing: A = ReLU(conv(X)) comes first", np.maximum(z + x, 0)),
        ("the skip connection is missing: H = ReLU(ReLU(conv(X)) + X)", np.maximum(z, 0)),
    ]


def judge(arrays, settings, out):
    tol = tolerance("float64")
    checks = []
    found = out.value("found", [])
    for label, (xa, wa) in (("given", ("x", "w")), ("random", ("x_random", "w_random"))):
        if "block" not in found:
            break
        ref, hyps = _block_variants(arrays[xa], arrays[wa])
        what = "the assignment's input" if label == "given" else "a random input with negative entries"
        checks.append(compare("residual-block", f"H on {what}", out.arr(f"block@{label}"), ref, tol, hypotheses=hyps,
                              note=out.note("block"), missing=out.error(f"block@{label}"))[0])
    if "pool" in found:
        floor, ceil = _pools(arrays["h"])
        checks.append(compare("residual-block", "max pool 2×2, stride 2", out.arr("pool@given"), floor, tol,
                              accept=[("ceil mode: the partial last window is kept (3×3 output)", ceil)],
                              note=f"floor mode (2×2 output); {out.note('pool')}", missing=out.error("pool@given"))[0])
    if "gap" in found:
        checks.append(compare("residual-block", "global average pool", out.arr("gap@given"),
                              np.asarray(arrays["p"].mean()), tol, note=out.note("gap"), missing=out.error("gap@given"))[0])
    return checks or [Check("residual-block", "entry points", "error", message="no residual_block, max_pool or "
                                                                               "global_average_pool found")]


def _pools(h):
    from ...nn.pooling import MaxPool2d

    x = h[None, None]
    return (np.array(MaxPool2d(2, stride=2).forward(x.copy()))[0, 0],
            np.array(MaxPool2d(2, stride=2, ceil_mode=True).forward(x.copy()))[0, 0])


TASK = Task("residual-block", "the 002 walkthrough: conv, ReLU, skip, ReLU, then max pool and global average pool",
            BLOCK_NAMES + POOL_NAMES + GAP_NAMES, _inputs, probe, judge)
