"""Bug: the sigmoid derivative is written for the output a = σ(z) but is called with z."""
import numpy as np


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


def sigmoid_derivative(z):
    return z * (1 - z)
