"""Whole-epoch augmentation on the device: every output image is a crop (and maybe a mirror) of its source."""
from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
from torch.nn import functional as F  # noqa: E402

from backproplab.torchmodels.gpu_data import (augmented_epoch, epoch_generator, load_fashion_mnist_32,  # noqa: E402
                                              padded_test_set)
from backproplab.torchmodels.training import random_crop_flip  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def is_crop_of(out, src, pad, flip) -> bool:
    """Does ``out`` (C, H, W) equal a window of zero-padded ``src`` (mirrored too, when ``flip``)?"""
    h, w = src.shape[-2:]
    padded = F.pad(src, (pad, pad, pad, pad))
    for oy in range(2 * pad + 1):
        for ox in range(2 * pad + 1):
            window = padded[:, oy:oy + h, ox:ox + w]
            if torch.equal(window, out) or (flip and torch.equal(window.flip(-1), out)):
                return True
    return False


def test_epoch_is_a_shuffle_of_crops_and_flips(tiny_data):
    x, y = tiny_data.x_train, tiny_data.y_train
    xe, ye = augmented_epoch(x, y, (3,), epoch=2, crop_pad=2, flip=True)
    assert xe.shape == x.shape and ye.shape == (len(y), 1)
    order = torch.randperm(len(x), generator=epoch_generator(x.device, 3, 2))
    assert torch.equal(ye[:, 0], y[order])  # the labels follow the images
    assert all(is_crop_of(xe[i], x[order[i]], 2, True) for i in range(len(x)))
    flipped = sum(not is_crop_of(xe[i], x[order[i]], 2, False) for i in range(len(x)))
    assert 0 < flipped < len(x)  # some images mirrored, not all


def test_seeds_side_by_side_repeat_each_seed_alone(tiny_data):
    x, y = tiny_data.x_train, tiny_data.y_train
    both_x, both_y = augmented_epoch(x, y, (0, 5), epoch=1, crop_pad=1, flip=True)
    assert both_x.shape == (len(x), 2, *x.shape[2:]) and both_y.shape == (len(y), 2)
    for j, seed in enumerate((0, 5)):
        alone_x, alone_y = augmented_epoch(x, y, (seed,), epoch=1, crop_pad=1, flip=True)
        assert torch.equal(both_x[:, j:j + 1], alone_x) and torch.equal(both_y[:, j], alone_y[:, 0])
    other_epoch = augmented_epoch(x, y, (0,), epoch=2, crop_pad=1, flip=True)[0]
    assert not torch.equal(other_epoch, both_x[:, :1])


def test_no_augmentation_is_a_plain_shuffle(tiny_data):
    x, y = tiny_data.x_train, tiny_data.y_train
    xe, _ = augmented_epoch(x, y, (0,), epoch=0, crop_pad=0, flip=False)
    order = torch.randperm(len(x), generator=epoch_generator(x.device, 0, 0))
    assert torch.equal(xe, x[order])


def test_crop_flip_draws_on_the_generator_device():
    x = torch.randn(4, 1, 5, 5)
    a = random_crop_flip(x, 1, True, torch.Generator().manual_seed(0))
    b = random_crop_flip(x, 1, True, torch.Generator(device="cpu").manual_seed(0))
    assert torch.equal(a, b)


def test_padded_test_set(tiny_data):
    xs, ys, valid = padded_test_set(tiny_data.x_test, tiny_data.y_test, k=3, eval_batch=16)
    n = len(tiny_data.x_test)  # 40 -> 48
    assert xs.shape == (48, 3, 8, 8) and ys.shape == (48,) and valid.sum() == n and not valid[n:].any()
    assert torch.equal(xs[:n, 2:3], tiny_data.x_test) and torch.equal(ys[:n], tiny_data.y_test)


def test_resolutions_are_made_once(tiny_data):
    small_train, small_test = tiny_data.at(4)
    assert small_train.shape == (64, 1, 4, 4) and small_test.shape == (40, 1, 4, 4)
    assert tiny_data.at(4)[0] is small_train and tiny_data.at(8)[0] is tiny_data.x_train


def test_loads_fashion_mnist_padded_and_normalized(fashion_dir):
    data = load_fashion_mnist_32(torch.device("cpu"), fashion_dir, train_size=100, test_size=30)
    assert data.x_train.shape == (100, 1, 32, 32) and data.x_test.shape == (30, 1, 32, 32)
    assert abs(data.x_train.mean().item()) < 1e-4 and data.x_train.std().item() == pytest.approx(1.0, rel=1e-3)
    border = data.x_train[:, :, :2]  # the zero padding, after normalization all one value
    assert torch.allclose(border, border.flatten()[0].expand_as(border))
    assert data.num_classes == 10 and data.channels == 1 and "100 training and 30 test" in data.note
