"""Losses: value and gradient against PyTorch (float64, random shapes), central differences
with a random upstream scalar, numerical stability at extreme logits, bad targets, make_loss."""
import numpy as np
import pytest

from backproplab import nn
from backproplab.analysis import numerical_grad, rel_error

TOL = 1e-6


def torch_mse(torch, pred, target):
    """The assignment's J = 1/(2m) Σ (pred - y)² in PyTorch terms."""
    return 0.5 * torch.nn.functional.mse_loss(pred, target, reduction="sum") / pred.shape[0]


def make_case(kind, rng):
    """(loss, pred, target, reference) where reference(torch, pred tensor) is PyTorch's loss tensor."""
    n, c = (int(v) for v in rng.integers(2, 7, size=2))
    if kind == "mse_matrix":
        pred, y = rng.standard_normal((n, c)), rng.standard_normal((n, c))
        return nn.MSELoss(), pred, y, lambda torch, t: torch_mse(torch, t, torch.from_numpy(y))
    if kind == "mse_column":  # (N, 1) output, (N,) targets
        pred, y = rng.standard_normal((n, 1)), rng.standard_normal(n)
        return nn.MSELoss(), pred, y, lambda torch, t: torch_mse(torch, t, torch.from_numpy(y.reshape(n, 1)))
    if kind == "mse_class_ids":  # int targets are one-hot encoded
        pred, y = rng.standard_normal((n, c)), rng.integers(0, c, n)
        onehot = np.eye(c)[y]
        return nn.MSELoss(), pred, y, lambda torch, t: torch_mse(torch, t, torch.from_numpy(onehot))
    if kind == "bce_vector":
        z, y = rng.standard_normal(n) * 3, rng.integers(0, 2, n).astype(np.float64)
        return nn.BCEWithLogitsLoss(), z, y, lambda torch, t: torch.nn.functional.binary_cross_entropy_with_logits(
            t, torch.from_numpy(y))
    if kind == "bce_column_soft":  # (N, 1) logits, soft targets in [0, 1]
        z, y = rng.standard_normal((n, 1)) * 3, rng.uniform(0, 1, n)
        return nn.BCEWithLogitsLoss(), z, y, lambda torch, t: torch.nn.functional.binary_cross_entropy_with_logits(
            t, torch.from_numpy(y.reshape(n, 1)))
    if kind == "cross_entropy":
        z, y = rng.standard_normal((n, c)) * 2, rng.integers(0, c, n)
        return nn.CrossEntropyLoss(), z, y, lambda torch, t: torch.nn.functional.cross_entropy(t, torch.from_numpy(y))
    raise KeyError(kind)


KINDS = ["mse_matrix", "mse_column", "mse_class_ids", "bce_vector", "bce_column_soft", "cross_entropy"]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("seed", [0, 1])
def test_matches_torch(torch, kind, seed):
    loss_fn, pred, y, ref = make_case(kind, np.random.default_rng(seed))
    value = loss_fn(pred, y)
    assert isinstance(value, float)
    tp = torch.from_numpy(pred.copy()).requires_grad_(True)
    tl = ref(torch, tp)
    tl.backward()
    assert rel_error(value, tl.item()) < TOL
    dpred = loss_fn.backward()
    assert dpred.shape == pred.shape and dpred.dtype == np.float64
    assert rel_error(dpred, tp.grad.numpy()) < TOL


@pytest.mark.parametrize("kind", KINDS)
def test_central_differences_with_random_upstream(kind):
    rng = np.random.default_rng(2)
    loss_fn, pred, y, _ = make_case(kind, rng)
    upstream = float(rng.standard_normal())  # dL/dloss of whatever uses the loss
    loss_fn(pred, y)
    analytic = loss_fn.backward(upstream)
    numeric = numerical_grad(lambda: upstream * loss_fn(pred, y), pred)
    assert rel_error(analytic, numeric) < TOL


