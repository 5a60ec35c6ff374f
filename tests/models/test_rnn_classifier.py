"""The RNN heads: RNNClassifier (many-to-one) against Embedding + packed torch.nn.RNN + Linear in float64,
both heads by float64 central differences through their losses, and SequenceCrossEntropyLoss against
PyTorch's cross_entropy with ignore_index -100."""
import numpy as np
import pytest

from backproplab.analysis import numerical_grad
from backproplab.models import RNNClassifier, RNNTagger, SequenceCrossEntropyLoss
from backproplab.nn import CrossEntropyLoss

RTOL = 1e-6


def rel_err(a, b):
    """max |a - b| over the largest magnitude of either (one scale for the whole array)."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(a)), np.max(np.abs(b)), 1e-12))


def torch_twin(torch, model):
    """Embedding, RNN and Linear in PyTorch with the model's weights."""
    rnn = model.rnn
    emb = torch.nn.Embedding(model.embedding.weight.data.shape[0], rnn.input_size, padding_idx=0).double()
    t_rnn = torch.nn.RNN(rnn.input_size, rnn.hidden_size, rnn.num_layers, bias=rnn.bias, batch_first=True).double()
    fc = torch.nn.Linear(*model.fc.weight.data.shape[::-1]).double()
    with torch.no_grad():
        emb.weight.copy_(torch.from_numpy(model.embedding.weight.data))
        for name, p in rnn.named_parameters():
            getattr(t_rnn, name).copy_(torch.from_numpy(p.data))
        fc.weight.copy_(torch.from_numpy(model.fc.weight.data))
        fc.bias.copy_(torch.from_numpy(model.fc.bias.data))
    return emb, t_rnn, fc


def test_classifier_matches_torch(torch):
    rng = np.random.default_rng(6)
    model = RNNClassifier(11, 5, embedding_dim=4, hidden_size=6, rng=rng).double()
    x = rng.integers(1, 11, (4, 7))
    lengths = np.array([7, 3, 5, 1])
    x[np.arange(7)[None, :] >= lengths[:, None]] = 0  # padding id
    y = rng.integers(0, 5, 4)
    logits = model(x, lengths)
    dlogits = rng.standard_normal(logits.shape)
    model.backward(dlogits)

    emb, rnn, fc = torch_twin(torch, model)
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
        num = numerical_grad(loss, p.data, 1e-6)
        if name == "embedding.weight":
            num[0] = 0  # padding row frozen
        assert rel_err(p.grad, num) < 1e-6, name


def test_sequence_loss_matches_torch(torch):
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
