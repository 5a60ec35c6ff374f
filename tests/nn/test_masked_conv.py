"""MaskedConv2d and the gated PixelCNN layer: the masks themselves, float64 central differences,
PyTorch's Conv2d with a masked weight, and causality (which inputs one output pixel depends on)."""
from __future__ import annotations

import numpy as np
import pytest

from backproplab import nn, optim
from backproplab.analysis import check_module_grads, rel_error
from backproplab.analysis.masked_receptive_field import input_gradient

TOL = 1e-6
H = 1e-4  # linear layers: any step is exact up to rounding


def test_masks_of_type_a_and_b():
    a = nn.pixelcnn_mask(1, 1, 3, "A")[0, 0].astype(int)
    b = nn.pixelcnn_mask(1, 1, 3, "B")[0, 0].astype(int)
    np.testing.assert_array_equal(a, [[1, 1, 1], [1, 0, 0], [0, 0, 0]])
    np.testing.assert_array_equal(b, [[1, 1, 1], [1, 1, 0], [0, 0, 0]])
    np.testing.assert_array_equal(nn.pixelcnn_mask(1, 1, 3, "B", stack="vertical")[0, 0],
                                  [[1, 1, 1], [1, 1, 1], [0, 0, 0]])
    np.testing.assert_array_equal(nn.pixelcnn_mask(1, 1, 3, "A", stack="horizontal")[0, 0],
                                  [[0, 0, 0], [1, 0, 0], [0, 0, 0]])


def test_colour_groups_at_the_centre():
    """RGB in, 2 channels per colour out: at the centre, G reads R; B reads R and G; B-type adds itself."""
    a = nn.pixelcnn_mask(6, 3, 5, "A", color_groups=3)
    b = nn.pixelcnn_mask(6, 3, 5, "B", color_groups=3)
    np.testing.assert_array_equal(a[:, :, 2, 2].astype(int), [[0, 0, 0]] * 2 + [[1, 0, 0]] * 2 + [[1, 1, 0]] * 2)
    np.testing.assert_array_equal(b[:, :, 2, 2].astype(int), [[1, 0, 0]] * 2 + [[1, 1, 0]] * 2 + [[1, 1, 1]] * 2)
    assert a[:, :, :2].all() and a[:, :, 2, :2].all() and not a[:, :, 2, 3:].any() and not a[:, :, 3:].any()


@pytest.mark.parametrize("bad, match", [
    (dict(kernel_size=4), "odd kernel_size"),
    (dict(mask_type="C"), "mask_type"),
    (dict(color_groups=2), "color_groups=2"),
    (dict(stack="diagonal"), "stack must be"),
])
def test_bad_mask_arguments_are_refused(bad, match):
    args = dict(out_channels=3, in_channels=3, kernel_size=3, mask_type="A") | bad
    with pytest.raises(ValueError, match=match):
        nn.pixelcnn_mask(**args)


# (in, out, kernel, mask_type, dilation, groups, color_groups, H, W)
CASES = [
    (1, 4, 7, "A", 1, 1, 1, 8, 9),
    (4, 4, 3, "B", 1, 1, 1, 6, 5),
    (3, 6, 5, "A", 1, 1, 3, 7, 7),
    (6, 6, 3, "B", 2, 1, 3, 7, 8),
    (4, 6, 3, "B", 1, 2, 1, 5, 6),
]


def _layer(case, rng):
    cin, cout, k, mask_type, d, g, colors, h, w = case
    m = nn.MaskedConv2d(cin, cout, k, mask_type, d, g, color_groups=colors, rng=rng).double()
    return m, rng.standard_normal((2, cin, h, w))


@pytest.mark.parametrize("case", CASES)
def test_masked_conv_matches_torch_conv_with_masked_weight(torch, case):
    rng = np.random.default_rng(20)
    m, x = _layer(case, rng)
    assert not (m.weight.data * ~m.mask).any()  # the stored weight is the effective one
    t = torch.nn.Conv2d(m.in_channels, m.out_channels, m.kernel_size, padding="same", dilation=m.dilation,
                        groups=m.groups).double()
    with torch.no_grad():
        t.weight.copy_(torch.from_numpy(m.weight.data * m.mask))
        t.bias.copy_(torch.from_numpy(m.bias.data))
    y = m(x)
    dy = rng.standard_normal(y.shape)
    m.zero_grad()
    dx = m.backward(dy)
    tx = torch.tensor(x, requires_grad=True)
    t(tx).backward(torch.from_numpy(dy))
    assert rel_error(y, t(tx).detach().numpy()) < TOL
    assert rel_error(dx, tx.grad.numpy()) < TOL
    assert rel_error(m.weight.grad, (t.weight.grad * torch.from_numpy(m.mask)).numpy()) < TOL
    assert rel_error(m.bias.grad, t.bias.grad.numpy()) < TOL
    assert not (m.weight.grad * ~m.mask).any() and np.abs(m.weight.grad).max() > 1e-3


@pytest.mark.parametrize("case", CASES[1:4])
def test_masked_conv_gradcheck(case):
    rng = np.random.default_rng(21)
    m, x = _layer(case, rng)
    errors = check_module_grads(m, x[:1], rng, h=H)
    assert max(errors.values()) < TOL, errors


def test_masked_weights_stay_zero_after_adam_with_weight_decay():
    rng = np.random.default_rng(22)
    m = nn.MaskedConv2d(2, 3, 5, "A", rng=rng).double()
    opt = optim.Adam(m.parameters(), lr=0.1, weight_decay=0.01)
    x = rng.standard_normal((2, 2, 6, 6))
    for _ in range(3):
        m.zero_grad()
        m.backward(rng.standard_normal(m(x).shape))
        opt.step()
    assert not (m.weight.data * ~m.mask).any()
    assert np.abs(m.weight.data * m.mask).min(where=m.mask, initial=1.0) > 0


