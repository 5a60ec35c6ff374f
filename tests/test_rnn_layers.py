"""Embedding, RNN (BPTT, variable lengths), clip_grad_norm_ and the classifier heads:
float64 central differences with random upstream gradients, and PyTorch float64 comparisons."""
import numpy as np
import pytest

from backproplab.analysis.gradcheck import numerical_grad
from backproplab.models import RNNClassifier, RNNTagger, SequenceCrossEntropyLoss
from backproplab.nn import RNN, Embedding, Parameter, clip_grad_norm_

torch = pytest.importorskip("torch")
RTOL = 1e-6


def rel_err(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(a)), np.max(np.abs(b)), 1e-12))


def numeric_grad(f, arr, eps=1e-6):
    """Central differences of the scalar f() w.r.t. every entry of arr (the library's checker)."""
    return numerical_grad(f, arr, eps)


# -- Embedding -------------------------------------------------------------------------------
@pytest.mark.parametrize("num, dim, padding_idx, shape", [
    (7, 3, None, (4, 5)),
    (5, 4, 0, (3, 6)),
    (6, 2, -1, (2, 3, 4)),
])
def test_embedding_matches_torch(num, dim, padding_idx, shape):
    rng = np.random.default_rng(num * 10 + dim)
    emb = Embedding(num, dim, padding_idx, rng=rng).double()
    x = rng.integers(0, num, shape)
    x.flat[:3] = num - 1 if padding_idx == -1 else 0  # repeated ids and the padding id occur
    if padding_idx is not None:
        assert np.all(emb.weight.data[padding_idx % num] == 0)
    dy = rng.standard_normal(shape + (dim,))
    y = emb(x)
    emb.backward(dy)
    t = torch.nn.Embedding(num, dim, padding_idx=padding_idx).double()
    with torch.no_grad():
        t.weight.copy_(torch.from_numpy(emb.weight.data))
    ty = t(torch.from_numpy(x))
    ty.backward(torch.from_numpy(dy))
    assert rel_err(y, ty.detach().numpy()) < RTOL
    assert rel_err(emb.weight.grad, t.weight.grad.numpy()) < RTOL


def test_embedding_init_and_errors():
    emb = Embedding(1000, 50, rng=np.random.default_rng(0))
    assert emb.weight.data.dtype == np.float32
    assert abs(emb.weight.data.std() - 1.0) < 0.02  # N(0, 1) as PyTorch
    with pytest.raises(IndexError):
        emb(np.array([[0, 1000]]))
    with pytest.raises(TypeError):
        emb(np.array([0.5]))


def test_embedding_gradcheck():
    rng = np.random.default_rng(1)
    emb = Embedding(5, 3, padding_idx=2, rng=rng).double()
    x = np.array([[0, 2, 4, 4], [1, 0, 2, 2]])
    dy = rng.standard_normal((2, 4, 3))
    emb(x)
    emb.backward(dy)
    num = numeric_grad(lambda: float(np.sum(emb(x) * dy)), emb.weight.data)
    num[2] = 0  # the padding row is frozen by definition
    assert rel_err(emb.weight.grad, num) < 1e-8
    assert np.all(emb.weight.grad[2] == 0)


# -- RNN -------------------------------------------------------------------------------------
def torch_rnn_like(rnn):
    t = torch.nn.RNN(rnn.input_size, rnn.hidden_size, rnn.num_layers, bias=rnn.bias, batch_first=True).double()
    with torch.no_grad():
        for name, p in rnn.named_parameters():
            getattr(t, name).copy_(torch.from_numpy(p.data))
    return t


CASES = [  # N, T, input, hidden, layers, bias, lengths (None = all full), with h0
    (3, 5, 4, 6, 1, True, None, False),
    (4, 7, 3, 5, 1, True, [7, 2, 5, 1], True),
    (3, 6, 2, 4, 2, True, [3, 6, 1], True),
    (2, 4, 3, 3, 1, False, [4, 2], False),
    (5, 9, 4, 7, 3, True, [9, 9, 4, 8, 2], False),
]


