"""nn.make_loss: every name builds its loss, a typo in the name or an option is a clear error."""
import pytest

from backproplab import nn


@pytest.mark.parametrize("name, cls", [("mse", nn.MSELoss), ("bce", nn.BCEWithLogitsLoss),
                                       ("cross_entropy", nn.CrossEntropyLoss)])
def test_every_name(name, cls):
    assert type(nn.make_loss(name)) is cls and nn.LOSSES[name] is cls


def test_errors():
    with pytest.raises(ValueError, match="unknown loss 'xent'; choose one of mse, bce, cross_entropy"):
        nn.make_loss("xent")
    with pytest.raises(ValueError, match=r"'mse' \(MSELoss\) has no option\(s\) \['reduction'\]; it takes none"):
        nn.make_loss("mse", reduction="sum")
