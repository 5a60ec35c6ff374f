"""Conv2d and Conv1d (cross-correlation, as every deep-learning framework), vectorized by im2col.

    y[n, o, i, j] = b[o] + Σ_{c in group(o)} Σ_{u, v} W[o, c, u, v] · x_pad[n, c, s·i + d·u, s·j + d·v]

The whole batch is one matrix product (see :mod:`backproplab.nn._im2col`);
backward gives dW = dY · colsᵀ, db = Σ dY and dX = col2im(Wᵀ · dY).

Reference: https://pytorch.org/docs/stable/generated/torch.nn.Conv2d.html ;
Dumoulin & Visin 2016, "A guide to convolution arithmetic for deep learning".
"""
from __future__ import annotations

import numpy as np

from ._im2col import conv2d_backward, conv2d_forward, conv_padding, pair
from .init import init_bias, init_weight
from .module import Module, Parameter


def _check_channels(kind: str, in_channels: int, out_channels: int, groups: int) -> None:
    if in_channels <= 0 or out_channels <= 0:
        raise ValueError(f"{kind} needs positive channel counts, got in_channels={in_channels}, "
                         f"out_channels={out_channels}")
    if groups <= 0:
        raise ValueError(f"{kind}: groups must be >= 1, got {groups}")
    if in_channels % groups or out_channels % groups:
        raise ValueError(f"{kind}: groups={groups} must divide both in_channels={in_channels} and "
                         f"out_channels={out_channels}")


class Conv2d(Module):
    """2-D convolution over (N, C, H, W).

    Shapes:
        x: (N, in_channels, H, W) -> y: (N, out_channels, Ho, Wo),
        Ho = floor((H + pad_top + pad_bottom - dilation·(kh-1) - 1) / stride) + 1 (same for W).
        weight: (out_channels, in_channels // groups, kh, kw); bias: (out_channels,).

    Args:
        kernel_size, stride, dilation: int or (h, w); stride and dilation >= 1.
        padding: int, (h, w), ``'valid'`` (none) or ``'same'`` (output size = input size;
            stride 1 only, the odd pixel of padding goes bottom/right as in PyTorch).
        groups: split the channels into ``groups`` independent convolutions;
            ``groups = in_channels`` is a depthwise convolution.
        init: weight scheme by name (:mod:`backproplab.nn.init`); ``"pytorch"`` = U(±1/sqrt(fan_in)).
        rng: generator for the initial weights.

    The output is a transposed view (memory order C, N, H, W), which every NumPy
    operation handles; call ``np.ascontiguousarray`` if you need NCHW memory.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0, dilation=1,
                 groups: int = 1, bias: bool = True, *, rng: np.random.Generator, init: str = "pytorch",
                 dtype=np.float32):
        super().__init__()
        _check_channels(type(self).__name__, in_channels, out_channels, groups)
        self.in_channels, self.out_channels, self.groups = in_channels, out_channels, groups
        self.kernel_size = pair("kernel_size", kernel_size)
        self.stride = pair("stride", stride)
        self.dilation = pair("dilation", dilation)
        self.padding = padding
        self._pads = conv_padding(padding, self.kernel_size, self.stride, self.dilation)
        shape = (out_channels, in_channels // groups) + self.kernel_size
        self.weight = Parameter(init_weight(shape, init, rng, dtype))
        fan_in = (in_channels // groups) * self.kernel_size[0] * self.kernel_size[1]
        self.bias = Parameter(init_bias(out_channels, init, fan_in, rng, dtype)) if bias else None
        self._cache = None

    def _check_input(self, x: np.ndarray) -> None:
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f"{type(self).__name__}({self.in_channels}, {self.out_channels}) expects input "
                             f"(N, {self.in_channels}, H, W), got shape {x.shape}")

    def forward(self, x: np.ndarray) -> np.ndarray:
        self._check_input(x)
        b = None if self.bias is None else self.bias.data
        y, self._cache = conv2d_forward(x, self.weight.data, b, self.stride, self._pads, self.dilation, self.groups)
        return y

    def backward(self, dy: np.ndarray) -> np.ndarray:
        if self._cache is None:
            raise RuntimeError(f"{type(self).__name__}.backward called before forward")
        dx, dw, db = conv2d_backward(dy, self._cache, need_dx=self.needs_input_grad)
        self.weight.grad += dw
        if self.bias is not None:
            self.bias.grad += db
        return dx

    def extra_repr(self) -> str:
        s = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}, "
             f"padding={self.padding!r}")
        if self.dilation != (1, 1):
            s += f", dilation={self.dilation}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        return s + f", bias={self.bias is not None}"


def _single(name: str, value, minimum: int = 1) -> int:
    """Conv1d's int or 1-tuple argument -> int (as PyTorch, which refuses a longer tuple)."""
    if isinstance(value, (tuple, list)):
        if len(value) != 1:
            raise ValueError(f"Conv1d: {name} must be an int or a 1-tuple, got {value!r} "
                             f"({len(value)} values for 1 spatial dimension)")
        value = value[0]
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool):
        raise ValueError(f"Conv1d: {name} must be an int or a 1-tuple, got {value!r}")
    if value < minimum:
        raise ValueError(f"Conv1d: {name} must be >= {minimum}, got {value!r}")
    return int(value)


