"""Small synthetic data for the study's tests: nothing read from disk, seconds on one CPU thread."""
from __future__ import annotations

import gzip

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="the study needs the optional extra backproplab[torch]")


def synthetic_study_data(n_train: int = 64, n_test: int = 40, side: int = 8, seed: int = 0):
    """StudyData of random images whose class shifts their mean (so a model can learn a little)."""
    from backproplab.torchmodels.gpu_data import StudyData

    gen = torch.Generator().manual_seed(seed)
    y = torch.arange(n_train + n_test) % 10
    y = y[torch.randperm(len(y), generator=gen)]
    x = torch.randn((len(y), 1, side, side), generator=gen) + 0.3 * y[:, None, None, None]
    return StudyData(x[:n_train], y[:n_train], x[n_train:], y[n_train:], name="synthetic", note="synthetic data")


@pytest.fixture
def tiny_data():
    return synthetic_study_data()


@pytest.fixture
def fashion_dir(tmp_path):
    """A Fashion-MNIST folder of 160 training and 60 test images in the official IDX format (random pixels)."""
    from backproplab.data.idx import write_idx

    rng = np.random.default_rng(0)
    folder = tmp_path / "fashion"
    for split, n in (("train", 160), ("t10k", 60)):
        labels = (np.arange(n) % 10).astype(np.uint8)
        images = rng.integers(0, 256, (n, 28, 28)).astype(np.uint8)
        write_idx(folder / f"{split}-images-idx3-ubyte.gz", images)
        write_idx(folder / f"{split}-labels-idx1-ubyte.gz", labels)
    assert gzip.decompress((folder / "t10k-labels-idx1-ubyte.gz").read_bytes())[:4] == b"\x00\x00\x08\x01"
    return folder
