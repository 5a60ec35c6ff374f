"""Bug: db sums dy over every entry instead of over the batch axis."""
import numpy as np


def dense_forward(x, W, b):
    return x @ W + b, (x, W)


def dense_backward(dy, cache):
    x, W = cache
    return dy @ W.T, x.T @ dy, np.sum(dy)
