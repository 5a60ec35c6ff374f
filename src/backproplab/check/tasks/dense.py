"""Task ``dense``: a fully connected layer's forward and backward (assignment 004's MLP).

Protocol: a class ``Dense`` / ``Linear`` / ``Layer`` / ``FullyConnected`` built as ``Dense(in, out)``
with ``forward(x)`` and ``backward(dy)`` (or ``backward(dy, learning_rate)``), weights ``W``
(in, out) or (out, in); or functions ``dense_forward(x, W, b)`` / ``affine_forward`` /
``linear_forward`` (returning y or (y, cache)) and ``dense_backward(dy, cache)`` returning
(dx, dW, db). Arrays batch-first (N, in) or feature-first (in, N). Sizes N = 7, in = 5, out = 3
differ, so every layout shows in the shapes.
"""
from __future__ import annotations

import numpy as np

from ..judging import Check, compare, generic_hypotheses, matches, tolerance
from ..probing import call, find
from .base import Task
from .layers import gradient_check, probe_layer_functions, probe_layer_object, weight_setter

N, IN, OUT = 7, 5, 3
CLASS_NAMES = ("dense", "linear", "layer", "fullyconnected", "fc", "denselayer", "linearlayer", "fclayer",
               "affine", "affinelayer", "fullyconnectedlayer", "layerdense")
FORWARD_NAMES = ("denseforward", "affineforward", "linearforward", "forwarddense", "fcforward",
                 "forwardlinear", "layerforward", "forwardaffine")
BACKWARD_NAMES = ("densebackward", "affinebackward", "linearbackward", "backwarddense", "fcbackward",
                  "backwardlinear", "layerbackward", "backwardaffine")
CTOR_ALIASES = {
    "in": ("infeatures", "inputsize", "nin", "fanin", "inputdim", "indim", "ninputs", "ninput", "inputs", "insize",
           "input", "in", "nprev", "inputunits", "inunits", "numinputs", "inputfeatures", "inp", "nx", "prevunits"),
    "out": ("outfeatures", "outputsize", "nout", "fanout", "outputdim", "outdim", "noutputs", "noutput", "outputs",
            "outsize", "output", "out", "units", "neurons", "nneurons", "numneurons", "outputunits", "outunits",
            "numoutputs", "outputfeatures", "nunits", "nodes", "nnodes", "ny"),
}
LAYOUT_TEXT = {"in_out": "weights (in, out) = (5, 3), y = x·W + b", "out_in": "weights (out, in) = (3, 5) as "
               "PyTorch, y = x·Wᵀ + b", "batch": "batch-first arrays x (N, in)", "feature": "feature-first "
               "arrays x (in, N), one column per example"}


def _inputs(rng):
    return {"x": rng.standard_normal((N, IN)), "w": rng.standard_normal((IN, OUT)),  # w: (in, out)
            "b": rng.standard_normal(OUT), "dy": rng.standard_normal((N, OUT))}, {"seed": 1}


def probe(module, probe):
    inp = probe.inputs
    x, dy = inp["x"], inp["dy"]
    layouts = {"batch": (x, dy), "feature": (x.T, dy.T)}
    shapes = {"batch": (N, OUT), "feature": (OUT, N)}
    cls = find(module, CLASS_NAMES, "class")
    if cls is not None:
        def build():
            obj, desc = call(cls[1], {"in": IN, "out": OUT}, CTOR_ALIASES, ("in", "out"))
            probe.note("dense.forward", f"built {desc}")
            return obj
        obj = probe.attempt("dense.forward", build, f"constructing {cls[0]}")
        if obj is not None:
            setter = weight_setter({(IN, OUT): ("in_out", inp["w"]), (OUT, IN): ("out_in", inp["w"].T)}, inp["b"],
                                   f"a Dense({IN}, {OUT})")
            probe_layer_object(probe, "dense", obj, setter, layouts, shapes)
        return
    forward = find(module, FORWARD_NAMES, "function")
    if forward is None:
        probe.fail("dense.forward", "no Dense/Linear/Layer class and no dense_forward/affine_forward function")
        return
    backward = find(module, BACKWARD_NAMES, "function")

    def combo(lx, lw):
        xs = x if lx == "batch" else x.T.copy()
        w = inp["w"].copy() if lw == "in_out" else inp["w"].T.copy()
        b = inp["b"].copy() if lx == "batch" else inp["b"].reshape(OUT, 1).copy()
        return {"values": {"x": xs.copy(), "weight": w, "bias": b}, "dy": dy if lx == "batch" else dy.T.copy(),
                "out_shape": shapes[lx], "order": ("x", "weight", "bias"), "layout_x": lx, "layout_w": lw}

    combos = {f"{lx}/{lw}": combo(lx, lw) for lx, lw in (("batch", "in_out"), ("feature", "out_in"),
                                                         ("batch", "out_in"), ("feature", "in_out"))}
    probe_layer_functions(probe, "dense", forward[1], backward[1] if backward else None, combos)


