"""backproplab.models: whole networks built from backproplab.nn layers.

Helpers adding a model: append one import line below, keep the file otherwise as is.
"""
from .rnn_classifier import RNNClassifier, RNNTagger, SequenceCrossEntropyLoss
from .mlp import linear_layer_indices, make_mlp
from .cnn import make_cnn, model_from_run
from .pixelcnn import PixelCNNConfig, make_pixelcnn
