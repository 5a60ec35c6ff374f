"""Bug: a convolution layer whose loops index the kernel as w[f, c, j, i] (rows and columns swapped),
in the forward pass and in the weight gradient alike. CS231n's function pair, NCHW."""
import numpy as np


def conv_forward_naive(x, w, b, conv_param):
    pad = conv_param["pad"]
    n, _, h, wd = x.shape
    f, _, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    out = np.zeros((n, f, h + 2 * pad - kh + 1, wd + 2 * pad - kw + 1))
    for i in range(kh):
        for j in range(kw):
            window = xp[:, :, i:i + out.shape[2], j:j + out.shape[3]]
            out += np.einsum("nchw,fc->nfhw", window, w[:, :, j, i])
    out += b[None, :, None, None]
    return out, (x, w, b, conv_param)


def conv_backward_naive(dout, cache):
    x, w, b, conv_param = cache
    pad = conv_param["pad"]
    kh, kw = w.shape[2:]
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    dxp, dw = np.zeros_like(xp), np.zeros_like(w)
    oh, ow = dout.shape[2:]
    for i in range(kh):
        for j in range(kw):
            window = xp[:, :, i:i + oh, j:j + ow]
            dw[:, :, j, i] = np.einsum("nchw,nfhw->fc", window, dout)
            dxp[:, :, i:i + oh, j:j + ow] += np.einsum("nfhw,fc->nchw", dout, w[:, :, j, i])
    dx = dxp[:, :, pad:-pad, pad:-pad] if pad else dxp
    return dx, dw, dout.sum(axis=(0, 2, 3))
