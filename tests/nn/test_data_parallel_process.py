"""nn.DataParallel(backend="process"): the same numbers as the thread backend bit for bit (BatchNorm,
Dropout, Trainer runs and resumes), worker errors and deaths, re-layout, shutdown, bad input."""
import copy
import gc
import os

import numpy as np
import pytest

from backproplab import nn, optim
from backproplab.analysis import check_module_grads, rel_error
from backproplab.train import Trainer

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="the process backend needs fork()")


def bn_cnn(seed=0, dropout=0.5):
    rng = np.random.default_rng(seed)
    return nn.Sequential(nn.Conv2d(2, 4, 3, padding=1, bias=False, rng=rng), nn.BatchNorm2d(4), nn.ReLU(),
                         nn.MaxPool2d(2), nn.Flatten(), nn.Linear(36, 8, rng=rng), nn.BatchNorm1d(8), nn.Tanh(),
                         nn.Dropout(dropout, rng=np.random.default_rng(seed + 1)), nn.Linear(8, 3, rng=rng))


def mlp(seed=0, act=nn.ReLU):
    rng = np.random.default_rng(seed)
    return nn.Sequential(nn.Linear(5, 16, rng=rng), act(), nn.Linear(16, 3, rng=rng))


def _step(model, x, dy):
    y = model.forward(x)
    model.zero_grad()
    return y, model.backward(dy)


@pytest.mark.parametrize("n, threads", [(8, 2), (7, 3), (2, 3)])
def test_the_process_backend_gives_the_thread_backends_numbers_bit_for_bit(n, threads):
    rng = np.random.default_rng(n + threads)
    by_thread = nn.DataParallel(bn_cnn().double(), threads)
    by_process = nn.DataParallel(bn_cnn().double(), threads, backend="process")
    plain = bn_cnn().double()
    for step in range(3):  # BatchNorm statistics, dropout masks and SGD updates, step after step
        x, dy = rng.standard_normal((n, 2, 6, 6)) + step, rng.standard_normal((n, 3))
        (y_t, dx_t), (y_p, dx_p) = _step(by_thread, x, dy), _step(by_process, x, dy)
        assert np.array_equal(y_t, y_p) and np.array_equal(dx_t, dx_p)
        for p, q in zip(by_thread.parameters(), by_process.parameters()):
            assert np.array_equal(p.grad, q.grad)
            p.data -= 0.1 * p.grad
            q.data -= 0.1 * q.grad  # in place: the workers see it through the shared block
    for (name, a), (_, b) in zip(by_thread.named_buffers(), by_process.named_buffers()):
        assert np.array_equal(a, b), name
    for model in (by_thread, by_process, plain):
        model.eval()
    plain.load_state_dict({k[len("module."):]: v for k, v in by_process.state_dict().items()})
    x = rng.standard_normal((n, 2, 6, 6))
    assert rel_error(by_process.forward(x), plain.forward(x)) < 1e-12  # eval: running statistics reach workers
    by_process.close()


def test_gradcheck_and_no_input_gradient_through_processes():
    rng = np.random.default_rng(3)
    dp = nn.DataParallel(mlp(act=nn.Tanh).double(), threads=2, backend="process")  # smooth: no kink near a point
    errors = check_module_grads(dp, rng.standard_normal((5, 5)), rng, h=1e-4)
    assert set(errors) == {"x"} | {name for name, _ in dp.named_parameters()}
    assert max(errors.values()) < 1e-6, errors
    dp.needs_input_grad = False
    dp.forward(rng.standard_normal((6, 5)))
    assert dp.backward(rng.standard_normal((6, 3))) is None
    dp.close()


def test_trainer_runs_repeat_resume_and_match_the_thread_backend(tmp_path):
    rng = np.random.default_rng(8)
    x = rng.standard_normal((64, 2, 6, 6)).astype(np.float32)
    y = rng.integers(0, 3, 64)

    def run(backend, epochs, checkpoint=None):
        model = nn.DataParallel(bn_cnn(seed=2), threads=2, backend=backend)
        trainer = Trainer(model, nn.CrossEntropyLoss(), optim.Adam(model.parameters(), lr=1e-2), batch_size=16,
                          num_epochs=epochs, rng=np.random.default_rng(0), checkpoint_path=checkpoint)
        history = trainer.fit(x, y, x[:20], y[:20])
        model.close()
        return model.state_dict(), history

    (threads, h_threads), (processes, h_processes) = run("thread", 3), run("process", 3)
    run("thread", 1, tmp_path / "ck.npz")  # a run interrupted under one backend resumes under the other
    resumed, _ = run("process", 3, tmp_path / "ck.npz")
    assert h_threads.train_loss == h_processes.train_loss
    for key, value in threads.items():
        assert np.array_equal(value, processes[key]) and np.array_equal(value, resumed[key]), key


