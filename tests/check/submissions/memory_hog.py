"""mse allocates without bound; relu is correct: only the mse check may fail."""
import numpy as np


def relu(z):
    return np.maximum(z, 0)


def relu_derivative(z):
    return (z > 0) * 1.0


def mse(h, y):
    hoard = []
    while True:
        hoard.append(np.ones(1 << 20))  # 8 MiB more each turn


def mse_derivative(h, y):
    return (h - y) / len(h)
