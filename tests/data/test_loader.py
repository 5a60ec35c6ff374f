"""DataLoader: batches and their order (PyTorch's rules for batch_size, shuffle, drop_last), the
explicit rng, collate functions for variable-length sequences, batch samplers, and bad arguments."""
import numpy as np
import pytest

from backproplab.data import ArrayDataset, BucketBatchSampler, DataLoader, default_collate, pad_collate
from backproplab.data.sst import bucket_batches


def data(n=10):
    return np.arange(n * 2, dtype=np.float32).reshape(n, 2), np.arange(n)


@pytest.mark.parametrize("n, batch_size, drop_last, sizes", [(10, 4, False, [4, 4, 2]), (10, 4, True, [4, 4]),
                                                             (8, 4, False, [4, 4]), (3, 5, False, [3]),
                                                             (3, 5, True, []), (5, 1, False, [1] * 5)])
def test_batch_sizes_and_len(n, batch_size, drop_last, sizes):
    x, y = data(n)
    loader = DataLoader(ArrayDataset(x, y), batch_size=batch_size, drop_last=drop_last)
    batches = list(loader)
    assert [len(b[1]) for b in batches] == sizes and len(loader) == len(sizes)
    if sizes and not drop_last:
        np.testing.assert_array_equal(np.concatenate([b[0] for b in batches]), x)  # in order, nothing lost


def test_shuffle_draws_one_permutation_per_pass_from_the_given_rng():
    x, y = data(10)
    loader = DataLoader(ArrayDataset(x, y), batch_size=3, shuffle=True, rng=np.random.default_rng(4))
    first, second = np.concatenate([b[1] for b in loader]), np.concatenate([b[1] for b in loader])
    ref = np.random.default_rng(4)
    np.testing.assert_array_equal(first, ref.permutation(10))
    np.testing.assert_array_equal(second, ref.permutation(10))  # a new order every pass
    assert sorted(first) == list(range(10)) and not np.array_equal(first, second)
    in_order = np.concatenate([b[1] for b in loader.batches(shuffle=False)])  # no draw from the rng
    np.testing.assert_array_equal(in_order, np.arange(10))
    np.testing.assert_array_equal(np.concatenate([b[1] for b in loader]), ref.permutation(10))


def test_generic_dataset_goes_through_collate_and_arrays_stack():
    class Squares:
        def __len__(self):
            return 5

        def __getitem__(self, i):
            return np.array([i, i * i], np.float64), i % 2

    xb, yb = next(iter(DataLoader(Squares(), batch_size=3)))
    np.testing.assert_array_equal(xb, [[0, 0], [1, 1], [2, 4]])
    np.testing.assert_array_equal(yb, [0, 1, 0])


def test_pad_collate_pads_variable_length_sequences():
    seqs = [np.array([5, 6]), np.array([7]), np.array([1, 2, 3])]
    ds = ArrayDataset(seqs, [0, 1, 2])
    with pytest.raises(ValueError, match="give the DataLoader a collate_fn that pads"):
        list(DataLoader(ds, batch_size=3))
    (ids, lengths), y = next(iter(DataLoader(ds, batch_size=3, collate_fn=pad_collate)))
    np.testing.assert_array_equal(ids, [[5, 6, 0], [7, 0, 0], [1, 2, 3]])
    assert ids.dtype == np.int64
    np.testing.assert_array_equal(lengths, [2, 1, 3])
    np.testing.assert_array_equal(y, [0, 1, 2])


def test_bucket_batch_sampler_repeats_bucket_batches_draw_for_draw():
    rng = np.random.default_rng(0)
    lengths = rng.integers(1, 30, 50)
    seqs = [np.ones(k, np.int64) for k in lengths]
    sampler = BucketBatchSampler(lengths, 8, rng=np.random.default_rng(3))
    loader = DataLoader(ArrayDataset(seqs, list(range(50))), batch_sampler=sampler, collate_fn=pad_collate)
    ref = np.random.default_rng(3)
    for _ in range(2):  # two passes: a fresh bucketing each time
        expected = bucket_batches(lengths, 8, ref)
        got = [y for _, y in loader]
        assert len(got) == len(expected) == len(loader)
        for g, e in zip(got, expected):
            np.testing.assert_array_equal(g, e)


@pytest.mark.parametrize("kwargs, message", [
    (dict(batch_size=0), "batch_size must be a positive integer"),
    (dict(batch_size=2.5), "batch_size must be a positive integer"),
    (dict(shuffle=True), r"shuffle=True\) needs rng=np.random.Generator"),
    (dict(shuffle=True, rng=3), r"shuffle=True\) needs rng=np.random.Generator"),
    (dict(batch_sampler=[[0, 1]], batch_size=2), "batch_sampler replaces batch_size"),
])
def test_argument_errors(kwargs, message):
    x, y = data(4)
    with pytest.raises(ValueError, match=message):
        DataLoader(ArrayDataset(x, y), **kwargs)


def test_dataset_errors():
    with pytest.raises(ValueError, match="must pair up one to one"):
        ArrayDataset(np.zeros(3), np.zeros(4))
    with pytest.raises(ValueError, match="the data set is empty"):
        DataLoader(ArrayDataset(np.zeros((0, 2))))
    assert default_collate([(1, 2.0), (3, 4.0)])[0].tolist() == [1, 3]
