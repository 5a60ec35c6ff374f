"""Pooling: MaxPool2d (argmax-index backward), AvgPool2d (ceil_mode, count_include_pad),
AdaptiveAvgPool2d and GlobalAvgPool2d. Semantics and output sizes follow PyTorch.

Output size per axis (floor mode):  out = floor((in + 2p - d·(k-1) - 1) / s) + 1.
ceil_mode rounds up instead, but a window must start inside the input or the
left padding: if (out - 1)·s >= in + p, out -= 1.

The windows come from the same strided buffer as the convolution
(:mod:`backproplab.nn._im2col`); the loops below run over the kh·kw kernel
positions (each step is vectorized over every window), never over pixels.

Reference: https://pytorch.org/docs/stable/generated/torch.nn.MaxPool2d.html ,
https://pytorch.org/docs/stable/generated/torch.nn.AvgPool2d.html
"""
from __future__ import annotations

import math

import numpy as np

from ._im2col import ConvGeometry, like_layout, pair
from .module import Module


def _pool_geometry(kind, x, kernel_size, stride, padding, dilation, ceil_mode) -> ConvGeometry:
    """The ConvGeometry of a pooling layer, with the extra bottom/right padding ceil_mode needs."""
    if x.ndim != 4:
        raise ValueError(f"{kind} expects input (N, C, H, W), got shape {x.shape}")
    pads = []
    for size, k, s, p, d in zip(x.shape[2:], kernel_size, stride, padding, dilation):
        span = d * (k - 1) + 1
        if span > size + 2 * p:
            raise ValueError(f"{kind}: kernel_size {kernel_size} (dilated span {span}) is larger than the "
                             f"padded input {size}+2·{p}={size + 2 * p}")
        num = size + 2 * p - span
        out = (-(-num // s) if ceil_mode else num // s) + 1
        if ceil_mode and (out - 1) * s >= size + p:
            out -= 1  # the last window would start in the right padding
        extra = max(0, (out - 1) * s + span - (size + 2 * p))  # ceil_mode's windows past the end
        pads.append((p, p + extra))
    return ConvGeometry(x.shape, kernel_size, stride, dilation, tuple(pads), what=kind)


class _Pool2d(Module):
    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, ceil_mode: bool = False):
        super().__init__()
        self.kernel_size = pair("kernel_size", kernel_size)
        self.stride = self.kernel_size if stride is None else pair("stride", stride)
        self.padding = pair("padding", padding, minimum=0)
        self.dilation = pair("dilation", dilation)
        self.ceil_mode = bool(ceil_mode)
        for p, k in zip(self.padding, self.kernel_size):
            if p > k // 2:
                raise ValueError(f"{type(self).__name__}: padding {self.padding} must be at most half the "
                                 f"kernel_size {self.kernel_size} (as in PyTorch)")

    def extra_repr(self) -> str:
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
                f"ceil_mode={self.ceil_mode}")


