"""Private machinery of the convolution and pooling layers: im2col by stride tricks.

Everything here works on a **batch-innermost buffer** ``(C, Hp, Wp, N)``: the
zero-padded input with channels first and the batch last (the layout of
cuda-convnet, "CHWN"). Channels first lets one matrix product cover the whole
batch:

    y (O, Ho·Wo·N) = W (O, C·kh·kw) @ cols (C·kh·kw, Ho·Wo·N)

instead of N small products. Batch last makes every window tap a view whose
innermost run is Wo·N contiguous numbers (a whole output row of every image),
so the copies of im2col, the adds of col2im and the pooling passes stream long
runs instead of one image row at a time. Measured on 2026-11-23 on the shared
2-core development machine, the benchmark CNN's second layer (32 images, one core):
im2col 0.16 ms against 0.30 ms with a (C, N, H, W) buffer, col2im 0.33 against
0.80 ms, 2x2 max-pool forward 0.30 against 0.44 ms.

The layers return their outputs as transposed *views* of shape (N, C, H, W)
(memory order C, H, W, N); NumPy handles any strides, so callers never notice,
and the next convolution or pooling reads them without a copy.

The windows are a strided view of the buffer, (C, kh, kw, Ho, Wo, N), so
im2col is one copy of the view, and col2im (backward) adds each kernel tap's
slice of dcols back into a zero buffer: kh·kw vectorized adds (a loop over
kernel positions, never over pixels).

Not used: computing stride-1 outputs on an Ho x Wp grid, so that every tap is
one contiguous slab of a flattened padded image. Its copies are faster, but the
Wp - Wo junk columns make every output a strided view, every upstream gradient
a zero-padded copy and each GEMM 7-14% larger; measured on 2026-11-23 on the same
machine, a whole training step was 5-9% slower than with the plain window view.

References: Chellapilla et al. 2006, "High performance convolutional neural
networks for document processing" (im2col); Krizhevsky's cuda-convnet (the
batch-innermost layout).
"""
from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import as_strided


def pair(name: str, value, minimum: int = 1) -> tuple[int, int]:
    """An int or a 2-sequence of ints -> (h, w), each >= minimum, or a ValueError naming ``name``."""
    if isinstance(value, (int, np.integer)):
        value = (int(value), int(value))
    try:
        h, w = (int(v) for v in value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be an int or a pair of ints, got {value!r}") from None
    if h < minimum or w < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value!r}")
    return h, w