# -- judge ----------------------------------------------------------------------------------------

def _reference(arrays):
    from ...nn.linear import Linear

    layer = Linear(IN, OUT, rng=np.random.default_rng(0), dtype=np.float64)
    layer.weight.data[...] = arrays["w"].T  # (out, in)
    layer.bias.data[...] = arrays["b"]
    y = np.array(layer.forward(arrays["x"].copy()), copy=True)
    dx = layer.backward(arrays["dy"].copy())
    return y, dx, layer.weight.grad.copy(), layer.bias.grad.copy()


def _bias_hypotheses(dy, db):
    total = float(dy.sum())
    return [
        ("db sums every entry of dy (np.sum(dy)); sum over the batch axis only: np.sum(dy, axis=0)",
         np.asarray(total)),
        ("db sums every entry of dy (np.sum(dy)); sum over the batch axis only: np.sum(dy, axis=0)",
         np.full(db.shape, total)),
        ("db sums over the wrong axis (over the outputs of each example); sum over the batch axis",
         dy.sum(axis=1)),
        ("db is dy itself: it must be summed over the batch axis", dy),
        ("db is dy itself: it must be summed over the batch axis", dy.T),
    ] + generic_hypotheses(db, N, "db")


def judge(arrays, settings, out):
    checks: list[Check] = []
    if not out.has("dense.y"):
        return [Check("dense", "forward", "error", message=out.error("dense.forward") or "forward gave nothing",
                      note=out.note("dense.forward"))]
    lx, lw = out.value("layout_x"), out.value("layout_w")
    layout = f"assumed {LAYOUT_TEXT[lw]}; {LAYOUT_TEXT[lx]}"
    y, dx, dw, db = _reference(arrays)
    to_student = (lambda a: a) if lx == "batch" else (lambda a: a.T)  # batch-first reference -> student layout
    w_student = dw.T if lw == "in_out" else dw  # reference dW (out, in) -> the student's weight layout
    tol = tolerance(out.dtype("dense.y"))
    act = [(f"your layer applies an activation ({name}) to x·W + b: the dense task checks the affine part only",
            to_student(f(y))) for name, f in (("ReLU", lambda v: np.maximum(v, 0)), ("sigmoid", lambda v: 1 / (1 + np.exp(-v))),
                                               ("tanh", np.tanh))]
    act.append(("the bias is not added", to_student(y - arrays["b"])))
    checks.append(compare("dense", "forward", out.arr("dense.y"), to_student(y), tol,
                          hypotheses=act + generic_hypotheses(to_student(y), None, "y"),
                          note=f"{layout}; {out.note('dense.forward')}".strip("; "))[0])
    note_b = out.note("dense.backward")
    s_dw, s_db = out.arr("dense.dweight"), out.arr("dense.dbias")
    # Ng's convention: 1/m inside the layer's dW and db (the loss gradient then omits it)
    ng = matches(s_dw, w_student / N, tol) and (s_db is None or matches(s_db, db / N, tol))
    ng_note = "dW and db carry 1/m (Ng's convention: dW = (1/m)·dZ·Aᵀ); the loss gradient must then omit it"
    checks.append(compare("dense", "dx", out.arr("dense.dx"), to_student(dx), tol,
                          hypotheses=generic_hypotheses(to_student(dx), N, "dx"), note=note_b,
                          missing=out.error("dense.backward") or "backward returned no dx")[0])
    c, _ = compare("dense", "dW", s_dw, w_student, tol, accept=[(ng_note, w_student / N)] if ng else [],
                   hypotheses=generic_hypotheses(w_student, N, "dW"), note=note_b,
                   missing=out.error("dense.backward") or "no weight gradient found (returned, stored as dW, or "
                                                          "applied inside backward)")
    c.convention = "layer" if ng else "loss" if c.passed else ""
    checks.append(c)
    if s_db is not None or out.error("dense.backward"):
        c, _ = compare("dense", "db", s_db, db, tol, accept=[(ng_note, db / N)] if ng else [],
                       hypotheses=_bias_hypotheses(arrays["dy"], db),
                       note=note_b, missing=out.error("dense.backward"))
        checks.append(c)
    grads = {"x": out.arr("dense.dx"), "weight": s_dw, "bias": s_db}
    checks.append(gradient_check("dense", "gradients vs numerical", out, "dense", grads,
                                 tolerance(out.dtype("dense.y"), numeric=True),
                                 scale={"weight": 1 / N, "bias": 1 / N} if ng else None))
    return checks


TASK = Task("dense", "a fully connected layer: forward, dx, dW, db and a numerical gradient check",
            CLASS_NAMES + FORWARD_NAMES, _inputs, probe, judge)
