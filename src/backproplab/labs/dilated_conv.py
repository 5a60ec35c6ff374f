"""Lab: dilated convolution -- output size, the dilated kernel K⊗A, and the receptive field with its holes.

The question (document 001, question 5(b)): why does a dilated convolution equal an ordinary one
with the dilated kernel K' = K⊗A, and what is A? Around it, the output size of 5(a) and the
receptive field of a stack of dilated convolutions of 5(c), each checked two ways.

1. Output size. An M x M input, an F x F kernel with dilation D, no padding, stride 1:
   the dilated kernel spans D(F-1)+1 pixels, so the output is M - D(F-1) = M - DF + D.
   Checked against the shape the library's Conv2d returns.
2. The dilated kernel. With A the D x D matrix holding a single 1 (top left), the
   Kronecker product K⊗A puts D-1 zeros after every tap; dropping its last D-1 rows and
   columns gives the (D(F-1)+1)-square zero-inserted kernel. An ordinary convolution
   (dilation 1) with it equals the dilated convolution with K.
3. Receptive field of a stack (kernel, dilation, stride per layer): by the formula of
   :mod:`backproplab.analysis.receptive_field`, and by propagating a delta: backpropagate a
   one-hot output gradient through the stack (all weights positive, so nothing cancels);
   the input pixels with a nonzero gradient are exactly the pixels that output sees. Inside
   the span, the pixels with zero gradient are the holes a dilated stack never sees.

Reference: Yu & Koltun 2016, "Multi-scale context aggregation by dilated convolutions";
Dumoulin & Visin 2016, "A guide to convolution arithmetic for deep learning".
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..analysis.receptive_field import receptive_field, seen_offsets
from ..report.i18n import N_, _, _n, join
from .config import ConfigError, LabConfig, option, quick
from .dilated_conv_plots import plot_kernels, plot_patterns
from .heatmap import format_matrix

NAME = "dilated-conv"
TITLE = N_("Dilated convolution: output size, the dilated kernel `K⊗A`, receptive fields and holes")
SUMMARY = N_("dilated conv = ordinary conv with K⊗A; output size M - DF + D; receptive fields and their holes")
QUESTIONS = ("001/Q5.b",)

#: kernel sizes F and dilations D of the output-size table (every M of --table-sizes with each)
TABLE_KERNELS = (1, 2, 3, 5)
TABLE_DILATIONS = (1, 2, 3)
#: the dilated and the ordinary convolution agree when their outputs differ by less than this
EQUAL_TOL = 1e-12


@dataclass(frozen=True)
class Config(LabConfig):
    input_size: int = option(9, "M, the side of the input of the K⊗A demonstration", low=1, high=1000)
    kernel_size: int = option(3, "F, the side of the kernel K", low=1, high=100)
    dilation: int = option(2, "D, the dilation of K", low=1, high=100)
    table_sizes: tuple[int, ...] = option((5, 7, 10, 16), "input sizes M of the output-size table", min_len=1,
                                          each_low=1, each_high=1000)
    kernel_sizes: tuple[int, ...] = option((3, 3, 3), "kernel size of each layer of the stack", min_len=1,
                                           each_low=1, each_high=100)
    dilations: tuple[int, ...] = option((2, 2, 2), "dilation of each layer (equal dilations leave holes)",
                                        min_len=1, each_low=1, each_high=100)
    strides: tuple[int, ...] = option((1, 1, 1), "stride of each layer", min_len=1, each_low=1, each_high=100)
    compare_dilations: tuple[int, ...] = option((1, 2, 4), "dilations of a second stack with the same kernels "
                                                           "and strides (Yu & Koltun's 1, 2, 4)",
                                                min_len=1, each_low=1, each_high=100)

    def check(self) -> None:
        m, f, d = self.input_size, self.kernel_size, self.dilation
        if m - d * (f - 1) < 1:
            raise ConfigError(f"a {f}x{f} kernel with dilation {d} spans {d * (f - 1) + 1} pixels, more than the "
                              f"{m}x{m} input: choose --input-size {d * (f - 1) + 1} or more")
        n = len(self.kernel_sizes)
        if not len(self.dilations) == len(self.strides) == len(self.compare_dilations) == n:
            raise ConfigError(f"--kernel-sizes {_csv(self.kernel_sizes)}, --dilations {_csv(self.dilations)}, "
                              f"--strides {_csv(self.strides)} and --compare-dilations "
                              f"{_csv(self.compare_dilations)} need one entry per layer")

    def quick(self) -> "Config":
        return quick(self, table_sizes=(7, 10))


def _csv(values) -> str:
    return ",".join(map(str, values))


def dilated_kernel(kernel: np.ndarray, dilation: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(A, K⊗A, the zero-inserted kernel): A = D x D with a single 1 (top left); the zero-inserted kernel
    is K⊗A without its last D-1 rows and columns."""
    a = np.zeros((dilation, dilation))
    a[0, 0] = 1.0
    kron = np.kron(kernel, a)  # (F*D, F*D)
    span = dilation * (kernel.shape[0] - 1) + 1
    return a, kron, kron[:span, :span]


