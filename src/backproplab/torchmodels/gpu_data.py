"""The study's data, resident on the training device, and its augmentation as whole-epoch tensor ops.

Fashion-MNIST (60000 + 10000 images) padded from 28x28 to 32x32 is 280 MB as float32:
it lives on the GPU for the whole study, and an epoch's shuffle, random crops and flips
are a handful of batched kernels drawn by a generator on the same device -- no
DataLoader, no per-image Python, no host copy that would make the CPU wait for the GPU.

Every random draw of an epoch comes from a generator seeded by (seed, epoch), so all
models with one seed see the same images in the same order with the same crops (a
controlled comparison), and a rerun sees them again.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from torch.nn import functional as F

from .training import random_crop_flip


@dataclass
class StudyData:
    """Normalized images and labels on one device, with copies at other resolutions made on demand.

    x_train (N, C, 32, 32) float32, y_train (N,) int64; x_test, y_test likewise.
    """

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    name: str
    note: str
    _resized: dict = field(default_factory=dict, repr=False)

    @property
    def channels(self) -> int:
        return int(self.x_train.shape[1])

    @property
    def num_classes(self) -> int:
        return int(max(self.y_train.max().item(), self.y_test.max().item())) + 1

    def at(self, resolution: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(x_train, x_test) at ``resolution`` px: the resolution multiplier feeds the same images smaller."""
        if resolution == self.x_train.shape[-1]:
            return self.x_train, self.x_test
        if resolution not in self._resized:
            self._resized[resolution] = tuple(resize(x, resolution) for x in (self.x_train, self.x_test))
        return self._resized[resolution]


def resize(x: torch.Tensor, resolution: int) -> torch.Tensor:
    """(N, C, H, W) -> (N, C, resolution, resolution), bilinear with antialiasing (no aliasing when shrinking)."""
    return F.interpolate(x, size=(resolution, resolution), mode="bilinear", antialias=True, align_corners=False)


def load_fashion_mnist_32(device: torch.device, data_dir=None, train_size: int | None = None,
                          test_size: int | None = None) -> StudyData:
    """Fashion-MNIST, 28x28 zero-padded to 32x32, normalized by the training images' mean and std.

    ``train_size``/``test_size`` keep the first images of each split (None: all).
    """
    from ..data.fashion_mnist import load_fashion_mnist

    d = load_fashion_mnist(classes=None, data_dir=data_dir, flatten=False)  # x (N, 1, 28, 28) in [0, 1]
    x_train, y_train = d.x_train[:train_size], d.y_train[:train_size]
    x_test, y_test = d.x_test[:test_size], d.y_test[:test_size]
    pad = ((0, 0), (0, 0), (2, 2), (2, 2))  # a 2-pixel zero border: 28 -> 32
    x_train, x_test = np.pad(x_train, pad), np.pad(x_test, pad)
    note = (f"Fashion-MNIST from {d.source}: {len(x_train)} training and {len(x_test)} test images, "
            "28x28 zero-padded to 32x32, 1 channel")
    return from_arrays(x_train, y_train, x_test, y_test, device, name="Fashion-MNIST", note=note)


def from_arrays(x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, y_test: np.ndarray,
                device: torch.device, *, name: str, note: str) -> StudyData:
    """StudyData on ``device`` from images x (N, C, H, W) and labels y (N,), each channel normalized
    by the training images' mean and standard deviation of that channel."""
    channels = x_train.shape[1]
    # per channel, in float32 as the images (for 1 channel the same numbers as one scalar mean and std)
    mean = np.array([float(x_train[:, c].mean()) for c in range(channels)], np.float32).reshape(1, channels, 1, 1)
    std = np.array([float(x_train[:, c].std()) + 1e-8 for c in range(channels)], np.float32).reshape(1, channels, 1, 1)
    tensors = [torch.from_numpy(((x - mean) / std).astype(np.float32)).to(device) for x in (x_train, x_test)]
    labels = [torch.from_numpy(np.asarray(y, dtype=np.int64)).to(device) for y in (y_train, y_test)]
    return StudyData(tensors[0], labels[0], tensors[1], labels[1], name=name, note=note)


def epoch_generator(device: torch.device, seed: int, epoch: int) -> torch.Generator:
    """A generator on ``device`` seeded by (seed, epoch)."""
    return torch.Generator(device=device).manual_seed(seed * 1_000_003 + epoch)


def augmented_epoch(x: torch.Tensor, y: torch.Tensor, seeds: tuple[int, ...], epoch: int, crop_pad: int,
                    flip: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """One epoch of shuffled, cropped and flipped images for each seed, side by side in channels.

    x (N, C, H, W), y (N,) -> x (N, k*C, H, W) with seed j's images in channels
    [j*C, (j+1)*C), and y (N, k): the layout of :func:`~backproplab.torchmodels.stacked.stack_models`.
    """
    xs, ys = [], []
    for seed in seeds:
        gen = epoch_generator(x.device, seed, epoch)
        order = torch.randperm(len(x), generator=gen, device=x.device)
        xs.append(random_crop_flip(x[order], crop_pad, flip, gen))
        ys.append(y[order])
    return torch.cat(xs, 1), torch.stack(ys, 1)


def padded_test_set(x: torch.Tensor, y: torch.Tensor, k: int, eval_batch: int):
    """The test set for k stacked models, padded to whole evaluation batches.

    x (N, C, H, W), y (N,) -> x (M, k*C, H, W) (each model sees every image), y (M,), and
    valid (M,) bool that is False on the M - N padding rows; M is N rounded up to ``eval_batch``.
    """
    n = len(x)
    m = -(-n // eval_batch) * eval_batch
    xs = x.repeat(1, k, 1, 1)  # (N, k*C, H, W)
    valid = torch.ones(m, dtype=torch.bool, device=x.device)
    if m > n:
        xs = torch.cat([xs, xs.new_zeros((m - n, *xs.shape[1:]))])
        y = torch.cat([y, y.new_zeros(m - n)])
        valid[n:] = False
    return xs, y, valid
