"""sigmoid never returns; mse is correct: only the activations check may fail."""
import numpy as np


def sigmoid(z):
    while True:
        pass


def mse(h, y):
    return np.sum((h - y) ** 2) / (2 * len(h))


def mse_derivative(h, y):
    return (h - y) / len(h)
