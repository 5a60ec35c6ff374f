"""Module, Parameter and Sequential: the one layer contract of backproplab.

Contract (every layer follows it):

* ``forward(x)`` computes the output and keeps what ``backward`` needs.
* ``backward(dy)`` **adds** into each parameter's ``.grad`` (so a parameter reused
  twice gets both contributions) and returns ``dx``, the gradient with respect to
  the input of the last ``forward`` call.

Names and semantics follow ``torch.nn.Module``: ``parameters()``,
``named_parameters()``, ``train()``/``eval()``, ``zero_grad()``,
``state_dict()``/``load_state_dict()``. Buffers (e.g. BatchNorm's running
statistics) are arrays listed in a module's ``_buffers`` tuple of attribute names;
they go into the state dict but receive no gradient.

Reference: https://pytorch.org/docs/stable/generated/torch.nn.Module.html
"""
from __future__ import annotations

from collections import OrderedDict
from typing import Iterator

import numpy as np


class Parameter:
    """A trainable array and its gradient.

    Attributes:
        data: the value, any shape.
        grad: same shape and dtype as ``data``; layers add into it in ``backward``.
        has_grad: False after ``zero_grad()`` (PyTorch's ``grad is None``) until a layer
            touches ``grad``; optimizers skip such a parameter, as PyTorch's do.

    ``zero_grad(set_to_none=True)`` (PyTorch's default) marks the parameter as having no
    gradient; ``zero_grad(set_to_none=False)`` gives it a gradient of zeros, which an
    optimizer still steps with (momentum and weight decay act on it). Either way the zeros
    are written lazily, the first time ``grad`` is read: a layer whose gradient is a matrix
    product adds it with :meth:`add_matmul_`, which writes the product straight into
    ``grad`` when it is still zero (no temporary array, no separate pass that adds it).
    """

    __slots__ = ("data", "_grad", "_grad_is_zero", "_has_grad")

    def __init__(self, data: np.ndarray):
        self.data = np.asarray(data)
        self._grad = np.zeros_like(self.data)
        self._grad_is_zero = False
        self._has_grad = True

    @property
    def grad(self) -> np.ndarray:
        """The gradient array (reading it counts as giving the parameter a gradient)."""
        if self._grad_is_zero:  # materialise the zeros zero_grad() promised
            self._grad.fill(0)
            self._grad_is_zero = False
        self._has_grad = True
        return self._grad

    @grad.setter
    def grad(self, value: np.ndarray) -> None:
        self._grad = value
        self._grad_is_zero = False
        self._has_grad = True

    @property
    def has_grad(self) -> bool:
        """Whether a gradient was given since the last ``zero_grad(set_to_none=True)``."""
        return self._has_grad

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Drop the gradient (``set_to_none=True``) or set it to zeros; lazily, nothing is written now."""
        self._grad_is_zero = True
        self._has_grad = not set_to_none

    def add_matmul_(self, a: np.ndarray, b: np.ndarray) -> None:
        """``grad += a @ b``, computed into ``grad`` itself when it is zero."""
        if self._grad_is_zero and self._grad.dtype == np.result_type(a, b):
            np.matmul(a, b, out=self._grad)
            self._grad_is_zero = False
            self._has_grad = True
        else:
            self.grad += a @ b

    def add_sum_(self, a: np.ndarray, axis) -> None:
        """``grad += a.sum(axis)``, summed into ``grad`` itself when it is zero."""
        if self._grad_is_zero and self._grad.dtype == a.dtype:
            np.sum(a, axis=axis, out=self._grad)
            self._grad_is_zero = False
            self._has_grad = True
        else:
            self.grad += a.sum(axis=axis)

    @property
    def shape(self) -> tuple[int, ...]:
        return self.data.shape

    def __repr__(self) -> str:
        return f"Parameter(shape={self.data.shape}, dtype={self.data.dtype})"


class Module:
    """Base class of every layer and model.

    Subclasses set attributes in ``__init__`` (Parameters, sub-Modules, lists of
    Modules) and implement ``forward`` and ``backward``.
    """

    #: names of array attributes saved in the state dict but not trained
    _buffers: tuple[str, ...] = ()
    #: False when nobody uses the gradient with respect to this module's input (e.g. the
    #: first layer of a trained model, whose input is data): ``backward`` may then skip
    #: computing it and return None. Layers that honour it: Linear, Conv2d, Sequential.
    needs_input_grad: bool = True

    def __init__(self) -> None:
        self.training = True

    # -- the contract -------------------------------------------------------
    def forward(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError(f"{type(self).__name__} does not implement forward")

    def backward(self, dy: np.ndarray) -> np.ndarray:
        raise NotImplementedError(f"{type(self).__name__} does not implement backward")

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return self.forward(x)

    # -- traversal -----------------------------------------------------------
    def named_children(self) -> Iterator[tuple[str, "Module"]]:
        for name, value in vars(self).items():
            if isinstance(value, Module):
                yield name, value
            elif isinstance(value, (list, tuple)) and value and all(isinstance(v, Module) for v in value):
                for i, v in enumerate(value):
                    yield f"{name}.{i}", v

    def children(self) -> Iterator["Module"]:
        for _, m in self.named_children():
            yield m

    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, "Module"]]:
        yield prefix, self
        for name, child in self.named_children():
            yield from child.named_modules(f"{prefix}.{name}" if prefix else name)

    def modules(self) -> Iterator["Module"]:
        for _, m in self.named_modules():
            yield m

    def named_parameters(self, prefix: str = "") -> Iterator[tuple[str, Parameter]]:
        for name, value in vars(self).items():
            if isinstance(value, Parameter):
                yield (f"{prefix}.{name}" if prefix else name), value
        for name, child in self.named_children():
            yield from child.named_parameters(f"{prefix}.{name}" if prefix else name)

    def parameters(self) -> list[Parameter]:
        return [p for _, p in self.named_parameters()]

    def named_buffers(self, prefix: str = "") -> Iterator[tuple[str, np.ndarray]]:
        for name in self._buffers:
            yield (f"{prefix}.{name}" if prefix else name), getattr(self, name)
        for name, child in self.named_children():
            yield from child.named_buffers(f"{prefix}.{name}" if prefix else name)

    # -- modes and gradients -------------------------------------------------
    def train(self, mode: bool = True) -> "Module":
        for m in self.modules():
            m.training = mode
        return self

    def eval(self) -> "Module":
        return self.train(False)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Drop every parameter's gradient (see :meth:`Parameter.zero_grad`; PyTorch's default)."""
        for p in self.parameters():
            p.zero_grad(set_to_none)

    def checkpoint_settings(self) -> dict:
        """Settings outside the state dict that decide this module's numbers in training.

        A checkpoint records them, and a run resumed from it must have the same ones to repeat
        the interrupted run exactly (e.g. ``DataParallel``'s shard count, which decides the
        dropout streams). Plain layers have none.
        """
        return {}

    def num_parameters(self) -> int:
        return int(sum(p.data.size for p in self.parameters()))

    # -- dtype ---------------------------------------------------------------
    def to(self, dtype) -> "Module":
        """Cast every parameter (and floating buffer) to ``dtype``, in place of the old arrays."""
        dtype = np.dtype(dtype)
        for p in self.parameters():
            p.data = p.data.astype(dtype)
            p.grad = np.zeros_like(p.data)
        for m in self.modules():
            for name in m._buffers:
                value = getattr(m, name)
                if isinstance(value, np.ndarray) and np.issubdtype(value.dtype, np.floating):
                    setattr(m, name, value.astype(dtype))
        return self

    def double(self) -> "Module":
        return self.to(np.float64)

    def float(self) -> "Module":
        return self.to(np.float32)

    # -- state ---------------------------------------------------------------
    def state_dict(self) -> "OrderedDict[str, np.ndarray]":
        """Copies of every parameter and buffer, keyed by dotted name (PyTorch's keys)."""
        sd: OrderedDict[str, np.ndarray] = OrderedDict()
        for name, p in self.named_parameters():
            sd[name] = p.data.copy()
        for name, b in self.named_buffers():
            sd[name] = np.array(b, copy=True)
        return sd

    def load_state_dict(self, state_dict: dict, strict: bool = True) -> None:
        """Load arrays saved by :meth:`state_dict`; shapes must match exactly."""
        params = dict(self.named_parameters())
        buffers = {name for name, _ in self.named_buffers()}
        expected = set(params) | buffers
        missing = sorted(expected - set(state_dict))
        unexpected = sorted(set(state_dict) - expected)
        if strict and (missing or unexpected):
            raise KeyError(
                f"load_state_dict: missing keys {missing}, unexpected keys {unexpected}; "
                "was the checkpoint saved from a model with the same architecture?"
            )
        for name, value in state_dict.items():
            value = np.asarray(value)
            if name in params:
                p = params[name]
                if value.shape != p.data.shape:
                    raise ValueError(
                        f"load_state_dict: {name} has shape {value.shape} in the checkpoint "
                        f"but {p.data.shape} in the model"
                    )
                p.data[...] = value
            elif name in buffers:
                owner_path, _, attr = name.rpartition(".")
                owner = dict(self.named_modules())[owner_path]
                current = getattr(owner, attr)
                if np.shape(current) != value.shape:
                    raise ValueError(
                        f"load_state_dict: buffer {name} has shape {value.shape} in the checkpoint "
                        f"but {np.shape(current)} in the model"
                    )
                setattr(owner, attr, value.astype(np.asarray(current).dtype, copy=True))

    def extra_repr(self) -> str:
        return ""

    def __repr__(self) -> str:
        children = list(self.named_children())
        if not children:
            return f"{type(self).__name__}({self.extra_repr()})"
        lines = [f"{type(self).__name__}("]
        for name, child in children:
            body = repr(child).replace("\n", "\n  ")
            lines.append(f"  ({name}): {body}")
        lines.append(")")
        return "\n".join(lines)


