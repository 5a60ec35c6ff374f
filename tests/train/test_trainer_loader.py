"""Trainer.fit on batches (a DataLoader): the same numbers as arrays when the batches are the same,
tuple inputs for a sequence classifier (it replaces the RNN lab's own loop bit for bit: bucketed
batches, clipping, per-step pre-clip norms), ignore-index losses with a (total, count) metric,
loaders as evaluation sets, and a shuffling loader's bit-identical resume."""
import numpy as np
import pytest

from backproplab import nn, optim
from backproplab.data import ArrayDataset, BucketBatchSampler, DataLoader, pad_collate
from backproplab.data.sst import bucket_batches, pad_batch
from backproplab.labs.rnn_sentiment_train import pad_targets
from backproplab.nn.clip import clip_grad_norm_
from backproplab.models.rnn_classifier import RNNClassifier, RNNTagger, SequenceCrossEntropyLoss
from backproplab.train import Trainer


def small_problem(seed=0, n=48):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 4)).astype(np.float32)
    y = (x[:, 0] + 0.5 * x[:, 1] > 0).astype(np.int64)
    return x, y


def small_model(seed=0):
    rng = np.random.default_rng(seed)
    return nn.Sequential(nn.Linear(4, 8, rng=rng), nn.Tanh(), nn.Dropout(0.2, rng=np.random.default_rng(seed + 1)),
                         nn.Linear(8, 2, rng=rng))


def test_loader_in_order_gives_the_same_numbers_as_unshuffled_arrays():
    x, y = small_problem()
    results = []
    for use_loader in (False, True):
        model = small_model()
        trainer = Trainer(model, nn.CrossEntropyLoss(), optim.Adam(model.parameters(), lr=0.01),
                          batch_size=None if use_loader else 10, shuffle=False, num_epochs=3, record_steps=True)
        if use_loader:
            h = trainer.fit(DataLoader(ArrayDataset(x, y), batch_size=10), x_test=DataLoader(ArrayDataset(x, y), 7))
        else:
            h = trainer.fit(x, y, x, y)
        results.append((h, [p.data.copy() for p in model.parameters()]))
    (ha, wa), (hb, wb) = results
    assert all(np.array_equal(a, b) for a, b in zip(wa, wb))
    assert ha.step_loss == hb.step_loss and ha.epoch_steps == hb.epoch_steps == [5, 5, 5]
    assert ha.train_acc == hb.train_acc and ha.test_loss == pytest.approx(hb.test_loss, rel=1e-6)


# -- the RNN lab's loop ---------------------------------------------------------------------------
def sentences(seed=0, n=70, vocab=30):
    rng = np.random.default_rng(seed)
    seqs = [rng.integers(1, vocab, rng.integers(2, 12)) for _ in range(n)]
    labels = np.array([int(s.sum() % 3) for s in seqs])
    return seqs, labels


def train_epoch(model, loss_fn, opt, seqs, targets, batch_size, clip, rng):
    """The loop the RNN lab had before the Trainer took over: (mean loss, mean pre-clip gradient norm)."""
    losses, norms, weights = [], [], []
    for idx in bucket_batches([len(s) for s in seqs], batch_size, rng):
        x, lengths = pad_batch([seqs[i] for i in idx])
        loss = loss_fn(model(x, lengths), targets[idx])
        opt.zero_grad()
        model.backward(loss_fn.backward())
        norms.append(clip_grad_norm_(model.parameters(), clip))
        opt.step()
        losses.append(loss)
        weights.append(len(idx))
    return float(np.average(losses, weights=weights)), float(np.mean(norms))


def rnn(seed, cls=RNNClassifier):
    return cls(30, 3, embedding_dim=6, hidden_size=5, dropout=0.3, rng=np.random.default_rng(seed))


def test_trainer_replaces_the_rnn_labs_loop_bit_for_bit():
    seqs, labels = sentences()
    lab_rng = np.random.default_rng(5)  # the lab shares one generator between batches and dropout
    lab_model = RNNClassifier(30, 3, embedding_dim=6, hidden_size=5, dropout=0.3, rng=lab_rng)
    lab_opt = optim.Adam(lab_model.parameters(), lr=0.01)
    lab_rows = [train_epoch(lab_model, nn.CrossEntropyLoss(), lab_opt, seqs, labels, 16, 0.5, lab_rng)
                for _ in range(2)]

    rng = np.random.default_rng(5)
    model = RNNClassifier(30, 3, embedding_dim=6, hidden_size=5, dropout=0.3, rng=rng)
    loader = DataLoader(ArrayDataset(seqs, labels), batch_sampler=BucketBatchSampler([len(s) for s in seqs], 16, rng),
                        collate_fn=pad_collate)
    dev = DataLoader(ArrayDataset(seqs[:20], labels[:20]), batch_size=8, collate_fn=pad_collate)
    trainer = Trainer(model, nn.CrossEntropyLoss(), optim.Adam(model.parameters(), lr=0.01), num_epochs=2,
                      clip_grad_norm=0.5, record_step_grad_norms=True, eval_train=False)
    h = trainer.fit(loader, x_test=dev)
    for a, b in zip(lab_model.parameters(), model.parameters()):
        assert np.array_equal(a.data, b.data)
    bounds = np.cumsum([0] + h.epoch_steps)
    for e, (loss, mean_norm) in enumerate(lab_rows):
        assert h.train_loss[e] == pytest.approx(loss, rel=1e-12)
        assert np.mean(h.step_grad_norm[bounds[e]:bounds[e + 1]]) == pytest.approx(mean_norm, rel=1e-12)
    assert max(h.step_grad_norm) > 0.5  # clipping did act
    assert len(h.test_acc) == 2 and 0.0 <= h.test_acc[-1] <= 1.0