def test_the_mask_is_applied_in_forward_even_if_the_weight_is_edited():
    rng = np.random.default_rng(23)
    m = nn.MaskedConv2d(1, 2, 3, "A", rng=rng).double()
    x = rng.standard_normal((1, 1, 5, 5))
    y = m(x).copy()
    m.weight.data[...] = np.where(m.mask, m.weight.data, 7.0)  # garbage where the mask is zero
    assert rel_error(m(x), y) < 1e-15


# -- causality -----------------------------------------------------------------------------------------
def _raster_after(h, w, i, j):
    """Bool (H, W): pixels at or after (i, j) in raster order."""
    order = np.arange(h * w).reshape(h, w)
    return order >= i * w + j


def _pixelcnn_stack(rng, in_channels=1, channels=4, color_groups=1, num_b=3):
    layers = [nn.MaskedConv2d(in_channels, channels, 5, "A", color_groups=color_groups, rng=rng), nn.ReLU()]
    for _ in range(num_b):
        layers += [nn.MaskedConv2d(channels, channels, 3, "B", color_groups=color_groups, rng=rng), nn.ReLU()]
    layers.append(nn.MaskedConv2d(channels, in_channels, 1, "B", color_groups=color_groups, rng=rng))
    model = nn.Sequential(*layers).double()
    for p in model.parameters():  # positive weights and inputs: no ReLU is dead, every allowed path counts
        p.data[...] = np.abs(p.data)
    return model


@pytest.mark.parametrize("i, j", [(0, 0), (3, 4), (5, 0), (7, 6)])
def test_a_then_b_stack_sees_only_earlier_pixels(i, j):
    rng = np.random.default_rng(24)
    model = _pixelcnn_stack(rng)
    x = rng.random((1, 1, 8, 7)) + 0.5
    g = input_gradient(model, x, (i, j))
    after = _raster_after(8, 7, i, j)
    assert not g[0][after].any()
    if (i, j) != (0, 0):
        assert (g[0][~after] > 0).any()  # it does see something before (the test can fail)


def test_type_b_alone_sees_the_pixel_itself():
    rng = np.random.default_rng(25)
    m = nn.MaskedConv2d(1, 1, 3, "B", rng=rng).double()
    g = input_gradient(m, rng.standard_normal((1, 1, 5, 5)), (2, 2))
    after = _raster_after(5, 5, 2, 2)
    after[2, 2] = False
    assert g[0, 2, 2] != 0 and not g[0][after].any()


@pytest.mark.parametrize("out_group", [0, 1, 2])
def test_colour_stack_sees_earlier_colours_of_the_same_pixel_only(out_group):
    rng = np.random.default_rng(26)
    model = _pixelcnn_stack(rng, in_channels=3, channels=6, color_groups=3, num_b=2)
    x = rng.random((1, 3, 6, 6)) + 0.5
    i, j = 3, 2
    g = input_gradient(model, x, (i, j), channel=out_group)  # output channel c predicts colour c
    after = _raster_after(6, 6, i, j)
    after[i, j] = False
    assert not g[:, after].any()
    for colour in range(3):
        seen = g[colour, i, j] != 0
        assert seen == (colour < out_group), (colour, out_group)


def _gated_stack(rng, num_layers=3, channels=3):
    layers = [nn.GatedPixelCNNLayer(1, channels, 3, "A", rng=rng)]
    layers += [nn.GatedPixelCNNLayer(2 * channels, channels, 3, "B", rng=rng) for _ in range(num_layers - 1)]
    return nn.Sequential(*layers, nn.HorizontalStack()).double()


def test_gated_layers_gradcheck():
    rng = np.random.default_rng(27)
    for layer, x in ((nn.GatedPixelCNNLayer(2, 2, 3, "A", rng=rng), rng.standard_normal((1, 2, 5, 4))),
                     (nn.GatedPixelCNNLayer(4, 2, 3, "B", dilation=2, rng=rng), rng.standard_normal((1, 4, 5, 5)))):
        errors = check_module_grads(layer.double(), x, rng, h=1e-5)
        assert max(errors.values()) < TOL, errors


def test_gated_stack_is_causal_and_has_no_blind_spot():
    """Three 3x3 layers: the plain stack misses (i-1, j+2) (its blind spot); the gated stack sees every
    pixel of the rows above within its reach, and nothing at or after (i, j)."""
    rng = np.random.default_rng(28)
    x = rng.standard_normal((1, 1, 9, 9)) + 2.0
    i, j = 6, 4
    gated = input_gradient(_gated_stack(rng), x, (i, j))[0]
    after = _raster_after(9, 9, i, j)
    assert not gated[after].any()
    assert (gated[i - 3:i, j - 3:j + 4] != 0).all()  # three rows above, three columns either side
    assert (gated[i, j - 3:j] != 0).all()
    plain = nn.Sequential(nn.MaskedConv2d(1, 3, 3, "A", rng=rng), nn.ReLU(),
                          nn.MaskedConv2d(3, 3, 3, "B", rng=rng), nn.ReLU(),
                          nn.MaskedConv2d(3, 1, 3, "B", rng=rng)).double()
    g_plain = input_gradient(plain, x, (i, j))[0]
    assert g_plain[i - 1, j + 2] == 0 and gated[i - 1, j + 2] != 0
