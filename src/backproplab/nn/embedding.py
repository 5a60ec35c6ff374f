"""Embedding: a lookup table of learned vectors, one row per token id.

Reference: https://pytorch.org/docs/stable/generated/torch.nn.Embedding.html
"""
from __future__ import annotations

import numpy as np

from .module import Module, Parameter


class Embedding(Module):
    """y[n, t] = weight[x[n, t]].

    Shapes:
        x: int array of any shape S (e.g. (N, T)) with ids in [0, num_embeddings)
        y: S + (embedding_dim,)
        weight: (num_embeddings, embedding_dim), initialised N(0, 1) as in PyTorch.

    ``padding_idx``: that row starts at zero and never receives a gradient, so it
    stays zero under any optimizer without weight decay (PyTorch semantics).
    ``backward(dy)`` adds into ``weight.grad`` and returns ``None``: token ids have
    no gradient.
    """

    def __init__(self, num_embeddings: int, embedding_dim: int, padding_idx: int | None = None, *,
                 rng: np.random.Generator, dtype=np.float32):
        super().__init__()
        if num_embeddings <= 0 or embedding_dim <= 0:
            raise ValueError(f"Embedding needs positive sizes, got num_embeddings={num_embeddings}, "
                             f"embedding_dim={embedding_dim}")
        if padding_idx is not None:
            if not -num_embeddings <= padding_idx < num_embeddings:
                raise ValueError(f"padding_idx={padding_idx} must lie in [-{num_embeddings}, {num_embeddings})")
            padding_idx %= num_embeddings  # PyTorch stores a negative index as its positive twin
        self.num_embeddings, self.embedding_dim, self.padding_idx = num_embeddings, embedding_dim, padding_idx
        w = rng.standard_normal((num_embeddings, embedding_dim)).astype(dtype)
        if padding_idx is not None:
            w[padding_idx] = 0
        self.weight = Parameter(w)
        self._x = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x)
        if not np.issubdtype(x.dtype, np.integer):
            raise TypeError(f"Embedding expects integer token ids, got dtype {x.dtype}")
        if x.size and (x.min() < 0 or x.max() >= self.num_embeddings):
            raise IndexError(f"Embedding({self.num_embeddings}, ...): token ids must lie in "
                             f"[0, {self.num_embeddings}), got range [{x.min()}, {x.max()}]")
        self._x = x
        return self.weight.data[x]  # S + (D,)

    def backward(self, dy: np.ndarray) -> None:
        ids = self._x.reshape(-1)  # (M,)
        dy = dy.reshape(ids.size, self.embedding_dim)  # (M, D)
        # a token used several times in the batch gets the sum of its rows' gradients;
        # np.add.at is unbuffered, so repeated ids accumulate (plain += would keep only one)
        if self.padding_idx is not None:
            keep = ids != self.padding_idx  # the padding row gets no gradient
            ids, dy = ids[keep], dy[keep]
        np.add.at(self.weight.grad, ids, dy)
        return None

    def extra_repr(self) -> str:
        pad = f", padding_idx={self.padding_idx}" if self.padding_idx is not None else ""
        return f"{self.num_embeddings}, {self.embedding_dim}{pad}"