def test_ignore_index_loss_with_a_total_count_metric():
    """Many-to-many tagger: SequenceCrossEntropyLoss has no predict, so the metric is a callable
    returning (hits, labelled steps); accuracy over labelled steps only."""
    seqs, _ = sentences(seed=2)
    rng = np.random.default_rng(3)
    targets = [np.where(rng.random(len(s)) < 0.5, s % 3, -100) for s in seqs]

    def collate(samples):
        (ids, lengths), _ = pad_collate([(s, 0) for s, _ in samples])
        return (ids, lengths), pad_targets([t for _, t in samples], ids.shape[1])

    def step_accuracy(logits, y):
        keep = y != -100
        return int(np.sum(logits.argmax(-1)[keep] == y[keep])), int(keep.sum())

    loader = DataLoader(ArrayDataset(seqs, targets), batch_size=16, collate_fn=collate)
    model = rnn(4, RNNTagger)
    with pytest.raises(ValueError, match="metric='accuracy' needs loss_fn.predict"):
        Trainer(model, SequenceCrossEntropyLoss(), optim.Adam(model.parameters()))
    trainer = Trainer(model, SequenceCrossEntropyLoss(), optim.Adam(model.parameters(), lr=0.02), num_epochs=3,
                      metric=step_accuracy)
    h = trainer.fit(loader)
    hits = total = 0
    model.eval()
    for (ids, lengths), y in loader:
        a, b = step_accuracy(model(ids, lengths), y)
        hits, total = hits + a, total + b
    assert h.train_acc[-1] == pytest.approx(hits / total, rel=1e-12) and h.metric == "step_accuracy"
    assert h.train_loss[-1] < h.train_loss[0]
    assert Trainer(model, SequenceCrossEntropyLoss(), optim.Adam(model.parameters()), metric=None
                   ).evaluate(loader)[1] is None


# -- resume with a shuffling loader ------------------------------------------------------------------
class Crash(Exception):
    pass


def run_loader(ckpt, num_epochs, crash_after=None):
    x, y = small_problem(1, n=50)
    model = small_model(3)
    loader = DataLoader(ArrayDataset(x, y), batch_size=8, shuffle=True, rng=np.random.default_rng(9))

    def crash(trainer, epoch, history):
        if crash_after is not None and epoch + 1 == crash_after:
            raise Crash  # after the epoch's checkpoint, as a kill would be

    trainer = Trainer(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1, momentum=0.9),
                      num_epochs=num_epochs, checkpoint_path=ckpt, callbacks=[crash], record_steps=True)
    try:
        h = trainer.fit(loader, x_test=DataLoader(ArrayDataset(x, y), batch_size=16))
    except Crash:
        return None
    return h, [p.data.copy() for p in model.parameters()], loader.rng.bit_generator.state


def test_shuffling_loader_resumes_bit_identical(tmp_path):
    h_ref, w_ref, rng_ref = run_loader(None, 4)
    assert run_loader(tmp_path / "c.npz", 4, crash_after=2) is None
    h, w, rng_state = run_loader(tmp_path / "c.npz", 4)
    assert all(np.array_equal(a, b) for a, b in zip(w, w_ref))
    assert h.step_loss == h_ref.step_loss and h.test_loss == h_ref.test_loss and rng_state == rng_ref


def test_loader_errors():
    x, y = small_problem()
    model = small_model()
    trainer = Trainer(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1), batch_size=8)
    with pytest.raises(ValueError, match=r"batch_size=8\) batches arrays; a DataLoader brings its own"):
        trainer.fit(DataLoader(ArrayDataset(x, y), batch_size=4))
    plain = Trainer(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1))
    with pytest.raises(ValueError, match="one-shot iterator"):
        plain.fit(iter([(x, y)]))
    with pytest.raises(ValueError, match="batch 0 is not a pair"):
        plain.fit([(x, y, y)])
    bad = y.astype(np.float64)
    bad[3] = np.nan
    with pytest.raises(ValueError, match="targets of batch 0 contain NaN"):
        Trainer(model, nn.MSELoss(), optim.SGD(model.parameters(), lr=0.1)).fit([(x, bad)])
    with pytest.raises(ValueError, match=r"shuffle=True\) needs rng"):
        Trainer(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1), batch_size=8).fit(x, y)
