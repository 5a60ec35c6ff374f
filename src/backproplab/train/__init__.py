"""backproplab.train: the training loop, its history and checkpoints."""
from .history import History
from .checkpoint import load_checkpoint, save_checkpoint
from .trainer import Trainer, TrainingDiverged
from .callbacks import Callback, EarlyStopping
from .diagnostics import CODES, Finding, diagnose
