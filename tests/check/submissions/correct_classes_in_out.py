"""A correct submission written as classes: weights (in, out), gradients stored on the layer, lists of params."""
import numpy as np


class Sigmoid:
    def forward(self, x):
        self.out = 1 / (1 + np.exp(-x))
        return self.out

    def backward(self, dy):
        return dy * self.out * (1 - self.out)


class ReLU:
    def forward(self, x):
        self.mask = x > 0
        return x * self.mask

    def backward(self, dy):
        return dy * self.mask


class Tanh:
    def forward(self, x):
        self.out = np.tanh(x)
        return self.out

    def backward(self, dy):
        return dy * (1 - self.out**2)


class LeakyReLU:
    def __init__(self, slope=0.2):
        self.slope = slope

    def forward(self, x):
        self.x = x
        return np.where(x > 0, x, self.slope * x)

    def backward(self, dy):
        return np.where(self.x > 0, dy, self.slope * dy)


class Dense:
    def __init__(self, n_inputs, n_neurons):
        self.weights = 0.01 * np.random.randn(n_inputs, n_neurons)
        self.biases = np.zeros((1, n_neurons))

    def forward(self, inputs):
        self.inputs = inputs
        return inputs @ self.weights + self.biases

    def backward(self, dvalues):
        self.dweights = self.inputs.T @ dvalues
        self.dbiases = np.sum(dvalues, axis=0, keepdims=True)
        return dvalues @ self.weights.T


class CrossEntropyLoss:
    def forward(self, logits, labels):
        z = logits - logits.max(axis=1, keepdims=True)
        self.p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
        self.labels = labels
        return -np.mean(np.log(self.p[np.arange(len(labels)), labels]))

    def backward(self):
        d = self.p.copy()
        d[np.arange(len(self.labels)), self.labels] -= 1
        return d / len(self.labels)


class MSE:
    def forward(self, y_pred, y_true):
        self.diff = y_pred - y_true
        return 0.5 * np.sum(self.diff**2) / len(y_pred)

    def backward(self):
        return self.diff / len(self.diff)


class SGD:
    def __init__(self, lr=0.01):
        self.lr = lr

    def update(self, params, grads):
        for p, g in zip(params, grads):
            p -= self.lr * g


class Momentum:
    def __init__(self, lr=0.01, beta=0.9):
        self.lr, self.beta, self.v = lr, beta, None

    def update(self, params, grads):
        if self.v is None:
            self.v = [np.zeros_like(p) for p in params]
        for i, (p, g) in enumerate(zip(params, grads)):
            self.v[i] = self.beta * self.v[i] + (1 - self.beta) * g
            p -= self.lr * self.v[i]


class RMSprop:
    def __init__(self, lr=0.001, beta=0.9, eps=1e-8):
        self.lr, self.beta, self.eps, self.s = lr, beta, eps, None

    def update(self, params, grads):
        if self.s is None:
            self.s = [np.zeros_like(p) for p in params]
        for i, (p, g) in enumerate(zip(params, grads)):
            self.s[i] = self.beta * self.s[i] + (1 - self.beta) * g**2
            p -= self.lr * g / (np.sqrt(self.s[i]) + self.eps)


class Adam:
    def __init__(self, learning_rate=0.001, beta1=0.9, beta2=0.999, epsilon=1e-8):
        self.learning_rate, self.beta1, self.beta2, self.epsilon = learning_rate, beta1, beta2, epsilon
        self.t, self.v, self.s = 0, None, None

    def update(self, params, grads):
        if self.v is None:
            self.v = [np.zeros_like(p) for p in params]
            self.s = [np.zeros_like(p) for p in params]
        self.t += 1
        for i, (p, g) in enumerate(zip(params, grads)):
            self.v[i] = self.beta1 * self.v[i] + (1 - self.beta1) * g
            self.s[i] = self.beta2 * self.s[i] + (1 - self.beta2) * g**2
            v_hat = self.v[i] / (1 - self.beta1**self.t)
            s_hat = self.s[i] / (1 - self.beta2**self.t)
            p -= self.learning_rate * v_hat / np.sqrt(s_hat + self.epsilon)  # ε inside the root, as the assignment


class Conv2d:
    """NCHW, weights (out_channels, in_channels, k, k); gradients stored as dW, db."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0):
        self.W = np.random.randn(out_channels, in_channels, kernel_size, kernel_size) * 0.1
        self.b = np.zeros(out_channels)
        self.k, self.padding = kernel_size, padding

    def _patches(self, x):
        p, k = self.padding, self.k
        xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
        ho, wo = xp.shape[2] - k + 1, xp.shape[3] - k + 1
        return xp, np.stack([xp[:, :, i:i + ho, j:j + wo] for i in range(k) for j in range(k)], axis=2)

    def forward(self, x):
        self.x_shape = x.shape
        self.xp, self.cols = self._patches(x)  # cols: (N, C, k*k, Ho, Wo)
        w = self.W.reshape(self.W.shape[0], self.W.shape[1], -1)
        return np.einsum("nckhw,fck->nfhw", self.cols, w) + self.b[None, :, None, None]

    def backward(self, dy):
        f, c, k, p = self.W.shape[0], self.W.shape[1], self.k, self.padding
        self.dW = np.einsum("nckhw,nfhw->fck", self.cols, dy).reshape(self.W.shape)
        self.db = dy.sum(axis=(0, 2, 3))
        dcols = np.einsum("fck,nfhw->nckhw", self.W.reshape(f, c, -1), dy)
        dxp = np.zeros_like(self.xp)
        ho, wo = dy.shape[2], dy.shape[3]
        for idx in range(k * k):
            i, j = divmod(idx, k)
            dxp[:, :, i:i + ho, j:j + wo] += dcols[:, :, idx]
        return dxp[:, :, p:dxp.shape[2] - p, p:dxp.shape[3] - p]
