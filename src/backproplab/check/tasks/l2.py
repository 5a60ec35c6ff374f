"""Task ``l2``: the assignment's regularised cost 1/(2m)·[Σ(h−y)² + γ·Σθ²] and its gradient γ/m·θ,
with biases excluded (as backproplab.optim.l2_param_groups).

Protocol: ``l2_cost(h, y, params, gamma)`` (also ``cost_with_l2``, ``regularized_cost``...), or only the
penalty ``l2_penalty(params, gamma, m)``, and ``l2_grad(params, gamma, m)`` returning a gradient
per parameter (0 or absent for biases). params: a dict {"W1", "b1", "W2", "b2"}, a list
[W1, b1, W2, b2] or a list of (W, b) pairs; each is tried.
"""
from __future__ import annotations

import numpy as np

from ..judging import Check, tolerance
from ..probing import call, find
from .base import Task
from .losses import ALIASES as LOSS_ALIASES
from .variants import judge_variants, run_variants

N, GAMMA = 6, 0.7
SHAPES = {"W1": (4, 3), "b1": (3,), "W2": (3, 2), "b2": (2,)}
COST_NAMES = ("l2cost", "costwithl2", "computecostwithregularization", "regularizedcost", "l2regularizedcost",
              "msel2", "l2loss", "losswithl2", "costl2", "costwithregularization", "msewithl2", "regularisedcost")
PENALTY_NAMES = ("l2penalty", "l2regularization", "l2regularisation", "l2term", "l2reg", "regularizationterm",
                 "l2regularizationcost", "l2")
GRAD_NAMES = ("l2grad", "l2gradient", "l2grads", "l2backward", "l2penaltygrad", "l2regularizationgrad",
              "l2derivative", "regularizationgradient", "l2regularizationgradient", "dl2", "l2regularizationbackward")
ALIASES = {**LOSS_ALIASES,
           "params": ("params", "parameters", "weights", "theta", "thetas", "layers", "w", "ws", "model"),
           "gamma": ("gamma", "lambd", "lambda", "lam", "lmbda", "reg", "regularization", "l2", "lambdareg",
                     "reglambda", "l2lambda", "weightdecay", "lamda", "regparam", "l2reg", "alpha"),
           "m": ("m", "n", "batchsize", "nsamples", "numexamples", "numsamples", "size", "nexamples")}


def _inputs(rng):
    arrays = {k: rng.standard_normal(s) for k, s in SHAPES.items()}
    arrays.update(h=rng.standard_normal((N, 2)), y=rng.standard_normal((N, 2)))
    return arrays, {}


def _structures(inp):
    p = {k: inp[k].copy() for k in SHAPES}
    return {"dict": p, "list": [p["W1"], p["b1"], p["W2"], p["b2"]],
            "pairs": [(p["W1"], p["b1"]), (p["W2"], p["b2"])]}


def _as_list(result) -> list:
    """A gradient in any of the structures as [dW1, db1, dW2, db2] (a missing bias gradient: zeros)."""
    if isinstance(result, tuple) and len(result) == 2 and isinstance(result[0], (dict, list)):
        result = result[1] if isinstance(result[1], (dict, list)) else result[0]
    if isinstance(result, dict):
        get = lambda k: result.get(k, result.get("d" + k))  # noqa: E731
        return [np.asarray(get(k)) if get(k) is not None else np.zeros(s) for k, s in SHAPES.items()]
    items = [a for pair in result for a in (pair if isinstance(pair, (tuple, list)) else [pair])]
    if len(items) == 2:  # weights only
        items = [items[0], np.zeros(3), items[1], np.zeros(2)]
    return [np.asarray(a, dtype=np.float64) for a in items]


def _flat(arrays) -> np.ndarray:
    return np.concatenate([np.asarray(a, dtype=np.float64).ravel() for a in arrays])


def probe(module, probe):
    inp = probe.inputs
    cost, penalty, grad = (find(module, names, "function") for names in (COST_NAMES, PENALTY_NAMES, GRAD_NAMES))
    if cost is None and penalty is None and grad is None:
        probe.fail("l2.cost", "no l2_cost / l2_penalty / l2_grad function found (see docs/check.md)")
        return

    def values(structure, layout="batch"):
        h, y = (inp["h"], inp["y"]) if layout == "batch" else (inp["h"].T, inp["y"].T)
        return {"pred": h.copy(), "y": y.copy(), "params": _structures(inp)[structure], "gamma": GAMMA, "m": N}
    if cost is not None:
        run_variants(probe, "l2.cost", {f"{s}/{lay}": (lambda s=s, lay=lay: call(
            cost[1], values(s, lay), ALIASES, ("pred", "y", "params", "gamma"))[0]) for s in ("dict", "list", "pairs")
            for lay in ("batch", "feature")}, "calling the cost")
    if penalty is not None:
        run_variants(probe, "l2.penalty", {s: (lambda s=s: call(penalty[1], values(s), ALIASES, (
            "params", "gamma", "m"))[0]) for s in ("dict", "list", "pairs")}, "calling the penalty")
    if grad is not None:
        run_variants(probe, "l2.grad", {s: (lambda s=s: _flat(_as_list(call(grad[1], values(s), ALIASES, (
            "params", "gamma", "m"))[0]))) for s in ("dict", "list", "pairs")}, "calling the gradient")