def output_size_rows(sizes, kernels, dilations) -> list[dict]:
    """M - D(F-1) against the library's Conv2d output, for every valid (M, F, D)."""
    from ..nn.conv import Conv2d

    rows = []
    for m in sizes:
        for f in kernels:
            for d in dilations:
                formula = m - d * f + d
                if formula < 1:
                    continue  # the layer must refuse this; tested separately
                conv = Conv2d(1, 1, kernel_size=f, dilation=d, bias=False, rng=np.random.default_rng(0),
                              dtype=np.float64)
                got = conv.forward(np.zeros((1, 1, m, m))).shape[-1]
                rows.append({"M": m, "F": f, "D": d, "formula": formula, "layer": got, "match": got == formula})
    return rows


def delta_pattern(kernel_sizes, dilations, strides) -> dict:
    """Backpropagate a one-hot output gradient through a stack of 1-channel Conv2d layers.

    Returns the input-gradient image, the output unit used, and the span and pixel count of
    its nonzero pattern. Input size: the formula's extent plus a margin on both sides, so
    the pattern never touches the border.
    """
    from ..nn import Sequential
    from ..nn.conv import Conv2d

    rf = receptive_field(kernel_sizes, strides, dilations)
    n = rf[-1].extent + 2 * rf[-1].jump + 2
    layers = []
    for k, d, s in zip(kernel_sizes, dilations, strides):
        conv = Conv2d(1, 1, kernel_size=k, stride=s, dilation=d, bias=False, rng=np.random.default_rng(0),
                      dtype=np.float64)
        conv.weight.data[...] = 1.0  # positive weights: gradients add up, never cancel to a false hole
        layers.append(conv)
    net = Sequential(*layers)
    y = net.forward(np.zeros((1, 1, n, n)))
    oi, oj = y.shape[2] // 2, y.shape[3] // 2
    dy = np.zeros_like(y)
    dy[0, 0, oi, oj] = 1.0
    dx = net.backward(dy)[0, 0]
    seen = dx != 0
    rows_hit, cols_hit = np.nonzero(seen)
    r0, r1, c0, c1 = rows_hit.min(), rows_hit.max(), cols_hit.min(), cols_hit.max()
    box = seen[r0:r1 + 1, c0:c1 + 1]
    return {"input_size": n, "output_shape": list(y.shape[2:]), "output_unit": [oi, oj], "grad": dx,
            "box": [int(r0), int(r1), int(c0), int(c1)], "span": int(r1 - r0 + 1), "seen": int(seen.sum()),
            "holes": int(box.size - box.sum()), "box_pattern": box.astype(int)}


def stack_rows(name: str, ks, ds, ss, pattern: dict) -> list[dict]:
    """The formula's numbers per layer of one stack; the delta's numbers on its last layer."""
    rf = receptive_field(ks, ss, ds)
    last = rf[-1]
    return [{"stack": name, "layer": r.layer, "kernel_size": r.kernel_size, "dilation": r.dilation,
             "stride": r.stride, "jump": r.jump, "extent": r.extent, "seen_1d": r.seen,
             "span_delta": pattern["span"] if r is last else None,
             "seen_delta": pattern["seen"] if r is last else None,
             "holes_delta": pattern["holes"] if r is last else None} for r in rf]


def stack_check(name: str, ks, ds, ss, pattern: dict) -> dict:
    """Formula against delta propagation for the last layer of a stack (2-D counts)."""
    last = receptive_field(ks, ss, ds)[-1]
    offsets = seen_offsets(ks, ss, ds)[-1]
    return {"stack": name, "dilations": list(ds), "extent_formula": last.extent, "span_delta": pattern["span"],
            "seen_formula_2d": len(offsets) ** 2, "seen_delta_2d": pattern["seen"],
            "holes_formula_2d": last.extent ** 2 - len(offsets) ** 2, "holes_delta_2d": pattern["holes"]}


