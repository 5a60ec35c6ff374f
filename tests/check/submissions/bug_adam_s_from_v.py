"""Bug: Adam's second moment is updated from the first moment's buffer (S = β₂V + (1−β₂)g²), a slip the
assignment's own Algorithm 3 makes; √S then meets negative numbers."""
import numpy as np


class Adam:
    def __init__(self, lr=0.001, beta1=0.9, beta2=0.999, eps=1e-8):
        self.lr, self.beta1, self.beta2, self.eps = lr, beta1, beta2, eps
        self.t, self.V, self.S = 0, None, None

    def update(self, params, grads):
        if self.V is None:
            self.V = [np.zeros_like(p) for p in params]
            self.S = [np.zeros_like(p) for p in params]
        self.t += 1
        for i, (p, g) in enumerate(zip(params, grads)):
            self.V[i] = self.beta1 * self.V[i] + (1 - self.beta1) * g
            self.S[i] = self.beta2 * self.V[i] + (1 - self.beta2) * g * g
            v_hat = self.V[i] / (1 - self.beta1**self.t)
            s_hat = self.S[i] / (1 - self.beta2**self.t)
            p -= self.lr * v_hat / (np.sqrt(s_hat) + self.eps)
