"""Task ``activations``: each activation's values and derivative (assignment 004, section 1).

Protocol: a function ``sigmoid(z)`` (or a class ``Sigmoid`` with ``forward``/``backward``), and
a derivative ``sigmoid_derivative(z)`` (also ``d_sigmoid``, ``sigmoid_prime``, ``sigmoid_grad``...).
The derivative receives the pre-activation z, unless its first parameter is named like the
output (``a``, ``y``, ``out``, ``s``...): then it receives f(z). A two-parameter
``sigmoid_backward(dA, Z)`` returns dA * f'(Z). The same names with ``relu``, ``tanh``,
``identity``, ``leaky_relu`` and ``elu``.
"""
from __future__ import annotations

import numpy as np

from ..judging import Check, compare, tolerance
from ..probing import call, find, norm, parameter_names, required_count
from .base import Task, away_from_zero, names_with

#: activation -> normalized base names
ACTIVATIONS = {
    "identity": ("identity", "linear"),
    "sigmoid": ("sigmoid", "logistic"),
    "tanh": ("tanh",),
    "relu": ("relu",),
    "leaky_relu": ("leakyrelu", "lrelu", "leaky"),
    "elu": ("elu",),
}
DERIVATIVE_PATTERNS = ("{}derivative", "d{}", "{}prime", "{}grad", "{}gradient", "derivative{}", "{}deriv",
                       "{}backward", "grad{}", "{}der", "d{}dz", "d{}dx", "derivativeof{}", "{}diff")
#: a derivative whose first parameter has one of these names receives the output f(z)
OUTPUT_NAMES = {"a", "y", "out", "output", "outputs", "activation", "activations", "fx", "fz", "s", "sig",
                "sigma", "h", "act", "yhat", "aout", "t", "th", "r"}
BACKWARD_ALIASES = {"dy": ("dy", "da", "dout", "grad", "grads", "upstream", "delta", "dl", "dldy", "dlda",
                           "doutput", "gradoutput", "outputgradient", "dvalues", "g"),
                    "z": ("z", "x", "cache", "input", "inputs", "zl", "preactivation")}


def _inputs(rng):
    x = away_from_zero(rng, (5, 4))
    return {"x": x, "dy": rng.standard_normal(x.shape)}, {}


def _numeric(f, x):
    h = 1e-6
    return (np.asarray(f(x + h), dtype=np.float64) - np.asarray(f(x - h), dtype=np.float64)) / (2 * h)


def _probe_function(probe, key, fn, deriv):
    x, dy = probe.inputs["x"], probe.inputs["dy"]
    value = probe.attempt(f"{key}.value", lambda: fn(x.copy()), f"calling {key}")
    probe.put(f"{key}.value", value)
    probe.put(f"{key}.numeric", probe.attempt(f"{key}.numeric", lambda: _numeric(fn, x), f"calling {key}"))
    if deriv is None:
        return
    name = deriv.__name__
    if required_count(deriv) >= 2:  # Ng's sigmoid_backward(dA, Z): dA * f'(Z)
        def run():
            out, desc = call(deriv, {"dy": dy.copy(), "z": x.copy()}, BACKWARD_ALIASES, ("dy", "z"))
            probe.note(f"{key}.backward", f"called {desc}")
            return out
        probe.put(f"{key}.backward", probe.attempt(f"{key}.backward", run, f"calling {name}"))
        return
    params = parameter_names(deriv)
    if params and norm(params[0]) in OUTPUT_NAMES and value is not None:
        probe.note(f"{key}.deriv", f"{name}({params[0]}) takes the output a = {key}(z) (parameter name "
                                   f"'{params[0]}'), so it was given {key}(z)")
        arg = np.asarray(value, dtype=np.float64)
    else:
        probe.note(f"{key}.deriv", f"{name}({params[0] if params else 'z'}) was given the pre-activation z")
        arg = x
    probe.put(f"{key}.deriv", probe.attempt(f"{key}.deriv", lambda: deriv(arg.copy()), f"calling {name}"))


def _probe_class(probe, key, cls):
    x, dy = probe.inputs["x"], probe.inputs["dy"]
    obj = probe.attempt(f"{key}.value", cls, f"constructing {cls.__name__}()")
    if obj is None:
        return
    forward = getattr(obj, "forward", None) or obj
    backward = getattr(obj, "backward", None)
    probe.put(f"{key}.numeric", probe.attempt(f"{key}.numeric", lambda: _numeric(forward, x), f"{key} forward"))
    probe.put(f"{key}.value", probe.attempt(f"{key}.value", lambda: forward(x.copy()), f"{key} forward"))
    if backward is not None:
        probe.note(f"{key}.backward", f"{cls.__name__}().forward(z) then .backward(dy)")
        probe.put(f"{key}.backward", probe.attempt(f"{key}.backward", lambda: backward(dy.copy()), f"{key} backward"))


def probe(module, probe):
    found = []
    for key, bases in ACTIVATIONS.items():
        fn = find(module, bases, "function")
        if fn is not None and key == "identity" and required_count(fn[1]) > 1:
            fn = None  # linear(x, W, b) is a dense layer, not the identity
        cls = find(module, tuple(b for b in bases if b != "linear"), "class")  # class Linear is a layer
        if fn is not None:
            deriv = find(module, names_with(DERIVATIVE_PATTERNS, bases), "function")
            _probe_function(probe, key, fn[1], deriv[1] if deriv else None)
        elif cls is not None:
            _probe_class(probe, key, cls[1])
        else:
            continue
        found.append(key)
    probe.put("found", found)


