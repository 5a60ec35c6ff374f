"""Tasks ``sgd``, ``momentum``, ``rmsprop``, ``adam``: update trajectories over several steps.

Protocol (docs/check.md): a class ``Adam(lr=..., beta1=..., beta2=..., eps=...)`` with
``update(params, grads)`` / ``step(params, grads)``, params and grads as lists of arrays or dicts
({"W1": ..., "b1": ...}; grads may be keyed "dW1"), updated in place or returned; or a function
``adam_update(params, grads, v, s, t, lr, beta1, beta2, eps)`` returning params (and the state)
as in Ng's ``update_parameters_with_adam``, with an optional ``initialize_adam(params)``.
The same fixed gradients are fed for 5 steps; each step's θ_t − θ_0 is compared with
backproplab's optimizer (optim.SGD, optim.Momentum (the assignment's EMA form), optim.RMSprop,
optim.Adam).
"""
from __future__ import annotations

import numpy as np

from ..probing import bind, call, find, norm, parameter_names
from .base import Task
from .optim_judge import HYPER, STEPS, judge

CLASS_NAMES = {
    "sgd": ("sgd", "sgdoptimizer", "gradientdescent", "gd", "vanillasgd", "gdoptimizer"),
    "momentum": ("momentum", "sgdmomentum", "momentumoptimizer", "momentumsgd", "sgdwithmomentum"),
    "rmsprop": ("rmsprop", "rmspropoptimizer"),
    "adam": ("adam", "adamoptimizer"),
}
FUNCTION_NAMES = {
    "sgd": ("sgdupdate", "updateparameterswithgd", "updateparameters", "gdupdate", "sgdstep", "updatesgd",
            "gradientdescentupdate", "sgd"),
    "momentum": ("momentumupdate", "updateparameterswithmomentum", "sgdmomentumupdate", "momentumstep",
                 "updatemomentum", "momentum"),
    "rmsprop": ("rmspropupdate", "updateparameterswithrmsprop", "rmspropstep", "updatermsprop", "rmsprop"),
    "adam": ("adamupdate", "updateparameterswithadam", "adamstep", "updateadam", "adam"),
}
INIT_NAMES = {"momentum": ("initializevelocity", "initvelocity", "initialisevelocity", "initializemomentum"),
              "rmsprop": ("initializermsprop", "initrmsprop", "initialisermsprop"),
              "adam": ("initializeadam", "initadam", "initialiseadam")}
STEP_METHODS = ("update", "step", "apply", "updateparams", "updateparameters", "optimize", "minimize",
                "applygradients", "updateweights")
ALIASES = {
    "lr": ("lr", "learningrate", "alpha", "eta", "stepsize", "rate"),
    "beta": ("beta", "momentum", "mu", "gamma", "rho", "decay", "decayrate", "betav"),
    "betas": ("betas",),
    "beta1": ("beta1", "b1", "betaone", "betam"),
    "beta2": ("beta2", "b2", "betatwo", "betav2"),
    "eps": ("eps", "epsilon", "delta"),
    "params": ("params", "parameters", "weights", "theta", "thetas", "w", "p", "param", "weight", "x"),
    "grads": ("grads", "gradients", "grad", "g", "dw", "dparams", "derivatives", "dx", "gradient", "dtheta"),
    "v": ("v", "velocity", "vel", "velocities", "m", "moment", "firstmoment", "vdw", "momentums"),
    "s": ("s", "sq", "cache", "squares", "squareavg", "secondmoment", "sdw", "r", "squared"),
    "t": ("t", "timestep", "step", "iteration", "iter", "tstep", "stepnumber", "count"),
}
NAMES = ("W1", "b1")


class AliasDict(dict):
    """A dict whose missing "dW1" (or "W1") falls back to "W1" (or "dW1"): Ng's gradient keys."""

    def __missing__(self, key):
        key = str(key)
        for alt in (key[1:] if key.startswith("d") else "d" + key, key.replace("grad_", ""), "d" + key.lstrip("d")):
            if alt in self.keys():
                return dict.__getitem__(self, alt)
        raise KeyError(key)


def _inputs_for(kind):
    def make(rng):
        shapes = ((3, 4), (4,))
        arrays = {f"p{i}": rng.standard_normal(s) for i, s in enumerate(shapes)}
        for t in range(STEPS):
            for i, s in enumerate(shapes):  # |g| >= 0.5: epsilon's placement cannot matter at 1e-6
                arrays[f"g{t}_{i}"] = rng.choice([-1.0, 1.0], s) * (0.5 + np.abs(rng.standard_normal(s)))
        return arrays, {"hyper": HYPER[kind]}
    return make


def _structure(kind: str, arrays):
    if kind == "list":
        return [a.copy() for a in arrays]
    return AliasDict({n: a.copy() for n, a in zip(NAMES, arrays)})


def _flat(params) -> np.ndarray:
    items = list(params.values())[:2] if isinstance(params, dict) else list(params)
    return np.concatenate([np.asarray(a, dtype=np.float64).ravel() for a in items])


def _new_params(result, params):
    """What a step returned, if it is the new parameters (same structure), else the in-place ``params``."""
    first = result[0] if isinstance(result, tuple) and result and not isinstance(params, np.ndarray) else result
    if isinstance(params, dict) and isinstance(first, dict) and all(n in first for n in NAMES):
        return AliasDict(first)
    if isinstance(params, list) and isinstance(first, (list, tuple)) and len(first) == len(params) and \
            all(np.shape(a) == np.shape(p) for a, p in zip(first, params)):
        return [np.asarray(a) for a in first]
    if isinstance(params, np.ndarray) and isinstance(result, np.ndarray) and result.shape == params.shape:
        return result
    return params