class Sequential(Module):
    """Apply modules in order; backward runs them in reverse.

    Shapes: whatever the first layer takes, to whatever the last returns.
    Parameter names follow PyTorch: ``"0.weight"``, ``"2.bias"``, ...

    ``needs_input_grad = False`` (the Trainer sets it while training: the input is data)
    tells the first layer with parameters that its dx is not needed, and ``backward``
    stops there and returns None. This saves the first layer's dx product, the largest
    one of an MLP on images (PyTorch skips it too: the input does not require grad).
    """

    def __init__(self, *layers: Module):
        super().__init__()
        self.layers = list(layers)
        self._needs_input_grad = True

    @property
    def needs_input_grad(self) -> bool:
        return self._needs_input_grad

    @needs_input_grad.setter
    def needs_input_grad(self, value: bool) -> None:
        self._needs_input_grad = bool(value)
        self._propagate_input_grad()

    def _propagate_input_grad(self) -> None:
        # layers up to the first one with parameters feed no gradient to anything trainable
        first = next((i for i, layer in enumerate(self.layers) if layer.parameters()), len(self.layers))
        for i, layer in enumerate(self.layers):
            layer.needs_input_grad = self._needs_input_grad or i > first

    def named_children(self) -> Iterator[tuple[str, Module]]:
        for i, layer in enumerate(self.layers):
            yield str(i), layer

    def __getitem__(self, i: int) -> Module:
        return self.layers[i]

    def __len__(self) -> int:
        return len(self.layers)

    def __iter__(self):
        return iter(self.layers)

    def append(self, layer: Module) -> "Sequential":
        self.layers.append(layer)
        self._propagate_input_grad()
        return self

    def forward(self, x: np.ndarray) -> np.ndarray:
        for layer in self.layers:
            x = layer.forward(x)
        return x

    def backward(self, dy: np.ndarray) -> np.ndarray | None:
        for layer in reversed(self.layers):
            dy = layer.backward(dy)
            if dy is None:  # a layer told needs_input_grad=False: nothing below needs a gradient
                break
        return dy
