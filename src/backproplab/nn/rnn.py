"""Elman RNN (tanh), batch-first, with variable-length sequences and backpropagation through time.

Reference: Elman, "Finding Structure in Time", Cognitive Science 14 (1990);
https://pytorch.org/docs/stable/generated/torch.nn.RNN.html (names, layout, init);
Werbos, "Backpropagation Through Time: What It Does and How to Do It", Proc. IEEE 78 (1990).
"""
from __future__ import annotations

import math

import numpy as np

from .module import Module, Parameter


def lengths_to_mask(lengths, num_steps: int) -> np.ndarray:
    """(N,) valid lengths -> (N, T) bool mask, True on the first ``lengths[n]`` steps."""
    lengths = np.asarray(lengths)
    if lengths.ndim != 1 or not np.issubdtype(lengths.dtype, np.integer):
        raise ValueError(f"lengths must be a 1-D integer array, got {lengths.dtype} {lengths.shape}")
    if lengths.size and (lengths.min() < 0 or lengths.max() > num_steps):
        raise ValueError(f"lengths must lie in [0, {num_steps}] (the padded length), "
                         f"got range [{lengths.min()}, {lengths.max()}]")
    return np.arange(num_steps)[None, :] < lengths[:, None]  # (N, T)


class RNN(Module):
    """Multi-layer Elman RNN with tanh, ``batch_first=True``.

        h_t = tanh(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh)

    Shapes:
        x: (N, T, input_size); lengths: (N,) ints, or mask: (N, T) bool (True = real step)
        h0: (num_layers, N, H), or (N, H) when num_layers == 1; default zeros
        returns (y, h_n): y (N, T, H) every hidden state of the top layer, zero at padded
        steps (as pad_packed_sequence gives); h_n (N, H) the top layer's last *valid* state.
        weight_ih_l{k}: (H, input_size or H), weight_hh_l{k}: (H, H), biases (H,);
        all initialised U(-1/sqrt(H), 1/sqrt(H)) as in PyTorch.

    ``self.h_n`` keeps every layer's last valid state, (num_layers, N, H), like PyTorch's h_n.

    A padded step (mask False) leaves the state unchanged, h_t = h_{t-1}, so the
    last valid state is simply h_T, and such a step receives no gradient.

    ``backward(dy, dh_n=None)`` runs BPTT with the upstream gradients of both
    outputs, adds into every parameter's ``.grad``, sets ``self.dh0`` and returns dx.
    ``self.hidden_grads`` keeps dL/dh_t of every layer, (num_layers, N, T, H), and
    :meth:`hidden_grad_norms` their norms, for the vanishing-gradient plot.
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True, *,
                 rng: np.random.Generator, dtype=np.float32):
        super().__init__()
        if input_size <= 0 or hidden_size <= 0 or num_layers <= 0:
            raise ValueError(f"RNN needs positive sizes, got input_size={input_size}, "
                             f"hidden_size={hidden_size}, num_layers={num_layers}")
        self.input_size, self.hidden_size, self.num_layers, self.bias = input_size, hidden_size, num_layers, bias
        a = 1.0 / math.sqrt(hidden_size)
        for k in range(num_layers):
            fan_in = input_size if k == 0 else hidden_size
            # attribute order = PyTorch's parameter order, so state dicts line up
            setattr(self, f"weight_ih_l{k}", Parameter(rng.uniform(-a, a, (hidden_size, fan_in)).astype(dtype)))
            setattr(self, f"weight_hh_l{k}", Parameter(rng.uniform(-a, a, (hidden_size, hidden_size)).astype(dtype)))
            if bias:
                setattr(self, f"bias_ih_l{k}", Parameter(rng.uniform(-a, a, hidden_size).astype(dtype)))
                setattr(self, f"bias_hh_l{k}", Parameter(rng.uniform(-a, a, hidden_size).astype(dtype)))
        self._cache = None
        self.h_n = None
        self.dh0 = None
        self.hidden_grads = None

    def _layer_params(self, k: int):
        w_ih, w_hh = getattr(self, f"weight_ih_l{k}"), getattr(self, f"weight_hh_l{k}")
        b_ih = getattr(self, f"bias_ih_l{k}") if self.bias else None
        b_hh = getattr(self, f"bias_hh_l{k}") if self.bias else None
        return w_ih, w_hh, b_ih, b_hh

    def __call__(self, x, lengths=None, h0=None, *, mask=None):
        return self.forward(x, lengths, h0, mask=mask)

    def forward(self, x: np.ndarray, lengths=None, h0=None, *, mask=None):
        if x.ndim != 3 or x.shape[2] != self.input_size:
            raise ValueError(f"RNN(input_size={self.input_size}) expects x of shape (N, T, {self.input_size}) "
                             f"(batch_first), got {x.shape}")
        n, t_max, _ = x.shape
        hsz, dtype = self.hidden_size, self.weight_hh_l0.data.dtype
        if lengths is not None and mask is not None:
            raise ValueError("give either lengths or mask, not both")
        if lengths is not None:
            mask = lengths_to_mask(lengths, t_max)
        if mask is not None:
            mask = np.asarray(mask, dtype=bool)
            if mask.shape != (n, t_max):
                raise ValueError(f"mask must have shape (N, T) = {(n, t_max)}, got {mask.shape}")
            if mask.all():
                mask = None  # every step real: skip the masking work
        if h0 is None:
            h0 = np.zeros((self.num_layers, n, hsz), dtype)
        else:
            h0 = np.asarray(h0, dtype)
            if h0.ndim == 2 and self.num_layers == 1:
                h0 = h0[None]
            if h0.shape != (self.num_layers, n, hsz):
                raise ValueError(f"h0 must have shape (num_layers, N, H) = {(self.num_layers, n, hsz)}, got {h0.shape}")
        mask_tm = None if mask is None else mask.T[:, :, None]  # (T, N, 1), time-major like the loop
        inp = np.ascontiguousarray(x.transpose(1, 0, 2))  # (T, N, I): one contiguous slab per step
        caches = []
        for k in range(self.num_layers):
            w_ih, w_hh, b_ih, b_hh = self._layer_params(k)
            pre = inp @ w_ih.data.T  # (T, N, H): the input part of every step in one matmul
            if self.bias:
                pre += b_ih.data + b_hh.data
            hs = np.empty((t_max + 1, n, hsz), dtype)  # hs[t+1] = h_t, hs[0] = h0
            hs[0] = h0[k]
            w_hh_t = w_hh.data.T
            for t in range(t_max):
                a = pre[t]
                a += hs[t] @ w_hh_t
                if mask_tm is None:
                    np.tanh(a, out=hs[t + 1])
                else:
                    np.tanh(a, out=a)
                    np.copyto(hs[t + 1], np.where(mask_tm[t], a, hs[t]))  # padded: keep the state
            caches.append((inp, hs))
            inp = hs[1:] if mask_tm is None else hs[1:] * mask_tm  # (T, N, H), zero at padded steps
        self._cache = (caches, mask_tm, n, t_max)
        self.h_n = np.stack([hs[-1] for _, hs in caches])  # (num_layers, N, H)
        y = np.ascontiguousarray(inp.transpose(1, 0, 2))  # (N, T, H)
        return y, self.h_n[-1].copy()

    def backward(self, dy: np.ndarray | None, dh_n: np.ndarray | None = None) -> np.ndarray:
        """BPTT. dy: (N, T, H) gradient of y (or None); dh_n: (N, H) gradient of h_n (or None).

        Returns dx (N, T, input_size); sets ``self.dh0`` (num_layers, N, H).
        """
        if self._cache is None:
            raise RuntimeError("RNN.backward called before forward")
        caches, mask_tm, n, t_max = self._cache
        hsz, dtype = self.hidden_size, self.weight_hh_l0.data.dtype
        dout = np.zeros((t_max, n, hsz), dtype) if dy is None else np.asarray(dy, dtype).transpose(1, 0, 2)  # (T, N, H)
        dh_top = np.zeros((n, hsz), dtype) if dh_n is None else np.asarray(dh_n, dtype)
        self.hidden_grads = np.empty((self.num_layers, t_max, n, hsz), dtype)
        self.dh0 = np.empty((self.num_layers, n, hsz), dtype)
        for k in reversed(range(self.num_layers)):
            inp, hs = caches[k]
            w_ih, w_hh, b_ih, b_hh = self._layer_params(k)
            if mask_tm is not None:
                dout = dout * mask_tm  # padded outputs were constant zeros: no gradient
            dh = dh_top.copy() if k == self.num_layers - 1 else np.zeros((n, hsz), dtype)
            da_all = np.empty((t_max, n, hsz), dtype)  # dL/d(pre-activation) per step
            w = w_hh.data
            for t in reversed(range(t_max)):
                dh += dout[t]  # total dL/dh_t: from the output at t and from step t+1
                self.hidden_grads[k, t] = dh
                h = hs[t + 1]
                da = da_all[t]
                if mask_tm is None:
                    np.multiply(dh, 1.0 - h * h, out=da)  # tanh' = 1 - tanh²
                    dh = da @ w
                else:
                    m = mask_tm[t]
                    np.multiply(dh * m, 1.0 - h * h, out=da)
                    dh = da @ w + dh * ~m  # a padded step passes dh straight to h_{t-1}
            self.dh0[k] = dh
            da_flat = da_all.reshape(t_max * n, hsz)  # (T*N, H)
            w_hh.grad += da_flat.T @ hs[:-1].reshape(t_max * n, hsz)  # Σ_t da_tᵀ h_{t-1}
            w_ih.grad += da_flat.T @ inp.reshape(t_max * n, -1)  # Σ_t da_tᵀ x_t
            if self.bias:
                db = da_flat.sum(axis=0)
                b_ih.grad += db
                b_hh.grad += db
            dout = da_all @ w_ih.data  # (T, N, input of layer k): upstream of the layer below
        self.hidden_grads = self.hidden_grads.transpose(0, 2, 1, 3)  # (L, N, T, H)
        return np.ascontiguousarray(dout.transpose(1, 0, 2))  # (N, T, input_size)

    def hidden_grad_norms(self, layer: int = -1) -> np.ndarray:
        """(N, T) norms ||dL/dh_t|| of one layer from the last backward (a padded step repeats its successor's)."""
        if self.hidden_grads is None:
            raise RuntimeError("no backward has run yet")
        return np.linalg.norm(self.hidden_grads[layer], axis=-1)

    def extra_repr(self) -> str:
        return (f"{self.input_size}, {self.hidden_size}, num_layers={self.num_layers}, bias={self.bias}, "
                "batch_first=True")
