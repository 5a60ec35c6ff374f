"""nn.DataParallel: sharded forward/backward equals the plain module (outputs, dx, every
gradient), gradcheck, Trainer runs, mode and parameter sync, BLAS limits restored, errors."""
import numpy as np
import pytest

from backproplab import nn, optim
from backproplab.analysis import check_module_grads, rel_error
from backproplab.utils.cores import blas_libraries
from backproplab.train import Trainer


def cnn(seed=0, act=nn.ReLU):
    rng = np.random.default_rng(seed)
    return nn.Sequential(nn.Conv2d(2, 4, 3, padding=1, rng=rng), act(), nn.MaxPool2d(2),
                         nn.Conv2d(4, 6, 3, stride=2, rng=rng), nn.Tanh(), nn.Flatten(), nn.Linear(6, 3, rng=rng))


def mlp(seed=0):
    rng = np.random.default_rng(seed)
    return nn.Sequential(nn.Linear(5, 16, rng=rng), nn.ReLU(), nn.Linear(16, 8, rng=rng), nn.ELU(),
                         nn.Linear(8, 3, rng=rng))


def _input(model_fn, n, rng):
    return rng.standard_normal((n, 2, 6, 6) if model_fn is cnn else (n, 5))


@pytest.mark.parametrize("model_fn", [cnn, mlp])
@pytest.mark.parametrize("n, threads", [(8, 2), (7, 3), (2, 4), (1, 2), (5, 1)])
def test_sharded_run_equals_the_plain_module(model_fn, n, threads):
    rng = np.random.default_rng(n * 10 + threads)
    plain, shared = model_fn().double(), model_fn().double()
    dp = nn.DataParallel(shared, threads=threads)
    x = _input(model_fn, n, rng)
    y_ref, y = plain.forward(x), dp.forward(x)
    assert y.shape == y_ref.shape and rel_error(y, y_ref) < 1e-12
    dy = rng.standard_normal(y.shape)
    plain.zero_grad()
    dp.zero_grad()
    dx_ref, dx = plain.backward(dy), dp.backward(dy)
    assert rel_error(dx, dx_ref) < 1e-12
    grads = dict(dp.named_parameters())
    for name, p in plain.named_parameters():
        assert rel_error(grads[f"module.{name}"].grad, p.grad) < 1e-12, name
    # a second step accumulates like the plain module (no stale replica gradients)
    plain.backward(dy)
    dp.forward(x)
    dp.backward(dy)
    for name, p in plain.named_parameters():
        assert rel_error(grads[f"module.{name}"].grad, p.grad) < 1e-12, name


def test_gradcheck_through_data_parallel():
    rng = np.random.default_rng(3)
    dp = nn.DataParallel(cnn(act=nn.Tanh).double(), threads=2)  # smooth: no kink within h of a point
    errors = check_module_grads(dp, rng.standard_normal((5, 2, 6, 6)), rng, h=1e-4)  # round-off of h=1e-6 is ~1e-6 here
    assert set(errors) == {"x"} | {name for name, _ in dp.named_parameters()}
    assert max(errors.values()) < 1e-6, errors


def test_first_layer_skip_returns_none_and_keeps_weight_grads():
    rng = np.random.default_rng(4)
    plain, dp = mlp().double(), nn.DataParallel(mlp().double(), threads=2)
    dp.needs_input_grad = False
    x = rng.standard_normal((6, 5))
    dy = rng.standard_normal((6, 3))
    plain.forward(x)
    plain.backward(dy)
    dp.forward(x)
    assert dp.backward(dy) is None
    assert rel_error(dp.module[0].weight.grad, plain[0].weight.grad) < 1e-12


def test_trainer_with_data_parallel_matches_plain_training_and_repeats_exactly():
    rng = np.random.default_rng(5)
    x = rng.standard_normal((96, 5)).astype(np.float32)
    y = (x[:, 0] - x[:, 2] > 0).astype(np.int64) + (x[:, 1] > 1)

    def run(wrap):
        model = mlp(seed=1)
        model = nn.DataParallel(model, threads=2) if wrap else model
        trainer = Trainer(model, nn.CrossEntropyLoss(), optim.Adam(model.parameters(), lr=1e-2), batch_size=32,
                          num_epochs=4, rng=np.random.default_rng(0))
        history = trainer.fit(x, y, x[:40], y[:40])
        return history, model.state_dict()

    (h_plain, w_plain), (h_dp, w_dp), (h_dp2, w_dp2) = run(False), run(True), run(True)
    for key, value in w_plain.items():
        assert rel_error(w_dp[f"module.{key}"], value) < 1e-4, key  # float32: summation order only
        assert np.array_equal(w_dp[f"module.{key}"], w_dp2[f"module.{key}"]), key  # same seed, same numbers
    assert abs(h_dp.test_acc[-1] - h_plain.test_acc[-1]) <= 1 / 40
    assert h_dp.train_loss == h_dp2.train_loss