def like_layout(a: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """``a`` stored in the same memory order as ``ref`` (copied only if it is not).

    Element-wise NumPy operations on operands with different memory orders run
    several times slower (4x on max-pool backward, measured on 2026-11-23 on the
    shared 2-core development machine), so align them first.
    """
    if np.argsort(a.strides, kind="stable").tolist() == np.argsort(ref.strides, kind="stable").tolist():
        return a
    out = np.empty_like(ref, dtype=a.dtype)
    out[...] = a
    return out


def conv_padding(padding, kernel_size, stride, dilation) -> tuple[tuple[int, int], tuple[int, int]]:
    """PyTorch's padding argument -> ((top, bottom), (left, right)).

    'valid' is no padding; 'same' pads d·(k-1) in total, the odd one on the
    bottom/right (as torch.nn.Conv2d), and is only defined for stride 1.
    """
    if isinstance(padding, str):
        if padding == "valid":
            return (0, 0), (0, 0)
        if padding == "same":
            if stride != (1, 1):
                raise ValueError(f"padding='same' is not supported for strided convolutions (stride={stride}); "
                                 "PyTorch forbids it too: give the padding as numbers")
            out = []
            for k, d in zip(kernel_size, dilation):
                total = d * (k - 1)
                out.append((total // 2, total - total // 2))
            return out[0], out[1]
        raise ValueError(f"padding must be an int, a pair, 'same' or 'valid', got {padding!r}")
    ph, pw = pair("padding", padding, minimum=0)
    return (ph, ph), (pw, pw)


class ConvGeometry:
    """Where every window of a 2-D convolution/pooling lives in the (C, Hp, Wp, N) buffer.

    Args:
        x_shape: (N, C, H, W) of the unpadded input.
        kernel_size, stride, dilation: (h, w) pairs.
        pads: ((top, bottom), (left, right)); bottom/right may be larger (ceil_mode).

    Attributes:
        out_hw: (Ho, Wo).
        M: Ho·Wo, output pixels per image and channel.
    """

    def __init__(self, x_shape, kernel_size, stride, dilation, pads, what: str = "convolution"):
        n, c, h, w = x_shape
        (pt, pb), (pl, pr) = pads
        kh, kw = kernel_size
        sh, sw = stride
        dh, dw = dilation
        hp, wp = h + pt + pb, w + pl + pr
        span_h, span_w = dh * (kh - 1) + 1, dw * (kw - 1) + 1
        if span_h > hp or span_w > wp:
            raise ValueError(
                f"{what}: kernel_size ({kh}, {kw}) with dilation ({dh}, {dw}) spans ({span_h}, {span_w}) pixels, "
                f"larger than the padded input ({hp}, {wp}) = input ({h}, {w}) + padding; "
                "use a smaller kernel or dilation, or more padding"
            )
        self.n, self.c, self.h, self.w = n, c, h, w
        self.kernel_size, self.stride, self.dilation, self.pads = (kh, kw), (sh, sw), (dh, dw), pads
        self.hp, self.wp = hp, wp
        self.out_hw = ho, wo = (hp - span_h) // sh + 1, (wp - span_w) // sw + 1
        self.M = ho * wo

    # -- the layouts -------------------------------------------------------------
    @staticmethod
    def to_buffer_order(a: np.ndarray) -> np.ndarray:
        """(N, C, H, W) -> (C, H, W, N) view."""
        return a.transpose(1, 2, 3, 0)

    @staticmethod
    def from_buffer_order(a: np.ndarray) -> np.ndarray:
        """(C, H, W, N) -> (N, C, H, W) view."""
        return a.transpose(3, 0, 1, 2)

    # -- the buffer --------------------------------------------------------------
    def zeros(self, dtype, channels: int | None = None) -> np.ndarray:
        """A new zero (C, Hp, Wp, N) buffer."""
        return np.zeros((self.c if channels is None else channels, self.hp, self.wp, self.n), dtype=dtype)

    def interior(self, buf: np.ndarray) -> np.ndarray:
        """The (C, H, W, N) unpadded part of a buffer."""
        (pt, _), (pl, _) = self.pads
        return buf[:, pt:pt + self.h, pl:pl + self.w]

    def pad(self, x: np.ndarray, fill: float = 0.0) -> np.ndarray:
        """x (N, C, H, W) -> new (C, Hp, Wp, N) buffer padded with ``fill``."""
        buf = np.full((self.c, self.hp, self.wp, self.n), fill, dtype=x.dtype)
        self.interior(buf)[...] = self.to_buffer_order(x)
        return buf

    def window_view(self, buf: np.ndarray) -> np.ndarray:
        """Read-only strided view (C, kh, kw, Ho, Wo, N) of every window tap (no copy)."""
        s_c, s_h, s_w, s_n = buf.strides
        (kh, kw), (sh, sw), (dh, dw) = self.kernel_size, self.stride, self.dilation
        shape = (buf.shape[0], kh, kw) + self.out_hw + (self.n,)
        return as_strided(buf, shape, (s_c, dh * s_h, dw * s_w, sh * s_h, sw * s_w, s_n), writeable=False)

    def tap_view(self, buf: np.ndarray, i: int, j: int) -> np.ndarray:
        """Writable (C, Ho, Wo, N) view of kernel tap (i, j) of every window."""
        (sh, sw), (dh, dw) = self.stride, self.dilation
        ho, wo = self.out_hw
        return buf[:, i * dh: i * dh + sh * (ho - 1) + 1: sh, j * dw: j * dw + sw * (wo - 1) + 1: sw]

    def im2col(self, buf: np.ndarray) -> np.ndarray:
        """(C, Hp, Wp, N) buffer -> contiguous cols (C·kh·kw, Ho·Wo·N)."""
        kh, kw = self.kernel_size
        return np.ascontiguousarray(self.window_view(buf)).reshape(buf.shape[0] * kh * kw, self.M * self.n)

    def col2im(self, cols: np.ndarray) -> np.ndarray:
        """cols (C·kh·kw, Ho·Wo·N) -> new (C, Hp, Wp, N) buffer holding the sum over every tap
        (the adjoint of im2col)."""
        kh, kw = self.kernel_size
        c = cols.shape[0] // (kh * kw)
        cols = cols.reshape((c, kh, kw) + self.out_hw + (self.n,))  # (C, kh, kw, Ho, Wo, N)
        buf = self.zeros(cols.dtype, c)
        for i in range(kh):  # kh·kw vectorized adds
            for j in range(kw):
                self.tap_view(buf, i, j)[...] += cols[:, i, j]
        return buf

    # -- the output grid -------------------------------------------------------
    def grid_to_output(self, grid: np.ndarray) -> np.ndarray:
        """(O, Ho·Wo·N) result -> (N, O, Ho, Wo) view (no copy)."""
        return self.from_buffer_order(grid.reshape((grid.shape[0],) + self.out_hw + (self.n,)))

    def output_to_grid(self, dy: np.ndarray) -> np.ndarray:
        """dy (N, O, Ho, Wo) -> contiguous (O, Ho·Wo·N); free if dy came from our own layers."""
        return np.ascontiguousarray(self.to_buffer_order(dy)).reshape(dy.shape[1], self.M * self.n)


def conv2d_forward(x, weight, bias, stride, pads, dilation, groups):
    """y = conv2d(x, weight) + bias, by one (batched over groups) matrix product.

    Shapes: x (N, C, H, W), weight (O, C/groups, kh, kw), bias (O,) or None ->
    y (N, O, Ho, Wo); also returns the cache backward needs.
    """
    o, cg, kh, kw = weight.shape
    geo = ConvGeometry(x.shape, (kh, kw), stride, dilation, pads)
    cols = geo.im2col(geo.pad(x))  # (C*kh*kw, M*N)
    kg = cg * kh * kw
    if groups == 1:
        grid = weight.reshape(o, kg) @ cols  # (O, M*N)
    else:
        # channels are grouped contiguously, so cols splits as (G, Cg*kh*kw, M*N)
        grid = (weight.reshape(groups, o // groups, kg) @ cols.reshape(groups, kg, -1)).reshape(o, -1)
    if bias is not None:
        grid += bias[:, None]
    return geo.grid_to_output(grid), (geo, cols, weight, groups, bias is not None)


def conv2d_backward(dy, cache, need_dx: bool = True):
    """Gradients of :func:`conv2d_forward`: returns (dx or None, dweight, dbias or None).

    dW = dy_grid @ colsᵀ (one product); dx = col2im(Wᵀ @ dy_grid); db = Σ dy.
    """
    geo, cols, weight, groups, has_bias = cache
    o, cg, kh, kw = weight.shape
    kg = cg * kh * kw
    dgrid = geo.output_to_grid(dy)  # (O, M*N)
    db = dgrid @ np.ones(dgrid.shape[1], dgrid.dtype) if has_bias else None  # Σ over M·N, as a BLAS gemv
    if groups == 1:
        dw = (cols @ dgrid.T).T.reshape(weight.shape)  # this operand order measured faster than dgrid @ cols.T
    else:
        dgrid_g = dgrid.reshape(groups, o // groups, -1)  # (G, O/G, M*N)
        dw = (dgrid_g @ cols.reshape(groups, kg, -1).transpose(0, 2, 1)).reshape(weight.shape)
    dx = None
    if need_dx:
        if groups == 1:
            dcols = weight.reshape(o, kg).T @ dgrid  # (C*kh*kw, M*N)
        else:
            w_g = weight.reshape(groups, o // groups, kg)
            dcols = (w_g.transpose(0, 2, 1) @ dgrid_g).reshape(groups * kg, -1)  # (C*kh*kw, M*N)
        dx = geo.from_buffer_order(geo.interior(geo.col2im(dcols)))  # (N, C, H, W) view
    return dx, dw, db
