"""DataLoader: a data set cut into batches, as torch.utils.data.DataLoader (no worker processes).

    train = DataLoader(ArrayDataset(x, y), batch_size=64, shuffle=True, rng=rng)
    for xb, yb in train:  # xb (64, ...), yb (64,); the last batch may be smaller
        ...

Variable-length sequences: give a ``collate_fn`` that pads, e.g. :func:`pad_collate`, which
returns ``((ids, lengths), y)``; the Trainer then calls ``model.forward(ids, lengths)``. Batches of
similar lengths (less padding): ``batch_sampler=BucketBatchSampler(lengths, batch_size, rng)``.

Reference: https://pytorch.org/docs/stable/data.html
"""
from __future__ import annotations

import numpy as np


class ArrayDataset:
    """Equal-length arrays seen as one data set: sample i is ``(a[i] for a in arrays)``.

    PyTorch's ``TensorDataset``. A list of variable-length items (token id sequences) that
    NumPy cannot stack stays a list. When every field is an array, indexing with an index
    array returns the whole batch at once (one fancy-indexing copy per array), which is how
    the DataLoader batches it.
    """

    def __init__(self, *arrays):
        if not arrays:
            raise ValueError("ArrayDataset needs at least one array")
        self.arrays = tuple(self._field(a) for a in arrays)
        sizes = [len(a) for a in self.arrays]
        if len(set(sizes)) != 1:
            raise ValueError(f"ArrayDataset: the arrays have {sizes} entries; they must pair up one to one")
        self.stacked = all(isinstance(a, np.ndarray) for a in self.arrays)

    @staticmethod
    def _field(a):
        try:
            return np.asarray(a)
        except ValueError:  # ragged: items of different lengths
            return list(a)

    def __len__(self) -> int:
        return len(self.arrays[0])

    def __getitem__(self, i) -> tuple:
        return tuple(a[i] for a in self.arrays)


def default_collate(samples: list):
    """Stack a list of samples into a batch: tuples field by field, arrays along a new axis 0.

    Shapes: n samples ``(x_i, y_i)`` with x_i (d...) -> ``(x (n, d...), y (n,))``.
    Samples of different shapes cannot be stacked: give the DataLoader a ``collate_fn``.
    """
    first = samples[0]
    if isinstance(first, (tuple, list)):
        return tuple(default_collate([s[k] for s in samples]) for k in range(len(first)))
    try:
        return np.stack([np.asarray(s) for s in samples])
    except ValueError as e:
        shapes = sorted({np.shape(s) for s in samples})
        raise ValueError(f"default_collate cannot stack samples of shapes {shapes[:4]}; give the DataLoader a "
                         "collate_fn that pads them (e.g. returning ((x, lengths), y))") from e


def pad_collate(samples: list, pad_idx: int = 0):
    """Variable-length sequences -> ``((ids, lengths), targets)``, the input a sequence classifier takes.

    Shapes: n samples ``(ids_i (T_i,), target_i)`` -> ids (n, max T_i) int64 padded at the end
    with ``pad_idx``, lengths (n,), targets stacked by :func:`default_collate`.
    """
    from .sst import pad_batch

    ids, lengths = pad_batch([s for s, _ in samples], pad_idx)
    return (ids, lengths), default_collate([t for _, t in samples])


class BucketBatchSampler:
    """Index batches of similar sequence length, reshuffled every epoch when ``rng`` is given.

    Each pass calls :func:`backproplab.data.sst.bucket_batches` (sort by length with random
    order among equal lengths, cut into runs of ``batch_size``, shuffle the runs).
    """

    def __init__(self, lengths, batch_size: int, rng: np.random.Generator | None = None):
        if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
            raise ValueError(f"BucketBatchSampler: batch_size must be a positive integer, got {batch_size!r}")
        self.lengths, self.batch_size, self.rng = np.asarray(lengths), int(batch_size), rng

    def __iter__(self):
        from .sst import bucket_batches

        return iter(bucket_batches(self.lengths, self.batch_size, self.rng))

    def __len__(self) -> int:
        return -(-len(self.lengths) // self.batch_size)


class DataLoader:
    """Batches of ``dataset``, in order or reshuffled every pass.

    Args:
        dataset: anything with ``__len__`` and ``__getitem__(i)`` returning a sample (usually
            a tuple ``(x, y)``), e.g. :class:`ArrayDataset`.
        batch_size: samples per batch (the last one may be smaller unless ``drop_last``).
        shuffle: a new random order every pass; needs ``rng`` (explicit randomness).
        rng: the generator that draws each pass's order (one ``permutation(len(dataset))``).
        collate_fn: list of samples -> batch; default :func:`default_collate` (stacking).
        drop_last: leave out the last, smaller batch.
        batch_sampler: an iterable of index batches, iterated afresh every pass (e.g.
            :class:`BucketBatchSampler`); replaces batch_size, shuffle, rng and drop_last.

    An :class:`ArrayDataset` of arrays without a collate_fn is batched by indexing its arrays
    with the batch's indices (one copy per array), not sample by sample.
    """

    def __init__(self, dataset, batch_size: int = 1, shuffle: bool = False, rng: np.random.Generator | None = None,
                 collate_fn=None, drop_last: bool = False, batch_sampler=None):
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or rng is not None or drop_last:
                raise ValueError("DataLoader: batch_sampler replaces batch_size, shuffle, rng and drop_last; "
                                 "give one or the other")
            self.batch_size = None
        elif not isinstance(batch_size, (int, np.integer)) or isinstance(batch_size, bool) or batch_size < 1:
            raise ValueError(f"DataLoader: batch_size must be a positive integer, got {batch_size!r}")
        else:
            self.batch_size = int(batch_size)
        if shuffle and not isinstance(rng, np.random.Generator):
            raise ValueError("DataLoader(shuffle=True) needs rng=np.random.Generator "
                             "(e.g. np.random.default_rng(seed))")
        if len(dataset) == 0:
            raise ValueError("DataLoader: the data set is empty")
        self.dataset, self.shuffle, self.rng = dataset, bool(shuffle), rng
        self.collate_fn, self.drop_last, self.batch_sampler = collate_fn, bool(drop_last), batch_sampler

    def index_batches(self, shuffle: bool | None = None):
        """The index array of every batch of one pass (``shuffle=False``: in order, no draw from rng)."""
        if self.batch_sampler is not None:
            yield from self.batch_sampler
            return
        n, b = len(self.dataset), self.batch_size
        order = self.rng.permutation(n) if (self.shuffle if shuffle is None else shuffle) else np.arange(n)
        stop = n - n % b if self.drop_last else n
        for start in range(0, stop, b):
            yield order[start:start + b]

    def batches(self, shuffle: bool | None = None):
        """One pass over the data set, batch by batch (``shuffle`` overrides the loader's own)."""
        fast = self.collate_fn is None and isinstance(self.dataset, ArrayDataset) and self.dataset.stacked
        for idx in self.index_batches(shuffle):
            if fast:
                yield self.dataset[idx]
            else:
                yield (self.collate_fn or default_collate)([self.dataset[int(i)] for i in idx])

    def __iter__(self):
        return self.batches()

    def __len__(self) -> int:
        if self.batch_sampler is not None:
            return len(self.batch_sampler)
        n = len(self.dataset)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)
