"""Private machinery of the convolution and pooling layers: im2col by stride tricks.

Everything here works on a **channel-major buffer** ``(C, N, F)``: the zero-padded
input, channels first, each image flattened to ``F`` numbers. Putting C before N
lets one matrix product cover the whole batch:

    y (O, N·M) = W (O, C·kh·kw) @ cols (C·kh·kw, N·M)

instead of N small products. The layers return their outputs as transposed
*views* of shape (N, C, H, W) (memory order C, N, H, W); NumPy handles any
strides, so callers never notice, and the next convolution reads the buffer
without a copy.

The windows are a strided *view* of that buffer, (C, kh, kw, N, Ho, Wo), so
im2col is one copy of the view, and col2im (backward) adds each kernel tap's
slice of dcols back into a zero buffer: kh·kw vectorized adds (a loop over
kernel positions, never over pixels).

Measured and dropped (session 4): computing stride-1 outputs on an Ho x Wp
grid, so that every tap is one contiguous slab of the flattened padded image
(contiguous copies in im2col and col2im). The copies got faster, but the
Wp - Wo junk columns made every output a strided view, every upstream
gradient a zero-padded copy and each GEMM 7-14% larger; a whole training step
was 5-9% slower than with the plain window view.

References: Chellapilla et al. 2006, "High performance convolutional neural
networks for document processing" (im2col).
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
    several times slower (measured 4x on max-pool backward), so align them first.
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
    """Where every window of a 2-D convolution/pooling lives in the (C, N, F) buffer.

    Args:
        x_shape: (N, C, H, W) of the unpadded input.
        kernel_size, stride, dilation: (h, w) pairs.
        pads: ((top, bottom), (left, right)); bottom/right may be larger (ceil_mode).

    Attributes:
        out_hw: (Ho, Wo).
        M: Ho·Wo, output pixels per image and channel.
        F: Hp·Wp, buffer length per image and channel.
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
        self.F = hp * wp

    # -- the buffer --------------------------------------------------------------
    def image(self, buf: np.ndarray) -> np.ndarray:
        """The (C, N, Hp, Wp) padded-image view of a (C, N, F) buffer."""
        return buf.reshape(buf.shape[0], buf.shape[1], self.hp, self.wp)

    def interior(self, buf: np.ndarray) -> np.ndarray:
        """The (C, N, H, W) unpadded part of a (C, N, F) buffer."""
        (pt, _), (pl, _) = self.pads
        return self.image(buf)[:, :, pt:pt + self.h, pl:pl + self.w]

    def pad(self, x: np.ndarray, fill: float = 0.0) -> np.ndarray:
        """x (N, C, H, W) -> new (C, N, F) buffer padded with ``fill``."""
        buf = np.full((self.c, self.n, self.F), fill, dtype=x.dtype)
        self.interior(buf)[...] = x.transpose(1, 0, 2, 3)
        return buf

    def window_view(self, buf: np.ndarray) -> np.ndarray:
        """Read-only strided view (C, kh, kw, N, Ho, Wo) of every window tap (no copy)."""
        c, n = buf.shape[:2]
        s_c, s_n, item = buf.strides[0], buf.strides[1], buf.itemsize
        (kh, kw), (sh, sw), (dh, dw) = self.kernel_size, self.stride, self.dilation
        strides = (s_c, dh * self.wp * item, dw * item, s_n, sh * self.wp * item, sw * item)
        return as_strided(buf, (c, kh, kw, n) + self.out_hw, strides, writeable=False)

    def tap_view(self, buf: np.ndarray, i: int, j: int) -> np.ndarray:
        """Writable (C, N, Ho, Wo) view of kernel tap (i, j) of every window."""
        (sh, sw), (dh, dw) = self.stride, self.dilation
        ho, wo = self.out_hw
        img = self.image(buf)
        return img[:, :, i * dh: i * dh + sh * (ho - 1) + 1: sh, j * dw: j * dw + sw * (wo - 1) + 1: sw]

    def im2col(self, buf: np.ndarray) -> np.ndarray:
        """(C, N, F) buffer -> contiguous cols (C·kh·kw, N·M)."""
        c = buf.shape[0]
        kh, kw = self.kernel_size
        return np.ascontiguousarray(self.window_view(buf)).reshape(c * kh * kw, self.n * self.M)  # (C*kh*kw, N*M)

    def col2im(self, cols: np.ndarray) -> np.ndarray:
        """cols (C·kh·kw, N·M) -> new (C, N, F) buffer holding the sum over every tap (adjoint of im2col)."""
        kh, kw = self.kernel_size
        c = cols.shape[0] // (kh * kw)
        cols = cols.reshape((c, kh, kw, self.n) + self.out_hw)  # (C, kh, kw, N, Ho, Wo)
        buf = np.zeros((c, self.n, self.F), dtype=cols.dtype)
        for i in range(kh):  # kh·kw vectorized adds
            for j in range(kw):
                self.tap_view(buf, i, j)[...] += cols[:, i, j]
        return buf

    # -- the output grid -------------------------------------------------------
    def grid_to_output(self, grid: np.ndarray) -> np.ndarray:
        """(O, N·M) result -> (N, O, Ho, Wo) view (no copy)."""
        return grid.reshape((grid.shape[0], self.n) + self.out_hw).transpose(1, 0, 2, 3)

    def output_to_grid(self, dy: np.ndarray) -> np.ndarray:
        """dy (N, O, Ho, Wo) -> contiguous (O, N·M); free if dy came from our own layers."""
        return np.ascontiguousarray(dy.transpose(1, 0, 2, 3)).reshape(dy.shape[1], self.n * self.M)  # (O, N*M)


def conv2d_forward(x, weight, bias, stride, pads, dilation, groups):
    """y = conv2d(x, weight) + bias, by one (batched over groups) matrix product.

    Shapes: x (N, C, H, W), weight (O, C/groups, kh, kw), bias (O,) or None ->
    y (N, O, Ho, Wo); also returns the cache backward needs.
    """
    o, cg, kh, kw = weight.shape
    geo = ConvGeometry(x.shape, (kh, kw), stride, dilation, pads)
    cols = geo.im2col(geo.pad(x))  # (C*kh*kw, N*M)
    kg = cg * kh * kw
    if groups == 1:
        grid = weight.reshape(o, kg) @ cols  # (O, N*M)
    else:
        # channels are grouped contiguously, so cols splits as (G, Cg*kh*kw, N*M)
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
    dgrid = geo.output_to_grid(dy)  # (O, N*M)
    db = dgrid @ np.ones(dgrid.shape[1], dgrid.dtype) if has_bias else None  # Σ over N·M, as a BLAS gemv
    if groups == 1:
        dw = (cols @ dgrid.T).T.reshape(weight.shape)  # this operand order measured faster than dgrid @ cols.T
    else:
        dgrid_g = dgrid.reshape(groups, o // groups, -1)  # (G, O/G, N*M)
        dw = (dgrid_g @ cols.reshape(groups, kg, -1).transpose(0, 2, 1)).reshape(weight.shape)
    dx = None
    if need_dx:
        if groups == 1:
            dcols = weight.reshape(o, kg).T @ dgrid  # (C*kh*kw, N*M)
        else:
            w_g = weight.reshape(groups, o // groups, kg)
            dcols = (w_g.transpose(0, 2, 1) @ dgrid_g).reshape(groups * kg, -1)  # (C*kh*kw, N*M)
        dx = geo.interior(geo.col2im(dcols)).transpose(1, 0, 2, 3)  # (N, C, H, W) view
    return dx, dw, db
