"""Runs an experiment at import time: the data file is not there."""
import numpy as np


def relu(z):
    return np.maximum(z, 0)


x_train = np.load("x_train.npz")["arr_0"]
