"""Task ``conv``: a convolution layer's forward and backward (assignment 002, theory question 2).

Protocol: a class ``Conv2d`` / ``Conv`` / ``ConvLayer`` built as ``Conv2d(in_channels, out_channels,
kernel_size, stride, padding)`` with ``forward(x)`` / ``backward(dy)``; or functions
``conv_forward(x, w, b, conv_param)`` returning (out, cache) and ``conv_backward(dout, cache)``
returning (dx, dw, db) (CS231n with NCHW and w (F, C, kh, kw); Ng with NHWC and W (kh, kw, C, F));
or a single-channel ``conv2d(image, kernel)`` (forward only). Stride 1, padding 1,
N = 2, C = 3, F = 4, H×W = 6×5: every layout shows in the shapes.
Deep-learning "convolution" is cross-correlation (PyTorch's Conv2d): a flipped kernel is hinted.
"""
from __future__ import annotations

import numpy as np

from ..judging import Check, compare, generic_hypotheses, tolerance
from ..probing import call, find
from .base import Task
from .layers import FUNCTION_ALIASES, gradient_check, probe_layer_functions, probe_layer_object, weight_setter

N, C, F, H, W, K = 2, 3, 4, 6, 5, 3
CLASS_NAMES = ("conv2d", "conv", "convlayer", "conv2dlayer", "convolution", "convolution2d", "convolutionlayer",
               "convolutional", "convolutionallayer")
FORWARD_NAMES = ("convforward", "convforwardnaive", "conv2dforward", "convolutionforward", "forwardconv",
                 "convforwardfast", "conv2dforwardnaive")
BACKWARD_NAMES = ("convbackward", "convbackwardnaive", "conv2dbackward", "convolutionbackward", "backwardconv",
                  "convbackwardfast", "conv2dbackwardnaive")
SINGLE_NAMES = ("conv2d", "convolve2d", "convolve", "correlate2d", "convolution2d", "crosscorrelation",
                "conv2dsingle", "convolution", "conv")
CTOR_ALIASES = {
    "in": ("inchannels", "cin", "nc", "nchannels", "channels", "inputchannels", "ncprev", "nin", "in", "inputs"),
    "out": ("outchannels", "cout", "filters", "nfilters", "numfilters", "nf", "nout", "out", "numkernels", "outputs",
            "outputchannels", "nkernels", "kernels"),
    "kernel": ("kernelsize", "kernel", "k", "f", "filtersize", "size", "ksize", "fsize", "filter", "kernelshape"),
    "stride": ("stride", "s", "strides"),
    "padding": ("padding", "pad", "p", "pads"),
}
LAYOUT_TEXT = {"nchw": "x (N, C, H, W) and weights (F, C, kh, kw), as PyTorch and CS231n",
               "nhwc": "x (N, H, W, C) and weights (kh, kw, C, F), as Ng's course"}


def _inputs(rng):
    return {"x": rng.standard_normal((N, C, H, W)), "w": rng.standard_normal((F, C, K, K)),
            "b": rng.standard_normal(F), "dy": rng.standard_normal((N, F, H, W)),
            "image": rng.standard_normal((H, W)), "kernel": rng.standard_normal((K, K))}, {"seed": 2}


def _to(layout, a):  # NCHW -> the student's layout
    return a if layout == "nchw" else np.ascontiguousarray(a.transpose(0, 2, 3, 1))


def _weight_to(layout, w):  # (F, C, kh, kw) -> the student's layout
    return w if layout == "nchw" else np.ascontiguousarray(w.transpose(2, 3, 1, 0))


def _probe_single(probe, fn):
    inp = probe.inputs
    values = {"x": inp["image"].copy(), "weight": inp["kernel"].copy(), "padding": 1, "stride": 1}
    result = probe.attempt("single", lambda: call(fn, values, FUNCTION_ALIASES, ("x", "weight")), "calling conv2d")
    if result is not None:
        probe.put("single", result[0])
        probe.note("single", f"called {result[1]}")


def probe(module, probe):
    inp = probe.inputs
    cls = find(module, CLASS_NAMES, "class")
    if cls is not None:
        values = {"in": C, "out": F, "kernel": K, "stride": 1, "padding": 1}
        obj = probe.attempt("conv.forward", lambda: call(cls[1], values, CTOR_ALIASES, ("in", "out", "kernel")),
                            f"constructing {cls[0]}")
        if obj is not None:
            probe.note("conv.forward", f"built {obj[1]}")
            layouts = {lay: (_to(lay, inp["x"]), _to(lay, inp["dy"])) for lay in ("nchw", "nhwc")}
            shapes = {"nchw": (N, F, H, W), "nhwc": (N, H, W, F)}
            setter = weight_setter({(F, C, K, K): ("nchw", inp["w"]), (K, K, C, F): ("nhwc", _weight_to("nhwc", inp["w"]))},
                                   inp["b"], f"Conv2d({C}, {F}, {K})")
            probe_layer_object(probe, "conv", obj[0], setter, layouts, shapes)
        return
    forward = find(module, FORWARD_NAMES, "function")
    if forward is not None:
        backward = find(module, BACKWARD_NAMES, "function")

        def combo(lay):
            b = inp["b"].copy() if lay == "nchw" else inp["b"].reshape(1, 1, 1, F).copy()
            values = {"x": _to(lay, inp["x"]).copy(), "weight": _weight_to(lay, inp["w"]).copy(), "bias": b,
                      "hparams": {"stride": 1, "pad": 1, "padding": 1}, "stride": 1, "padding": 1}
            return {"values": values, "dy": _to(lay, inp["dy"]), "out_shape": (N, F, H, W) if lay == "nchw" else
                    (N, H, W, F), "order": ("x", "weight", "bias", "hparams"), "layout_x": lay, "layout_w": lay}
        probe_layer_functions(probe, "conv", forward[1], backward[1] if backward else None,
                              {lay: combo(lay) for lay in ("nchw", "nhwc")})
        return
    single = find(module, SINGLE_NAMES, "function")
    if single is None:
        probe.fail("conv.forward", "no Conv2d class, conv_forward function or conv2d(image, kernel) found")
        return
    _probe_single(probe, single[1])