def test_replicas_follow_mode_and_replaced_parameters():
    dp = nn.DataParallel(mlp(), threads=3)
    dp.eval()
    assert not any(m.training for r in dp.runner.models[1:] for m in r.modules())
    dp.train()
    assert all(m.training for r in dp.runner.models[1:] for m in r.modules())
    dp.double()  # replaces every parameter array
    x = np.random.default_rng(6).standard_normal((9, 5))
    y = dp.forward(x)
    assert y.dtype == np.float64 and rel_error(y, dp.module.forward(x)) < 1e-12


def test_blas_limits_are_restored():
    before = [lib.num_threads for lib in blas_libraries()]
    dp = nn.DataParallel(cnn(), threads=2)
    y = dp.forward(np.ones((4, 2, 6, 6), np.float32))
    dp.backward(np.ones_like(y))
    assert [lib.num_threads for lib in blas_libraries()] == before


def test_an_error_in_a_shard_propagates_and_the_next_call_works():
    dp = nn.DataParallel(mlp(), threads=2)
    with pytest.raises(ValueError, match=r"expects input of shape \(N, 5\)"):
        dp.forward(np.ones((6, 4), np.float32))
    assert dp.forward(np.ones((6, 5), np.float32)).shape == (6, 3)
    assert [lib.num_threads for lib in blas_libraries()]  # limits restored after the error too


def bn_cnn(seed=0, dropout=0.0):
    rng = np.random.default_rng(seed)
    layers = [nn.Conv2d(2, 4, 3, padding=1, bias=False, rng=rng), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
              nn.Flatten(), nn.Linear(36, 8, bias=False, rng=rng), nn.BatchNorm1d(8), nn.Tanh()]  # BN cancels biases
    if dropout:
        layers.append(nn.Dropout(dropout, rng=np.random.default_rng(seed + 1)))
    return nn.Sequential(*layers, nn.Linear(8, 3, rng=rng))


@pytest.mark.parametrize("n, threads", [(8, 2), (7, 3)])
def test_batchnorm_uses_the_whole_batch_statistics_across_shards(n, threads):
    rng = np.random.default_rng(7)
    plain, dp = bn_cnn().double(), nn.DataParallel(bn_cnn().double(), threads=threads)
    for step in range(3):  # running statistics follow the plain layer's, step after step
        x = rng.standard_normal((n, 2, 6, 6)) + step
        y_ref, y = plain.forward(x), dp.forward(x)
        assert rel_error(y, y_ref) < 1e-10
        dy = rng.standard_normal(y.shape)
        plain.zero_grad()
        dp.zero_grad()
        assert rel_error(dp.backward(dy), plain.backward(dy)) < 1e-10
        grads = dict(dp.named_parameters())
        for name, p in plain.named_parameters():
            assert rel_error(grads[f"module.{name}"].grad, p.grad) < 1e-10, name
    for (name, b_ref), (_, b) in zip(plain.named_buffers(), dp.named_buffers()):
        assert np.allclose(b, b_ref, rtol=1e-12, atol=0), name
    plain.eval()
    dp.eval()
    x = rng.standard_normal((n, 2, 6, 6))
    assert rel_error(dp.forward(x), plain.forward(x)) < 1e-12  # eval: every shard reads the running statistics


def test_dropout_gets_one_stream_per_shard_and_runs_repeat_and_resume_exactly(tmp_path):
    rng = np.random.default_rng(8)
    x = rng.standard_normal((64, 2, 6, 6)).astype(np.float32)
    y = rng.integers(0, 3, 64)

    def run(epochs, checkpoint=None):
        model = nn.DataParallel(bn_cnn(seed=2, dropout=0.5), threads=2)
        trainer = Trainer(model, nn.CrossEntropyLoss(), optim.Adam(model.parameters(), lr=1e-2), batch_size=16,
                          num_epochs=epochs, rng=np.random.default_rng(0), checkpoint_path=checkpoint)
        trainer.fit(x, y)
        return model.state_dict()

    straight, again = run(4), run(4)
    run(2, tmp_path / "ck.npz")
    resumed = run(4, tmp_path / "ck.npz")
    for key, value in straight.items():
        assert np.array_equal(value, again[key]) and np.array_equal(value, resumed[key]), key
    # the two shards draw different masks for identical rows
    dp = nn.DataParallel(bn_cnn(dropout=0.5), threads=2)
    dp.forward(np.ones((8, 2, 6, 6), np.float32))
    masks = [dp.module[-2]._mask, dp.runner.models[1][-2]._mask]
    assert masks[0].shape == masks[1].shape == (4, 8) and not np.array_equal(*masks)


