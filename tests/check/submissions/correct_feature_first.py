"""A correct submission in Ng's style: arrays (features, examples), weights (out, in), 1/m inside dW and db
(so the loss gradients omit it), parameters and gradients as dicts keyed W1/dW1."""
import numpy as np


def tanh(Z):
    return np.tanh(Z)


def tanh_backward(dA, Z):
    return dA * (1 - np.tanh(Z) ** 2)


def leaky_relu(Z):
    return np.maximum(0.01 * Z, Z)


def leaky_relu_derivative(Z):
    return np.where(Z > 0, 1.0, 0.01)


def initialize_parameters_he(layers_dims):
    params = {}
    for l in range(1, len(layers_dims)):
        params["W" + str(l)] = np.random.randn(layers_dims[l], layers_dims[l - 1]) * np.sqrt(2 / layers_dims[l - 1])
        params["b" + str(l)] = np.zeros((layers_dims[l], 1))
    return params


def initialize_parameters_zeros(layers_dims):
    return {"W1": np.zeros((layers_dims[1], layers_dims[0])), "b1": np.zeros((layers_dims[1], 1))}


def linear_forward(A, W, b):
    Z = W @ A + b
    return Z, (A, W, b)


def linear_backward(dZ, cache):
    A_prev, W, b = cache
    m = A_prev.shape[1]
    dW = dZ @ A_prev.T / m
    db = np.sum(dZ, axis=1, keepdims=True) / m
    return W.T @ dZ, dW, db


def softmax(Z):
    e = np.exp(Z - Z.max(axis=0, keepdims=True))
    return e / e.sum(axis=0, keepdims=True)


def compute_cost(AL, Y):
    return -np.sum(Y * np.log(AL)) / Y.shape[1]


def softmax_cross_entropy(AL, Y):
    return compute_cost(AL, Y)


def softmax_cross_entropy_derivative(AL, Y):
    return AL - Y  # dZ of the output layer; linear_backward divides by m


def mse(AL, Y):
    return np.sum((AL - Y) ** 2) / (2 * Y.shape[1])


def mse_derivative(AL, Y):
    return AL - Y


def compute_cost_with_regularization(AL, Y, parameters, lambd):
    m = Y.shape[1]
    L = len(parameters) // 2
    l2 = sum(np.sum(np.square(parameters["W" + str(l)])) for l in range(1, L + 1))
    return mse(AL, Y) + lambd / (2 * m) * l2


def update_parameters_with_gd(parameters, grads, learning_rate):
    for key in list(parameters):
        parameters[key] = parameters[key] - learning_rate * grads["d" + key]
    return parameters


def initialize_velocity(parameters):
    return {"d" + k: np.zeros_like(v) for k, v in parameters.items()}


def update_parameters_with_momentum(parameters, grads, v, beta, learning_rate):
    for key in list(parameters):
        v["d" + key] = beta * v["d" + key] + (1 - beta) * grads["d" + key]
        parameters[key] = parameters[key] - learning_rate * v["d" + key]
    return parameters, v


def initialize_adam(parameters):
    return initialize_velocity(parameters), initialize_velocity(parameters)


def update_parameters_with_adam(parameters, grads, v, s, t, learning_rate=0.01, beta1=0.9, beta2=0.999,
                                epsilon=1e-8):
    for key in list(parameters):
        g = grads["d" + key]
        v["d" + key] = beta1 * v["d" + key] + (1 - beta1) * g
        s["d" + key] = beta2 * s["d" + key] + (1 - beta2) * g**2
        v_corrected = v["d" + key] / (1 - beta1**t)
        s_corrected = s["d" + key] / (1 - beta2**t)
        parameters[key] = parameters[key] - learning_rate * v_corrected / (np.sqrt(s_corrected) + epsilon)
    return parameters, v, s


def conv_forward(A_prev, W, b, hparameters):
    """Ng's layout: A_prev (m, n_H, n_W, n_C_prev), W (f, f, n_C_prev, n_C), b (1, 1, 1, n_C)."""
    stride, pad = hparameters["stride"], hparameters["pad"]
    A = np.pad(A_prev, ((0, 0), (pad, pad), (pad, pad), (0, 0)))
    f = W.shape[0]
    n_H = (A.shape[1] - f) // stride + 1
    n_W = (A.shape[2] - f) // stride + 1
    Z = np.zeros((A_prev.shape[0], n_H, n_W, W.shape[3]))
    for h in range(n_H):
        for w in range(n_W):
            window = A[:, h * stride:h * stride + f, w * stride:w * stride + f, :]
            Z[:, h, w, :] = np.tensordot(window, W, axes=([1, 2, 3], [0, 1, 2])) + b[0, 0, 0]
    return Z, (A_prev, W, b, hparameters)


def conv_backward(dZ, cache):
    A_prev, W, b, hparameters = cache
    stride, pad = hparameters["stride"], hparameters["pad"]
    A = np.pad(A_prev, ((0, 0), (pad, pad), (pad, pad), (0, 0)))
    dA, dW = np.zeros_like(A), np.zeros_like(W)
    f = W.shape[0]
    for h in range(dZ.shape[1]):
        for w in range(dZ.shape[2]):
            rows, cols = slice(h * stride, h * stride + f), slice(w * stride, w * stride + f)
            dA[:, rows, cols, :] += np.tensordot(dZ[:, h, w, :], W, axes=([1], [3]))
            dW += np.tensordot(A[:, rows, cols, :], dZ[:, h, w, :], axes=([0], [0]))
    db = dZ.sum(axis=(0, 1, 2)).reshape(1, 1, 1, -1)
    return dA[:, pad:-pad, pad:-pad, :] if pad else dA, dW, db
