"""Tasks ``softmax-ce`` and ``mse``: loss values and their gradients w.r.t. the network's output.

Protocol (docs/check.md): ``softmax(z)``; ``cross_entropy(p_or_z, y)`` / ``softmax_cross_entropy``
/ ``softmax_loss`` (which may return (loss, dz)); a gradient ``cross_entropy_derivative(p_or_z, y)``
/ ``softmax_cross_entropy_grad`` ...; ``mse(h, y)`` with ``mse_derivative(h, y)``; or classes
``CrossEntropy`` / ``MSE`` with ``forward(pred, y)`` and ``backward()``. Logits or probabilities,
integer or one-hot labels, batch-first or feature-first: every combination is tried.
The loss is a mean over the batch; the gradient includes that 1/m, or omits it when the
layer's dW, db carry it (Ng's convention, checked for agreement with the dense task).
"""
from __future__ import annotations

import numpy as np

from ..judging import Check, compare, tolerance
from ..probing import call, find, required_count
from .base import Task, names_with
from .variants import judge_variants, run_variants

N, C, K = 6, 4, 3
GRAD_PATTERNS = ("{}derivative", "d{}", "{}prime", "{}grad", "{}gradient", "{}backward", "grad{}", "{}deriv",
                 "derivative{}", "{}lossderivative", "{}lossgrad", "{}lossgradient")
CE_NAMES = ("softmaxcrossentropy", "crossentropy", "crossentropyloss", "categoricalcrossentropy", "celoss",
            "softmaxce", "softmaxloss", "crossentropycost", "softmaxcrossentropyloss", "cecost", "ce")
MSE_NAMES = ("mse", "mseloss", "meansquarederror", "meansquareerror", "squarederror", "msecost", "costmse",
             "mselossfunction", "mean_squared_error")
ALIASES = {
    "pred": ("pred", "z", "logits", "scores", "x", "p", "probs", "prob", "probabilities", "yhat", "ypred",
             "a", "al", "predictions", "prediction", "output", "outputs", "h", "inputs", "input", "out", "s", "o",
             "activations", "ypredicted", "hx", "hypothesis"),
    "y": ("y", "labels", "label", "target", "targets", "ytrue", "t", "classes", "yt", "truth", "onehot", "yonehot",
          "ygt", "actual", "yactual", "expected"),
}


