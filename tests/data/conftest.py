"""What the data tests share: a small Fashion-MNIST folder in the official IDX format, random pixels."""
import numpy as np
import pytest

from backproplab.data import write_idx

NAMES = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
         "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}


def _write_fake(folder, rng, n=(40, 20), compress=True, num_classes=10, shuffle_labels=True):
    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    for split, count in zip(("train", "test"), n):
        images = rng.integers(0, 256, size=(count, 28, 28), dtype=np.uint8)
        labels = np.arange(count) % num_classes
        if shuffle_labels:
            labels = rng.permutation(labels)
        labels = labels.astype(np.uint8)
        suffix = ".gz" if compress else ""
        write_idx(folder / (NAMES[split][0] + suffix), images)
        write_idx(folder / (NAMES[split][1] + suffix), labels)
        out[split] = (images, labels)
    return out


@pytest.fixture
def write_fake_fashion_mnist():
    """``write_fake_fashion_mnist(folder, rng, n=(40, 20), compress=True, num_classes=10, shuffle_labels=True)``:
    four IDX files with the official names (gzip-compressed unless ``compress=False``), ``n`` train and test
    images, labels 0..num_classes-1 in turn (shuffled unless ``shuffle_labels=False``).
    Returns {"train": (images, labels), "test": (images, labels)}."""
    return _write_fake
