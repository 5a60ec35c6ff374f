"""A correct submission: PyTorch-like layouts (weights (out, in)), backward returning (dx, dW, db), dict params."""
import numpy as np


def sigmoid(Z):
    return 1 / (1 + np.exp(-Z))


def sigmoid_backward(dA, cache):  # Ng's form: dZ = dA * σ'(Z), cache = Z
    s = sigmoid(cache)
    return dA * s * (1 - s)


def relu(Z):
    return np.maximum(Z, 0)


def relu_backward(dA, cache):
    return dA * (cache > 0)


class Linear:
    def __init__(self, in_features, out_features):
        self.W = np.random.uniform(-1, 1, (out_features, in_features)) / np.sqrt(in_features)
        self.b = np.zeros(out_features)

    def __call__(self, x):
        self.x = x
        return x @ self.W.T + self.b

    def backward(self, dy):
        return dy @ self.W, dy.T @ self.x, dy.sum(axis=0)


def softmax_loss(x, y):
    """CS231n's form: (loss, dx) in one call."""
    shifted = x - x.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    n = x.shape[0]
    loss = -log_probs[np.arange(n), y].mean()
    dx = np.exp(log_probs)
    dx[np.arange(n), y] -= 1
    return loss, dx / n


def mean_squared_error(y_true, y_pred):
    return ((y_pred - y_true) ** 2).sum() / (2 * y_true.shape[0])


def mean_squared_error_derivative(y_true, y_pred):
    return (y_pred - y_true) / y_true.shape[0]


def regularized_cost(predictions, targets, parameters, lambd):
    m = predictions.shape[0]
    penalty = sum(np.sum(v**2) for k, v in parameters.items() if k.startswith("W"))
    return (np.sum((predictions - targets) ** 2) + lambd * penalty) / (2 * m)


def l2_gradient(parameters, lambd, m):
    return {k: lambd / m * v for k, v in parameters.items() if k.startswith("W")}


class GradientDescent:
    def __init__(self, learning_rate):
        self.learning_rate = learning_rate

    def step(self, params, grads):
        return {k: params[k] - self.learning_rate * grads["d" + k] for k in params}


class SGDMomentum:
    def __init__(self, learning_rate, momentum=0.9):
        self.learning_rate, self.momentum, self.velocity = learning_rate, momentum, {}

    def step(self, params, grads):
        for k in params:
            v = self.velocity.get(k, 0.0)
            self.velocity[k] = self.momentum * v + (1 - self.momentum) * grads["d" + k]
            params[k] = params[k] - self.learning_rate * self.velocity[k]
        return params


class RMSProp:
    def __init__(self, learning_rate, rho=0.9, epsilon=1e-7):
        self.learning_rate, self.rho, self.epsilon, self.cache = learning_rate, rho, epsilon, {}

    def step(self, params, grads):
        for k in params:
            g = grads["d" + k]
            self.cache[k] = self.rho * self.cache.get(k, 0.0) + (1 - self.rho) * g**2
            params[k] = params[k] - self.learning_rate * g / (np.sqrt(self.cache[k]) + self.epsilon)
        return params


class AdamOptimizer:
    def __init__(self, lr=1e-3, betas=(0.9, 0.999), eps=1e-8):
        self.lr, self.betas, self.eps = lr, betas, eps
        self.m, self.v, self.t = {}, {}, 0

    def step(self, params, grads):
        self.t += 1
        b1, b2 = self.betas
        for k in params:
            g = grads["d" + k]
            self.m[k] = b1 * self.m.get(k, 0.0) + (1 - b1) * g
            self.v[k] = b2 * self.v.get(k, 0.0) + (1 - b2) * g * g
            m_hat, v_hat = self.m[k] / (1 - b1**self.t), self.v[k] / (1 - b2**self.t)
            params[k] = params[k] - self.lr * m_hat / (np.sqrt(v_hat) + self.eps)
        return params


def convolve2d(image, kernel, padding=0):
    """Single channel, cross-correlation (no kernel flip), stride 1."""
    img = np.pad(image, padding)
    kh, kw = kernel.shape
    return np.array([[np.sum(img[i:i + kh, j:j + kw] * kernel) for j in range(img.shape[1] - kw + 1)]
                     for i in range(img.shape[0] - kh + 1)])
