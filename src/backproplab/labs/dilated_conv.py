"""Lab: dilated convolution -- output size, the dilated kernel K⊗A, and the receptive field with its holes.

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
from pathlib import Path

import numpy as np

from ..analysis.receptive_field import receptive_field, seen_offsets
from .common import LabRun, markdown_table, new_figure
from .heatmap import draw_heatmap, matrix_block

NAME = "dilated-conv"
TITLE = "Dilated convolution: output size, the dilated kernel K⊗A, receptive fields and holes"


@dataclass(frozen=True)
class Config:
    seed: int = 0                                # draws the kernel and input of the equivalence check
    quick: bool = False                          # fewer (M, F, D) cases in the output-size table
    input_size: int = 9                          # M for the K⊗A demonstration
    kernel_size: int = 3                         # F
    dilation: int = 2                            # D
    kernel_sizes: tuple[int, ...] = (3, 3, 3)    # the stack, one entry per layer
    dilations: tuple[int, ...] = (2, 2, 2)       # equal dilations leave holes ("gridding")
    strides: tuple[int, ...] = (1, 1, 1)
    compare_dilations: tuple[int, ...] = (1, 2, 4)   # a second stack (same kernels, strides): Yu & Koltun's
    echo: bool = True                            # print the kernels and patterns to stdout

    def __post_init__(self):
        m, f, d = self.input_size, self.kernel_size, self.dilation
        if f < 1 or d < 1 or m < 1:
            raise ValueError(f"input_size, kernel_size and dilation must be >= 1, got M={m}, F={f}, D={d}")
        if m - d * (f - 1) < 1:
            raise ValueError(f"a {f}x{f} kernel with dilation {d} spans {d * (f - 1) + 1} pixels, more than the "
                             f"{m}x{m} input: choose a larger input_size")
        n = len(self.kernel_sizes)
        if n == 0 or len(self.dilations) != n or len(self.strides) != n or len(self.compare_dilations) != n:
            raise ValueError(f"kernel_sizes {self.kernel_sizes}, dilations {self.dilations}, strides {self.strides} "
                             f"and compare_dilations {self.compare_dilations} need one entry per layer")
        values = self.kernel_sizes + self.dilations + self.strides + self.compare_dilations
        if any(v < 1 for v in values):
            raise ValueError(f"kernel sizes, dilations and strides must be >= 1, got {self.kernel_sizes}, "
                             f"{self.dilations}, {self.strides}, {self.compare_dilations}")


def dilated_kernel(kernel: np.ndarray, dilation: int) -> tuple[np.ndarray, np.ndarray]:
    """(K⊗A, the zero-inserted kernel): A = D x D with a single 1; the latter is K⊗A without its last D-1 rows/cols."""
    a = np.zeros((dilation, dilation))
    a[0, 0] = 1.0
    kron = np.kron(kernel, a)  # (F*D, F*D)
    span = dilation * (kernel.shape[0] - 1) + 1
    return kron, kron[:span, :span]


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
                rows.append({"M": m, "F": f, "D": d, "formula M-DF+D": formula, "layer": got,
                             "match": got == formula})
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
    extent = rf[-1].extent
    n = extent + 2 * rf[-1].jump + 2
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
            "holes": int(box.size - box.sum()), "box_pattern": box}


def _stack_rows(name, ks, ds, ss, pattern) -> list[dict]:
    rf = receptive_field(ks, ss, ds)
    last = rf[-1]
    return [{"stack": name, "layer": r.layer, "kernel_size": r.kernel_size, "dilation": r.dilation,
             "stride": r.stride, "jump": r.jump, "extent (formula)": r.extent, "seen 1-D (formula)": r.seen,
             "span (delta)": pattern["span"] if r is last else None,
             "seen 2-D (delta)": pattern["seen"] if r is last else None,
             "holes 2-D (delta)": pattern["holes"] if r is last else None} for r in rf]


def _draw_patterns(patterns: list[tuple[str, dict]]):
    fig, axes = new_figure(1, len(patterns), size=(4.6 * len(patterns), 4.4))
    for ax, (title, p) in zip(axes[0], patterns):
        r0, r1, c0, c1 = p["box"]
        g = p["grad"][max(r0 - 1, 0):r1 + 2, max(c0 - 1, 0):c1 + 2]
        # seen pixels coloured by how many paths reach them (log), holes and outside in white
        img = np.where(g > 0, np.log10(np.where(g > 0, g, 1.0)) + 1.0, np.nan)
        ax.imshow(img, cmap="viridis")
        ax.set_title(f"{title}\nspan {p['span']}x{p['span']}, seen {p['seen']}, holes {p['holes']}", fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle("input pixels one output unit sees (colour: log10 number of paths; white: never seen)", fontsize=9)
    fig.tight_layout()
    return fig


def run(config: Config, out_dir: Path) -> dict:
    lab = LabRun(out_dir, config)
    rng = np.random.default_rng(config.seed)
    m, f, d = config.input_size, config.kernel_size, config.dilation

    # 1. output size -------------------------------------------------------------------------------------
    sizes = (7, 10) if config.quick else (5, 7, 10, 16)
    size_rows = output_size_rows(sizes, (1, 2, 3, 5), (1, 2, 3))
    lab.save_metrics("output_size", size_rows)

    # 2. K⊗A and the equivalence ----------------------------------------------------------------------------
    from ..nn.conv import Conv2d

    kernel = np.round(rng.standard_normal((f, f)), 2)
    kron, zero_inserted = dilated_kernel(kernel, d)
    x = np.round(rng.standard_normal((1, 1, m, m)), 2)
    dil = Conv2d(1, 1, kernel_size=f, dilation=d, bias=False, rng=rng, dtype=np.float64)
    dil.weight.data[...] = kernel
    plain = Conv2d(1, 1, kernel_size=zero_inserted.shape[0], dilation=1, bias=False, rng=rng, dtype=np.float64)
    plain.weight.data[...] = zero_inserted
    y_dil, y_plain = dil.forward(x)[0, 0], plain.forward(x)[0, 0]
    equiv_err = float(np.max(np.abs(y_dil - y_plain)))

    # 3. receptive fields ------------------------------------------------------------------------------------
    ks, ss = list(config.kernel_sizes), list(config.strides)
    main = delta_pattern(ks, list(config.dilations), ss)
    comp = delta_pattern(ks, list(config.compare_dilations), ss)
    rf_rows = _stack_rows(f"dilations {list(config.dilations)}", ks, list(config.dilations), ss, main)
    rf_rows += _stack_rows(f"dilations {list(config.compare_dilations)}", ks, list(config.compare_dilations), ss, comp)
    lab.save_metrics("receptive_field", rf_rows)
    checks = []
    for name, ds, p in (("main", config.dilations, main), ("compare", config.compare_dilations, comp)):
        last = receptive_field(ks, ss, list(ds))[-1]
        offs = seen_offsets(ks, ss, list(ds))[-1]
        checks.append({"stack": name, "extent_formula": last.extent, "span_delta": p["span"],
                       "seen_formula_2d": len(offs) ** 2, "seen_delta_2d": p["seen"],
                       "holes_formula_2d": last.extent ** 2 - len(offs) ** 2, "holes_delta_2d": p["holes"]})
    lab.save_metrics("rf_checks", checks)
    lab.save_metrics("kernels", {"K": kernel, "K_kron_A": kron, "zero_inserted": zero_inserted,
                                 "equivalence_max_abs_diff": equiv_err,
                                 "pattern_main": main["box_pattern"].astype(int),
                                 "pattern_compare": comp["box_pattern"].astype(int)})

    fig, axes = new_figure(1, 3, size=(13, 4.2))
    draw_heatmap(axes[0, 0], kernel, f"K ({f}x{f})", fmt=".2f", symmetric=True)
    draw_heatmap(axes[0, 1], kron, f"K⊗A ({f * d}x{f * d}), A = {d}x{d} with one 1", fmt=".2g", symmetric=True)
    draw_heatmap(axes[0, 2], zero_inserted, f"zero-inserted kernel ({zero_inserted.shape[0]}x"
                 f"{zero_inserted.shape[0]})", fmt=".2g", symmetric=True)
    fig.tight_layout()
    lab.savefig(fig, "dilated_kernel")
    lab.savefig(_draw_patterns([(f"dilations {list(config.dilations)}", main),
                                (f"dilations {list(config.compare_dilations)}", comp)]), "receptive_field")
    if config.echo:
        print(f"K:\n{kernel}\nK⊗A:\n{kron}\nzero-inserted kernel:\n{zero_inserted}")
        print(f"dilated conv vs ordinary conv with the zero-inserted kernel: max |diff| = {equiv_err:.3g}")
        for name, p in (("main", main), ("compare", comp)):
            print(f"{name} stack: seen pattern (1 = seen, 0 = hole)\n{p['box_pattern'].astype(int)}")

    # -- report ----------------------------------------------------------------------------------------------
    size_ok = all(r["match"] for r in size_rows)
    rep = [f"# {TITLE}\n", "## 1. Output size M - DF + D = M - D(F-1)\n",
           f"{len(size_rows)} cases (no padding, stride 1); the library's Conv2d "
           + ("returns the formula's size in every case." if size_ok else
              f"**disagrees** in {sum(not r['match'] for r in size_rows)} cases.") + "\n",
           markdown_table(size_rows),
           "\n## 2. The dilated kernel K⊗A\n", "![kernels](dilated_kernel.png)\n",
           matrix_block("K", kernel, ".3g"), matrix_block("K⊗A", kron, ".3g"),
           matrix_block("zero-inserted kernel", zero_inserted, ".3g"),
           f"Dilated conv (F={f}, D={d}) on a {m}x{m} input gives {y_dil.shape[0]}x{y_dil.shape[1]} "
           f"(= {m} - {d}·{f} + {d}); the ordinary conv with the {zero_inserted.shape[0]}x{zero_inserted.shape[0]} "
           f"zero-inserted kernel gives {y_plain.shape[0]}x{y_plain.shape[1]}; largest difference {equiv_err:.3g}"
           + (" -- the same operation." if equiv_err < 1e-12 else " -- **not equal**.") + "\n",
           "\n## 3. Receptive field: formula vs delta propagation\n", "![rf](receptive_field.png)\n",
           markdown_table(rf_rows), "\n", markdown_table(checks),
           matrix_block(f"seen pattern, dilations {list(config.dilations)} (1 seen, 0 hole)",
                        main["box_pattern"].astype(int), "g"),
           "\n## Observations (computed from this run)\n"]
    for c, ds in ((checks[0], config.dilations), (checks[1], config.compare_dilations)):
        agree = c["extent_formula"] == c["span_delta"] and c["seen_formula_2d"] == c["seen_delta_2d"]
        rep.append(f"- Dilations {list(ds)}: the formula gives a {c['extent_formula']}x{c['extent_formula']} "
                   f"receptive field, the delta pattern spans {c['span_delta']}x{c['span_delta']} and reaches "
                   f"{c['seen_delta_2d']} pixels ({c['holes_delta_2d']} holes, "
                   f"{c['holes_delta_2d'] / c['span_delta'] ** 2:.0%} of the span)"
                   + (" -- formula and propagation agree." if agree else " -- **formula and propagation disagree**."))
    if checks[0]["holes_delta_2d"] and not checks[1]["holes_delta_2d"]:
        rep.append(f"- Dilations {list(config.compare_dilations)} cover their whole span while "
                   f"{list(config.dilations)} leave holes: equal dilations repeat the same sampling grid.")
    lab.write_report("\n".join(rep))
    summary = (f"RF {checks[0]['extent_formula']} (holes {checks[0]['holes_delta_2d']}) for dilations "
               f"{list(config.dilations)}; {checks[1]['extent_formula']} (holes {checks[1]['holes_delta_2d']}) for "
               f"{list(config.compare_dilations)}; K⊗A equivalence diff {equiv_err:.2g}")
    return {"summary": summary, "output_size_ok": size_ok, "equivalence_max_abs_diff": equiv_err,
            "rf_checks": checks, "files": lab.files}
