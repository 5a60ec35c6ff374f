"""backproplab.optim: optimizers over parameter lists, each written as its formula."""
from .optimizer import Optimizer, l2_param_groups
from .sgd import SGD, Momentum
from .rmsprop import RMSprop
from .adam import Adam
from .adamw import AdamW
from .registry import OPTIMIZERS, make_optimizer
from . import lr_scheduler
