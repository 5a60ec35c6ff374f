"""The small PixelCNN: causality of the masked network, the cheat of the unmasked one, the NLL and
baseline formulas on made-up numbers, the cropped per-pixel logits used by sampling, sampling and
completion with an explicit generator."""
from __future__ import annotations

import math

import numpy as np
import pytest

from backproplab import nn
from backproplab.analysis.masked_receptive_field import input_gradient
from backproplab.models.pixelcnn import (PixelCNNConfig, bernoulli_baseline_nll, binarize, causal_reach, complete,
                                         make_pixelcnn, nll_per_image, pixel_logits, sample, train_pixelcnn)

SMALL = PixelCNNConfig(channels=4, num_layers=2)


def test_masked_network_is_causal_and_unmasked_sees_its_own_pixel():
    rng = np.random.default_rng(0)
    x = rng.random((1, 1, 12, 12)) + 0.5
    for masked in (True, False):
        model = make_pixelcnn(PixelCNNConfig(channels=4, num_layers=2, masked=masked), np.random.default_rng(1))
        model.double()
        for p in model.parameters():  # positive weights: no ReLU is off, every path counts
            p.data[...] = np.abs(p.data)
        g = input_gradient(model, x, (6, 5))[0]
        after = (np.arange(144) >= 6 * 12 + 5).reshape(12, 12)
        if masked:
            assert not g[after].any() and (g[~after] != 0).any()
        else:
            assert g[6, 5] != 0 and g[after].any()  # the pixel it predicts, and pixels after it


def test_nll_of_zero_logits_is_784_log_2():
    model = make_pixelcnn(SMALL, np.random.default_rng(2))
    for p in model.parameters():
        p.data[...] = 0.0
    x = binarize(np.random.default_rng(3).random((5, 784)))
    assert math.isclose(nll_per_image(model, x, batch_size=2), 784 * math.log(2), rel_tol=1e-6)


def test_bernoulli_baseline_on_made_up_images():
    x_train = np.zeros((3, 1, 1, 2))
    x_train[0, 0, 0, 0] = 1.0  # pixel 0 is 1 in one image of three; pixel 1 never
    x_test = np.array([[[[1.0, 0.0]]]])
    # alpha = 1: p0 = (1 + 1) / (3 + 2) = 0.4, p1 = (0 + 1) / 5 = 0.2 -> -log 0.4 - log 0.8
    assert math.isclose(bernoulli_baseline_nll(x_train, x_test), -math.log(0.4) - math.log(0.8), rel_tol=1e-12)
    assert math.isclose(bernoulli_baseline_nll(x_train, x_test, alpha=0.5), -math.log(1.5 / 4) - math.log(0.875),
                        rel_tol=1e-12)


def test_binarize_checks_its_input():
    np.testing.assert_array_equal(binarize(np.full((1, 784), 0.6))[0, 0, 0, :2], [1.0, 1.0])
    assert binarize(np.full((2, 28, 28), 0.5)).sum() == 0  # threshold is strict
    with pytest.raises(ValueError, match="28 x 28"):
        binarize(np.zeros((2, 100)))
    with pytest.raises(ValueError, match="in \\[0, 1\\]"):
        binarize(np.full((1, 784), 255.0))


def test_cropped_pixel_logits_equal_the_whole_image_forward():
    rng = np.random.default_rng(4)
    model = make_pixelcnn(SMALL, rng).double()
    x = (rng.random((2, 1, 28, 28)) < 0.4).astype(np.float64)
    full = model(x)[:, 0].copy()
    reach = causal_reach(model)
    assert reach == 3 + 2  # 7x7 type A, then two 3x3 type B
    for i, j in [(0, 0), (0, 27), (5, 3), (14, 14), (27, 0), (27, 27), (20, 25)]:
        np.testing.assert_allclose(pixel_logits(model, x, i, j, reach), full[:, i, j], rtol=1e-12, atol=1e-12)


def test_sampling_and_completion():
    model = make_pixelcnn(SMALL, np.random.default_rng(5))
    a = sample(model, 2, np.random.default_rng(6), image_size=10)
    b = sample(model, 2, np.random.default_rng(6), image_size=10)
    np.testing.assert_array_equal(a, b)  # the generator alone decides
    assert a.shape == (2, 1, 10, 10) and set(np.unique(a)) <= {0.0, 1.0} and 0 < a.mean() < 1
    top = (np.random.default_rng(7).random((3, 1, 28, 28)) < 0.5).astype(np.float32)
    done = complete(model, top, np.random.default_rng(8), given_rows=14)
    np.testing.assert_array_equal(done[:, :, :14], top[:, :, :14])
    assert not np.array_equal(done[:, :, 14:], top[:, :, 14:])
    with pytest.raises(ValueError, match="masked"):
        sample(make_pixelcnn(PixelCNNConfig(channels=2, num_layers=1, masked=False), np.random.default_rng(9)),
               1, np.random.default_rng(0), image_size=8)