class Conv1d(Module):
    """1-D convolution over (N, C, L): a Conv2d with a 1 x k kernel over an image of height 1.

    Shapes: x (N, in_channels, L) -> y (N, out_channels, Lo); weight (out_channels,
    in_channels // groups, k); bias (out_channels,). Arguments as :class:`Conv2d`,
    with an int or a 1-tuple where Conv2d takes a pair (a 2-tuple is an error, as in PyTorch).

    Reference: https://pytorch.org/docs/stable/generated/torch.nn.Conv1d.html
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0,
                 dilation=1, groups: int = 1, bias: bool = True, *, rng: np.random.Generator,
                 init: str = "pytorch", dtype=np.float32):
        super().__init__()
        _check_channels("Conv1d", in_channels, out_channels, groups)
        self.in_channels, self.out_channels, self.groups = in_channels, out_channels, groups
        self.kernel_size = _single("kernel_size", kernel_size)
        self.stride = _single("stride", stride)
        self.dilation = _single("dilation", dilation)
        if isinstance(padding, str):
            self.padding = padding
            pads = conv_padding(padding, (1, self.kernel_size), (1, self.stride), (1, self.dilation))
        else:
            self.padding = p = _single("padding", padding, minimum=0)
            pads = ((0, 0), (p, p))
        self._pads = ((0, 0), pads[1])
        shape = (out_channels, in_channels // groups, self.kernel_size)
        self.weight = Parameter(init_weight(shape, init, rng, dtype))
        fan_in = (in_channels // groups) * self.kernel_size
        self.bias = Parameter(init_bias(out_channels, init, fan_in, rng, dtype)) if bias else None
        self._cache = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        if x.ndim != 3 or x.shape[1] != self.in_channels:
            raise ValueError(f"Conv1d({self.in_channels}, {self.out_channels}) expects input "
                             f"(N, {self.in_channels}, L), got shape {x.shape}")
        b = None if self.bias is None else self.bias.data
        w = self.weight.data[:, :, None, :]  # (O, C/G, 1, k)
        y, self._cache = conv2d_forward(x[:, :, None, :], w, b, (1, self.stride), self._pads,
                                        (1, self.dilation), self.groups)
        return y[:, :, 0, :]  # (N, O, Lo)

    def backward(self, dy: np.ndarray) -> np.ndarray:
        if self._cache is None:
            raise RuntimeError("Conv1d.backward called before forward")
        dx, dw, db = conv2d_backward(dy[:, :, None, :], self._cache)
        self.weight.grad += dw[:, :, 0, :]
        if self.bias is not None:
            self.bias.grad += db
        return dx[:, :, 0, :]

    def extra_repr(self) -> str:
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}, "
                f"padding={self.padding!r}, dilation={self.dilation}, groups={self.groups}, "
                f"bias={self.bias is not None}")