def _softmax(z, axis):  # the checker's own, for the numerical gradient of a loss that takes probabilities
    e = np.exp(z - z.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def _ce_inputs(rng):
    from ...nn.activation import Softmax

    z = 2.0 * rng.standard_normal((N, C))
    labels = np.arange(N) % C
    rng.shuffle(labels)
    return {"z": z, "labels": labels, "onehot": np.eye(C)[labels], "probs": Softmax(dim=1).forward(z.copy())}, {}


def _mse_inputs(rng):
    return {"h": rng.standard_normal((N, K)), "y": rng.standard_normal((N, K))}, {}



def _loss_value(result):
    """The scalar a loss returned (a tuple (loss, grad) gives its first scalar)."""
    items = result if isinstance(result, (tuple, list)) else [result]
    return next((float(np.asarray(v)) for v in items if np.size(v) == 1), None)


def _grad_array(result, shape):
    items = result if isinstance(result, (tuple, list)) else [result]
    return next((np.asarray(v) for v in items if np.shape(v) == shape), None)


def _entry_points(module, names):
    """(loss, grad) callables taking (pred, y) from functions or a class with forward/backward."""
    loss_fn = find(module, names, "function")
    grad_fn = find(module, names_with(GRAD_PATTERNS, names), "function")
    loss = grad = None
    if loss_fn is not None:
        loss = lambda a, y: call(loss_fn[1], {"pred": a, "y": y}, ALIASES, ("pred", "y"))[0]  # noqa: E731
        grad = lambda a, y: loss(a, y)  # noqa: E731  (a loss returning (loss, grad))
    if grad_fn is not None:
        grad = lambda a, y: call(grad_fn[1], {"pred": a, "y": y}, ALIASES, ("pred", "y"))[0]  # noqa: E731
    cls = find(module, names, "class")
    if loss is None and cls is not None:
        def forward(a, y):
            obj = cls[1]()
            fwd = getattr(obj, "forward", None) or getattr(obj, "loss", None) or obj
            return obj, call(fwd, {"pred": a, "y": y}, ALIASES, ("pred", "y"))[0]

        def backward(a, y):
            obj, _ = forward(a, y)
            back = getattr(obj, "backward", None) or getattr(obj, "grad", None)
            return back() if required_count(back) == 0 else back(1.0)
        loss, grad = (lambda a, y: forward(a, y)[1]), backward
    return loss, grad


def _variants(inp, fn, pred_kinds, labels, to_canonical, shape):
    out = {}
    for pred in pred_kinds:
        for layout in ("batch", "feature"):
            for lab in labels:
                def thunk(pred=pred, layout=layout, lab=lab):
                    a, y = inp[pred].copy(), inp[lab].copy()
                    if layout == "feature":
                        a, y = a.T.copy(), (y if y.ndim == 1 else y.T.copy())
                    return to_canonical(fn(a, y), layout, shape)
                out["/".join(p for p in (pred, layout, lab) if p)] = thunk
    return out


def _as_value(result, layout, shape):
    return _loss_value(result)


def _as_grad(result, layout, shape):
    g = _grad_array(result, shape if layout == "batch" else shape[::-1])
    return None if g is None else (g if layout == "batch" else g.T)


def _numeric_variants(probe, key, loss, inp, pred_kinds, labels, softmax=None):
    """d loss / d pred (or d logits, through a softmax, when the loss takes probabilities) per variant."""
    base = inp["z"] if "z" in inp else inp["h"]
    for label in probe.values.get(f"{key}.variants") or []:
        pred, layout, *rest = label.split("/")
        y = inp[rest[0]] if rest else inp["y"]
        y = y if (layout == "batch" or y.ndim == 1) else y.T

        def f(v, pred=pred, layout=layout, y=y):
            a = v if layout == "batch" else v.T
            if pred == "probs":
                a = softmax(a.copy()) if softmax else _softmax(a, 1 if layout == "batch" else 0)
            return _loss_value(loss(np.array(a), y.copy()))
        h = 1e-6
        grad = np.zeros_like(base)
        for i in np.ndindex(base.shape):
            e = np.zeros_like(base)
            e[i] = h
            grad[i] = (f(base + e) - f(base - e)) / (2 * h)
        probe.put(f"{key}.numeric@{label}", grad)


def _probe_loss(module, probe, names, pred_kinds, labels, key):
    loss, grad = _entry_points(module, names)
    if loss is None:
        probe.fail(f"{key}.value", "no loss function or class found (see docs/check.md for the names)")
        return
    inp = probe.inputs
    shape = inp["z"].shape if "z" in inp else inp["h"].shape
    run_variants(probe, f"{key}.value", _variants(inp, loss, pred_kinds, labels, _as_value, shape), "calling the loss")
    run_variants(probe, f"{key}.grad", _variants(inp, grad, pred_kinds, labels, _as_grad, shape),
                 "calling the loss gradient")
    return loss


def probe_ce(module, probe):
    inp = probe.inputs
    soft = find(module, ("softmax", "stablesoftmax", "softmaxfn", "softmaxactivation"), "function")
    if soft is not None:
        variants = {"batch": lambda: soft[1](inp["z"].copy()), "feature": lambda: np.asarray(soft[1](inp["z"].T.copy())).T,
                    "batch/large": lambda: soft[1](300 * inp["z"]), "feature/large": lambda: np.asarray(soft[1](300 * inp["z"].T)).T}
        run_variants(probe, "softmax", variants, "calling softmax")
    loss = _probe_loss(module, probe, CE_NAMES, ("z", "probs"), ("labels", "onehot"), "ce")
    if loss is not None:
        _numeric_variants(probe, "ce.value", loss, inp, ("z", "probs"), ("labels", "onehot"),
                          soft[1] if soft is not None else None)


def probe_mse(module, probe):
    loss = _probe_loss(module, probe, MSE_NAMES, ("h",), ("y",), "mse")
    if loss is not None:
        _numeric_variants(probe, "mse.value", loss, probe.inputs, ("h",), ("y",))


# -- judges ---------------------------------------------------------------------------------------

def _describe(label: str) -> str:
    words = {"z": "logits", "probs": "probabilities (after softmax)", "h": "predictions h",
             "batch": "batch-first arrays (one row per example)",
             "feature": "feature-first arrays (one column per example)",
             "labels": "integer labels", "onehot": "one-hot labels", "y": "targets y"}
    return ", ".join(words.get(p, p) for p in label.split("/"))


def _gradient_checks(task, name, out, key, ref, ng_ref, hypotheses, tol, value_label):
    """The gradient against ``ref`` (1/m inside) or ``ng_ref`` (Ng's convention, 1/m in the layer)."""
    ng_note = "the gradient omits 1/m (Ng's convention): the layer's dW and db must carry it"
    check, label, which = judge_variants(task, f"{name}: gradient", out, f"{key}.grad", ref, tol, _describe,
                                         hypotheses=hypotheses, accept=[(ng_note, ng_ref)])
    if not (out.value(f"{key}.grad.variants") or []):
        check.message = first_or(check.message, f"no gradient found: a {name} derivative function (e.g. "
                                                f"{name}_derivative), a loss returning (loss, grad), or backward()")
    check.convention = ("layer" if which else "loss") if check.passed else ""
    checks = [check]
    numeric = out.arr(f"{key}.value.numeric@{value_label}") if value_label else None
    student = out.arr(f"{key}.grad@{label}") if label else None
    if numeric is not None and student is not None:
        # consistent with the student's own loss: equal, or m times larger under Ng's convention
        checks.append(compare(task, f"{name}: gradient vs numerical", student, numeric,
                              tolerance("float64", numeric=True),
                              accept=[("the gradient is m times the derivative of your loss: Ng's convention",
                                       numeric * ref.shape[0])],
                              note=f"central differences of your loss ({_describe(value_label)})")[0])
    return checks


def first_or(message: str, default: str) -> str:
    return message if message and message != "no result came back" else default


def _softmax_checks(out, arrays):
    from ...nn.activation import Softmax

    if not out.value("softmax.variants") and not out.errors.get("softmax@batch"):
        return []
    probs = arrays["probs"]
    whole = np.exp(arrays["z"]) / np.exp(arrays["z"]).sum()
    check, label, _ = judge_variants("softmax-ce", "softmax", out, "softmax", probs, tolerance("float64"),
                                     lambda lab: lab.replace("batch", "batch-first (N, classes)").replace(
                                         "feature", "feature-first (classes, N)"),
                                     hypotheses=[("softmax normalises over the whole array: sum over the class "
                                                  "axis only", whole)])
    checks = [check]
    if check.passed:
        big = Softmax(dim=1).forward(300 * arrays["z"])
        hint = "overflow: exp of large logits gives inf; subtract each row's max(z) before np.exp"
        checks.append(compare("softmax-ce", "softmax of large logits (|z| up to ~1000)", out.arr(
            f"softmax@{label}/large"), big, tolerance("float64"), missing=first_or(
            out.error(f"softmax@{label}/large"), hint))[0])
        if not checks[-1].passed and "NaN" in checks[-1].message + "inf":
            checks[-1].hint = hint
    return checks


def judge_ce(arrays, settings, out):
    from ...nn.loss import CrossEntropyLoss

    z, labels, onehot, probs = arrays["z"], arrays["labels"], arrays["onehot"], arrays["probs"]
    loss = CrossEntropyLoss()
    value = loss(z.copy(), labels)
    grad = loss.backward()
    tol = tolerance("float64")
    logp = np.log(probs)
    value_hyp = [
        ("missing 1/m: the loss is summed over the batch instead of averaged", np.asarray(value * N)),
        ("missing minus sign: cross-entropy is −Σ y·log p", np.asarray(-value)),
        ("log base: cross-entropy uses the natural log (np.log), not log10", np.asarray(value / np.log(10))),
        ("log base: cross-entropy uses the natural log (np.log), not log2", np.asarray(value / np.log(2))),
        ("binary cross-entropy formula: with softmax outputs use −Σ y·log p over the classes",
         np.asarray(-np.sum(onehot * logp + (1 - onehot) * np.log(1 - probs)) / N)),
    ]
    checks = _softmax_checks(out, arrays)
    check, value_label, _ = judge_variants("softmax-ce", "cross-entropy: loss", out, "ce.value", np.asarray(value),
                                           tol, _describe, hypotheses=value_hyp)
    checks.append(check)
    grad_hyp = [("wrong sign: the gradient w.r.t. the logits is p − y, not y − p", -grad),
                ("wrong sign: the gradient w.r.t. the logits is p − y, not y − p", -grad * N),
                ("this is ∂J/∂p (w.r.t. the probabilities); the task asks for ∂J/∂z = (p − y)/m, softmax and "
                 "cross-entropy differentiated together", -onehot / probs / N),
                ("this is ∂J/∂p (w.r.t. the probabilities); the task asks for ∂J/∂z = (p − y)/m", -onehot / probs),
                ("extra 1/m: the gradient is divided by m twice", grad / N)]
    checks += _gradient_checks("softmax-ce", "cross-entropy", out, "ce", grad, grad * N, grad_hyp, tol, value_label)
    return checks


def judge_mse(arrays, settings, out):
    from ...nn.loss import MSELoss

    h, y = arrays["h"], arrays["y"]
    loss = MSELoss()
    value = loss(h.copy(), y.copy())  # 1/(2m) Σ (h - y)²
    grad = loss.backward()  # (h - y)/m
    value_hyp = [
        (f"missing 1/m: the cost is 1/(2m)·Σ(h−y)²; yours is m = {N} times larger", np.asarray(value * N)),
        ("missing ½: the assignment's cost is 1/(2m)·Σ(h−y)², yours is 1/m·Σ(h−y)²", np.asarray(2 * value)),
        ("missing 1/(2m): a plain sum Σ(h−y)²", np.asarray(2 * N * value)),
        ("averaged over all m·K entries without ½ (PyTorch's MSELoss); the assignment's cost is 1/(2m)·Σ(h−y)²",
         np.asarray(2 * value / K)),
        ("divided by m·K: the assignment's cost divides by 2m only", np.asarray(value / K)),
    ]
    tol = tolerance("float64")
    check, value_label, _ = judge_variants("mse", "mse: cost", out, "mse.value", np.asarray(value), tol, _describe,
                                           hypotheses=value_hyp)
    grad_hyp = [("wrong sign: d/dh of ½(h−y)² is (h − y); check the order of the arguments", -grad),
                ("wrong sign: d/dh of ½(h−y)² is (h − y); check the order of the arguments", -grad * N),
                ("factor 2: the ½ of the cost cancels the 2 of the square: the gradient is (h − y)/m", 2 * grad),
                ("missing 1/m and ½: the gradient of 1/(2m)Σ(h−y)² is (h − y)/m", 2 * N * grad),
                ("extra 1/m: the gradient is divided by m twice", grad / N)]
    return [check] + _gradient_checks("mse", "mse", out, "mse", grad, grad * N, grad_hyp, tol, value_label)


TASKS = [
    Task("softmax-ce", "softmax and its cross-entropy: loss and gradient w.r.t. the logits", CE_NAMES + ("softmax",),
         _ce_inputs, probe_ce, judge_ce),
    Task("mse", "the assignment's cost 1/(2m)·Σ(h−y)² and its gradient", MSE_NAMES, _mse_inputs, probe_mse, judge_mse),
]
