"""Grad-CAM, guided backpropagation and deconvnet saliency for backproplab models.

Grad-CAM (Selvaraju et al. 2017) for class c and a conv layer with activations A (K, h, w):

    α_k^c = (1 / hw) Σ_{i,j} ∂y_c / ∂A^k_{ij}       y_c: the pre-softmax score (logit)
    L^c   = ReLU(Σ_k α_k^c A^k)                      (h, w), upsampled to the input size

Guided backpropagation (Springenberg et al. 2015) and deconvnet (Zeiler & Fergus 2014)
are the input gradient ∂y_c/∂x computed with a modified ReLU backward rule:

    ordinary ReLU:  dx = dy · (x > 0)
    guided:         dx = dy · (x > 0) · (dy > 0)
    deconvnet:      dx = dy · (dy > 0)               (ignores the forward input)

The rule is swapped by giving each ReLU module an instance-level ``backward`` for the
duration of a ``with`` block; the class method is back in use afterwards, also when an
error is raised. Nothing here changes the parameters' ``.grad`` (saved and restored).

A map that is all zero (e.g. every α_k A^k sum is negative) is flagged ``all_zero`` and
left at zero: it is never divided by its own maximum.
"""
from __future__ import annotations

from contextlib import contextmanager

import numpy as np

from ..nn.activation import ReLU

RULES = ("plain", "guided", "deconvnet")


@contextmanager
def relu_backward_rule(model, rule: str):
    """Within the block, every ReLU in ``model`` backpropagates with ``rule`` ('plain', 'guided', 'deconvnet')."""
    if rule not in RULES:
        raise ValueError(f"unknown ReLU backward rule {rule!r}; choose one of {RULES}")
    relus = [m for m in model.modules() if isinstance(m, ReLU)]
    if rule != "plain" and not relus:
        raise ValueError(f"the model has no ReLU modules, so the {rule!r} rule would change nothing")
    previous = [m.__dict__.get("backward") for m in relus]
    try:
        for m in relus:
            plain = m.backward  # the bound method in use now
            if rule == "guided":
                m.backward = lambda dy, plain=plain: plain(dy) * (dy > 0)  # dy·(x>0)·(dy>0)
            elif rule == "deconvnet":
                m.backward = lambda dy: dy * (dy > 0)
        yield relus
    finally:
        for m, prev in zip(relus, previous):
            if prev is None:
                m.__dict__.pop("backward", None)  # the class method shows through again
            else:
                m.backward = prev


@contextmanager
def capture(layer):
    """Record ``layer``'s forward output and the gradient arriving at it in backward."""
    rec: dict = {}
    fwd, bwd = layer.forward, layer.backward
    had = {k: k in layer.__dict__ for k in ("forward", "backward")}
    old = {k: layer.__dict__.get(k) for k in ("forward", "backward")}

    def forward(x):
        rec["activation"] = fwd(x)
        return rec["activation"]

    def backward(dy):
        rec["grad"] = np.array(dy, copy=True)
        return bwd(dy)

    layer.forward, layer.backward = forward, backward
    try:
        yield rec
    finally:
        for k in ("forward", "backward"):
            if had[k]:
                setattr(layer, k, old[k])
            else:
                layer.__dict__.pop(k, None)


@contextmanager
def _keep_grads(model):
    """Save and restore every parameter's ``.grad``: explanations must not leak into training."""
    saved = [p.grad.copy() for p in model.parameters()]
    try:
        yield
    finally:
        for p, g in zip(model.parameters(), saved):
            p.grad[...] = g


def _one_hot(logits: np.ndarray, classes) -> np.ndarray:
    dy = np.zeros_like(logits)
    dy[np.arange(len(logits)), classes] = 1.0  # ∂y_c/∂logits: one-hot on the pre-softmax score
    return dy


def normalize_map(m: np.ndarray) -> tuple[np.ndarray, bool]:
    """Scale a non-negative map to [0, 1] by its maximum; an all-zero map stays zero and is flagged."""
    peak = float(np.max(m)) if m.size else 0.0
    if not np.isfinite(peak) or peak <= 0.0:
        return np.zeros_like(m), True
    return m / peak, False


def grad_cam(model, layer, x: np.ndarray, classes=None, upsample: bool = True) -> dict:
    """Grad-CAM of ``layer`` (a module inside ``model`` producing (N, K, h, w)) for ``classes``.

    Args:
        model: a backproplab Module, put in eval mode by the caller.
        layer: the conv-stage module whose output A is explained (typically the last ReLU of the conv part).
        x: (N, C, H, W) inputs.
        classes: (N,) class per input; ``None`` = the predicted class.

    Returns:
        dict with ``logits`` (N, classes), ``classes`` (N,), ``alpha`` (N, K), ``cam`` (N, h, w) before
        normalization, ``cam_up`` (N, H, W) normalized to [0, 1] (zero where ``all_zero``), ``all_zero`` (N,) bool.
    """
    from scipy.ndimage import zoom

    if x.ndim != 4:
        raise ValueError(f"grad_cam expects x of shape (N, C, H, W), got {x.shape}")
    with _keep_grads(model), capture(layer) as rec:
        logits = model.forward(x)
        if "activation" not in rec:
            raise ValueError("the chosen layer was not called in model.forward; pass a module of this model")
        cls = np.argmax(logits, axis=1) if classes is None else np.asarray(classes)
        model.backward(_one_hot(logits, cls))
    a, g = rec["activation"], rec["grad"]
    if a.ndim != 4:
        raise ValueError(f"Grad-CAM needs a layer with output (N, K, h, w), the chosen one gives {a.shape}")
    alpha = g.mean(axis=(2, 3))  # (N, K): global average of the gradient over positions
    cam = np.maximum(np.einsum("nk,nkhw->nhw", alpha, a), 0.0)  # (N, h, w)
    h, w = cam.shape[1:]
    ups, flags = [], []
    for m in cam:
        up = zoom(m, (x.shape[2] / h, x.shape[3] / w), order=1) if upsample else m
        up = np.maximum(up, 0.0)  # linear interpolation of non-negative values; clip rounding
        norm, zero = normalize_map(up)
        ups.append(norm)
        flags.append(zero)
    return {"logits": logits, "classes": cls, "alpha": alpha, "cam": cam, "cam_up": np.stack(ups),
            "all_zero": np.array(flags)}


def saliency(model, x: np.ndarray, classes=None, rule: str = "guided") -> dict:
    """Input gradient ∂y_c/∂x under a ReLU backward ``rule``; returns ``grad`` (N, C, H, W) and ``classes``."""
    with _keep_grads(model), relu_backward_rule(model, rule):
        logits = model.forward(x)
        cls = np.argmax(logits, axis=1) if classes is None else np.asarray(classes)
        dx = model.backward(_one_hot(logits, cls))
    return {"grad": dx, "classes": cls, "logits": logits}


def saliency_image(grad: np.ndarray) -> tuple[np.ndarray, bool]:
    """(C, H, W) gradient -> (H, W) image in [0, 1]: max |grad| over channels, normalized; flags all-zero."""
    return normalize_map(np.max(np.abs(grad), axis=0))