def run(config: Config, out) -> dict:
    from ..nn.conv import Conv2d

    rng = np.random.default_rng(config.seed)
    m, f, d = config.input_size, config.kernel_size, config.dilation
    size_rows = output_size_rows(config.table_sizes, TABLE_KERNELS, TABLE_DILATIONS)
    out.save_metrics("output_size", size_rows)
    # K⊗A and the equivalence: the same draws as always (kernel, input, then the layers' init)
    kernel = np.round(rng.standard_normal((f, f)), 2)
    a, kron, zero_inserted = dilated_kernel(kernel, d)
    x = np.round(rng.standard_normal((1, 1, m, m)), 2)
    dil = Conv2d(1, 1, kernel_size=f, dilation=d, bias=False, rng=rng, dtype=np.float64)
    dil.weight.data[...] = kernel
    plain = Conv2d(1, 1, kernel_size=zero_inserted.shape[0], dilation=1, bias=False, rng=rng, dtype=np.float64)
    plain.weight.data[...] = zero_inserted
    y_dil, y_plain = dil.forward(x)[0, 0], plain.forward(x)[0, 0]
    equiv = float(np.max(np.abs(y_dil - y_plain)))
    ks, ss = list(config.kernel_sizes), list(config.strides)
    stacks = {"main": list(config.dilations), "compare": list(config.compare_dilations)}
    patterns = {name: delta_pattern(ks, ds, ss) for name, ds in stacks.items()}
    rf_rows = [row for name, ds in stacks.items() for row in stack_rows(name, ks, ds, ss, patterns[name])]
    checks = [stack_check(name, ks, ds, ss, patterns[name]) for name, ds in stacks.items()]
    out.save_metrics("receptive_field", rf_rows)
    out.save_metrics("rf_checks", checks)
    out.save_metrics("kernels", {"K": kernel, "A": a, "K_kron_A": kron, "zero_inserted": zero_inserted,
                                 "equivalence_max_abs_diff": equiv})
    out.save_arrays("patterns", **{f"{name}_grad": p["grad"] for name, p in patterns.items()})
    size_ok = all(r["match"] for r in size_rows)
    summary = (f"RF {checks[0]['extent_formula']} (holes {checks[0]['holes_delta_2d']}) for dilations "
               f"{stacks['main']}; {checks[1]['extent_formula']} (holes {checks[1]['holes_delta_2d']}) for "
               f"{stacks['compare']}; K⊗A equivalence diff {equiv:.2g}")
    return {"summary": summary, "output_size_ok": size_ok, "output_size_rows": size_rows,
            "output_size_mismatches": sum(not r["match"] for r in size_rows),
            "kernel": kernel.tolist(), "a_matrix": a.tolist(), "kron": kron.tolist(),
            "zero_inserted": zero_inserted.tolist(), "output_shape_dilated": list(y_dil.shape),
            "output_shape_plain": list(y_plain.shape), "equivalence_max_abs_diff": equiv,
            "rf_rows": rf_rows, "rf_checks": checks,
            "patterns": {name: {k: v for k, v in p.items() if k != "grad"} for name, p in patterns.items()}}


# -- report ---------------------------------------------------------------------------------------
def size_sentence(n_cases: int, mismatches: int):
    if mismatches == 0:
        return _("{n} cases (no padding, stride 1): the library's `Conv2d` returns the formula's size in every "
                 "case.", n=n_cases)
    return _("{n} cases (no padding, stride 1): the library's `Conv2d` **disagrees** with the formula in {k} of "
             "them.", n=n_cases, k=mismatches)


def equivalence_sentence(result: dict, config: Config, tol: float = EQUAL_TOL):
    m, f, d = config.input_size, config.kernel_size, config.dilation
    parts = dict(f=f, d=d, m=m, yd="x".join(map(str, result["output_shape_dilated"])),
                 s=len(result["zero_inserted"]), yp="x".join(map(str, result["output_shape_plain"])),
                 diff=result["equivalence_max_abs_diff"])
    if result["equivalence_max_abs_diff"] < tol and parts["yd"] == parts["yp"]:
        return _("The dilated convolution (F = {f}, D = {d}) of a {m}x{m} input gives {yd} (= `M - DF + D`); the "
                 "ordinary convolution with the {s}x{s} zero-inserted kernel gives {yp}; largest difference "
                 "{diff:.3g}: the same operation.", **parts)
    return _("The dilated convolution (F = {f}, D = {d}) of a {m}x{m} input gives {yd}; the ordinary convolution "
             "with the {s}x{s} zero-inserted kernel gives {yp}; largest difference {diff:.3g}: **not equal**.",
             **parts)


def stack_sentence(c: dict):
    agree = c["extent_formula"] == c["span_delta"] and c["seen_formula_2d"] == c["seen_delta_2d"]
    parts = dict(ds=join(c["dilations"]), e=c["extent_formula"], s=c["span_delta"], seen=c["seen_delta_2d"],
                 h=c["holes_delta_2d"], share=c["holes_delta_2d"] / c["span_delta"] ** 2)
    if agree:
        return _("Dilations {ds}: the formula gives a {e}x{e} receptive field; the delta pattern spans {s}x{s} and "
                 "reaches {seen} pixels ({h} holes, {share:.0%} of the span): formula and propagation agree.",
                 **parts)
    return _("Dilations {ds}: the formula gives a {e}x{e} receptive field; the delta pattern spans {s}x{s} and "
             "reaches {seen} pixels ({h} holes, {share:.0%} of the span): **formula and propagation disagree**.",
             **parts)


