"""Fixtures of the lab tests."""
import pytest


@pytest.fixture(scope="session")
def have_fashion_mnist():
    """Skip the test when the Fashion-MNIST files are not installed."""
    from backproplab.data import DatasetNotFoundError, locate_fashion_mnist

    try:
        locate_fashion_mnist()
    except DatasetNotFoundError as e:
        pytest.skip(f"Fashion-MNIST not available: {e}")