class _FailOnNaN(nn.Module):
    def forward(self, x):
        if np.isnan(x).any():
            raise ValueError("this shard got a NaN")
        return x

    def backward(self, dy):
        return dy


def test_an_error_in_one_shard_releases_the_others_waiting_in_batchnorm():
    rng = np.random.default_rng(9)
    dp = nn.DataParallel(nn.Sequential(_FailOnNaN(), nn.BatchNorm1d(3), nn.Linear(3, 2, rng=rng)), threads=2)
    x = rng.standard_normal((6, 3))
    x[5, 0] = np.nan  # only the second shard fails, before BatchNorm; the first waits there for it
    with pytest.raises(ValueError, match="this shard got a NaN"):
        dp.forward(x)
    x[5, 0] = 0.0
    assert dp.forward(x).shape == (6, 2)  # a fresh group: the broken barrier is gone


class _WithBuffer(nn.Module):
    _buffers = ("count",)

    def __init__(self):
        super().__init__()
        self.count = np.zeros(())


def test_unknown_layers_with_buffers_are_rejected():
    with pytest.raises(ValueError, match=r"cannot split 1 \(_WithBuffer\): it keeps buffers \(count\)"):
        nn.DataParallel(nn.Sequential(nn.Identity(), _WithBuffer()))


def test_bad_arguments_and_calls():
    for threads in (0, -1, 1.5, "2"):
        with pytest.raises(ValueError, match="threads must be a positive integer"):
            nn.DataParallel(mlp(), threads=threads)
    dp = nn.DataParallel(mlp(), threads=2)
    with pytest.raises(RuntimeError, match="before forward"):
        dp.backward(np.ones((4, 3)))
    dp.forward(np.ones((4, 5)))
    with pytest.raises(ValueError, match="dy has 3 rows but the last forward had 4"):
        dp.backward(np.ones((3, 3)))
    assert nn.DataParallel(mlp()).threads == nn.available_cores()
    assert list(nn.DataParallel(mlp()).state_dict())[0] == "module.0.weight"


def test_per_sample_arguments_are_split_with_the_batch():
    from backproplab.models.rnn_classifier import RNNClassifier

    rng = np.random.default_rng(10)
    plain = RNNClassifier(vocab_size=20, embedding_dim=6, hidden_size=5, num_classes=3,
                          rng=np.random.default_rng(1)).double()
    shared = RNNClassifier(vocab_size=20, embedding_dim=6, hidden_size=5, num_classes=3,
                           rng=np.random.default_rng(1)).double()
    dp = nn.DataParallel(shared, threads=2)
    x = rng.integers(1, 20, (7, 9))
    lengths = rng.integers(1, 10, 7)  # one per sequence: split with x
    y_ref, y = plain.forward(x, lengths), dp.forward(x, lengths)
    assert rel_error(y, y_ref) < 1e-12
    dy = rng.standard_normal(y.shape)
    plain.zero_grad()
    dp.zero_grad()
    plain.backward(dy)
    dp.backward(dy)
    grads = dict(dp.named_parameters())
    for name, p in plain.named_parameters():
        assert rel_error(grads[f"module.{name}"].grad, p.grad) < 1e-12, name
    with pytest.raises(ValueError, match="non-empty batch"):
        dp.forward(np.zeros((0, 9), np.int64))


@pytest.mark.skipif(not hasattr(__import__("os"), "fork"), reason="needs os.fork")
def test_a_forked_child_gets_its_own_thread_pool():
    import multiprocessing as mp

    dp = nn.DataParallel(mlp(), threads=2)
    x = np.ones((6, 5), np.float32)
    expected = dp.forward(x)  # the parent's pool now has a thread
    ctx = mp.get_context("fork")
    with ctx.Pool(1) as pool:
        result = pool.apply_async(_forward_in_child, (dp, x))
        assert np.array_equal(result.get(timeout=60), expected)


def _forward_in_child(dp, x):
    return dp.forward(x)


def test_resuming_with_a_different_sharding_is_a_clear_error(tmp_path):
    rng = np.random.default_rng(11)
    x = rng.standard_normal((32, 5)).astype(np.float32)
    y = rng.integers(0, 3, 32)

    def run(model, epochs):
        Trainer(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1), batch_size=16,
                num_epochs=epochs, rng=np.random.default_rng(0), checkpoint_path=tmp_path / "ck.npz").fit(x, y)

    run(nn.DataParallel(mlp(), threads=2), 1)
    with pytest.raises(ValueError, match="data_parallel_shards: 2 in the checkpoint, absent in this run"):
        run(mlp(), 2)
    run(nn.DataParallel(mlp(), threads=2), 2)  # the same sharding resumes
    with pytest.raises(ValueError, match="data_parallel_shards: 2 in the checkpoint, 3 in this run"):
        run(nn.DataParallel(mlp(), threads=3), 3)
