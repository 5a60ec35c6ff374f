"""backproplab.nn: layers with explicit forward/backward, PyTorch names and layouts.

To add a module, append one import line below and leave the rest of the file as it is.
"""
from .module import Module, Parameter, Sequential
from .linear import Linear
from .activation import (ACTIVATIONS, ELU, Identity, LeakyReLU, PReLU, ReLU, Sigmoid, Softmax, Tanh,
                         make_activation)
from .flatten import Flatten
from .dropout import Dropout, GaussianDropout
from .init import INIT_NAMES, fan_in_and_fan_out, init_bias, init_weight
from .loss import LOSSES, BCEWithLogitsLoss, CrossEntropyLoss, MSELoss
from .embedding import Embedding
from .rnn import RNN, lengths_to_mask
from .clip import clip_grad_norm_
from .conv import Conv1d, Conv2d
from .pooling import AdaptiveAvgPool2d, AvgPool2d, GlobalAvgPool2d, MaxPool2d
from .batchnorm import BatchNorm1d, BatchNorm2d
from .residual import Residual, ResidualBlock
from .parallel import DataParallel, available_cores
from .loss import make_loss
from . import functional
from .deform_conv import DeformConv2d, deform_conv2d
from .masked_conv import GatedActivation, GatedPixelCNNLayer, HorizontalStack, MaskedConv2d, pixelcnn_mask
from .shards import ShardsOutOfStep, ShardWorkerDied