def test_bce_extreme_logits_match_torch(torch):
    z = np.array([-1000.0, -50.0, -1.0, 0.0, 1.0, 50.0, 1000.0])
    y = np.array([1.0, 0.0, 1.0, 1.0, 0.0, 1.0, 0.0])
    loss_fn = nn.BCEWithLogitsLoss()
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        value = loss_fn(z, y)
        dz = loss_fn.backward()
    tz = torch.from_numpy(z.copy()).requires_grad_(True)
    tl = torch.nn.functional.binary_cross_entropy_with_logits(tz, torch.from_numpy(y))
    tl.backward()
    assert np.isfinite(value) and rel_error(value, tl.item()) < TOL  # ≈ (1000 + 1000 + ...)/7, not inf
    assert rel_error(dz, tz.grad.numpy()) < TOL
    assert loss_fn(np.array([1000.0]), np.array([1.0])) == 0.0  # confident and right: exactly 0


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cross_entropy_huge_logits_match_torch(torch, dtype):
    z = np.array([[1e4, -1e4, 0.0], [3e4, 3e4, -3e4], [-1e4, -1e4 + 1.0, -1e4 + 2.0]], dtype=dtype)
    y = np.array([1, 0, 2])
    loss_fn = nn.CrossEntropyLoss()
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        value = loss_fn(z, y)
        dz = loss_fn.backward()
    assert dz.dtype == dtype
    tz = torch.from_numpy(z.astype(np.float64)).requires_grad_(True)
    tl = torch.nn.functional.cross_entropy(tz, torch.from_numpy(y))
    tl.backward()
    assert rel_error(value, tl.item()) < 1e-6
    assert rel_error(dz, tz.grad.numpy()) < (1e-6 if dtype == np.float64 else 1e-5)


def test_losses_keep_float32():
    rng = np.random.default_rng(3)
    for loss_fn, pred, y in [(nn.MSELoss(), rng.standard_normal((4, 3)), rng.integers(0, 3, 4)),
                             (nn.BCEWithLogitsLoss(), rng.standard_normal((4, 1)), rng.integers(0, 2, 4)),
                             (nn.CrossEntropyLoss(), rng.standard_normal((4, 3)), rng.integers(0, 3, 4))]:
        loss_fn(pred.astype(np.float32), y)
        assert loss_fn.backward().dtype == np.float32, type(loss_fn).__name__


@pytest.mark.parametrize("logits, target, message", [
    (np.zeros((3, 4)), np.array([0.0, 1.0, 2.0]), "integer class ids"),
    (np.zeros((3, 4)), np.array([0, 1]), r"shape \(3,\)"),
    (np.zeros((3, 4)), np.array([0, 4, 1]), r"must lie in \[0, 4\)"),
    (np.zeros((3, 4)), np.array([0, -1, 1]), r"must lie in \[0, 4\)"),
    (np.zeros(4), np.array([0, 1, 2, 3]), r"logits of shape \(N, C\)"),
])
def test_cross_entropy_bad_targets(logits, target, message):
    with pytest.raises(ValueError, match=message):
        nn.CrossEntropyLoss()(logits, target)


def test_shape_mismatch_and_nan_outputs():
    with pytest.raises(ValueError, match="does not match"):
        nn.BCEWithLogitsLoss()(np.zeros((4, 1)), np.zeros(5))
    with pytest.raises(ValueError, match="does not match"):
        nn.MSELoss()(np.zeros((4, 2)), np.zeros((4, 3)))
    for loss_fn, target in [(nn.MSELoss(), np.zeros(2)), (nn.BCEWithLogitsLoss(), np.zeros(2)),
                            (nn.CrossEntropyLoss(), np.zeros(2, dtype=int))]:
        with pytest.raises(FloatingPointError, match="NaN or inf"):
            loss_fn(np.array([[np.nan, 0.0], [0.0, 0.0]])[:, : 1 if target.dtype.kind == "f" else 2], target)


@pytest.mark.parametrize("loss_fn, out, expected", [
    (nn.CrossEntropyLoss(), np.array([[0.1, 2.0], [3.0, -1.0]]), [1, 0]),
    (nn.BCEWithLogitsLoss(), np.array([[-0.5], [0.5]]), [0, 1]),
    (nn.MSELoss(), np.array([[0.2], [0.7]]), [0, 1]),
    (nn.MSELoss(), np.array([[0.2, 0.9, 0.1]]), [1]),
])
def test_predict(loss_fn, out, expected):
    assert list(loss_fn.predict(out)) == expected


@pytest.mark.parametrize("name, cls", [("mse", nn.MSELoss), ("bce", nn.BCEWithLogitsLoss),
                                       ("cross_entropy", nn.CrossEntropyLoss)])
def test_make_loss_builds_every_name(name, cls):
    assert type(nn.make_loss(name)) is cls and nn.LOSSES[name] is cls


def test_make_loss_errors():
    with pytest.raises(ValueError, match="unknown loss 'xent'; choose one of mse, bce, cross_entropy"):
        nn.make_loss("xent")
    with pytest.raises(ValueError, match=r"'mse' \(MSELoss\) has no option\(s\) \['reduction'\]; it takes none"):
        nn.make_loss("mse", reduction="sum")
