"""A correct submission written as plain functions (CS231n / assignment style), batch-first, weights (in, out)."""
import numpy as np


def identity(z):
    return z


def identity_derivative(z):
    return np.ones_like(z)


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def sigmoid_derivative(z):
    s = sigmoid(z)
    return s * (1 - s)


def tanh(z):
    return 2 * sigmoid(2 * z) - 1


def tanh_derivative(a):  # takes the output a = tanh(z): the parameter name says so
    return 1 - a**2


def relu(z):
    return np.maximum(0, z)


def relu_derivative(z):
    return (z > 0).astype(float)


def leaky_relu(z, alpha=0.01):
    return np.where(z > 0, z, alpha * z)


def d_leaky_relu(z, alpha=0.01):
    return np.where(z > 0, 1.0, alpha)


def zeros_init(shape):
    return np.zeros(shape)


def small_random_init(shape):
    return np.random.randn(*shape) * 0.01


def large_random_init(shape):
    return np.random.randn(*shape) * 5.0


def xavier_init(shape):
    return np.random.randn(*shape) * np.sqrt(1 / shape[0])  # shape = (n_in, n_out) as in the assignment


def he_init(n_in, n_out):
    return np.random.randn(n_in, n_out) * np.sqrt(2 / n_in)


def affine_forward(x, w, b):
    return x @ w + b, (x, w)


def affine_backward(dout, cache):
    x, w = cache
    return dout @ w.T, x.T @ dout, dout.sum(axis=0)


def softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def cross_entropy(probs, labels):
    m = len(labels)
    return -np.log(probs[np.arange(m), labels]).mean()


def cross_entropy_derivative(probs, labels):
    m = len(labels)
    grad = probs.copy()
    grad[np.arange(m), labels] -= 1
    return grad / m


def mse(h, y):
    return np.sum((h - y) ** 2) / (2 * len(h))


def mse_derivative(h, y):
    return (h - y) / len(h)


def l2_cost(h, y, params, gamma):
    m = len(h)
    weights = sum(np.sum(p**2) for p in params if p.ndim >= 2)
    return (np.sum((h - y) ** 2) + gamma * weights) / (2 * m)


def l2_grad(params, gamma, m):
    return [gamma / m * p if p.ndim >= 2 else np.zeros_like(p) for p in params]


def sgd_update(params, grads, lr):
    return [p - lr * g for p, g in zip(params, grads)]


def momentum_update(params, grads, v, lr, beta):
    v = [beta * vi + (1 - beta) * g for vi, g in zip(v, grads)]
    return [p - lr * vi for p, vi in zip(params, v)], v


def rmsprop_update(params, grads, s, lr, beta, eps=1e-8):
    s = [beta * si + (1 - beta) * g**2 for si, g in zip(s, grads)]
    return [p - lr * g / (np.sqrt(si) + eps) for p, g, si in zip(params, grads, s)], s


def adam_update(params, grads, v, s, t, lr, beta1, beta2, eps=1e-8):
    v = [beta1 * vi + (1 - beta1) * g for vi, g in zip(v, grads)]
    s = [beta2 * si + (1 - beta2) * g**2 for si, g in zip(s, grads)]
    new = [p - lr * (vi / (1 - beta1**t)) / (np.sqrt(si / (1 - beta2**t)) + eps) for p, vi, si in zip(params, v, s)]
    return new, v, s


def conv_forward_naive(x, w, b, conv_param):
    """CS231n's layout: x (N, C, H, W), w (F, C, HH, WW)."""
    stride, pad = conv_param["stride"], conv_param["pad"]
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    n, _, h, wd = xp.shape
    f, _, hh, ww = w.shape
    ho, wo = (h - hh) // stride + 1, (wd - ww) // stride + 1
    out = np.zeros((n, f, ho, wo))
    for i in range(ho):
        for j in range(wo):
            patch = xp[:, :, i * stride:i * stride + hh, j * stride:j * stride + ww]
            out[:, :, i, j] = np.tensordot(patch, w, axes=([1, 2, 3], [1, 2, 3])) + b
    return out, (x, w, b, conv_param)


def conv_backward_naive(dout, cache):
    x, w, b, conv_param = cache
    stride, pad = conv_param["stride"], conv_param["pad"]
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    dxp, dw = np.zeros_like(xp), np.zeros_like(w)
    _, _, hh, ww = w.shape
    for i in range(dout.shape[2]):
        for j in range(dout.shape[3]):
            rows, cols = slice(i * stride, i * stride + hh), slice(j * stride, j * stride + ww)
            dw += np.tensordot(dout[:, :, i, j], xp[:, :, rows, cols], axes=([0], [0]))
            dxp[:, :, rows, cols] += np.tensordot(dout[:, :, i, j], w, axes=([1], [0]))
    dx = dxp[:, :, pad:-pad, pad:-pad] if pad else dxp
    return dx, dw, dout.sum(axis=(0, 2, 3))


def residual_block(x, kernel):
    z = conv_forward_naive(x[None, None], kernel[None, None], np.zeros(1), {"stride": 1, "pad": 1})[0][0, 0]
    return relu(relu(z) + x)


def max_pool(h, size=2, stride=2):
    rows, cols = (h.shape[0] - size) // stride + 1, (h.shape[1] - size) // stride + 1
    return np.array([[h[i * stride:i * stride + size, j * stride:j * stride + size].max() for j in range(cols)]
                     for i in range(rows)])


def global_average_pool(p):
    return p.mean()


if __name__ == "__main__":  # experiments: never run by the checker
    raise SystemExit("training would start here")