# -- judge ----------------------------------------------------------------------------------------

def _reference(x, w, b, dy, padding=1):
    from ...nn.conv import Conv2d

    conv = Conv2d(w.shape[1], w.shape[0], w.shape[2:], padding=padding, bias=b is not None,
                  rng=np.random.default_rng(0), dtype=np.float64)
    conv.weight.data[...] = w
    if b is not None:
        conv.bias.data[...] = b
    y = np.array(conv.forward(x.copy()), copy=True)
    if dy is None:
        return y
    dx = np.array(conv.backward(dy.copy()), copy=True)
    return y, dx, conv.weight.grad.copy(), None if b is None else conv.bias.grad.copy()


KERNEL_T = ("kernel rows and columns swapped: tap (i, j) of the window is multiplied by weight[..., j, i]; "
            "index the kernel as weight[f, c, i, j] with i along the height")
FLIP = "kernel flipped: that is mathematical convolution; CNN layers compute cross-correlation (PyTorch's Conv2d)"


def _judge_single(arrays, out):
    image, kernel = arrays["image"][None, None], arrays["kernel"][None, None]
    student = out.arr("single")
    shape = np.shape(student)
    pad = 1 if shape == (H, W) else 0
    ref = _reference(image, kernel, None, None, pad)[0, 0]
    flipped = _reference(image, kernel[..., ::-1, ::-1].copy(), None, None, pad)[0, 0]
    swapped = _reference(image, kernel.transpose(0, 1, 3, 2).copy(), None, None, pad)[0, 0]
    note = f"single-channel conv2d, padding {pad} (read from the output shape {shape}); {out.note('single')}"
    return [compare("conv", "conv2d(image, kernel)", student, ref, tolerance("float64"),
                    hypotheses=[(FLIP, flipped), (KERNEL_T, swapped)], note=note, missing=out.error("single"))[0]]


def judge(arrays, settings, out):
    if out.has("single") or out.error("single"):
        return _judge_single(arrays, out)
    if not out.has("conv.y"):
        return [Check("conv", "forward", "error", message=out.error("conv.forward") or "forward gave nothing",
                      note=out.note("conv.forward"))]
    lay = out.value("layout_x")
    back = (lambda a: a) if lay == "nchw" else (lambda a: np.ascontiguousarray(a.transpose(0, 3, 1, 2)))
    x, w, b, dy = arrays["x"], arrays["w"], arrays["b"], arrays["dy"]
    y, dx, dw, db = _reference(x, w, b, dy)
    y_flip, dx_flip, dw_flip, _ = _reference(x, w[..., ::-1, ::-1].copy(), b, dy)
    y_tr, dx_tr, dw_tr, _ = _reference(x, w.transpose(0, 1, 3, 2).copy(), b, dy)
    tol = tolerance(out.dtype("conv.y"))
    note = f"assumed {LAYOUT_TEXT[lay]}; {out.note('conv.forward')}".strip("; ")
    s_y, s_dx = out.arr("conv.y"), out.arr("conv.dx")
    checks = [compare("conv", "forward", None if s_y is None else back(s_y), y, tol, note=note,
                      hypotheses=[(FLIP, y_flip), (KERNEL_T, y_tr), ("the bias is not added",
                                                                    y - b[None, :, None, None])]
                      + generic_hypotheses(y, None, "y"))[0],
              compare("conv", "dx", None if s_dx is None else back(s_dx), dx, tol, note=out.note("conv.backward"),
                      hypotheses=[(FLIP, dx_flip), (KERNEL_T, dx_tr)] + generic_hypotheses(dx, N, "dx"),
                      missing=out.error("conv.backward") or "backward returned no dx")[0]]
    s_dw = out.arr("conv.dweight")
    if s_dw is not None and lay == "nhwc" and s_dw.shape == (K, K, C, F):
        s_dw = s_dw.transpose(3, 2, 0, 1)
    checks.append(compare("conv", "dW", s_dw, dw, tol, hypotheses=[(f"dW {FLIP}", dw_flip), (
        "dW of the kernel flipped: the weight gradient is the cross-correlation of x with dy, not flipped",
        dw[..., ::-1, ::-1]), (f"dW {KERNEL_T}", dw_tr.transpose(0, 1, 3, 2))] + generic_hypotheses(dw, N, "dW"),
        missing=out.error("conv.backward") or "no weight gradient found")[0])
    if out.has("conv.dbias"):
        checks.append(compare("conv", "db", out.arr("conv.dbias"), db, tol,
                              hypotheses=generic_hypotheses(db, N, "db"))[0])
    grads = {"x": out.arr("conv.dx"), "weight": out.arr("conv.dweight"), "bias": out.arr("conv.dbias")}
    checks.append(gradient_check("conv", "gradients vs numerical", out, "conv", grads,
                                 tolerance(out.dtype("conv.y"), numeric=True)))
    return checks


TASK = Task("conv", "a convolution layer (stride 1, padding 1): forward, dx, dW, db, sparse numerical check",
            CLASS_NAMES + FORWARD_NAMES + SINGLE_NAMES, _inputs, probe, judge)