@pytest.mark.parametrize("n, t_max, i, h, layers, bias, lengths, with_h0", CASES)
def test_rnn_matches_torch(n, t_max, i, h, layers, bias, lengths, with_h0):
    rng = np.random.default_rng(n * 100 + t_max)
    rnn = RNN(i, h, layers, bias, rng=rng).double()
    x = rng.standard_normal((n, t_max, i))
    h0 = rng.standard_normal((layers, n, h)) if with_h0 else None
    lens = None if lengths is None else np.array(lengths)
    y, h_last = rnn.forward(x, lens, h0)
    dy = rng.standard_normal(y.shape)
    dh = rng.standard_normal(h_last.shape)
    dx = rnn.backward(dy, dh)

    t = torch_rnn_like(rnn)
    tx = torch.from_numpy(x).requires_grad_()
    th0 = torch.from_numpy(h0).requires_grad_() if with_h0 else None
    if lens is None:
        ty, thn = t(tx, th0)
    else:
        packed = torch.nn.utils.rnn.pack_padded_sequence(tx, torch.from_numpy(lens), batch_first=True,
                                                         enforce_sorted=False)
        py, thn = t(packed, th0)
        ty, _ = torch.nn.utils.rnn.pad_packed_sequence(py, batch_first=True, total_length=t_max)
    (torch.sum(ty * torch.from_numpy(dy)) + torch.sum(thn[-1] * torch.from_numpy(dh))).backward()

    assert rel_err(y, ty.detach().numpy()) < RTOL
    assert rel_err(h_last, thn[-1].detach().numpy()) < RTOL
    assert rel_err(rnn.h_n, thn.detach().numpy()) < RTOL
    assert rel_err(dx, tx.grad.numpy()) < RTOL
    if with_h0:
        assert rel_err(rnn.dh0, th0.grad.numpy()) < RTOL
    for name, p in rnn.named_parameters():
        assert rel_err(p.grad, getattr(t, name).grad.numpy()) < RTOL, name
    if lens is not None:  # padded inputs get no gradient
        assert np.all(dx[np.arange(t_max)[None, :] >= lens[:, None]] == 0)


def test_rnn_parameter_names_and_init():
    rnn = RNN(3, 400, 2, rng=np.random.default_rng(0))
    names = [n for n, _ in rnn.named_parameters()]
    assert names == [n for n, _ in torch.nn.RNN(3, 400, 2).named_parameters()]
    w = rnn.weight_hh_l1.data
    bound = 1 / np.sqrt(400)
    assert w.max() <= bound and w.min() >= -bound and w.max() > 0.95 * bound  # U(-1/sqrt(H), 1/sqrt(H))


def test_rnn_gradcheck_variable_lengths():
    rng = np.random.default_rng(3)
    rnn = RNN(3, 4, 2, rng=rng).double()
    x = rng.standard_normal((3, 5, 3))
    h0 = rng.standard_normal((2, 3, 4))
    mask = np.array([[1, 1, 1, 1, 1], [1, 1, 0, 0, 0], [1, 1, 1, 1, 0]], bool)  # mask form of lengths
    dy = rng.standard_normal((3, 5, 4))
    dh = rng.standard_normal((3, 4))

    def loss():
        y, h_last = rnn.forward(x, h0=h0, mask=mask)
        return float(np.sum(y * dy) + np.sum(h_last * dh))

    loss()
    rnn.zero_grad()
    dx = rnn.backward(dy, dh)
    analytic = {name: p.grad.copy() for name, p in rnn.named_parameters()}
    dh0 = rnn.dh0.copy()
    for name, p in rnn.named_parameters():
        assert rel_err(analytic[name], numeric_grad(loss, p.data)) < 1e-7, name
    assert rel_err(dx, numeric_grad(loss, x)) < 1e-7
    assert rel_err(dh0, numeric_grad(loss, h0)) < 1e-7
    # a padded step leaves the state unchanged: h_last of sequence 1 is its state after step 2
    y, h_last = rnn.forward(x, h0=h0, mask=mask)
    assert np.array_equal(h_last[1], y[1, 1]) and np.all(y[1, 2:] == 0)


def test_rnn_hidden_grad_norms_and_errors():
    rng = np.random.default_rng(4)
    rnn = RNN(2, 3, rng=rng).double()
    x = rng.standard_normal((2, 6, 2))
    rnn.forward(x, np.array([6, 3]))
    dh = rng.standard_normal((2, 3))
    rnn.backward(None, dh)
    norms = rnn.hidden_grad_norms()
    assert norms.shape == (2, 6)
    assert np.allclose(norms[:, -1], np.linalg.norm(dh, axis=1))  # dL/dh_T = upstream
    assert np.allclose(norms[1, 3:], norms[1, -1])  # padded steps pass the gradient through unchanged
    with pytest.raises(ValueError):
        rnn.forward(x, np.array([7, 3]))
    with pytest.raises(ValueError):
        rnn.forward(x[:, :, :1])


