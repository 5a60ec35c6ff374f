"""deform_conv2d and nn.DeformConv2d: float64 central differences with a random dy, a PyTorch
autograd reference (bilinear sampling written with torch.gather, as torchvision is not available),
and exact special cases (zero offsets = Conv2d, integer offsets = a shifted or dilated convolution).

Offsets are drawn at random, so no sampling point sits on an integer coordinate, where bilinear
interpolation has a kink and central differences would be meaningless."""
from __future__ import annotations

import zlib

import numpy as np
import pytest

from backproplab import nn
from backproplab.analysis import check_module_grads, numerical_grad, rel_error
from backproplab.nn._im2col import pair
from backproplab.nn.deform_conv import deform_conv2d, deform_conv2d_backward, deform_conv2d_forward

TOL = 1e-6
H = 1e-5  # offsets: small enough that no perturbed point crosses a pixel boundary (there the slope jumps)
H_LINEAR = 1e-3  # x, weight, bias, mask enter linearly: any step is exact, a larger one rounds less


def torch_deform_conv2d(torch, x, offset, weight, bias=None, stride=(1, 1), padding=(0, 0), dilation=(1, 1),
                        mask=None):
    """Reference deformable convolution in PyTorch ops (autograd gives every gradient).

    Layouts as torchvision.ops.deform_conv2d; zero outside the image; padding symmetric (h, w).
    """
    n, c, h, w = x.shape
    o, cg, kh, kw = weight.shape
    groups, k = c // cg, kh * kw
    g = offset.shape[1] // (2 * k)
    ho, wo = offset.shape[2:]
    off = offset.reshape(n, g, k, 2, ho, wo)
    u, v = torch.arange(kh).repeat_interleave(kw), torch.arange(kw).repeat(kh)
    py = (torch.arange(ho) * stride[0] - padding[0]).view(1, 1, 1, ho, 1) + (u * dilation[0]).view(1, 1, k, 1, 1) \
        + off[:, :, :, 0]  # (n, g, k, ho, wo)
    px = (torch.arange(wo) * stride[1] - padding[1]).view(1, 1, 1, 1, wo) + (v * dilation[1]).view(1, 1, k, 1, 1) \
        + off[:, :, :, 1]
    y0, x0 = torch.floor(py), torch.floor(px)
    ly, lx = py - y0, px - x0
    images = x.reshape(n, g, c // g, h * w)
    samples = 0
    for a in (0, 1):
        for b in (0, 1):
            yy, xx = y0 + a, x0 + b
            inside = (yy >= 0) & (yy <= h - 1) & (xx >= 0) & (xx <= w - 1)
            weight_ab = (ly if a else 1 - ly) * (lx if b else 1 - lx) * inside
            index = (yy.clamp(0, h - 1) * w + xx.clamp(0, w - 1)).long().reshape(n, g, 1, k * ho * wo)
            picked = torch.gather(images, 3, index.expand(n, g, c // g, k * ho * wo))
            samples = samples + picked * weight_ab.reshape(n, g, 1, k * ho * wo)
    if mask is not None:
        samples = samples * mask.reshape(n, g, 1, k * ho * wo)
    cols = samples.reshape(n, groups, cg, k, ho * wo)
    y = torch.einsum("qock,nqckm->nqom", weight.reshape(groups, o // groups, cg, k), cols).reshape(n, o, ho, wo)
    return y if bias is None else y + bias.view(1, o, 1, 1)


# (N, C, O, H, W, kernel, stride, padding, dilation, groups, offset_groups, mask)
CASES = [
    (2, 3, 4, 6, 7, 3, 1, 1, 1, 1, 1, False),
    (2, 3, 4, 6, 7, 3, 1, 1, 1, 1, 1, True),
    (1, 4, 6, 7, 6, (2, 3), (2, 1), (1, 0), 1, 2, 2, True),
    (2, 4, 4, 8, 7, 3, 2, 1, 2, 1, 4, False),
    (2, 6, 4, 7, 9, 3, (1, 2), (2, 1), (2, 1), 2, 3, True),
    (2, 2, 3, 5, 5, 1, 1, 0, 1, 1, 1, True),
    (2, 4, 8, 6, 5, 3, 1, 0, 1, 4, 2, False),
]


def _draw(case, rng):
    n, c, o, h, w, k, s, p, d, groups, g, with_mask = case
    kh, kw = (k, k) if isinstance(k, int) else k
    (sh, sw), (ph, pw), (dh, dw) = (pair("", v, 0) for v in (s, p, d))
    ho, wo = (h + 2 * ph - dh * (kh - 1) - 1) // sh + 1, (w + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    arrays = {
        "x": rng.standard_normal((n, c, h, w)),
        "offset": rng.uniform(-2.5, 2.5, (n, 2 * g * kh * kw, ho, wo)),  # some points land outside the image
        "weight": rng.standard_normal((o, c // groups, kh, kw)),
        "bias": rng.standard_normal(o),
    }
    if with_mask:
        arrays["mask"] = rng.uniform(0.1, 1.0, (n, g * kh * kw, ho, wo))
    return arrays, dict(stride=(sh, sw), padding=(ph, pw), dilation=(dh, dw))


def _call(arrays, geometry):
    return deform_conv2d_forward(arrays["x"], arrays["offset"], arrays["weight"], arrays["bias"],
                                 mask=arrays.get("mask"), **geometry)


@pytest.mark.parametrize("case", CASES)
def test_deform_conv2d_matches_torch(torch, case):
    rng = np.random.default_rng(zlib.crc32(str(case).encode()))  # the same seed in every process
    arrays, geometry = _draw(case, rng)
    y, cache = _call(arrays, geometry)
    dy = rng.standard_normal(y.shape)
    grads = deform_conv2d_backward(dy, cache)
    t = {name: torch.tensor(a, requires_grad=True) for name, a in arrays.items()}
    ty = torch_deform_conv2d(torch, t["x"], t["offset"], t["weight"], t["bias"], mask=t.get("mask"), **geometry)
    ty.backward(torch.from_numpy(dy))
    assert rel_error(y, ty.detach().numpy()) < TOL
    ours = {"x": grads.dx, "offset": grads.doffset, "weight": grads.dweight, "bias": grads.dbias, "mask": grads.dmask}
    for name, tensor in t.items():
        assert rel_error(ours[name], tensor.grad.numpy()) < TOL, name
        assert np.abs(ours[name]).max() > 1e-3, name  # a real gradient, not zeros compared with zeros


@pytest.mark.parametrize("case", [CASES[1], CASES[2], CASES[4]])
def test_deform_conv2d_gradcheck(case):
    rng = np.random.default_rng(11)
    arrays, geometry = _draw(case, rng)
    y, cache = _call(arrays, geometry)
    dy = rng.standard_normal(y.shape)
    grads = deform_conv2d_backward(dy, cache)

    def loss():
        return float(np.sum(dy * _call(arrays, geometry)[0]))

    ours = {"x": grads.dx, "offset": grads.doffset, "weight": grads.dweight, "bias": grads.dbias, "mask": grads.dmask}
    for name, a in arrays.items():
        step = H if name == "offset" else H_LINEAR
        assert rel_error(ours[name], numerical_grad(loss, a, step)) < TOL, name


def _conv(x, weight, bias, **kw):
    in_channels = weight.shape[1] * kw.get("groups", 1)
    m = nn.Conv2d(in_channels, weight.shape[0], weight.shape[2:], rng=np.random.default_rng(0), **kw).double()
    m.weight.data[...] = weight
    m.bias.data[...] = bias
    return m(x)


def test_zero_offsets_equal_conv2d():
    rng = np.random.default_rng(12)
    x, weight, bias = rng.standard_normal((2, 4, 7, 6)), rng.standard_normal((6, 2, 3, 3)), rng.standard_normal(6)
    kw = dict(stride=2, padding=1, dilation=(1, 2))
    ref = _conv(x, weight, bias, groups=2, **kw)  # groups come from the weight's shape in deform_conv2d
    zero = np.zeros((2, 2 * 9) + ref.shape[2:])
    assert rel_error(deform_conv2d(x, zero, weight, bias, **kw), ref) < 1e-12


def test_constant_integer_offset_equals_shifted_conv():
    """Every tap moved by (1, -2): with padding 1, output (i, j) reads x[i + u, j + v - 3] (zero outside),
    a valid convolution of x zero-padded by 2 rows at the bottom and 3 columns at the left."""
    rng = np.random.default_rng(13)
    x, weight, bias = rng.standard_normal((2, 3, 8, 7)), rng.standard_normal((4, 3, 3, 3)), rng.standard_normal(4)
    offset = np.zeros((2, 18, 8, 7))
    offset[:, 0::2], offset[:, 1::2] = 1.0, -2.0
    ref = _conv(np.pad(x, ((0, 0), (0, 0), (0, 2), (3, 0))), weight, bias)[..., :7]
    assert rel_error(deform_conv2d(x, offset, weight, bias, padding=1), ref) < 1e-12


def test_offsets_equal_to_the_taps_make_a_dilated_conv():
    """Δp_n = p_n doubles every tap's distance from the centre: dilation 2 (with padding 2)."""
    rng = np.random.default_rng(14)
    x, weight, bias = rng.standard_normal((2, 3, 9, 8)), rng.standard_normal((4, 3, 3, 3)), rng.standard_normal(4)
    taps = np.stack(np.meshgrid(np.arange(3) - 1, np.arange(3) - 1, indexing="ij"), axis=-1).reshape(18)  # (dh, dw)
    offset = np.broadcast_to(taps[None, :, None, None], (2, 18, 9, 8)).astype(np.float64)
    ref = _conv(x, weight, bias, padding=2, dilation=2)
    assert rel_error(deform_conv2d(x, offset, weight, bias, padding=1), ref) < 1e-12


def test_bad_offsets_are_refused_with_a_clear_error():
    rng = np.random.default_rng(15)
    x, weight = rng.standard_normal((1, 4, 5, 5)), rng.standard_normal((2, 4, 3, 3))
    with pytest.raises(ValueError, match="offset must be"):
        deform_conv2d(x, np.zeros((1, 17, 3, 3)), weight)
    with pytest.raises(ValueError, match=r"expected \(1, 18, 3, 3\)"):
        deform_conv2d(x, np.zeros((1, 18, 5, 5)), weight)
    with pytest.raises(ValueError, match="offset_groups = 3"):
        deform_conv2d(x, np.zeros((1, 54, 3, 3)), weight)
    with pytest.raises(ValueError, match="NaN"):
        deform_conv2d(x, np.full((1, 18, 3, 3), np.nan), weight)
    with pytest.raises(ValueError, match="mask has shape"):
        deform_conv2d(x, np.zeros((1, 18, 3, 3)), weight, mask=np.ones((1, 18, 3, 3)))


# -- the layer -----------------------------------------------------------------------------------------
# (in, out, kernel, stride, padding, dilation, groups, offset_groups, modulation, H, W)
LAYER_CASES = [
    (3, 4, 3, 1, 1, 1, 1, 1, False, 6, 5),
    (4, 4, 3, 2, 1, 1, 2, 2, True, 7, 6),
    (2, 3, (3, 2), 1, (1, 0), (1, 2), 1, 1, True, 6, 7),
]


def _layer(case, rng):
    cin, cout, k, s, p, d, groups, g, modulation, h, w = case
    m = nn.DeformConv2d(cin, cout, k, s, p, d, groups, True, g, modulation, rng=rng).double()
    # a non-zero offset branch, so that its gradient path is exercised (offsets of a few pixels)
    m.conv_offset.weight.data[...] = rng.normal(0, 0.4, m.conv_offset.weight.shape)
    m.conv_offset.bias.data[...] = rng.normal(0, 0.5, m.conv_offset.bias.shape)
    return m, rng.standard_normal((2, cin, h, w))


def _torch_layer(torch, m, tx):
    wo, bo = torch.from_numpy(m.conv_offset.weight.data), torch.from_numpy(m.conv_offset.bias.data)
    params = {name: torch.tensor(p.data, requires_grad=True) for name, p in m.named_parameters()}
    raw = torch.nn.functional.conv2d(tx, params["conv_offset.weight"], params["conv_offset.bias"], m.stride,
                                     m.padding, m.dilation)
    assert raw.shape[1] == wo.shape[0] and bo.shape[0] == wo.shape[0]
    n_off = 2 * m.offset_groups * m.kernel_size[0] * m.kernel_size[1]
    mask = torch.sigmoid(raw[:, n_off:]) if m.modulation else None
    pad = pair("padding", m.padding, 0)
    y = torch_deform_conv2d(torch, tx, raw[:, :n_off], params["weight"], params["bias"], m.stride, pad, m.dilation,
                            mask)
    return y, params


@pytest.mark.parametrize("case", LAYER_CASES)
def test_layer_matches_torch(torch, case):
    rng = np.random.default_rng(16)
    m, x = _layer(case, rng)
    y = m(x)
    dy = rng.standard_normal(y.shape)
    m.zero_grad()
    dx = m.backward(dy)
    tx = torch.tensor(x, requires_grad=True)
    ty, tparams = _torch_layer(torch, m, tx)
    ty.backward(torch.from_numpy(dy))
    assert rel_error(y, ty.detach().numpy()) < TOL
    assert rel_error(dx, tx.grad.numpy()) < TOL
    for name, p in m.named_parameters():
        assert rel_error(p.grad, tparams[name].grad.numpy()) < TOL, name
        assert np.abs(p.grad).max() > 1e-3, name


@pytest.mark.parametrize("case", LAYER_CASES[:2])
def test_layer_gradcheck(case):
    rng = np.random.default_rng(17)
    m, x = _layer(case, rng)
    errors = check_module_grads(m, x[:1], rng, h=H)
    assert set(errors) >= {"x", "weight", "bias", "conv_offset.weight", "conv_offset.bias"}
    assert max(errors.values()) < TOL, errors


@pytest.mark.parametrize("modulation", [False, True])
def test_new_layer_is_a_plain_convolution(modulation):
    """Zero-initialised offset branch: offsets 0 (and masks sigmoid(0) = 0.5 with modulation)."""
    rng = np.random.default_rng(18)
    m = nn.DeformConv2d(3, 5, 3, padding=1, modulation=modulation, rng=np.random.default_rng(1)).double()
    conv = nn.Conv2d(3, 5, 3, padding=1, rng=np.random.default_rng(1)).double()
    np.testing.assert_array_equal(m.weight.data, conv.weight.data)  # same initializer, same draws
    assert not m.conv_offset.weight.data.any() and not m.conv_offset.bias.data.any()
    x = rng.standard_normal((2, 3, 6, 6))
    scale = 0.5 if modulation else 1.0
    conv.weight.data *= scale
    assert rel_error(m(x), conv(x)) < 1e-12
    assert np.all(m.offset == 0) and (m.mask is None) == (not modulation)


def test_layer_without_input_grad_returns_none_and_same_parameter_grads():
    rng = np.random.default_rng(19)
    a, x = _layer(LAYER_CASES[1], np.random.default_rng(3))
    b, _ = _layer(LAYER_CASES[1], np.random.default_rng(3))
    b.needs_input_grad = False
    dy = rng.standard_normal(a(x).shape)
    b(x)
    a.backward(dy)
    assert b.backward(dy) is None
    for (name, pa), (_, pb) in zip(a.named_parameters(), b.named_parameters()):
        assert rel_error(pa.grad, pb.grad) < 1e-12, name