class _FailOnNaN(nn.Module):
    def forward(self, x):
        if np.isnan(x).any():
            raise ValueError("this shard got a NaN")
        return x

    def backward(self, dy):
        return dy


class _DieOnNaN(_FailOnNaN):
    def forward(self, x):
        if np.isnan(x).any():
            os._exit(3)  # a worker killed mid-call (out of memory, kill -9)
        return x


def _bn_after(layer):
    return nn.Sequential(layer, nn.BatchNorm1d(3), nn.Linear(3, 2, rng=np.random.default_rng(0)))


def test_a_worker_error_comes_back_with_its_type_and_traceback_and_the_next_call_works():
    dp = nn.DataParallel(_bn_after(_FailOnNaN()), threads=2, backend="process")
    x = np.random.default_rng(9).standard_normal((6, 3))
    x[5, 0] = np.nan  # only the worker's shard fails, before BatchNorm, where rank 0 waits for it
    with pytest.raises(ValueError, match="this shard got a NaN") as info:
        dp.forward(x)
    assert any("worker process 1" in note and "in forward" in note for note in info.value.__notes__)
    x[5, 0] = 0.0
    assert dp.forward(x).shape == (6, 2)  # the same workers, barrier reset
    dp.close()


def test_a_worker_that_dies_mid_call_is_reported_and_replaced():
    dp = nn.DataParallel(_bn_after(_DieOnNaN()), threads=2, backend="process")
    x = np.random.default_rng(10).standard_normal((6, 3))
    dp.forward(x)
    first = dp.runner.workers.processes[0]
    x[5, 0] = np.nan
    with pytest.raises(RuntimeError, match=r"worker process 1 .* died with exit code 3"):
        dp.forward(x)  # rank 0 waited in BatchNorm: the watchdog released it
    x[5, 0] = 0.0
    assert dp.forward(x).shape == (6, 2)
    assert dp.runner.workers.processes[0].pid != first.pid
    os.kill(dp.runner.workers.processes[0].pid, 9)  # killed between calls: replaced without an error
    dp.runner.workers.processes[0].join(10)
    assert dp.forward(x).shape == (6, 2)
    dp.close()


def test_replaced_arrays_and_new_dtypes_reach_the_workers():
    rng = np.random.default_rng(11)
    plain, dp = mlp(seed=1), nn.DataParallel(mlp(), threads=2, backend="process")
    x = rng.standard_normal((6, 5)).astype(np.float32)
    dp.forward(x)
    dp.module.load_state_dict(plain.state_dict())  # after the workers started
    assert rel_error(dp.forward(x), plain.forward(x)) < 1e-6
    old = dp.runner.workers
    dp.double()  # every array replaced by a float64 one: a new shared layout, new workers
    plain.double()
    y = dp.forward(x.astype(np.float64))
    assert y.dtype == np.float64 and rel_error(y, plain.forward(x.astype(np.float64))) < 1e-12
    assert dp.runner.workers is not old and old.broken
    dp.close()


def test_close_and_garbage_collection_stop_the_workers():
    dp = nn.DataParallel(mlp(), threads=3, backend="process")
    dp.forward(np.ones((6, 5), np.float32))
    procs = dp.runner.workers.processes
    dp.close()
    assert not any(p.is_alive() for p in procs)
    assert dp.forward(np.ones((6, 5), np.float32)).shape == (6, 3)  # new workers
    procs = dp.runner.workers.processes
    del dp
    gc.collect()
    for p in procs:
        p.join(10)
    assert not any(p.is_alive() for p in procs)


def test_a_copy_starts_workers_of_its_own():
    dp = nn.DataParallel(bn_cnn(), threads=2, backend="process").eval()
    x = np.random.default_rng(12).standard_normal((4, 2, 6, 6)).astype(np.float32)
    y = dp.forward(x)
    twin = copy.deepcopy(dp)
    assert np.array_equal(twin.forward(x), y) and twin.runner.workers is not dp.runner.workers
    dp.close()
    twin.close()


def test_per_sample_arguments_travel_to_the_workers():
    from backproplab.models.rnn_classifier import RNNClassifier

    def model():
        return RNNClassifier(vocab_size=20, embedding_dim=6, hidden_size=5, num_classes=3,
                             rng=np.random.default_rng(1)).double()

    rng = np.random.default_rng(13)
    plain, dp = model(), nn.DataParallel(model(), threads=2, backend="process")
    x, lengths = rng.integers(1, 20, (7, 9)), rng.integers(1, 10, 7)
    assert rel_error(dp.forward(x, lengths), plain.forward(x, lengths)) < 1e-12
    with pytest.raises(TypeError, match="passes arrays, numbers and strings to the workers, got dict"):
        dp.forward(x, {"lengths": lengths})
    dp.close()


def test_bad_backend():
    with pytest.raises(ValueError, match=r"backend must be one of \('thread', 'process'\), got 'gpu'"):
        nn.DataParallel(mlp(), backend="gpu")