def _run_object(make, style, probe, hyper):
    """Trajectory of an optimizer object; style: "list", "dict" or "each" (one object per parameter)."""
    p0 = [probe.inputs["p0"], probe.inputs["p1"]]
    if style == "each":
        opts = [make() for _ in p0]
        params = [a.copy() for a in p0]
        traj = []
        for t in range(STEPS):
            for i, opt in enumerate(opts):
                params[i] = _new_params(_step_method(opt)(params[i], probe.inputs[f"g{t}_{i}"].copy()), params[i])
            traj.append(_flat(params))
        return np.array(traj)
    opt, params, traj = make(), _structure(style, p0), []
    for t in range(STEPS):
        grads = _structure(style, [probe.inputs[f"g{t}_{i}"] for i in range(2)])
        params = _new_params(_step_method(opt)(params, grads), params)
        traj.append(_flat(params))
    return np.array(traj)


def _step_method(opt):
    from ..adapter import _method

    fn = _method(opt, STEP_METHODS)
    if fn is None:
        raise LookupError(f"{type(opt).__name__} has no update/step method")
    return fn


def _probe_class(probe, cls, hyper):
    values = {k: v for k, v in hyper.items()}
    values["beta"] = hyper.get("beta", hyper.get("beta1"))
    if "beta1" in hyper:
        values["betas"] = (hyper["beta1"], hyper["beta2"])

    def make():
        _, kwargs, desc = bind(cls, values, ALIASES, ("lr",))
        opt = cls(**kwargs)
        for role in set(hyper) - {r for r in (norm_role(k) for k in kwargs)}:
            attr = next((a for a in vars(opt) if norm(a) in ALIASES[role]), None)
            if attr is not None:
                setattr(opt, attr, hyper[role])
        probe.values["built"] = desc
        return opt
    for style in ("list", "dict", "each"):
        traj = probe.attempt(f"traj@{style}", lambda: _run_object(make, style, probe, hyper), "stepping the optimizer")
        if traj is not None:
            probe.put("traj", traj)
            probe.note("traj", f"built {probe.values.get('built')}; {_STYLE_TEXT[style]}")
            return


def norm_role(name: str) -> str:
    return next((r for r, names in ALIASES.items() if norm(name) in names), "")


_STYLE_TEXT = {"list": "params and grads passed as lists [W, b]", "dict": "params and grads passed as dicts "
               "{'W1', 'b1'} (grads also answer 'dW1')", "each": "called once per parameter, update(w, dw), "
               "one optimizer object per parameter"}


def _run_function(fn, init, style, probe, hyper):
    """Trajectory of a functional optimizer; its state (v, s) is passed back in and taken from its result."""
    params = _structure(style, [probe.inputs["p0"], probe.inputs["p1"]])
    state_roles = [r for r in (norm_role(n) for n in parameter_names(fn)) if r in ("v", "s")]
    state = {}
    if state_roles:
        start = init(_structure(style, [probe.inputs["p0"], probe.inputs["p1"]])) if init else None
        start = start if isinstance(start, tuple) else (start,)
        for i, role in enumerate(state_roles):
            given = start[i] if i < len(start) and start[i] is not None else None
            state[role] = given if given is not None else _structure(style, [np.zeros((3, 4)), np.zeros(4)])
    traj = []
    for t in range(STEPS):
        grads = _structure(style, [probe.inputs[f"g{t}_{i}"] for i in range(2)])
        values = {"params": params, "grads": grads, "t": t + 1, **hyper, **state}
        if "beta1" in hyper:
            values["betas"] = (hyper["beta1"], hyper["beta2"])
        result, desc = call(fn, values, ALIASES, ("params", "grads", "lr"))
        params = _new_params(result, params)
        if isinstance(result, tuple):
            state.update({role: val for role, val in zip(state_roles, result[1:])})
        traj.append(_flat(params))
    probe.values["built"] = desc + (f"; state from {init.__name__}" if init else "")
    return np.array(traj)


def _probe_function(probe, fn, init, hyper):
    for style in ("list", "dict"):
        traj = probe.attempt(f"traj@{style}", lambda: _run_function(fn, init, style, probe, hyper),
                             f"calling {fn.__name__}")
        if traj is not None:
            probe.put("traj", traj)
            probe.note("traj", f"called {probe.values.get('built')}; {_STYLE_TEXT[style]}")
            return


def _probe_for(kind):
    def probe(module, probe):
        hyper = probe.settings["hyper"]
        cls = find(module, CLASS_NAMES[kind], "class")
        if cls is not None:
            _probe_class(probe, cls[1], hyper)
            return
        fn = find(module, FUNCTION_NAMES[kind], "function")
        if fn is None:
            probe.fail("traj", f"no {kind} optimizer class or update function found (see docs/check.md)")
            return
        init = find(module, INIT_NAMES.get(kind, ()), "function")
        _probe_function(probe, fn[1], init[1] if init else None, hyper)
    return probe


SUMMARY = {"sgd": "plain gradient descent θ ← θ − lr·g over 5 steps",
           "momentum": "the assignment's EMA momentum V = βV + (1−β)g over 5 steps",
           "rmsprop": "RMSprop S = βS + (1−β)g², θ ← θ − lr·g/√S over 5 steps",
           "adam": "Adam with bias correction over 5 steps"}
TASKS = [Task(kind, SUMMARY[kind], CLASS_NAMES[kind] + FUNCTION_NAMES[kind][:-1], _inputs_for(kind),
              _probe_for(kind), judge(kind)) for kind in CLASS_NAMES]
