"""A small PixelCNN for binarized 28 x 28 images (Fashion-MNIST), in NumPy.

    p(x) = Π_{pixels k in raster order} p(x_k | x_1, ..., x_{k-1})

Each factor is a Bernoulli whose logit the network computes at pixel k; masked convolutions
(:class:`backproplab.nn.MaskedConv2d`) make logit k depend on earlier pixels only, so one forward
pass gives all 784 conditionals and the log-likelihood is a sum of binary cross-entropies:

    MaskedConv 7x7 type A (1 -> C) - ReLU - [MaskedConv 3x3 type B (C -> C) - ReLU] x L - Conv 1x1 (C -> 1)

Test NLL is in nats per image (Σ over the 784 pixels, mean over images); the independent-pixel
Bernoulli model is the baseline. With ``masked=False`` the same network uses plain convolutions:
its logit at k then sees x_k itself, it learns to copy it, and its "NLL" falls far below any
honest model's: a cheat, not a density (the tests show it).

Sampling and completion go in raster order, one pixel at a time (784 forward passes); each pass
only computes the crop of rows and columns that pixel can see (its receptive field), which gives
the same logit as the whole image.

References: van den Oord, Kalchbrenner, Kavukcuoglu 2016, "Pixel Recurrent Neural Networks" (ICML),
sections 3.4 and 4 (masks, binarized images, NLL in nats); the course homework
001_e12ca10f5d65d730.txt, question 5(d).
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from .. import nn
from ..optim import Adam
from ..train import Trainer
from ..utils.cores import single_threaded_blas

IMAGE_PIXELS = 28 * 28


@dataclass(frozen=True)
class PixelCNNConfig:
    """Architecture of :func:`make_pixelcnn`."""

    channels: int = 16          # feature maps of every hidden layer
    num_layers: int = 3         # type-B layers after the type-A one
    first_kernel_size: int = 7  # the type-A layer (7x7 as van den Oord et al. 2016a)
    kernel_size: int = 3        # the type-B layers
    masked: bool = True         # False: plain convolutions, the network sees the pixel it predicts


def make_pixelcnn(config: PixelCNNConfig, rng: np.random.Generator, dtype=np.float32) -> nn.Sequential:
    """The network above as an ``nn.Sequential``: x (N, 1, H, W) in {0, 1} -> logits (N, 1, H, W)."""
    c = config.channels

    def conv(cin, cout, k, mask_type):
        if config.masked:
            return nn.MaskedConv2d(cin, cout, k, mask_type, rng=rng, dtype=dtype)
        return nn.Conv2d(cin, cout, k, padding="same", rng=rng, dtype=dtype)

    layers = [conv(1, c, config.first_kernel_size, "A"), nn.ReLU()]
    for _ in range(config.num_layers):
        layers += [conv(c, c, config.kernel_size, "B"), nn.ReLU()]
    layers.append(nn.Conv2d(c, 1, 1, rng=rng, dtype=dtype))
    return nn.Sequential(*layers)


def binarize(images: np.ndarray, threshold: float = 0.5) -> np.ndarray:
    """Images in [0, 1] ((N, 784), (N, 28, 28) or (N, 1, 28, 28)) -> float32 (N, 1, 28, 28) of 0 and 1
    (pixel > threshold), a fixed binarization (no sampling)."""
    images = np.asarray(images)
    if images.size % IMAGE_PIXELS or images.ndim < 2:
        raise ValueError(f"binarize expects 28 x 28 images as (N, 784), (N, 28, 28) or (N, 1, 28, 28), "
                         f"got shape {images.shape}")
    if images.max(initial=0) > 1.0:
        raise ValueError("binarize expects intensities in [0, 1]; load with normalize=True (or divide by 255)")
    return (images.reshape(-1, 1, 28, 28) > threshold).astype(np.float32)


def nll_per_image(model: nn.Module, x: np.ndarray, batch_size: int = 500) -> float:
    """Negative log-likelihood in nats per image (Σ over pixels, mean over images) of binary x (N, 1, H, W)."""
    loss_fn = nn.BCEWithLogitsLoss()
    was_training = model.training
    model.eval()
    total = 0.0
    try:
        for start in range(0, len(x), batch_size):
            xb = x[start:start + batch_size]
            total += loss_fn(model.forward(xb), xb) * xb.size  # the loss is a mean over entries
    finally:
        model.train(was_training)
    return total / len(x)


def bernoulli_baseline_nll(x_train: np.ndarray, x_test: np.ndarray, alpha: float = 1.0) -> float:
    """NLL (nats per image) of independent pixels, p_k = (count of 1s at k + alpha) / (N + 2·alpha) on x_train."""
    p = (x_train.sum(axis=0) + alpha) / (len(x_train) + 2 * alpha)  # (1, H, W)
    log_p, log_q = np.log(p), np.log1p(-p)
    return float(-(x_test * log_p + (1 - x_test) * log_q).sum() / len(x_test))


def pixelcnn_trainer(model: nn.Module, *, lr: float, batch_size: int | None, num_epochs: int,
                     rng: np.random.Generator | None, **options) -> Trainer:
    """The library's :class:`~backproplab.train.Trainer` set up for a PixelCNN: Adam at ``lr``,
    BCEWithLogitsLoss (a mean over pixels: times the pixels per image it is nats per image), no
    accuracy (``metric=None``). Train with ``fit(x, x, x_test, x_test)``: the target is the input
    itself. ``options`` go to the Trainer (callbacks, record_steps, checkpoint_path, ...)."""
    return Trainer(model, nn.BCEWithLogitsLoss(), Adam(model.parameters(), lr=lr), batch_size=batch_size,
                   num_epochs=num_epochs, rng=rng, metric=None, **options)


class _StepBatches:
    """``num_steps`` mini-batches (x, x) of x, from a fresh permutation drawn by ``rng`` whenever the
    current one has too few images left; re-iterable (each pass draws anew)."""

    def __init__(self, x: np.ndarray, num_steps: int, batch_size: int, rng: np.random.Generator):
        self.x, self.num_steps, self.batch_size, self.rng = x, num_steps, batch_size, rng

    def __iter__(self):
        order, cursor = self.rng.permutation(len(self.x)), 0
        for _ in range(self.num_steps):
            if cursor + self.batch_size > len(order):
                order, cursor = self.rng.permutation(len(self.x)), 0
            xb = self.x[order[cursor:cursor + self.batch_size]]
            cursor += self.batch_size
            yield xb, xb


@dataclass(frozen=True)
class TrainResult:
    """What :func:`train_pixelcnn` measured: the loss of every step (nats per image) and the speed."""

    losses: list
    steps_per_s: float


def train_pixelcnn(model: nn.Module, x_train: np.ndarray, *, num_steps: int, batch_size: int = 32,
                   lr: float = 1e-3, rng: np.random.Generator) -> TrainResult:
    """``num_steps`` Adam steps on mini-batches drawn by ``rng`` (a fresh permutation per pass), through
    :func:`pixelcnn_trainer` (one epoch of exactly ``num_steps`` batches); the target is the input itself.

    x_train: binary (N, 1, H, W). The losses are reported in nats per image.
    """
    if num_steps < 0 or batch_size < 1:
        raise ValueError(f"train_pixelcnn: num_steps must be >= 0 and batch_size >= 1, got {num_steps}, {batch_size}")
    pixels = int(np.prod(x_train.shape[1:]))
    trainer = pixelcnn_trainer(model, lr=lr, batch_size=None, num_epochs=1 if num_steps else 0, rng=None,
                               eval_train=False, record_steps=True)
    t0 = time.perf_counter()
    trainer.fit(_StepBatches(x_train, num_steps, batch_size, rng))
    seconds = time.perf_counter() - t0
    losses = [loss * pixels for loss in trainer.history.step_loss]
    return TrainResult(losses, num_steps / seconds if seconds > 0 else float("inf"))


def receptive_reach(model: nn.Module) -> int:
    """How far (pixels, in every direction) an output pixel of the stack can see: Σ (k // 2)·dilation
    over its k x k convolutions (masked or not)."""
    return sum(max(k // 2 * d for k, d in zip(m.kernel_size, m.dilation))
               for m in model.modules() if isinstance(m, nn.Conv2d))


def causal_reach(model: nn.Module) -> int:
    """Rows above (and columns either side) that an output pixel of a masked stack can see.

    Raises ValueError for a model with an unmasked k x k convolution (k > 1): it is not causal.
    """
    for m in model.modules():
        if isinstance(m, nn.Conv2d) and max(m.kernel_size) > 1 and not isinstance(m, nn.MaskedConv2d):
            raise ValueError("sampling needs a masked (causal) PixelCNN: this network has a plain "
                             f"{m.kernel_size} convolution, which sees the pixel it predicts")
    return receptive_reach(model)


def pixel_logits(model: nn.Module, x: np.ndarray, i: int, j: int, reach: int, causal: bool = True) -> np.ndarray:
    """Logits (N,) of pixel (i, j) from the crop of x it can see: rows i-reach..i (``causal``; i+reach
    otherwise), columns j±reach.

    Equal to ``model(x)[:, 0, i, j]``: the crop holds the whole receptive field, and where it stops
    at the image border the zero padding is the same as the whole image's.
    """
    r0, c0 = max(0, i - reach), max(0, j - reach)
    crop = x[:, :, r0:i + 1 + (0 if causal else reach), c0:j + reach + 1]
    return model.forward(crop)[:, 0, i - r0, j - c0]


def _fill(model: nn.Module, x: np.ndarray, start_row: int, rng: np.random.Generator,
          causal: bool = True) -> np.ndarray:
    """Sample rows start_row.. of x (N, 1, H, W) in raster order, in place; returns x."""
    reach = causal_reach(model) if causal else receptive_reach(model)
    was_training = model.training
    model.eval()
    # the crops make tiny matrix products, which a second BLAS thread only slows down (16 samples
    # measured 0.8 s on one thread, 15.6 s on two, on 2026-12-03 on the shared 2-core machine)
    try:
        with single_threaded_blas():
            for i in range(start_row, x.shape[2]):
                for j in range(x.shape[3]):
                    p = 1.0 / (1.0 + np.exp(-pixel_logits(model, x, i, j, reach, causal)))
                    x[:, 0, i, j] = rng.random(len(x)) < p
    finally:
        model.train(was_training)
    return x


def sample(model: nn.Module, num_samples: int, rng: np.random.Generator, image_size: int = 28) -> np.ndarray:
    """num_samples binary images (N, 1, image_size, image_size) drawn pixel by pixel from the model."""
    x = np.zeros((num_samples, 1, image_size, image_size), dtype=np.float32)
    return _fill(model, x, 0, rng)


def sample_noncausal(model: nn.Module, num_samples: int, rng: np.random.Generator,
                     image_size: int = 28) -> np.ndarray:
    """What raster-order sampling gives from a network that is NOT causal (the unmasked cheat).

    Each pixel is drawn from the network's output on the image as it stands (pixels not drawn yet
    are 0, the pixel itself included), as :func:`sample` does for a masked network. The cheat
    learned to copy the pixel it is shown, so it has nothing to copy here: its samples show that
    its low "NLL" is no model of the images.
    """
    x = np.zeros((num_samples, 1, image_size, image_size), dtype=np.float32)
    return _fill(model, x, 0, rng, causal=False)


def complete(model: nn.Module, images: np.ndarray, rng: np.random.Generator, given_rows: int = 14) -> np.ndarray:
    """Keep the first ``given_rows`` rows of binary images (N, 1, H, W) and sample the rest from the model."""
    if not 0 <= given_rows <= images.shape[2]:
        raise ValueError(f"given_rows must be in [0, {images.shape[2]}], got {given_rows}")
    x = np.array(images, dtype=np.float32, copy=True)
    x[:, :, given_rows:] = 0.0  # hidden rows: never read before they are sampled (causality)
    return _fill(model, x, given_rows, rng)
