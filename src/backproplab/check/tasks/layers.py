"""What the dense and conv tasks share: probing a layer (class or forward/backward functions) in
whatever layout it uses, its numerical gradients, and the judge's gradient-check verdict."""
from __future__ import annotations

import numpy as np

from ..adapter import GRAD_LABEL, StudentLayer, split_grads
from ..judging import Check, rel_error, shape_text
from ..probing import bind, call, numerical_grad_at, pick_indices

#: arrays with more entries than this get a sparse numerical check (this many random entries)
SPARSE_LIMIT = 40
FUNCTION_ALIASES = {
    "x": ("x", "a", "aprev", "inputs", "input", "inp", "xin", "data", "image", "images", "z"),
    "weight": ("w", "weight", "weights", "kernel", "kernels", "filters", "filter", "theta"),
    "bias": ("b", "bias", "biases"),
    "dy": ("dy", "dout", "dz", "da", "grad", "gradoutput", "upstream", "delta", "dvalues", "doutput", "dh"),
    "cache": ("cache", "caches", "ctx", "saved", "stored"),
    "hparams": ("convparam", "convparams", "hparameters", "hparams", "hyperparameters", "params", "conf", "config"),
    "stride": ("stride", "s", "strides"),
    "padding": ("pad", "padding", "p", "pads"),
}


def split_output(result):
    """(output, cache) from a forward that returns ``out`` or ``(out, cache)``."""
    if isinstance(result, tuple) and result and isinstance(result[0], np.ndarray):
        return result[0], result[1:]
    return result, None


def numeric_grads(probe, key: str, loss, arrays: dict[str, np.ndarray]) -> None:
    """Central differences of ``loss()`` w.r.t. each of ``arrays`` (role -> live array), full or sparse."""
    rng = np.random.default_rng(probe.settings.get("seed", 0))
    for role, arr in arrays.items():
        idx = pick_indices(arr.size, SPARSE_LIMIT, rng)
        num = probe.attempt(f"{key}.numeric.{role}", lambda: numerical_grad_at(loss, arr, idx),
                            f"numerical gradient of {role}")
        if num is not None:
            probe.put(f"{key}.numeric.{role}", num)
            probe.put(f"{key}.numeric_idx.{role}", idx)
            probe.put(f"{key}.numeric_shape.{role}", np.array(arr.shape))


def weight_setter(candidates: dict, bias: np.ndarray, what: str):
    """``set_weights`` for :func:`probe_layer_object`: the student's weight shape picks (layout, test weights)."""
    def apply(layer):
        shape = layer.array("weight").shape
        if shape not in candidates:
            raise ValueError(f"the weight array has shape {shape}; {what} needs {' or '.join(map(str, candidates))}")
        layout, w = candidates[shape]
        layer.set_array("weight", w)
        if "bias" in layer.roles:
            layer.set_array("bias", bias)
        return layout
    return apply


def probe_layer_object(probe, key: str, obj, set_weights, inputs_by_layout, expected_shape) -> bool:
    """Forward and backward of a student's layer object, and the numerical gradients of its forward.

    Args:
        set_weights: (layer, weight_shape) -> layout name; writes the test weights in the student's layout.
        inputs_by_layout: layout -> (x, dy) in that layout, tried in order until the output shape fits.
        expected_shape: layout -> the output shape the reference gives in that layout.
    """
    layer = probe.attempt(f"{key}.forward", lambda: StudentLayer(obj), "reading the layer's attributes")
    if layer is None:
        return False
    layout_w = probe.attempt(f"{key}.forward", lambda: set_weights(layer), "setting the weights")
    if layout_w is None:
        return False
    return _forward_backward(probe, key, layer, layout_w, inputs_by_layout, expected_shape)


def _forward_backward(probe, key, layer, layout_w, inputs_by_layout, expected_shape) -> bool:
    chosen = None
    for layout, (x, dy) in inputs_by_layout.items():
        y = probe.attempt(f"{key}.forward", lambda: layer.forward(x.copy()), "calling forward")
        if y is not None and np.shape(y) == expected_shape[layout]:
            chosen = layout
            break
    if chosen is None:
        if f"{key}.forward" not in probe.errors:
            probe.fail(f"{key}.forward", f"forward gave shape {shape_text(y)}; expected "
                                         f"{' or '.join(map(shape_text, expected_shape.values()))}")
        return False
    probe.errors.pop(f"{key}.forward", None)
    x, dy = inputs_by_layout[chosen]
    probe.put(f"{key}.y", y)
    probe.put("layout_x", chosen)
    probe.put("layout_w", layout_w)
    dx = probe.attempt(f"{key}.backward", lambda: layer.backward(dy.copy()), "calling backward")
    probe.put(f"{key}.dx", dx)
    for role, grad in layer.grads.items():
        probe.put(f"{key}.d{role}", grad)
    probe.note(f"{key}.backward", layer.grad_source or "no parameter gradient found (returned, stored as dW/db, "
                                                       "or applied inside backward)")
    xs = x.copy()

    def loss():
        return float(np.sum(dy * np.asarray(layer.forward(xs), dtype=np.float64)))

    numeric_grads(probe, key, loss, {"x": xs, **{r: layer.array(r) for r in layer.roles}})
    return True