# -- judge (runs in the checker) -----------------------------------------------------------------

def _from_output(key: str, a: np.ndarray, param: float) -> np.ndarray:
    """f'(z) written in terms of the output a = f(z), the form students often code."""
    if key == "sigmoid":
        return a * (1 - a)
    if key == "tanh":
        return 1 - a * a
    if key == "relu":
        return (a > 0).astype(np.float64)
    if key == "leaky_relu":
        return np.where(a > 0, 1.0, param)
    if key == "elu":
        return np.where(a > 0, 1.0, a + param)
    return np.ones_like(a)


def _parameter(key: str, x: np.ndarray, value) -> tuple[float, str]:
    """Leaky ReLU's slope or ELU's alpha as the student's values show it (defaults 0.01 and 1.0)."""
    default = {"leaky_relu": 0.01, "elu": 1.0}.get(key)
    if default is None or value is None or np.shape(value) != x.shape:
        return (default or 0.0), ""
    neg = x < 0
    ratio = value[neg] / (x[neg] if key == "leaky_relu" else np.expm1(x[neg]))
    if ratio.size and np.ptp(ratio) <= 1e-6 * max(abs(float(np.median(ratio))), 1e-12):
        est = float(np.median(ratio))
        what = "negative slope" if key == "leaky_relu" else "alpha"
        return est, f"{what} {est:g} (read from your function's values)"
    return default, ""


def _reference(key: str, x: np.ndarray, dy: np.ndarray, param: float):
    from ...nn.activation import ACTIVATIONS as LAYERS, ELU, LeakyReLU

    layer = LeakyReLU(param) if key == "leaky_relu" else ELU(param) if key == "elu" else LAYERS[key]()
    y = np.array(layer.forward(x.copy()), copy=True)
    deriv = np.array(layer.backward(np.ones_like(x)), copy=True)  # element-wise: dy = 1 gives f'(z)
    layer.forward(x.copy())
    return y, deriv, np.array(layer.backward(dy.copy()), copy=True)


def _derivative_hypotheses(key, x, y, param, deriv_at, scale):
    """The two pre-/post-activation confusions, times ``scale`` (dy for a backward)."""
    return [
        (f"derivative given z but written for the output: it computes the output form (e.g. a·(1−a) for "
         f"the sigmoid) from z; compute a = {key}(z) first, or name the parameter 'a' so callers pass the "
         "output", _from_output(key, x, param) * scale),
        (f"derivative evaluated at the output: it computes f'(f(z)) instead of f'(z) (the chain rule needs "
         "the derivative at the pre-activation z)", deriv_at(y) * scale),
    ]


def judge(arrays, settings, out):
    x, dy = arrays["x"], arrays["dy"]
    checks: list[Check] = []
    for key in out.value("found", []):
        value = out.arr(f"{key}.value")
        param, param_note = _parameter(key, x, value)
        y, deriv, dx = _reference(key, x, dy, param)

        def deriv_at(z, key=key, param=param):
            return _reference(key, z, dy, param)[1]

        tol = tolerance(out.dtype(f"{key}.value"))
        hyp = [("computes f(−z): check the sign inside the exponential", _reference(key, -x, dy, param)[0])]
        checks.append(compare("activations", f"{key}: value", value, y, tol, hypotheses=hyp, note=param_note,
                              missing=out.error(f"{key}.value"))[0])
        for part, ref, scale in (("deriv", deriv, 1.0), ("backward", dx, dy)):
            if not (out.has(f"{key}.{part}") or out.error(f"{key}.{part}")):
                continue
            student = out.arr(f"{key}.{part}")
            label = "derivative" if part == "deriv" else "backward"
            hyps = _derivative_hypotheses(key, x, y, param, deriv_at, scale)
            hyps.append(("wrong sign: the derivative is the negative of the expected one", -ref))
            if key in ("leaky_relu", "elu"):
                hyps.append((f"wrong sign for z < 0: there {key}'s derivative is positive "
                             f"({'the slope α' if key == 'leaky_relu' else 'α·eᶻ = f(z) + α'}), the same sign "
                             "as for z > 0", np.where(x < 0, -ref, ref)))
            checks.append(compare("activations", f"{key}: {label}", student, ref, tol, hypotheses=hyps,
                                  note=out.note(f"{key}.{part}"), missing=out.error(f"{key}.{part}"))[0])
            numeric = out.arr(f"{key}.numeric")
            if student is not None and numeric is not None:
                checks.append(compare("activations", f"{key}: {label} vs numerical", student, numeric * scale,
                                      tolerance(out.dtype(f"{key}.value"), numeric=True),
                                      hypotheses=hyps[:1])[0])
    if not checks:
        checks.append(Check("activations", "entry points", "error",
                            message="no activation found (looked for sigmoid, tanh, relu, leaky_relu, "
                                    "identity, elu as functions or classes)"))
    return checks


TASK = Task("activations", "identity, sigmoid, tanh, relu, leaky_relu, elu: values and derivatives",
            tuple(b for bases in ACTIVATIONS.values() for b in bases if b not in ("linear", "leaky")),
            _inputs, probe, judge)
