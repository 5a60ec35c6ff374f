"""Masked convolutions for autoregressive image models (PixelCNN) and the gated two-stack layer.

A PixelCNN predicts pixel (i, j) from the pixels before it in raster order (rows top to
bottom, each row left to right). A convolution keeps that order when its kernel is zero on
every tap at or after the centre: with a k x k kernel, centre (c, c), the mask is

    1 on rows u < c;  1 on the centre row for columns v < c;  the centre itself: type 'A'
    (the first layer, whose input is the image: the pixel may not see itself) 0, type 'B'
    (every later layer: its input at (i, j) already depends only on earlier pixels) 1.

With colour inputs the channels are split into ``color_groups`` consecutive groups (R, G, B):
at the centre, output group o may read input group q only if q < o (type A) or q <= o (type B),
so G is predicted from R of the same pixel, B from R and G (van den Oord et al. 2016a, 3.4).

The blind spot: a stack of such 3 x 3 layers never sees a growing wedge of pixels above and
to the right of (i, j), although they precede it. The gated PixelCNN (van den Oord et al.
2016b) removes it with two stacks: a *vertical* stack (kernel rows at and above the centre,
full width) whose output, shifted down one row, feeds a *horizontal* stack (the centre row,
left of the centre); :class:`GatedPixelCNNLayer` is one layer of it.

References: van den Oord, Kalchbrenner, Kavukcuoglu 2016a, "Pixel Recurrent Neural Networks"
(ICML); van den Oord et al. 2016b, "Conditional Image Generation with PixelCNN Decoders" (NeurIPS).
"""
from __future__ import annotations

import numpy as np

from ._im2col import conv2d_backward, conv2d_forward, pair
from .activation import Sigmoid, Tanh
from .conv import Conv2d
from .module import Module

MASK_TYPES = ("A", "B")
STACKS = ("plain", "vertical", "horizontal")


def pixelcnn_mask(out_channels: int, in_channels: int, kernel_size, mask_type: str, color_groups: int = 1,
                  stack: str = "plain") -> np.ndarray:
    """The 0/1 weight mask (out_channels, in_channels, kh, kw) of a causal convolution, as bool.

    Args:
        mask_type: 'A' (the centre pixel hidden; first layer) or 'B' (centre visible).
        color_groups: channel groups ordered at the centre (3 for RGB); must divide both counts.
        stack: 'plain' (PixelCNN: rows above, and the centre row left of the centre),
            'vertical' (every tap on the centre row and above; causal only once shifted down one
            row, see :class:`GatedPixelCNNLayer`) or 'horizontal' (the centre row left of the centre).
    """
    kh, kw = pair("kernel_size", kernel_size)
    if kh % 2 == 0 or kw % 2 == 0:
        raise ValueError(f"masked convolution needs an odd kernel_size (a centre tap), got {(kh, kw)}")
    if mask_type not in MASK_TYPES:
        raise ValueError(f"mask_type must be 'A' (centre hidden) or 'B' (centre seen), got {mask_type!r}")
    if stack not in STACKS:
        raise ValueError(f"stack must be one of {STACKS}, got {stack!r}")
    if color_groups < 1 or in_channels % color_groups or out_channels % color_groups:
        raise ValueError(f"color_groups={color_groups} must be >= 1 and divide in_channels={in_channels} and "
                         f"out_channels={out_channels}")
    ch, cw = kh // 2, kw // 2
    mask = np.zeros((out_channels, in_channels, kh, kw), dtype=bool)
    if stack == "vertical":
        mask[:, :, :ch + 1, :] = True
        return mask
    if stack == "plain":
        mask[:, :, :ch, :] = True
    mask[:, :, ch, :cw] = True
    out_group = np.arange(out_channels) // (out_channels // color_groups)
    in_group = np.arange(in_channels) // (in_channels // color_groups)
    allowed = (in_group[None, :] < out_group[:, None]) if mask_type == "A" else \
        (in_group[None, :] <= out_group[:, None])
    mask[:, :, ch, cw] = allowed
    return mask