@pytest.fixture(scope="module")
def fashion():
    from backproplab.data import DatasetNotFoundError, load_fashion_mnist

    try:
        ds = load_fashion_mnist(classes=None, flatten=False)
    except DatasetNotFoundError as e:
        pytest.skip(str(e))
    return binarize(ds.x_train[:512]), binarize(ds.x_test[:200])


def test_short_training_beats_the_baseline_and_the_unmasked_network_cheats(fashion):
    """40 steps: the masked network already beats independent pixels; the unmasked one, which sees
    the pixel it predicts, reaches a far lower "NLL" than any honest model of the same data."""
    x_train, x_test = fashion
    nll = {}
    for masked in (True, False):
        model = make_pixelcnn(PixelCNNConfig(channels=4, num_layers=1, masked=masked), np.random.default_rng(10))
        result = train_pixelcnn(model, x_train, num_steps=40, batch_size=16, lr=1e-2, rng=np.random.default_rng(11))
        assert len(result.losses) == 40 and result.steps_per_s > 0
        assert np.mean(result.losses[-5:]) < np.mean(result.losses[:5])
        nll[masked] = nll_per_image(model, x_test)
    baseline = bernoulli_baseline_nll(x_train, x_test)
    assert nll[True] < 0.7 * baseline, (nll, baseline)
    assert nll[False] < 0.7 * nll[True], (nll, baseline)


def test_network_layers():
    model = make_pixelcnn(PixelCNNConfig(channels=8, num_layers=3), np.random.default_rng(12))
    convs = [m for m in model if isinstance(m, nn.Conv2d)]
    assert [getattr(m, "mask_type", None) for m in convs] == ["A", "B", "B", "B", None]
    assert convs[0].kernel_size == (7, 7) and convs[-1].kernel_size == (1, 1)
    assert model(np.zeros((2, 1, 28, 28), np.float32)).shape == (2, 1, 28, 28)


def test_noncausal_crops_and_sampling_of_the_unmasked_network():
    """The unmasked network sees receptive_reach pixels in every direction: its crop around (i, j) gives
    the whole image's logit; sample_noncausal draws from it, decided by the generator alone."""
    from backproplab.models.pixelcnn import receptive_reach, sample_noncausal

    rng = np.random.default_rng(13)
    model = make_pixelcnn(PixelCNNConfig(channels=3, num_layers=2, masked=False), rng).double()
    x = (rng.random((2, 1, 28, 28)) < 0.4).astype(np.float64)
    full = model(x)[:, 0].copy()
    reach = receptive_reach(model)
    assert reach == 3 + 2
    for i, j in [(0, 0), (0, 27), (13, 9), (27, 27), (22, 3)]:
        np.testing.assert_allclose(pixel_logits(model, x, i, j, reach, causal=False), full[:, i, j], rtol=1e-12,
                                   atol=1e-12)
    a = sample_noncausal(model, 2, np.random.default_rng(14), image_size=8)
    np.testing.assert_array_equal(a, sample_noncausal(model, 2, np.random.default_rng(14), image_size=8))
    assert a.shape == (2, 1, 8, 8) and set(np.unique(a)) <= {0.0, 1.0}


def test_pixelcnn_trainer_reports_loss_only():
    from backproplab.models.pixelcnn import pixelcnn_trainer

    x = np.zeros((24, 1, 28, 28), np.float32)
    x[:, :, ::3] = 1.0  # every third row: predictable from the rows above
    model = make_pixelcnn(SMALL, np.random.default_rng(16))
    trainer = pixelcnn_trainer(model, lr=2e-2, batch_size=8, num_epochs=4, rng=np.random.default_rng(17))
    h = trainer.fit(x, x, x[:8], x[:8])
    assert h.train_acc == [None] * 4 and h.test_acc == [None] * 4
    assert h.test_loss[-1] < min(h.test_loss[0], math.log(2))  # nats per pixel: learning, below the coin flip
