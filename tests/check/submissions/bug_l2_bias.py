"""Bug: the L2 penalty and its gradient include the biases."""
import numpy as np


def l2_cost(h, y, params, gamma):
    m = h.shape[0]
    return (np.sum((h - y) ** 2) + gamma * sum(np.sum(p**2) for p in params)) / (2 * m)


def l2_grad(params, gamma, m):
    return [gamma / m * p for p in params]