def holes_sentence(main: dict, compare: dict):
    """Which stack leaves holes; the reason "equal dilations" is given only where the dilations are equal."""
    holed = [c for c in (main, compare) if c["holes_delta_2d"]]
    if not holed:
        return _("Neither stack leaves holes: every pixel inside each span is seen.")
    if len(holed) == 2:
        return _("Both stacks leave holes inside their span.")
    full = compare if holed[0] is main else main
    ds = holed[0]["dilations"]
    if len(set(ds)) == 1 and ds[0] > 1:
        return _("Dilations {full} cover their whole span while {holed} leave holes: equal dilations repeat the "
                 "same sampling grid, so the pixels between its points are never seen.", full=join(full["dilations"]),
                 holed=join(ds))
    return _("Dilations {full} cover their whole span while {holed} leave holes.", full=join(full["dilations"]),
             holed=join(ds))


def report(result: dict, config: Config, doc) -> None:
    m, f, d = config.input_size, config.kernel_size, config.dilation
    doc.para(_("**Question.** Why does a dilated convolution equal an ordinary convolution with the dilated kernel "
               "`K' = K⊗A`, and what is `A`? Around it: the output size `M - DF + D` and the receptive field of a "
               "stack of dilated convolutions."))
    doc.heading(_("1. Output size `M - DF + D = M - D(F-1)`"))
    doc.para(size_sentence(len(result["output_size_rows"]), result["output_size_mismatches"]))
    doc.table([("M", "M", "d"), ("F", "F", "d"), ("D", "D", "d"), ("formula", "`M - DF + D`", "d"),
               ("layer", _("`Conv2d` output"), "d"), ("match", _("match"), "")],
              [{**r, "match": _("yes") if r["match"] else _("no")} for r in result["output_size_rows"]])
    doc.heading(_("2. The dilated kernel `K⊗A`"))
    doc.para(_n("`A` is the {d}x{d} matrix with a single 1 at the top left; `K⊗A` puts {n} zero after every tap "
                "of `K`, and without its last row and column it is the zero-inserted kernel `K'`.",
                "`A` is the {d}x{d} matrix with a single 1 at the top left; `K⊗A` puts {n} zeros after every tap "
                "of `K`, and without its last {n} rows and columns it is the zero-inserted kernel `K'`.", d - 1, d=d))
    doc.plot(plot_kernels(result, f, d), "dilated_kernel", _("`K`, `K⊗A` and the zero-inserted kernel."))
    for name, key in (("A", "a_matrix"), ("K", "kernel"), ("K⊗A", "kron"), ("K'", "zero_inserted")):
        doc.para(_("`{name}`, shape {shape}:", name=name, shape="x".join(map(str, np.shape(result[key])))))
        doc.code(format_matrix(result[key], ".3g"))
    doc.para(equivalence_sentence(result, config))
    doc.heading(_("3. Receptive field: formula against delta propagation"))
    arrays = doc.folder.load_arrays("patterns")
    doc.plot(plot_patterns(result["patterns"], arrays, result["rf_checks"]), "receptive_field",
             _("The input pixels one output unit sees (colour: log10 of the number of paths; white: never seen)."))
    doc.table([("stack", _("stack"), ""), ("layer", _("layer"), "d"), ("kernel_size", _("kernel"), "d"),
               ("dilation", _("dilation"), "d"), ("stride", _("stride"), "d"), ("jump", _("jump"), "d"),
               ("extent", _("receptive field (formula)"), "d"), ("seen_1d", _("seen per axis (formula)"), "d"),
               ("span_delta", _("span (delta)"), "d"), ("seen_delta", _("seen 2-D (delta)"), "d"),
               ("holes_delta", _("holes 2-D (delta)"), "d")],
              [{**r, "stack": join(r_ds(result, r["stack"]))} for r in result["rf_rows"]])
    main = result["patterns"]["main"]
    doc.para(_("Seen pattern of dilations {ds} (1 seen, 0 hole):", ds=join(config.dilations)))
    doc.code(format_matrix(main["box_pattern"], "g"))
    doc.heading(_("Observations (computed from this run)"))
    checks = result["rf_checks"]
    doc.bullets([stack_sentence(checks[0]), stack_sentence(checks[1]), holes_sentence(checks[0], checks[1])])


def r_ds(result: dict, stack: str) -> list[int]:
    """The dilations of stack ``stack`` ("main" or "compare")."""
    return next(c["dilations"] for c in result["rf_checks"] if c["stack"] == stack)
