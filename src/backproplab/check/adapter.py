"""A student's layer object seen through backproplab's layer contract.

Students' layers come as ``Dense`` / ``Linear`` / ``Layer`` / ``Conv`` classes with their own
attribute names: weights in ``W`` / ``weights`` / ``kernel`` (or ``params["W"]``), gradients
returned from ``backward`` or stored as ``dW`` / ``grad_W`` / ``weights_gradient`` (or
``grads["dW"]``), sometimes applied inside ``backward(dy, learning_rate)``. :class:`StudentLayer`
finds them and offers ``forward``, ``backward``, ``named_parameters()`` and ``zero_grad()``, so
the library's own gradient check runs on a student's object::

    from backproplab.analysis import check_module_grads
    from backproplab.check.adapter import StudentLayer
    errors = check_module_grads(StudentLayer(MyDense(5, 3)), x, np.random.default_rng(0))

It calls the student's code in the current process: use it on your own code; the checker
(``backproplab check``) only uses it inside its sandboxed child.
"""
from __future__ import annotations

import numpy as np

from .probing import call, norm, required_count

WEIGHT_NAMES = ("w", "weight", "weights", "kernel", "kernels", "filters", "filter", "theta")
BIAS_NAMES = ("b", "bias", "biases")
GRAD_NAMES = {
    "weight": ("dw", "gradw", "wgrad", "dweights", "dweight", "gradweights", "gradweight", "weightsgrad",
               "weightgrad", "weightsgradient", "weightgradient", "dldw", "dkernel", "dfilters", "gw",
               "deltaw", "dweightsgrad", "gradientw", "wgradient", "dk", "dfilter"),
    "bias": ("db", "gradb", "bgrad", "dbias", "dbiases", "gradbias", "gradbiases", "biasgrad", "biasesgrad",
             "biasgradient", "biasesgradient", "dldb", "gb", "deltab", "gradientb", "bgradient"),
}
GRAD_LABEL = {"x": "dx", "weight": "dW", "bias": "db"}
#: dict attributes searched too: params["W"], grads["dW"]
CONTAINERS = ("params", "parameters", "param", "grads", "gradients", "grad", "cache", "weights")
FORWARD = ("forward", "fprop", "forwardpass", "forwardpropagation", "call")
BACKWARD = ("backward", "backprop", "bprop", "backwardpass", "backpropagate", "backpropagation",
            "backwardpropagation")
BACKWARD_ALIASES = {"dy": ("dy", "dout", "dz", "da", "grad", "gradoutput", "outputgradient", "upstream",
                           "delta", "dvalues", "dl", "dldy", "doutput", "dh", "error", "gradient", "dinputs"),
                    "lr": ("lr", "learningrate", "alpha", "eta", "rate", "stepsize")}


class ProtocolError(LookupError):
    """The object does not offer what the protocol looks for (no forward, no weight array...)."""


class _Slot:
    """Where a student's array lives: an attribute, a dict entry, or the ``.data`` of a wrapper object."""

    def __init__(self, owner, key, label: str, kind: str):
        self.owner, self.key, self.label, self.kind = owner, key, label, kind

    def get(self):
        return self.owner[self.key] if self.kind == "item" else getattr(self.owner, self.key)

    def set(self, value) -> None:
        if self.kind == "item":
            self.owner[self.key] = value
        else:
            setattr(self.owner, self.key, value)


def _arrays(obj):
    """(normalized name, slot) of every array attribute, dict entry and wrapper ``.data``/``.grad`` of ``obj``."""
    out = []
    for name, value in list(vars(obj).items()):
        if isinstance(value, np.ndarray):
            out.append((norm(name), _Slot(obj, name, f".{name}", "attr")))
        elif isinstance(value, dict) and norm(name) in CONTAINERS:
            out += [(norm(str(k)), _Slot(value, k, f".{name}[{k!r}]", "item"))
                    for k, v in value.items() if isinstance(v, np.ndarray)]
        elif isinstance(getattr(value, "data", None), np.ndarray):  # a Parameter-like wrapper
            out.append((norm(name), _Slot(value, "data", f".{name}.data", "attr")))
            if isinstance(getattr(value, "grad", None), np.ndarray):
                out.append(("d" + norm(name), _Slot(value, "grad", f".{name}.grad", "attr")))
    return out


def _find_slot(obj, names):
    table = {}
    for name, slot in _arrays(obj):
        table.setdefault(name, slot)
    return next((table[n] for n in names if n in table), None)


def _method(obj, names):
    """The first of ``names`` (normalized) that ``obj`` has as a method, or None."""
    table = {}
    for attr in dir(obj):
        try:
            fn = getattr(obj, attr)
        except Exception:
            continue
        if callable(fn) and not isinstance(fn, type):
            table.setdefault(norm(attr), fn)
    return next((table[n] for n in names if n in table), None)


def _fits(role: str, shape: tuple, expected: tuple) -> bool:
    if shape == expected:
        return True
    if role == "weight":
        return shape == expected[::-1]  # transposed: judged (and hinted) later
    if role == "bias":  # (n,), (1, n), (n, 1) or a scalar (db summed over everything)
        return len(shape) == 0 or int(np.prod(shape)) == int(np.prod(expected))
    return False


