"""make_optimizer: every name builds its class, typos in the name or a hyperparameter are clear errors."""
import numpy as np
import pytest

from backproplab import nn, optim


@pytest.mark.parametrize("name, cls", [("sgd", optim.SGD), ("momentum", optim.Momentum), ("rmsprop", optim.RMSprop),
                                       ("adam", optim.Adam), ("adamw", optim.AdamW)])
def test_every_name_builds_its_class_with_the_given_hyperparameters(name, cls):
    opt = optim.make_optimizer(name, [nn.Parameter(np.zeros(2))], lr=0.123)
    assert type(opt) is cls and opt.param_groups[0]["lr"] == 0.123


def test_unknown_name_lists_the_known_ones():
    with pytest.raises(ValueError, match="unknown optimizer 'adamm'; choose one of sgd, momentum, rmsprop, adam, "
                                         "adamw"):
        optim.make_optimizer("adamm", [nn.Parameter(np.zeros(2))])


def test_unknown_hyperparameter_names_it_and_the_accepted_ones():
    with pytest.raises(ValueError, match=r"'sgd' \(SGD\) has no hyperparameter\(s\) \['momentun'\]; it takes lr, "
                                         r"momentum, dampening, nesterov, weight_decay"):
        optim.make_optimizer("sgd", [nn.Parameter(np.zeros(2))], lr=0.1, momentun=0.9)
    with pytest.raises(ValueError, match="invalid learning rate"):  # the class's own validation still runs
        optim.make_optimizer("adam", [nn.Parameter(np.zeros(2))], lr=-1.0)
