"""One member of the committee lab: its data view, its network and its training, as a task of the run.

A member is keyed by (preprocessing variant, seed). :func:`train_member` is a module-level
function with explicit arguments, so :meth:`RunFolder.map` can run it here or on a Dask worker:
it reads the data itself (once per process), seeds its own generators from (lab seed, member
seed), and returns JSON values. The training images are preprocessed once and distorted afresh
every epoch (:class:`DistortedEpochs`); the test images get the deterministic preprocessing only.

Reference: D. C. Ciresan, U. Meier, L. M. Gambardella, J. Schmidhuber, "Convolutional Neural
Network Committees for Handwritten Character Classification", ICDAR 2011; P. Y. Simard,
D. Steinkraus, J. C. Platt, "Best Practices for Convolutional Neural Networks Applied to Visual
Document Analysis", ICDAR 2003.
"""
from __future__ import annotations

import functools
import math
import time

import numpy as np

from ..data import ArrayDataset, DataLoader
from ..data.preprocess import apply_variant, distort

#: test images per forward pass when the test probabilities are computed
EVAL_CHUNK = 2048
#: seed suffix of the generator that draws the training and test subsets (independent of every member)
SUBSET_STREAM = 10_001


@functools.lru_cache(maxsize=1)
def _fashion(data_dir):
    from ..data import load_fashion_mnist

    return load_fashion_mnist(classes=None, data_dir=data_dir, flatten=False)


@functools.lru_cache(maxsize=2)
def load_images(data_dir, train_size, test_size, seed: int):
    """Fashion-MNIST, all 10 classes: x_train (N, 28, 28) float32, y_train, x_test, y_test, class names and the
    sizes of the full sets; random subsets (a generator of their own) when sizes are given. Read-only arrays."""
    ds = _fashion(data_dir)
    rng = np.random.default_rng([seed, SUBSET_STREAM])
    tr = rng.permutation(len(ds.x_train))[:train_size] if train_size else np.arange(len(ds.x_train))
    te = rng.permutation(len(ds.x_test))[:test_size] if test_size else np.arange(len(ds.x_test))
    return {"x_train": ds.x_train[tr, 0], "y_train": ds.y_train[tr], "x_test": ds.x_test[te, 0],  # (N, 28, 28)
            "y_test": ds.y_test[te], "class_names": tuple(ds.class_names), "n_train_total": len(ds.x_train),
            "n_test_total": len(ds.x_test)}


def data_of(config) -> dict:
    from ..data.fashion_mnist import data_folder

    return load_images(data_folder(config.data_dir), config.train_size, config.test_size, config.seed)


def make_model(config, rng: np.random.Generator):
    """The members' shared architecture; input (N, 784) for the MLP, (N, 1, 28, 28) for the CNN."""
    if config.arch == "mlp":
        from ..models import make_mlp

        return make_mlp(28 * 28, config.mlp_hidden, 10, "relu", "he", rng=rng)
    from ..models.cnn import make_cnn

    return make_cnn(rng, num_classes=10, channels=config.channels, hidden=config.hidden, dropout=0.0)


def model_input(config, x: np.ndarray) -> np.ndarray:
    """(N, 28, 28) images -> the model's input layout."""
    return x.reshape(len(x), -1) if config.arch == "mlp" else x[:, None]  # (N, 784) or (N, 1, 28, 28)


