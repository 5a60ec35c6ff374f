"""train_val_split: reproducible, a partition of the input, stratified shares exact."""
import numpy as np
import pytest

from backproplab.data import train_val_split


def _data(n=1000, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.choice(3, size=n, p=[0.6, 0.3, 0.1])
    x = np.arange(n, dtype=np.float32)[:, None] * np.ones((1, 4), np.float32)  # row i holds i: traceable
    return x, y


@pytest.mark.parametrize("stratify", [True, False])
def test_same_seed_same_split_other_seed_other_split(stratify):
    x, y = _data()
    a = train_val_split(x, y, 0.2, np.random.default_rng(7), stratify=stratify)
    b = train_val_split(x, y, 0.2, np.random.default_rng(7), stratify=stratify)
    c = train_val_split(x, y, 0.2, np.random.default_rng(8), stratify=stratify)
    for u, v in zip(a, b):
        np.testing.assert_array_equal(u, v)
    assert not np.array_equal(a[2], c[2])


@pytest.mark.parametrize("stratify", [True, False])
def test_partition_in_input_order(stratify):
    x, y = _data()
    x_tr, y_tr, x_val, y_val = train_val_split(x, y, 0.25, np.random.default_rng(1), stratify=stratify)
    ids_tr, ids_val = x_tr[:, 0].astype(int), x_val[:, 0].astype(int)
    assert np.all(np.diff(ids_tr) > 0) and np.all(np.diff(ids_val) > 0)  # input order kept
    assert sorted(np.concatenate([ids_tr, ids_val]).tolist()) == list(range(len(x)))  # disjoint, complete
    np.testing.assert_array_equal(y_tr, y[ids_tr])
    np.testing.assert_array_equal(y_val, y[ids_val])
    if not stratify:
        assert len(ids_val) == 250


def test_stratified_keeps_each_class_share():
    x, y = _data()
    _, y_tr, _, y_val = train_val_split(x, y, 0.2, np.random.default_rng(3), stratify=True)
    counts = np.bincount(y, minlength=3)
    np.testing.assert_array_equal(np.bincount(y_val, minlength=3), np.round(0.2 * counts).astype(int))
    np.testing.assert_array_equal(np.bincount(y_tr, minlength=3) + np.bincount(y_val, minlength=3), counts)


@pytest.mark.parametrize("kwargs,error", [
    (dict(val_fraction=0.0), ValueError),
    (dict(val_fraction=1.0), ValueError),
    (dict(rng=0), TypeError),  # a seed is not a generator: randomness is passed in explicitly
    (dict(y=np.zeros(5)), ValueError),  # length mismatch
    (dict(y=np.zeros((10, 2)), stratify=True), ValueError),
    (dict(val_fraction=0.01), ValueError),  # 10 samples: nothing for validation
])
def test_rejects_bad_arguments(kwargs, error):
    args = dict(x=np.zeros((10, 2)), y=np.arange(10) % 2, val_fraction=0.3, rng=np.random.default_rng(0),
                stratify=False)
    args.update(kwargs)
    with pytest.raises(error):
        train_val_split(**args)
