"""Deformable convolution (DCN v1, and v2's modulation): a convolution whose taps move.

    y(p0) = b + Σ_n w(p_n) · m_n(p0) · x(p0 + p_n + Δp_n(p0))

p0 runs over the output grid (stride, padding and dilation as a regular convolution: the
tap p_n of output (i, j) sits at (i·s - pad + u·d, j·s - pad + v·d)), Δp_n(p0) is a learned
fractional offset per output pixel and tap, x at a fractional position is the bilinear
interpolation of its four neighbours (zero outside the image) and m_n(p0) in (0, 1) is the
modulation of DCN v2 (1 in DCN v1).

Two levels, as torchvision:

* :func:`deform_conv2d` (and the pair :func:`deform_conv2d_forward` /
  :func:`deform_conv2d_backward`): the operation itself, given the offsets and masks,
  with ``torchvision.ops.deform_conv2d``'s argument order and layouts.
* :class:`DeformConv2d`: a layer owning its weight and bias *and* the regular convolution
  that computes the offsets (and masks) from the same input, so dx flows through both.

Layouts (K = kh·kw, G = offset groups, taps in row-major order k = u·kw + v):

* offset (N, 2·G·K, Ho, Wo): channel g·2K + 2k is Δh (rows), g·2K + 2k + 1 is Δw (columns)
  of tap k in offset group g; input channel c uses offset group c // (C / G).
* mask (N, G·K, Ho, Wo): channel g·K + k.

How it is computed: the sampling positions of all points (g, n, i, j, k) form one sparse
bilinear-sampling matrix (see :mod:`backproplab.nn._bilinear`); the samples, arranged as
cols (N·Ho·Wo, K·C), meet the weight in one matrix product, as im2col does for Conv2d.

References: Dai et al. 2017, "Deformable Convolutional Networks" (ICCV); Zhu et al. 2019,
"Deformable ConvNets v2: More Deformable, Better Results" (CVPR);
https://pytorch.org/vision/stable/generated/torchvision.ops.deform_conv2d.html
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ._bilinear import BilinearSampler
from ._im2col import ConvGeometry, conv_padding, pair
from .activation import Sigmoid
from .conv import Conv2d, _check_channels
from .init import init_bias, init_weight
from .module import Module, Parameter


class DeformConv2dGrads(NamedTuple):
    """Gradients of :func:`deform_conv2d_forward`; ``None`` for what was not asked for or not there."""

    dx: np.ndarray | None        # (N, C, H, W)
    doffset: np.ndarray          # (N, 2·G·K, Ho, Wo)
    dweight: np.ndarray          # (O, C/groups, kh, kw)
    dbias: np.ndarray | None     # (O,)
    dmask: np.ndarray | None     # (N, G·K, Ho, Wo)


def _check_shapes(x, offset, weight, bias, mask, out_hw) -> tuple[int, int]:
    """(groups, offset_groups) inferred from the shapes, or a ValueError naming the mismatch."""
    if x.ndim != 4 or weight.ndim != 4:
        raise ValueError(f"deform_conv2d expects input (N, C, H, W) and weight (O, C/groups, kh, kw), "
                         f"got shapes {x.shape} and {weight.shape}")
    n, c = x.shape[:2]
    o, cg, kh, kw = weight.shape
    if c % cg or o % (c // cg):
        raise ValueError(f"deform_conv2d: weight {weight.shape} does not fit {c} input channels: C/groups = {cg} "
                         f"must divide C and groups = C // {cg} must divide out_channels = {o}")
    k = kh * kw
    if offset.ndim != 4 or offset.shape[1] % (2 * k) or offset.shape[1] == 0:
        raise ValueError(f"deform_conv2d: offset must be (N, 2·offset_groups·{k}, Ho, Wo) for a {kh}x{kw} kernel, "
                         f"got shape {offset.shape}")
    g = offset.shape[1] // (2 * k)
    if c % g:
        raise ValueError(f"deform_conv2d: offset_groups = {g} (from offset's {offset.shape[1]} channels) "
                         f"must divide in_channels = {c}")
    if offset.shape != (n, 2 * g * k) + out_hw:
        raise ValueError(f"deform_conv2d: offset has shape {offset.shape}, expected {(n, 2 * g * k) + out_hw} "
                         "(the output grid of this stride, padding and dilation)")
    if mask is not None and mask.shape != (n, g * k) + out_hw:
        raise ValueError(f"deform_conv2d: mask has shape {mask.shape}, expected {(n, g * k) + out_hw}")
    if bias is not None and bias.shape != (o,):
        raise ValueError(f"deform_conv2d: bias has shape {bias.shape}, expected ({o},)")
    if not np.all(np.isfinite(offset)):
        raise ValueError("deform_conv2d: offset contains NaN or inf; check the layer producing it (lower the lr?)")
    return c // cg, g


def _points_order(a: np.ndarray, g: int, k: int, per_tap: int) -> np.ndarray:
    """(N, g·K·per_tap, Ho, Wo) -> (per_tap, g, N, Ho, Wo, K): one entry per sampling point."""
    n, _, ho, wo = a.shape
    return a.reshape(n, g, k, per_tap, ho, wo).transpose(3, 1, 0, 4, 5, 2)


def _from_points_order(a: np.ndarray) -> np.ndarray:
    """(per_tap, g, N, Ho, Wo, K) -> (N, g·K·per_tap, Ho, Wo), the inverse of :func:`_points_order`."""
    per_tap, g, n, ho, wo, k = a.shape
    return a.transpose(2, 1, 5, 0, 3, 4).reshape(n, g * k * per_tap, ho, wo)


def _sampler(offset, geo: ConvGeometry, g: int) -> BilinearSampler:
    """The bilinear sampler of every point (g, n, i, j, k), positions = regular grid + offsets."""
    (kh, kw), (sh, sw), (dh, dw) = geo.kernel_size, geo.stride, geo.dilation
    (pt, _), (pl, _) = geo.pads
    ho, wo = geo.out_hw
    off = _points_order(offset, g, kh * kw, 2)  # (2, G, N, Ho, Wo, K)
    # tap k = u·kw + v of output (i, j) sits at (i·sh - pt + u·dh, j·sw - pl + v·dw) before its offset
    base_h = (np.arange(ho) * sh - pt)[:, None] + np.repeat(np.arange(kh) * dh, kw)[None, :]  # (Ho, K)
    base_w = (np.arange(wo) * sw - pl)[:, None] + np.tile(np.arange(kw) * dw, kh)[None, :]    # (Wo, K)
    h = (off[0] + base_h.astype(off.dtype)[:, None, :]).reshape(-1)  # (G·N·Ho·Wo·K,)
    w = (off[1] + base_w.astype(off.dtype)[None, :, :]).reshape(-1)
    image = np.repeat(np.arange(g * geo.n), ho * wo * kh * kw)  # image g·N + n of each point
    return BilinearSampler(h, w, image, geo.h, geo.w, g * geo.n)


def _group_weight(weight: np.ndarray, groups: int) -> np.ndarray:
    """(O, C/groups, kh, kw) -> (groups, K·C/groups, O/groups), rows ordered (tap, channel) as cols."""
    o, cg, kh, kw = weight.shape
    return weight.reshape(groups, o // groups, cg, kh, kw).transpose(0, 3, 4, 2, 1).reshape(groups, -1, o // groups)


def _group_cols(cols: np.ndarray, k: int, groups: int) -> np.ndarray:
    """cols (NM, K·C) -> (groups, NM, K·C/groups): the columns each conv group reads (a view for groups=1)."""
    nm = cols.shape[0]
    if groups == 1:
        return cols[None]
    return cols.reshape(nm, k, groups, -1).transpose(2, 0, 1, 3).reshape(groups, nm, -1)


def deform_conv2d_forward(input, offset, weight, bias=None, stride=1, padding=0, dilation=1, mask=None):
    """y = deform_conv2d(...) and the cache :func:`deform_conv2d_backward` needs.

    Shapes: input (N, C, H, W); offset (N, 2·G·kh·kw, Ho, Wo); weight (O, C/groups, kh, kw);
    bias (O,) or None; mask (N, G·kh·kw, Ho, Wo) or None -> y (N, O, Ho, Wo).
    groups = C // weight.shape[1]; G (offset groups) = offset.shape[1] // (2·kh·kw).
    padding: int, (h, w), 'valid' or 'same' (stride 1), as :class:`Conv2d`.
    """
    x = np.asarray(input)
    o, _, kh, kw = weight.shape
    stride, dilation = pair("stride", stride), pair("dilation", dilation)
    geo = ConvGeometry(x.shape, (kh, kw), stride, dilation, conv_padding(padding, (kh, kw), stride, dilation),
                       what="deform_conv2d")
    groups, g = _check_shapes(x, offset, weight, bias, mask, geo.out_hw)
    n, c, h, w = x.shape
    k, nm = kh * kw, n * geo.M
    sampler = _sampler(offset, geo, g)
    feats = x.reshape(n, g, c // g, h, w).transpose(1, 0, 3, 4, 2).reshape(g * n * h * w, c // g)  # (G·N·H·W, C/G)
    samples = sampler.sample(feats)  # (G·N·Ho·Wo·K, C/G)
    m = None if mask is None else _points_order(mask, g, k, 1).reshape(-1, 1)  # (G·N·Ho·Wo·K, 1)
    cols_pts = samples if m is None else samples * m
    cols = cols_pts.reshape(g, nm, k, c // g).transpose(1, 2, 0, 3).reshape(nm, k * c)  # (NM, K·C), view if G=1
    y = (_group_cols(cols, k, groups) @ _group_weight(weight, groups))  # (groups, NM, O/groups)
    y = y[0] if groups == 1 else y.transpose(1, 0, 2).reshape(nm, o)  # (NM, O)
    if bias is not None:
        y += bias
    cache = (geo, g, groups, sampler, feats, samples, m, cols, weight, bias is not None)
    return y.reshape((n,) + geo.out_hw + (o,)).transpose(0, 3, 1, 2), cache  # (N, O, Ho, Wo) view


def deform_conv2d_backward(dy, cache, need_dx: bool = True) -> DeformConv2dGrads:
    """Gradients of :func:`deform_conv2d_forward` for the upstream gradient dy (N, O, Ho, Wo).

    dweight = colsᵀ·dY and dcols = dY·Wᵀ as for a convolution; the samples' gradient goes back
    to the pixels by the transposed sampling matrix (dx), to the positions by the derivative
    of the bilinear weights (doffset), and to the masks as Σ_c dcols ⊙ samples (dmask).
    """
    geo, g, groups, sampler, feats, samples, m, cols, weight, has_bias = cache
    n, c, h, w = geo.n, geo.c, geo.h, geo.w
    o, _, kh, kw = weight.shape
    k, nm = kh * kw, n * geo.M
    dyr = np.ascontiguousarray(dy.transpose(0, 2, 3, 1)).reshape(nm, o)  # (NM, O)
    dbias = dyr.sum(axis=0) if has_bias else None
    dy_g = dyr[None] if groups == 1 else dyr.reshape(nm, groups, -1).transpose(1, 0, 2)  # (groups, NM, O/groups)
    w_g = _group_weight(weight, groups)  # (groups, K·C/groups, O/groups)
    dw_g = _group_cols(cols, k, groups).transpose(0, 2, 1) @ dy_g  # (groups, K·C/groups, O/groups)
    dweight = dw_g.reshape(groups, kh, kw, c // groups, o // groups).transpose(0, 4, 3, 1, 2).reshape(weight.shape)
    dcols = dy_g @ w_g.transpose(0, 2, 1)  # (groups, NM, K·C/groups)
    dcols_pts = (dcols.reshape(groups, nm, k, c // groups).transpose(1, 2, 0, 3)  # (NM, K, C) in channel order
                 .reshape(nm, k, g, c // g).transpose(2, 0, 1, 3).reshape(-1, c // g))  # (G·NM·K, C/G)
    dmask = None
    if m is not None:
        dmask = _from_points_order(np.einsum("pc,pc->p", dcols_pts, samples).reshape(1, g, n, *geo.out_hw, k))
        dcols_pts = dcols_pts * m
    d_h, d_w = sampler.position_grads(feats, dcols_pts)
    doffset = _from_points_order(np.stack([d_h, d_w]).reshape(2, g, n, *geo.out_hw, k))
    dx = None
    if need_dx:
        dfeats = sampler.scatter(dcols_pts)  # (G·N·H·W, C/G)
        dx = dfeats.reshape(g, n, h, w, c // g).transpose(1, 0, 4, 2, 3).reshape(n, c, h, w)
    return DeformConv2dGrads(dx, doffset, dweight, dbias, dmask)


def deform_conv2d(input, offset, weight, bias=None, stride=1, padding=0, dilation=1, mask=None) -> np.ndarray:
    """Deformable convolution with given offsets (and masks): torchvision.ops.deform_conv2d in NumPy.

    Shapes and arguments as :func:`deform_conv2d_forward`; returns y (N, O, Ho, Wo).
    """
    return deform_conv2d_forward(input, offset, weight, bias, stride, padding, dilation, mask)[0]


class DeformConv2d(Module):
    """Deformable convolution layer with its own offset (and modulation) branch.

    Shapes: x (N, in_channels, H, W) -> y (N, out_channels, Ho, Wo), Ho and Wo as :class:`Conv2d`.
    Parameters: ``weight`` (out_channels, in_channels // groups, kh, kw), ``bias`` (out_channels,),
    and ``conv_offset``, a :class:`Conv2d` (in_channels -> (2 or 3)·offset_groups·kh·kw) with the
    same kernel size, stride, padding and dilation, so it gives one offset (and mask) per output
    pixel and tap. Its first 2·offset_groups·kh·kw channels are the offsets (torchvision's layout,
    see the module docstring); with ``modulation=True`` the last offset_groups·kh·kw channels,
    through a sigmoid, are DCN v2's masks.

    Initialisation: ``weight``/``bias`` as Conv2d (``init`` by name, drawn from ``rng``);
    ``conv_offset`` is all zeros (weights and bias), as in both papers, so training starts with
    zero offsets: a plain convolution, and with modulation masks of sigmoid(0) = 0.5, i.e. a plain
    convolution with half the weight (DCN v2, section 3.1, starts the same way).

    After ``forward``, ``offset`` and ``mask`` hold the offsets and masks it used (for plots).

    References: Dai et al. 2017; Zhu et al. 2019 (see the module docstring).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0, dilation=1,
                 groups: int = 1, bias: bool = True, offset_groups: int = 1, modulation: bool = False, *,
                 rng: np.random.Generator, init: str = "pytorch", dtype=np.float32):
        super().__init__()
        _check_channels("DeformConv2d", in_channels, out_channels, groups)
        if offset_groups <= 0 or in_channels % offset_groups:
            raise ValueError(f"DeformConv2d: offset_groups={offset_groups} must be >= 1 and divide "
                             f"in_channels={in_channels}")
        self.in_channels, self.out_channels, self.groups = in_channels, out_channels, groups
        self.offset_groups, self.modulation = offset_groups, bool(modulation)
        self.kernel_size = pair("kernel_size", kernel_size)
        self.stride, self.dilation, self.padding = pair("stride", stride), pair("dilation", dilation), padding
        kh, kw = self.kernel_size
        shape = (out_channels, in_channels // groups, kh, kw)
        self.weight = Parameter(init_weight(shape, init, rng, dtype))
        self.bias = Parameter(init_bias(out_channels, init, shape[1] * kh * kw, rng, dtype)) if bias else None
        self._num_offsets = 2 * offset_groups * kh * kw
        branch = self._num_offsets + (offset_groups * kh * kw if modulation else 0)
        self.conv_offset = Conv2d(in_channels, branch, self.kernel_size, stride, padding, dilation,
                                  rng=rng, init="zeros", dtype=dtype)
        self.mask_activation = Sigmoid() if modulation else None
        self.offset = self.mask = None
        self._cache = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f"DeformConv2d({self.in_channels}, {self.out_channels}) expects input "
                             f"(N, {self.in_channels}, H, W), got shape {x.shape}")
        raw = self.conv_offset.forward(x)  # (N, (2 or 3)·G·K, Ho, Wo)
        self.offset = raw[:, :self._num_offsets]
        self.mask = self.mask_activation.forward(raw[:, self._num_offsets:]) if self.modulation else None
        b = None if self.bias is None else self.bias.data
        y, self._cache = deform_conv2d_forward(x, self.offset, self.weight.data, b, self.stride, self.padding,
                                               self.dilation, self.mask)
        return y

    def backward(self, dy: np.ndarray) -> np.ndarray | None:
        if self._cache is None:
            raise RuntimeError("DeformConv2d.backward called before forward")
        grads = deform_conv2d_backward(dy, self._cache, need_dx=self.needs_input_grad)
        self.weight.grad += grads.dweight
        if self.bias is not None:
            self.bias.grad += grads.dbias
        draw = grads.doffset
        if self.modulation:
            draw = np.concatenate([draw, self.mask_activation.backward(grads.dmask)], axis=1)
        self.conv_offset.needs_input_grad = self.needs_input_grad
        dx_offset = self.conv_offset.backward(draw)  # its weight and bias gradients, and its share of dx
        return None if grads.dx is None else grads.dx + dx_offset

    def extra_repr(self) -> str:
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}, "
                f"padding={self.padding!r}, dilation={self.dilation}, groups={self.groups}, "
                f"offset_groups={self.offset_groups}, modulation={self.modulation}, bias={self.bias is not None}")
