"""Fixtures shared by several test files."""
import pytest


@pytest.fixture
def one_torch_thread():
    """One PyTorch intra-op thread for the test: on a shared 2-core machine, spinning thread
    pools made the MobileNet tests 20x slower."""
    torch = pytest.importorskip("torch")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
