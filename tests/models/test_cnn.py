"""models.cnn.make_cnn: output shape and the refusal of a wrong number of conv stages."""
import numpy as np
import pytest

from backproplab.models.cnn import make_cnn


def test_make_cnn_shapes_and_bad_channels():
    rng = np.random.default_rng(0)
    model = make_cnn(rng, num_classes=7, channels=(4, 8))
    assert model.forward(np.zeros((3, 1, 28, 28), np.float32)).shape == (3, 7)
    with pytest.raises(ValueError, match="channels"):
        make_cnn(rng, channels=(4,))
