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


@pytest.fixture
def lab_run():
    """Run a lab's quick configuration (plus overrides) through the real runner.

    ``result, folder = lab_run(module, tmp_path, langs=("en", "fa"), num_epochs=2)``
    """
    import dataclasses

    from backproplab.labs.runner import run_lab

    def run(module, out, langs=("en",), quick=True, **changes):
        config = module.Config().quick() if quick else module.Config()
        if changes:
            config = dataclasses.replace(config, **changes)
        return run_lab(module, config, out, langs=langs), out

    return run


@pytest.fixture
def torch():
    """PyTorch, the oracle of the two-way checks. A test that asks for it is skipped where PyTorch is not
    installed, while the NumPy-only tests of the same file still run."""
    return pytest.importorskip("torch")
