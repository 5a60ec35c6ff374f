"""backproplab.optim: optimizers over parameter lists, each written as its formula."""
from .optimizer import Optimizer, l2_param_groups
from .sgd import SGD, Momentum
from .rmsprop import RMSprop
from .adam import Adam

OPTIMIZERS = {"sgd": SGD, "momentum": Momentum, "rmsprop": RMSprop, "adam": Adam}