class DistortedEpochs:
    """Training batches whose images are distorted afresh at every pass (one epoch).

    Each pass draws the distortions of every image from ``distort_rng`` (elastic field and affine
    matrix, :func:`backproplab.data.preprocess.distort`), then a shuffled DataLoader over them draws
    the batch order from ``rng``: the same draws, in the same order, as distorting the arrays and
    giving them to the Trainer every epoch. ``seconds`` adds up the time spent distorting.
    """

    def __init__(self, config, x: np.ndarray, y: np.ndarray, rng: np.random.Generator,
                 distort_rng: np.random.Generator):
        self.config, self.x, self.y = config, x, y
        self.rng, self.distort_rng = rng, distort_rng
        self.batch_size = config.batch_size
        self.seconds = 0.0

    def __len__(self) -> int:
        return -(-len(self.x) // self.batch_size)

    def _images(self) -> np.ndarray:
        c = self.config
        if not c.distortions:
            return self.x
        t0 = time.perf_counter()
        out = distort(self.x, self.distort_rng, alpha=c.alpha, sigma=c.sigma, rotation=c.rotation, scale=c.scale,
                      shear=c.shear)
        self.seconds += time.perf_counter() - t0
        return out

    def batches(self, shuffle=None):
        images = model_input(self.config, self._images())
        yield from DataLoader(ArrayDataset(images, self.y), self.batch_size, shuffle=True, rng=self.rng).batches()

    def __iter__(self):
        return self.batches()


def train_member(config, variant: str, member_seed: int) -> dict:
    """Train one member on ``variant``-preprocessed images (a task of the run), BLAS held to one thread.

    Why one thread: OpenBLAS's products differ in their last bits between one and two threads, so
    the test probabilities would depend on where the task runs (here, or on a cluster worker with
    other thread settings); the CNN's shards run single-threaded anyway.
    """
    from ..utils.cores import single_threaded_blas

    with single_threaded_blas():
        return _train_member(config, variant, member_seed)


def cosine_factor(done: int, total: int) -> float:
    """(1 + cos(π·done/total))/2: the cosine schedule's learning-rate factor after ``done`` of ``total`` epochs.

    Given to LambdaLR, it sets each epoch's rate from the formula (CosineAnnealingLR's chained
    update can differ in the last bit). Reference: Loshchilov & Hutter (2017), SGDR.
    """
    return 0.5 * (1.0 + math.cos(math.pi * done / total))


def _train_member(config, variant: str, member_seed: int) -> dict:
    """Train one member on ``variant``-preprocessed images.

    Adam with a cosine learning-rate decay per epoch (Loshchilov & Hutter 2017: the last epochs
    settle each member near a minimum instead of wherever Adam's last noisy step left it); the
    CNN's batches are split over the cores (nn.DataParallel), the MLP's are not (GEMM-bound, faster
    unsharded). Returns the test probabilities (N_test, 10) and the Trainer's history.
    """
    from ..nn import CrossEntropyLoss
    from ..nn.functional import softmax
    from ..optim import Adam
    from ..optim.lr_scheduler import LambdaLR
    from ..train import Trainer
    from . import progress
    from .cores import on_cores

    data = data_of(config)
    rng = np.random.default_rng([config.seed, member_seed])  # weights and batch order
    distort_rng = np.random.default_rng([config.seed, member_seed, 1])  # the per-epoch distortions
    train = DistortedEpochs(config, apply_variant(data["x_train"], variant, config.threshold), data["y_train"],
                            rng, distort_rng)
    x_test = model_input(config, apply_variant(data["x_test"], variant, config.threshold))
    model = make_model(config, rng)
    trained, shards = on_cores(model, config.threads) if config.arch == "cnn" else (model, 1)
    opt = Adam(model.parameters(), lr=config.lr)
    schedule = LambdaLR(opt, functools.partial(cosine_factor, total=config.num_epochs))
    trainer = Trainer(trained, CrossEntropyLoss(), opt, num_epochs=config.num_epochs, eval_train=False,
                      scheduler=schedule, callbacks=[progress.current().training(f"{variant}/seed{member_seed}")])
    t0 = time.perf_counter()
    try:
        history = trainer.fit(train, x_test=x_test, y_test=data["y_test"])
        seconds = time.perf_counter() - t0
        model.eval()
        logits = np.concatenate([model.forward(x_test[i:i + EVAL_CHUNK]) for i in range(0, len(x_test), EVAL_CHUNK)])
    finally:
        if trained is not model:
            trained.close()  # the shard workers end with the member
    return {"probs": softmax(logits.astype(np.float64), axis=1), "history": history.to_dict(),
            "train_time_s": seconds, "distort_time_s": train.seconds, "shards": shards}