# -- clip_grad_norm_ -------------------------------------------------------------------------
@pytest.mark.parametrize("max_norm, norm_type", [(0.5, 2.0), (100.0, 2.0), (0.3, 1.0), (0.2, float("inf"))])
def test_clip_grad_norm_matches_torch(max_norm, norm_type):
    rng = np.random.default_rng(5)
    grads = [rng.standard_normal(s) for s in [(3, 4), (5,), (2, 2, 2)]]
    params = [Parameter(np.zeros_like(g)) for g in grads]
    for p, g in zip(params, grads):
        p.grad = g.copy()
    total = clip_grad_norm_(params, max_norm, norm_type)
    tp = [torch.zeros(g.shape, dtype=torch.float64, requires_grad=True) for g in grads]
    for p, g in zip(tp, grads):
        p.grad = torch.from_numpy(g.copy())
    ttotal = torch.nn.utils.clip_grad_norm_(tp, max_norm, norm_type)
    assert abs(total - float(ttotal)) < 1e-9 * float(ttotal)
    for p, q in zip(params, tp):
        assert rel_err(p.grad, q.grad.numpy()) < 1e-9
    if max_norm < total:  # clipped: the new norm is max_norm
        new = clip_grad_norm_(params, 1e9, norm_type)
        assert abs(new - max_norm) < 1e-5


def test_clip_grad_norm_rejects_bad_max_norm():
    with pytest.raises(ValueError):
        clip_grad_norm_([Parameter(np.ones(2))], 0.0)


# -- heads -----------------------------------------------------------------------------------
def test_classifier_matches_torch():
    rng = np.random.default_rng(6)
    model = RNNClassifier(11, 5, embedding_dim=4, hidden_size=6, rng=rng).double()
    x = rng.integers(1, 11, (4, 7))
    lengths = np.array([7, 3, 5, 1])
    x[np.arange(7)[None, :] >= lengths[:, None]] = 0  # padding id
    y = rng.integers(0, 5, 4)
    logits = model(x, lengths)
    dlogits = rng.standard_normal(logits.shape)
    model.backward(dlogits)

    emb = torch.nn.Embedding(11, 4, padding_idx=0).double()
    rnn = torch_rnn_like(model.rnn)
    fc = torch.nn.Linear(6, 5).double()
    with torch.no_grad():
        emb.weight.copy_(torch.from_numpy(model.embedding.weight.data))
        fc.weight.copy_(torch.from_numpy(model.fc.weight.data))
        fc.bias.copy_(torch.from_numpy(model.fc.bias.data))
    packed = torch.nn.utils.rnn.pack_padded_sequence(emb(torch.from_numpy(x)), torch.from_numpy(lengths),
                                                     batch_first=True, enforce_sorted=False)
    _, hn = rnn(packed)
    tlogits = fc(hn[-1])
    torch.sum(tlogits * torch.from_numpy(dlogits)).backward()
    assert rel_err(logits, tlogits.detach().numpy()) < RTOL
    assert rel_err(model.embedding.weight.grad, emb.weight.grad.numpy()) < RTOL
    assert rel_err(model.fc.weight.grad, fc.weight.grad.numpy()) < RTOL
    for name, p in model.rnn.named_parameters():
        assert rel_err(p.grad, getattr(rnn, name).grad.numpy()) < RTOL, name
    assert y.shape == (4,)


@pytest.mark.parametrize("head", ["many-to-one", "many-to-many"])
def test_heads_gradcheck_with_loss(head):
    rng = np.random.default_rng(7)
    lengths = np.array([5, 2, 4])
    x = rng.integers(1, 8, (3, 5))
    x[np.arange(5)[None, :] >= lengths[:, None]] = 0
    if head == "many-to-one":
        model = RNNClassifier(8, 3, embedding_dim=3, hidden_size=4, rng=rng).double()
        from backproplab.nn import CrossEntropyLoss
        loss_fn, target = CrossEntropyLoss(), rng.integers(0, 3, 3)
    else:
        model = RNNTagger(8, 3, embedding_dim=3, hidden_size=4, rng=rng).double()
        loss_fn = SequenceCrossEntropyLoss()
        target = rng.integers(0, 3, (3, 5))
        target[np.arange(5)[None, :] >= lengths[:, None]] = -100
        target[0, 1] = -100  # an unlabelled step inside a sequence

    def loss():
        return loss_fn(model(x, lengths), target)

    loss()
    model.zero_grad()
    model.backward(loss_fn.backward())
    for name, p in model.named_parameters():
        num = numeric_grad(loss, p.data)
        if name == "embedding.weight":
            num[0] = 0  # padding row frozen
        assert rel_err(p.grad, num) < 1e-6, name


def test_sequence_loss_matches_torch():
    rng = np.random.default_rng(8)
    logits = rng.standard_normal((3, 4, 5))
    target = rng.integers(0, 5, (3, 4))
    target[1, 2:] = -100
    loss_fn = SequenceCrossEntropyLoss()
    val = loss_fn(logits, target)
    d = loss_fn.backward()
    tl = torch.from_numpy(logits).requires_grad_()
    tval = torch.nn.functional.cross_entropy(tl.reshape(-1, 5), torch.from_numpy(target).reshape(-1))
    tval.backward()
    assert abs(val - tval.item()) < 1e-12
    assert rel_err(d, tl.grad.numpy()) < 1e-9
    assert np.all(d[1, 2:] == 0)
