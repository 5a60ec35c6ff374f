"""Recurrent sentence classifiers: many-to-one (one label per sequence) and many-to-many (one per step).

Both read token ids through Embedding -> (Dropout) -> RNN; they differ in where the Linear output layer sits:

* :class:`RNNClassifier` (many-to-one): the last valid hidden state -> Linear -> logits (N, C).
* :class:`RNNTagger` (many-to-many): every hidden state -> the same Linear -> logits (N, T, C),
  trained with :class:`SequenceCrossEntropyLoss`, which ignores padded and unlabelled steps.

Reference: Elman (1990); the "many-to-one / many-to-many" vocabulary is Karpathy's,
"The Unreasonable Effectiveness of Recurrent Neural Networks" (2015).
"""
from __future__ import annotations

import numpy as np

from ..nn.dropout import Dropout
from ..nn.embedding import Embedding
from ..nn.linear import Linear
from ..nn.loss import CrossEntropyLoss
from ..nn.module import Module
from ..nn.rnn import RNN


class _RNNEncoder(Module):
    """Shared trunk: ids (N, T) -> hidden states (N, T, H) and last valid state (N, H)."""

    def __init__(self, vocab_size: int, num_classes: int, embedding_dim: int = 100, hidden_size: int = 128,
                 num_layers: int = 1, padding_idx: int | None = 0, dropout: float = 0.0, *,
                 rng: np.random.Generator, dtype=np.float32):
        super().__init__()
        self.embedding = Embedding(vocab_size, embedding_dim, padding_idx, rng=rng, dtype=dtype)
        self.embed_dropout = Dropout(dropout, rng=rng)
        self.rnn = RNN(embedding_dim, hidden_size, num_layers, rng=rng, dtype=dtype)
        self.out_dropout = Dropout(dropout, rng=rng)
        self.fc = Linear(hidden_size, num_classes, rng=rng, dtype=dtype)
        self.num_classes = num_classes

    def __call__(self, x, lengths=None):
        return self.forward(x, lengths)

    def _encode(self, x, lengths):
        e = self.embed_dropout(self.embedding(x))  # (N, T, D)
        return self.rnn.forward(e, lengths)  # (N, T, H), (N, H)

    def _backward_encoder(self, dy_seq, dh_last):
        de = self.rnn.backward(dy_seq, dh_last)  # (N, T, D)
        self.embedding.backward(self.embed_dropout.backward(de))


class RNNClassifier(_RNNEncoder):
    """Many-to-one: logits = Linear(h_last), h_last the state after each sequence's last real token.

    Shapes: x (N, T) int ids (padded with ``padding_idx``), lengths (N,) -> logits (N, num_classes).
    ``backward(dlogits)`` fills every parameter's ``.grad`` and returns None (ids have no gradient).
    """

    def forward(self, x: np.ndarray, lengths=None) -> np.ndarray:
        _, h_last = self._encode(x, lengths)
        return self.fc(self.out_dropout(h_last))  # (N, C)

    def backward(self, dlogits: np.ndarray) -> None:
        dh_last = self.out_dropout.backward(self.fc.backward(dlogits))  # (N, H)
        self._backward_encoder(None, dh_last)
        return None


class RNNTagger(_RNNEncoder):
    """Many-to-many: logits[:, t] = Linear(h_t) for every step t (one shared Linear).

    Shapes: x (N, T) int ids, lengths (N,) -> logits (N, T, num_classes); padded steps get
    logits too, which :class:`SequenceCrossEntropyLoss` ignores.
    """

    def forward(self, x: np.ndarray, lengths=None) -> np.ndarray:
        hs, _ = self._encode(x, lengths)
        n, t, h = hs.shape
        logits = self.fc(self.out_dropout(hs.reshape(n * t, h)))  # (N*T, C)
        return logits.reshape(n, t, self.num_classes)  # (N, T, C)

    def backward(self, dlogits: np.ndarray) -> None:
        n, t, c = dlogits.shape
        dhs = self.out_dropout.backward(self.fc.backward(dlogits.reshape(n * t, c)))  # (N*T, H)
        self._backward_encoder(dhs.reshape(n, t, -1), None)
        return None


class SequenceCrossEntropyLoss:
    """Cross-entropy over the labelled steps of a batch of sequences, mean over those steps.

    Shapes: logits (N, T, C); target (N, T) int, ``ignore_index`` (default -100, as PyTorch)
    on padded or unlabelled steps. Equals ``torch.nn.CrossEntropyLoss(ignore_index=-100)``
    applied to ``logits.reshape(-1, C)`` and ``target.reshape(-1)``.
    """

    def __init__(self, ignore_index: int = -100):
        self.ignore_index = ignore_index
        self._ce = CrossEntropyLoss()

    def __call__(self, logits, target) -> float:
        return self.forward(logits, target)

    def forward(self, logits: np.ndarray, target: np.ndarray) -> float:
        target = np.asarray(target)
        if logits.ndim != 3 or target.shape != logits.shape[:2]:
            raise ValueError(f"SequenceCrossEntropyLoss expects logits (N, T, C) and target (N, T), "
                             f"got {logits.shape} and {target.shape}")
        self._shape = logits.shape
        self._keep = target != self.ignore_index  # (N, T)
        if not self._keep.any():
            raise ValueError("SequenceCrossEntropyLoss: every target step is ignore_index; nothing to learn from")
        return self._ce(logits[self._keep], target[self._keep])  # (M, C) vs (M,)

    def backward(self, dloss: float = 1.0) -> np.ndarray:
        d = np.zeros(self._shape, dtype=self._ce._probs.dtype)
        d[self._keep] = self._ce.backward(dloss)  # ignored steps get no gradient
        return d