def _route_to_first_real_input(geo: ConvGeometry, best: np.ndarray, idx: np.ndarray) -> None:
    """Point the argmax of every window whose maximum is -inf at its first real (unpadded) tap.

    The padding is -inf too, so in a window whose real inputs are all -inf the padding ties
    with them and, coming first, took the argmax: its gradient would be dropped. PyTorch's
    kernel starts each window's argmax at the first real input (and replaces it only with a
    larger value), so that input gets the gradient. Only padded windows can differ, and
    only when a maximum is -inf, so this runs on those rare inputs only.

    Shapes: best, idx (C, Ho, Wo, N) in buffer order; idx is updated in place.
    """
    first = []
    for out, s, (pad, _), d in zip(geo.out_hw, geo.stride, geo.pads, geo.dilation):
        start = np.arange(out) * s - pad  # (out,) input coordinate of each window's first tap
        first.append(np.where(start >= 0, 0, -(start // d)))  # taps to skip until the input begins
    kw = geo.kernel_size[1]
    k0 = (first[0][:, None] * kw + first[1][None, :]).astype(idx.dtype)  # (Ho, Wo)
    hit = np.isneginf(best)
    idx[hit] = np.broadcast_to(k0[None, :, :, None], idx.shape)[hit]


class MaxPool2d(_Pool2d):
    """Max over each window; backward routes dy to the (first) argmax of its window.

    Shapes: x (N, C, H, W) -> y (N, C, Ho, Wo). Padding counts as -inf. Ties go to
    the first maximum in row-major window order, as PyTorch's CPU kernel; a window whose
    real inputs are all -inf routes its gradient to the first of them, not to the padding.
    """

    def forward(self, x: np.ndarray) -> np.ndarray:
        geo = _pool_geometry("MaxPool2d", x, self.kernel_size, self.stride, self.padding, self.dilation,
                             self.ceil_mode)
        # (C, H, W, N) order: a padded buffer, or without padding a view of x itself (no copy)
        padded = any(map(any, geo.pads))
        src = geo.pad(x, fill=-np.inf) if padded else geo.to_buffer_order(x)
        kh, kw = self.kernel_size
        best = idx = None
        for i in range(kh):
            for j in range(kw):
                tap = geo.tap_view(src, i, j)
                if best is None:
                    best = tap.copy(order="K")  # keeps the input's memory order
                    idx = np.zeros_like(best, dtype=np.uint8 if kh * kw < 256 else np.int32)
                    continue
                upd = tap > best  # strict: ties keep the earlier position
                np.maximum(best, tap, out=best)
                idx += upd * (i * kw + j - idx)  # idx = k where upd; integer arithmetic beats masked writes
        if padded and np.isneginf(best).any():  # some padded window's maximum is -inf
            _route_to_first_real_input(geo, best, idx)
        best, idx = geo.from_buffer_order(best), geo.from_buffer_order(idx)  # (N, C, Ho, Wo) views
        self._geo, self._idx, self._x = geo, idx, x
        return best

    def backward(self, dy: np.ndarray) -> np.ndarray:
        geo, idx = self._geo, self._idx
        dy = geo.to_buffer_order(like_layout(dy, idx))
        idx = geo.to_buffer_order(idx)
        kh, kw = self.kernel_size
        padded = any(map(any, geo.pads))
        dx = np.zeros_like(self._x, dtype=np.result_type(dy.dtype, self._x.dtype))  # x's memory order
        dst = geo.zeros(dx.dtype) if padded else geo.to_buffer_order(dx)  # (C, H, W, N) order, as forward
        spans = [d * (k - 1) + 1 for k, d in zip(self.kernel_size, self.dilation)]
        disjoint = not padded and all(s >= span for s, span in zip(self.stride, spans))
        for i in range(kh):
            for j in range(kw):
                hit = idx == i * kw + j
                if disjoint:  # each pixel in at most one window: write, no add
                    np.multiply(dy, hit, out=geo.tap_view(dst, i, j))
                else:
                    geo.tap_view(dst, i, j)[...] += np.where(hit, dy, 0)  # padding or overlapping windows: add
        if padded:
            dx[...] = geo.from_buffer_order(geo.interior(dst))
        return dx


class AvgPool2d(_Pool2d):
    """Mean over each window.

    Shapes: x (N, C, H, W) -> y (N, C, Ho, Wo).

    Divisor (as PyTorch): with ``count_include_pad=True`` the window clipped to the
    padded input (zero padding counts, ceil_mode's overhang does not); with
    ``False`` the window clipped to the real input. ``divisor_override`` replaces both.
    """

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
                 count_include_pad: bool = True, divisor_override: int | None = None):
        super().__init__(kernel_size, stride, padding, 1, ceil_mode)
        self.count_include_pad = bool(count_include_pad)
        if divisor_override is not None and divisor_override <= 0:
            raise ValueError(f"AvgPool2d: divisor_override must be positive, got {divisor_override}")
        self.divisor_override = divisor_override

    def _divisor(self, geo: ConvGeometry) -> np.ndarray:
        """(Ho, Wo) number of entries each window is divided by."""
        if self.divisor_override is not None:
            return np.full(geo.out_hw, float(self.divisor_override))
        counts = []
        for out, size, k, s, p in zip(geo.out_hw, (geo.h, geo.w), self.kernel_size, self.stride, self.padding):
            start = np.arange(out) * s - p
            end = np.minimum(start + k, size + p)
            if self.count_include_pad:
                counts.append(end - start)
            else:
                counts.append(np.minimum(end, size) - np.maximum(start, 0))
        return np.outer(counts[0], counts[1]).astype(np.float64)

    def forward(self, x: np.ndarray) -> np.ndarray:
        geo = _pool_geometry("AvgPool2d", x, self.kernel_size, self.stride, self.padding, (1, 1), self.ceil_mode)
        buf = geo.pad(x)
        kh, kw = self.kernel_size
        total = np.zeros((geo.c,) + geo.out_hw + (geo.n,), dtype=x.dtype)  # (C, Ho, Wo, N)
        for i in range(kh):
            for j in range(kw):
                total += geo.tap_view(buf, i, j)
        self._geo = geo
        self._scale = (1.0 / self._divisor(geo)).astype(x.dtype)  # (Ho, Wo)
        return geo.from_buffer_order(total) * self._scale

    def backward(self, dy: np.ndarray) -> np.ndarray:
        geo = self._geo
        kh, kw = self.kernel_size
        g = geo.to_buffer_order(dy * self._scale)  # (C, Ho, Wo, N)
        buf = geo.zeros(dy.dtype)
        for i in range(kh):
            for j in range(kw):
                geo.tap_view(buf, i, j)[...] += g
        return geo.from_buffer_order(geo.interior(buf))

    def extra_repr(self) -> str:
        return super().extra_repr() + f", count_include_pad={self.count_include_pad}"


def _adaptive_matrix(size: int, out: int, dtype) -> np.ndarray:
    """(out, size) averaging matrix: row i averages x[floor(i·size/out) : ceil((i+1)·size/out)]."""
    a = np.zeros((out, size), dtype=dtype)
    for i in range(out):  # one row per output cell (out is small), not per pixel
        start, end = (i * size) // out, math.ceil((i + 1) * size / out)
        a[i, start:end] = 1.0 / (end - start)
    return a


class AdaptiveAvgPool2d(Module):
    """Average pooling to a fixed output size, windows as PyTorch's adaptive pooling.

    Separable: y = A_h · x · A_wᵀ per (n, c), with A the (out, in) averaging
    matrices, so backward is dx = A_hᵀ · dy · A_w.

    Shapes: x (N, C, H, W) -> y (N, C, out_h, out_w).
    Reference: https://pytorch.org/docs/stable/generated/torch.nn.AdaptiveAvgPool2d.html
    """

    def __init__(self, output_size=1):
        super().__init__()
        self.output_size = pair("output_size", output_size)

    def forward(self, x: np.ndarray) -> np.ndarray:
        if x.ndim != 4:
            raise ValueError(f"{type(self).__name__} expects input (N, C, H, W), got shape {x.shape}")
        (oh, ow), (h, w) = self.output_size, x.shape[2:]
        self._x_shape = x.shape
        if (oh, ow) == (1, 1):
            return x.mean(axis=(2, 3), keepdims=True)
        self._ah, self._aw = _adaptive_matrix(h, oh, x.dtype), _adaptive_matrix(w, ow, x.dtype)
        return self._ah @ x @ self._aw.T  # (N, C, oh, ow)

    def backward(self, dy: np.ndarray) -> np.ndarray:
        n, c, h, w = self._x_shape
        if self.output_size == (1, 1):
            return np.broadcast_to(dy / (h * w), self._x_shape).copy()
        return self._ah.T @ dy @ self._aw  # (N, C, H, W)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class GlobalAvgPool2d(AdaptiveAvgPool2d):
    """Mean over all of H and W: (N, C, H, W) -> (N, C, 1, 1); = AdaptiveAvgPool2d(1)."""

    def __init__(self):
        super().__init__(1)