def probe_layer_functions(probe, key, forward, backward, combos) -> bool:
    """Forward/backward functions, tried in each layout of ``combos`` until the output shape fits.

    combos: layout name -> dict with "values" (role -> array for the forward call: x, weight, bias, and
    hyperparameters), "dy", "out_shape", "order" (roles for unnamed parameters), "layout_x", "layout_w".
    """
    chosen = None
    for name, combo in combos.items():
        values = combo["values"]
        result = probe.attempt(f"{key}.forward", lambda: call(forward, values, FUNCTION_ALIASES, combo["order"]),
                               f"calling {forward.__name__}")
        if result is not None and np.shape(split_output(result[0])[0]) == combo["out_shape"]:
            chosen, (out, desc) = name, result
            break
    if chosen is None:
        if f"{key}.forward" not in probe.errors:
            probe.fail(f"{key}.forward", f"{forward.__name__} gave no output of the expected shape in any layout")
        return False
    probe.errors.pop(f"{key}.forward", None)
    combo = combos[chosen]
    values = combo["values"]
    y, cache = split_output(out)
    probe.put(f"{key}.y", y)
    probe.put("layout_x", combo["layout_x"])
    probe.put("layout_w", combo["layout_w"])
    probe.note(f"{key}.forward", f"called {desc}")
    if backward is not None:
        _backward_function(probe, key, backward, combo, cache)
    args, kwargs, _ = bind(forward, values, FUNCTION_ALIASES, combo["order"])

    def loss():
        y, _ = split_output(forward(*args, **kwargs))
        return float(np.sum(combo["dy"] * np.asarray(y, dtype=np.float64)))

    numeric_grads(probe, key, loss, {r: values[r] for r in ("x", "weight", "bias") if r in values})
    return True


def _backward_function(probe, key, backward, combo, cache):
    values = combo["values"]
    bvalues = {"dy": combo["dy"].copy(), "cache": cache[0] if cache and len(cache) == 1 else cache,
               **{r: values[r] for r in ("x", "weight", "bias") if r in values}}
    result = probe.attempt(f"{key}.backward", lambda: call(backward, bvalues, FUNCTION_ALIASES,
                                                           ("dy", "cache")), f"calling {backward.__name__}")
    if result is None:
        return
    grads, desc = result
    shapes = {"x": values["x"].shape, "weight": values["weight"].shape, "bias": np.shape(values.get("bias", 0))}
    found = split_grads(grads, shapes)
    for role, grad in found.items():
        probe.put(f"{key}.{'dx' if role == 'x' else 'd' + role}", grad)
    returned = ", ".join(GRAD_LABEL[r] for r in found) or "nothing usable"
    probe.note(f"{key}.backward", f"called {desc}; it returned {returned}")


def gradient_check(task: str, name: str, out, key: str, grads: dict, tol: float, scale=None) -> Check:
    """The student's gradients vs central differences of the student's own forward, worst over the arrays.

    grads: role -> the student's gradient, in the layout of the array it belongs to. ``scale``: role ->
    factor on the numerical values (1/m for dW and db when the layer applies Ng's convention).
    """
    scale = scale or {}
    parts, problems, worst, checked, total = [], [], 0.0, 0, 0
    for role, student in grads.items():
        numeric = out.arr(f"{key}.numeric.{role}")
        if numeric is None:
            continue
        idx = out.arrays[f"{key}.numeric_idx.{role}"]
        shape = tuple(int(n) for n in out.arrays[f"{key}.numeric_shape.{role}"])
        size = int(np.prod(shape))
        checked, total = checked + len(idx), total + size
        label = GRAD_LABEL[role]
        if student is None or np.size(student) != size or np.squeeze(student).shape != np.empty(shape).squeeze().shape:
            problems.append(f"{label} is {'missing' if student is None else 'shaped ' + shape_text(student)}, "
                            f"its array is {shape_text(np.empty(shape))}")
            worst = float("inf")
            continue
        err = rel_error(np.asarray(student, dtype=np.float64).reshape(-1)[idx], numeric * scale.get(role, 1.0))
        worst = max(worst, err)
        parts.append(f"{label} {err:.1e}")
    if not total:
        return Check(task, name, "error", message=out.error(f"{key}.numeric.x") or "no numerical gradient came back")
    scope = "all" if checked == total else "a random subset,"
    note = f"{scope} {checked} of {total} entries" + (f"; worst by array: {', '.join(parts)}" if parts else "")
    return Check(task, name, "pass" if worst <= tol else "fail", worst, tol, note=note, message="; ".join(problems))
