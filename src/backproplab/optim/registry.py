"""Optimizers by name: ``make_optimizer("adam", model.parameters(), lr=1e-3)``.

Labs and configs name an optimizer with a string; this is the one place that maps the
string to a class and checks the hyperparameters against the class's own signature.
"""
from __future__ import annotations

import inspect

from .adam import Adam
from .adamw import AdamW
from .rmsprop import RMSprop
from .sgd import SGD, Momentum

#: name -> optimizer class ("momentum" is the assignment's EMA form; PyTorch's is sgd with momentum=)
OPTIMIZERS = {"sgd": SGD, "momentum": Momentum, "rmsprop": RMSprop, "adam": Adam, "adamw": AdamW}


def hyperparameters_of(cls) -> list[str]:
    """The keyword arguments ``cls(params, ...)`` accepts, in signature order."""
    names = list(inspect.signature(cls.__init__).parameters)
    return [n for n in names if n not in ("self", "params")]


def make_optimizer(name: str, params, **hyperparameters):
    """``OPTIMIZERS[name](params, **hyperparameters)``, with a clear error for a typo in either.

    Raises:
        ValueError: an unknown name (the message lists the known ones), or a hyperparameter the
            optimizer does not take (the message lists those it does).
    """
    try:
        cls = OPTIMIZERS[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown optimizer {name!r}; choose one of {', '.join(OPTIMIZERS)}") from None
    known = hyperparameters_of(cls)
    unknown = sorted(set(hyperparameters) - set(known))
    if unknown:
        raise ValueError(f"optimizer {name!r} ({cls.__name__}) has no hyperparameter(s) {unknown}; "
                         f"it takes {', '.join(known)}")
    return cls(params, **hyperparameters)