class MaskedConv2d(Conv2d):
    """A stride-1 'same' convolution whose weight is multiplied by a fixed causal mask.

    Shapes: x (N, in_channels, H, W) -> y (N, out_channels, H, W); weight (out_channels,
    in_channels // groups, kh, kw) as Conv2d; ``mask`` is a bool array of the weight's shape
    (see :func:`pixelcnn_mask`). ``kernel_size`` must be odd; dilation spreads the taps (and the
    mask with them), padding is always 'same' so that output (i, j) sits over input (i, j).

    The mask is applied on the fly: ``forward`` convolves with ``weight ⊙ mask`` and ``backward``
    gives ``weight.grad += dW ⊙ mask``. The masked entries are also zeroed at construction, so the
    stored weight is the effective one, and they stay zero under SGD, momentum, Adam and weight
    decay (their gradient is always zero). Applying the mask in every forward makes the layer
    causal even if a loaded or edited weight is not zero there (costs one multiply of the weight).

    Args:
        mask_type: 'A' or 'B'; color_groups: ordered channel groups at the centre (groups must be 1
            then); stack: 'plain', 'vertical' or 'horizontal' (see :func:`pixelcnn_mask`).
        others as :class:`Conv2d`; the initial weight is Conv2d's draw, then masked.

    Reference: van den Oord et al. 2016a, section 3.4 (masks A and B).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size, mask_type: str = "B", dilation=1,
                 groups: int = 1, bias: bool = True, color_groups: int = 1, stack: str = "plain", *,
                 rng: np.random.Generator, init: str = "pytorch", dtype=np.float32):
        if color_groups != 1 and groups != 1:
            raise ValueError(f"MaskedConv2d: color_groups={color_groups} needs groups=1 (got groups={groups})")
        super().__init__(in_channels, out_channels, kernel_size, 1, "same", dilation, groups, bias, rng=rng,
                         init=init, dtype=dtype)
        self.mask_type, self.color_groups, self.stack = mask_type, color_groups, stack
        if groups == 1:
            self.mask = pixelcnn_mask(out_channels, in_channels, kernel_size, mask_type, color_groups, stack)
        else:  # one spatial mask for every channel pair
            spatial = pixelcnn_mask(1, 1, kernel_size, mask_type, 1, stack)
            self.mask = np.broadcast_to(spatial, self.weight.shape).copy()
        self.weight.data *= self.mask

    def forward(self, x: np.ndarray) -> np.ndarray:
        self._check_input(x)
        b = None if self.bias is None else self.bias.data
        y, self._cache = conv2d_forward(x, self.weight.data * self.mask, b, self.stride, self._pads, self.dilation,
                                        self.groups)
        return y

    def backward(self, dy: np.ndarray) -> np.ndarray:
        if self._cache is None:
            raise RuntimeError("MaskedConv2d.backward called before forward")
        dx, dw, db = conv2d_backward(dy, self._cache, need_dx=self.needs_input_grad)
        self.weight.grad += dw * self.mask
        if self.bias is not None:
            self.bias.grad += db
        return dx

    def extra_repr(self) -> str:
        s = f"{super().extra_repr()}, mask_type={self.mask_type!r}"
        if self.color_groups != 1:
            s += f", color_groups={self.color_groups}"
        return s + (f", stack={self.stack!r}" if self.stack != "plain" else "")


class GatedActivation(Module):
    """tanh(f) ⊙ σ(g) over the two channel halves: x (N, 2C, H, W) -> y (N, C, H, W).

    Reference: van den Oord et al. 2016b, eq. (2).
    """

    def __init__(self) -> None:
        super().__init__()
        self.tanh, self.sigmoid = Tanh(), Sigmoid()

    def forward(self, x: np.ndarray) -> np.ndarray:
        c = x.shape[1] // 2
        self._a = self.tanh.forward(x[:, :c])
        self._b = self.sigmoid.forward(x[:, c:])
        return self._a * self._b

    def backward(self, dy: np.ndarray) -> np.ndarray:
        return np.concatenate([self.tanh.backward(dy * self._b), self.sigmoid.backward(dy * self._a)], axis=1)


def _shift_down(x: np.ndarray) -> np.ndarray:
    """out[:, :, i] = x[:, :, i - 1], zeros in row 0: what row i may see of the vertical stack."""
    out = np.zeros_like(x)
    out[:, :, 1:] = x[:, :, :-1]
    return out


def _shift_up(dy: np.ndarray) -> np.ndarray:
    """The adjoint of :func:`_shift_down`."""
    out = np.zeros_like(dy)
    out[:, :, :-1] = dy[:, :, 1:]
    return out


class GatedPixelCNNLayer(Module):
    """One layer of the gated PixelCNN's two stacks (no class conditioning).

    Shapes: the first layer (``mask_type='A'``) takes the image x (N, in_channels, H, W) into both
    stacks; later layers (``'B'``) take the pair as one array [v, h] (N, 2·channels, H, W). The output
    is always [v, h] (N, 2·channels, H, W).

        v_pre = Conv_vertical(v_in)                           (2C channels: rows at/above the centre)
        h_pre = Conv_horizontal(h_in) + Conv1x1(down(v_pre))  (centre row, left of / at the centre)
        v_out = tanh(v_pre[:C]) ⊙ σ(v_pre[C:])
        h_out = Conv1x1(tanh(h_pre[:C]) ⊙ σ(h_pre[C:])) + h_in   (residual from the second layer on)

    ``down`` shifts the vertical stack one row down, so h at row i only sees rows above i through
    it: h_out at (i, j) depends on the pixels before (i, j), and on all of them within the kernels'
    reach (no blind spot). The vertical stack keeps to rows at or above its own row.

    Reference: van den Oord et al. 2016b, section 2.2 and figure 2.
    """

    def __init__(self, in_channels: int, channels: int, kernel_size: int = 3, mask_type: str = "B", dilation=1, *,
                 rng: np.random.Generator, dtype=np.float32):
        super().__init__()
        first = mask_type == "A"
        if not first and in_channels != 2 * channels:
            raise ValueError(f"GatedPixelCNNLayer: a type-B layer takes [v, h] with 2·channels = {2 * channels} "
                             f"channels, got in_channels={in_channels}")
        stack_in = in_channels if first else channels
        self.in_channels, self.channels, self.first = in_channels, channels, first
        self.v_conv = MaskedConv2d(stack_in, 2 * channels, kernel_size, mask_type, dilation, stack="vertical",
                                   rng=rng, dtype=dtype)
        self.h_conv = MaskedConv2d(stack_in, 2 * channels, kernel_size, mask_type, dilation, stack="horizontal",
                                   rng=rng, dtype=dtype)
        self.v_to_h = Conv2d(2 * channels, 2 * channels, 1, rng=rng, dtype=dtype)
        self.h_out = Conv2d(channels, channels, 1, rng=rng, dtype=dtype)
        self.v_gate, self.h_gate = GatedActivation(), GatedActivation()

    def forward(self, x: np.ndarray) -> np.ndarray:
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f"GatedPixelCNNLayer expects input (N, {self.in_channels}, H, W), got shape {x.shape}")
        c = self.channels
        v_in, h_in = (x, x) if self.first else (x[:, :c], x[:, c:])
        v_pre = self.v_conv.forward(v_in)
        h_pre = self.h_conv.forward(h_in) + self.v_to_h.forward(_shift_down(v_pre))
        h = self.h_out.forward(self.h_gate.forward(h_pre))
        if not self.first:
            h = h + h_in
        return np.concatenate([self.v_gate.forward(v_pre), h], axis=1)

    def backward(self, dy: np.ndarray) -> np.ndarray:
        c = self.channels
        dv_out, dh = dy[:, :c], dy[:, c:]
        dh_pre = self.h_gate.backward(self.h_out.backward(dh))
        dv_pre = self.v_gate.backward(dv_out) + _shift_up(self.v_to_h.backward(dh_pre))
        dh_in = self.h_conv.backward(dh_pre)
        dv_in = self.v_conv.backward(dv_pre)
        if self.first:
            return dv_in + dh_in
        return np.concatenate([dv_in, dh_in + dh], axis=1)

    def extra_repr(self) -> str:
        return f"{self.in_channels}, {self.channels}, mask_type={'A' if self.first else 'B'}"


class HorizontalStack(Module):
    """The horizontal half h of a gated PixelCNN's [v, h]: (N, 2C, H, W) -> (N, C, H, W) (the model output)."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        self._shape = x.shape
        return x[:, x.shape[1] // 2:]

    def backward(self, dy: np.ndarray) -> np.ndarray:
        dx = np.zeros(self._shape, dtype=dy.dtype)
        dx[:, self._shape[1] // 2:] = dy
        return dx