def split_grads(result, shapes: dict[str, tuple]) -> dict[str, np.ndarray]:
    """Arrays returned by a backward, assigned by shape: role -> array.

    ``shapes``: role -> expected shape, in the order roles are served (e.g. x, weight, bias). A weight
    gradient of the transposed shape, or a scalar bias gradient, is still taken (and judged later).
    """
    items = result if isinstance(result, (tuple, list)) else [result]
    arrays = [np.asarray(a) for a in items if isinstance(a, (np.ndarray, float, int, np.generic))]
    out: dict[str, np.ndarray] = {}
    for role, shape in shapes.items():
        for i, a in enumerate(arrays):
            if _fits(role, a.shape, tuple(shape)):
                out[role] = arrays.pop(i)
                break
    return out


class _Param:
    """``named_parameters()`` entry: ``.data`` is the student's live array, ``.grad`` the latest gradient."""

    def __init__(self, layer: "StudentLayer", role: str):
        self._layer, self._role = layer, role

    @property
    def data(self) -> np.ndarray:
        return self._layer.array(self._role)

    @property
    def grad(self) -> np.ndarray:
        return self._layer.grads[self._role]


class StudentLayer:
    """Adapter: a student's layer object with backproplab's forward/backward/named_parameters contract.

    Attributes:
        roles: "weight" and, if found, "bias" -> where the student keeps them (``.label``).
        grads: role -> gradient found after the last :meth:`backward`.
        grad_source: how the gradients were found ("returned", "stored as .dW", "from the update").
    """

    def __init__(self, obj, lr: float = 1e-3):
        self.obj, self.lr = obj, lr
        self.forward_fn = _method(obj, FORWARD)
        self.backward_fn = _method(obj, BACKWARD)
        if self.forward_fn is None:
            raise ProtocolError(f"{type(obj).__name__} has no forward method (looked for forward, __call__)")
        weight = _find_slot(obj, WEIGHT_NAMES)
        if weight is None:
            raise ProtocolError(f"{type(obj).__name__} keeps no weight array the checker recognises "
                                "(looked for W, weights, weight, kernel, params['W'])")
        self.roles = {"weight": weight}
        bias = _find_slot(obj, BIAS_NAMES)
        if bias is not None:
            self.roles["bias"] = bias
        self.grads: dict[str, np.ndarray] = {}
        self.grad_source = ""
        self._x_shape: tuple = ()

    def array(self, role: str) -> np.ndarray:
        return np.asarray(self.roles[role].get())

    def set_array(self, role: str, value: np.ndarray) -> None:
        """Write ``value`` into the student's array: in place when it is float64, else as a new float64 array."""
        current = self.roles[role].get()
        value = np.asarray(value, dtype=np.float64).reshape(np.shape(current))
        if isinstance(current, np.ndarray) and current.dtype == np.float64 and current.flags.writeable:
            current[...] = value  # in place: any alias the student keeps sees it too
        else:
            self.roles[role].set(value.copy())

    def forward(self, x: np.ndarray) -> np.ndarray:
        self._x_shape = np.shape(x)
        return self.forward_fn(x)

    def backward(self, dy: np.ndarray):
        """dx; the parameter gradients land in :attr:`grads`."""
        if self.backward_fn is None:
            raise ProtocolError(f"{type(self.obj).__name__} has no backward method")
        before = {r: np.array(self.array(r), copy=True) for r in self.roles}
        if required_count(self.backward_fn) >= 2:  # backward(dy, learning_rate): it updates the weights itself
            result, _ = call(self.backward_fn, {"dy": dy, "lr": self.lr}, BACKWARD_ALIASES, ("dy", "lr"))
        else:
            result = self.backward_fn(dy)
        returned = {}
        dx = result
        if isinstance(result, (tuple, list)):  # (dx, dW, db) in any order
            returned = split_grads(result, {"x": self._x_shape, **{r: before[r].shape for r in self.roles}})
            dx = returned.get("x")
        self.grads, sources = {}, []
        for role in self.roles:
            grad, source = returned.get(role), "returned by backward"
            if grad is None:
                slot = _find_slot(self.obj, GRAD_NAMES[role])
                grad, source = (None, "") if slot is None else (np.array(slot.get(), copy=True),
                                                                f"stored as {slot.label}")
            if grad is None and not np.array_equal(before[role], self.array(role)):
                grad = (before[role] - self.array(role)) / self.lr
                source = f"from the update inside backward (lr = {self.lr:g})"
                self.set_array(role, before[role])  # undo it: later calls must see the same weights
            if grad is not None:
                self.grads[role] = np.asarray(grad)
                sources.append(f"{GRAD_LABEL[role]}: {source}")
        self.grad_source = "; ".join(sources)
        return dx

    # -- the Module interface analysis.check_module_grads uses --------------------------------------------
    def named_parameters(self):
        for role in self.roles:
            yield role, _Param(self, role)

    def zero_grad(self, set_to_none: bool = True) -> None:
        self.grads = {}
