"""Bug: leaky ReLU's derivative has the wrong sign on the negative side (−α where it is +α)."""
import numpy as np

ALPHA = 0.01


def leaky_relu(z):
    return np.where(z > 0, z, ALPHA * z)


def leaky_relu_derivative(z):
    return np.where(z > 0, 1.0, -ALPHA)
