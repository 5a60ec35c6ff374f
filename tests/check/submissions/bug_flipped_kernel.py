"""Bug: the kernel is flipped (mathematical convolution) where CNNs compute cross-correlation."""
import numpy as np


def conv2d(image, kernel, padding=1):
    img = np.pad(image, padding)
    k = kernel[::-1, ::-1]
    return np.array([[np.sum(img[i:i + 3, j:j + 3] * k) for j in range(img.shape[1] - 2)]
                     for i in range(img.shape[0] - 2)])