def _reference(arrays):
    """(penalty, gradient as [dW1, db1, dW2, db2]) from l2_param_groups and one SGD step on zero gradients."""
    from ...nn import Linear, Sequential
    from ...optim import SGD, l2_param_groups

    model = Sequential(Linear(4, 3, rng=np.random.default_rng(0), dtype=np.float64),
                       Linear(3, 2, rng=np.random.default_rng(0), dtype=np.float64))
    for layer, w, b in ((model[0], "W1", "b1"), (model[1], "W2", "b2")):
        layer.weight.data[...] = arrays[w].T  # the student's (in, out) as Linear's (out, in)
        layer.bias.data[...] = arrays[b]
    groups = l2_param_groups(model, GAMMA, N)
    penalty = sum(g["weight_decay"] / 2 * sum(float(np.sum(p.data**2)) for p in g["params"]) for g in groups)
    before = [p.data.copy() for p in model.parameters()]
    for p in model.parameters():
        p.grad = np.zeros_like(p.data)
    SGD(groups, lr=1.0).step()  # θ ← θ − (∇ + λθ) with ∇ = 0: the step is the L2 gradient
    g = [b - p.data for b, p in zip(before, model.parameters())]
    return penalty, [g[0].T, g[1], g[2].T, g[3]]


def judge(arrays, settings, out):
    from ...nn.loss import MSELoss

    penalty, grad = _reference(arrays)
    biases = GAMMA / (2 * N) * (np.sum(arrays["b1"] ** 2) + np.sum(arrays["b2"] ** 2))
    mse = MSELoss()(arrays["h"].copy(), arrays["y"].copy())
    hint_b = "L2 applied to the biases: the assignment's γΣθ² sums the weights only (biases excluded)"
    tol = tolerance("float64")
    words = {"dict": "params as a dict {'W1', 'b1', ...}", "list": "params as a list [W1, b1, W2, b2]",
             "pairs": "params as [(W1, b1), (W2, b2)]", "batch": "batch-first h, y", "feature": "feature-first h, y"}
    describe = lambda label: ", ".join(words[p] for p in label.split("/"))  # noqa: E731
    checks = []
    for key, base in (("cost", mse), ("penalty", 0.0)):
        if out.value(f"l2.{key}.variants") is None and not any(k.startswith(f"l2.{key}") for k in out.errors):
            continue
        hyps = [(hint_b, np.asarray(base + penalty + biases)),
                ("missing 1/m in the penalty: γ/(2m)·Σθ²", np.asarray(base + penalty * N)),
                ("missing ½ in the penalty: γ/(2m)·Σθ²", np.asarray(base + 2 * penalty))]
        checks.append(judge_variants("l2", f"l2: {key}", out, f"l2.{key}", np.asarray(base + penalty), tol,
                                     describe, hypotheses=hyps)[0])
    if out.value("l2.grad.variants") is not None or any(k.startswith("l2.grad") for k in out.errors):
        ref = _flat(grad)
        with_b = _flat([grad[0], GAMMA / N * arrays["b1"], grad[2], GAMMA / N * arrays["b2"]])
        hyps = [(hint_b, with_b), ("missing 1/m: the gradient of γ/(2m)·Σθ² is (γ/m)·θ", ref * N),
                ("factor 2: the gradient of γ/(2m)·Σθ² is (γ/m)·θ, not (2γ/m)·θ", ref * 2)]
        checks.append(judge_variants("l2", "l2: gradient", out, "l2.grad", ref, tol, describe, hypotheses=hyps)[0])
    return checks or [Check("l2", "entry points", "error", message=out.error("l2.cost") or "nothing to check")]


TASK = Task("l2", "the L2-regularised cost 1/(2m)[Σ(h−y)² + γΣθ²] and its gradient, biases excluded",
            COST_NAMES + PENALTY_NAMES + GRAD_NAMES, _inputs, probe, judge)
