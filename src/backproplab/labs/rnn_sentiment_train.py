"""The rnn-sentiment lab's data and training: SST read and encoded, the two heads trained by the
library's :class:`~backproplab.train.Trainer` from DataLoaders of bucketed batches, and the
measurements made on the trained models.

* :func:`prepare`: the splits as id sequences (random subsets when the Config asks for them);
* :func:`train_many_to_one` / :func:`train_tagger`: one Trainer each (clipping, the per-step
  gradient norm, the best dev epoch's weights restored by EarlyStopping, a checkpoint per head);
* :func:`predict_proba`, :func:`hidden_grad_profile`, :func:`tagger_scores`: what the report shows.

Reference: Socher et al., "Recursive Deep Models for Semantic Compositionality Over a Sentiment
Treebank", EMNLP 2013 (the data); Pascanu, Mikolov & Bengio, "On the difficulty of training
recurrent neural networks", ICML 2013 (clipping, vanishing gradients through time).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..data import ArrayDataset, BucketBatchSampler, DataLoader, pad_collate
from ..data.sst import IGNORE_INDEX, bucket_batches, load_sst, pad_batch, phrase_split, prefix_targets
from ..nn import CrossEntropyLoss
from ..nn.functional import softmax
from ..train import Callback, EarlyStopping, Trainer
from . import progress

#: sequences per batch when a model is only evaluated (no gradient kept between batches)
EVAL_BATCH = 512
#: sentences per batch of the gradient-through-time measurement (it keeps every step's gradient)
PROFILE_BATCH = 256


@dataclass
class Sentences:
    """One split of sentences: id sequences, root labels (N,), tokens and trees."""

    x: list
    y: np.ndarray
    tokens: list
    trees: list

    def __len__(self) -> int:
        return len(self.x)


@dataclass
class Prepared:
    """What the lab trains and measures on."""

    fit_x: list            # the many-to-one model's training sequences (phrases or sentences)
    fit_y: np.ndarray
    fit_what: str          # "phrases" or "sentences"
    train: Sentences
    dev: Sentences
    test: Sentences
    vocab_size: int
    pad_idx: int
    class_names: tuple
    source: str


def _subset(n: int, size, rng: np.random.Generator) -> np.ndarray:
    """Sorted random indices of ``size`` of n items (all of them when size is None or >= n)."""
    if size is None or size >= n:
        return np.arange(n)
    return np.sort(rng.choice(n, size, replace=False))  # the files are sorted by label: a random subset


def prepare(cfg) -> Prepared:
    """SST read with the Config's settings; ``train_size``/``dev_size``/``test_size`` draw random
    sentence subsets (generator seed + 2), and the phrases are then those of the kept training trees."""
    data = load_sst(cfg.data_dir, binary=cfg.binary, train_phrases=cfg.train_phrases, lowercase=cfg.lowercase,
                    min_freq=cfg.min_freq)
    pick = np.random.default_rng(cfg.seed + 2)
    sizes = {"train": cfg.train_size, "dev": cfg.dev_size, "test": cfg.test_size}
    splits = {}
    for name, size in sizes.items():
        split = getattr(data, name)
        keep = _subset(len(split.labels), size, pick)
        tokens = [split.tokens[i] for i in keep]
        splits[name] = Sentences([data.vocab.encode(t) for t in tokens], split.labels[keep], tokens,
                                 [split.trees[i] for i in keep])
    if not cfg.train_phrases:
        fit_x, fit_y, fit_what = splits["train"].x, splits["train"].y, "sentences"
    else:
        phrases = data.phrases if cfg.train_size is None else phrase_split(splits["train"].trees, cfg.binary,
                                                                           cfg.lowercase)
        fit_x, fit_y, fit_what = [data.vocab.encode(t) for t in phrases.tokens], phrases.labels, "phrases"
    return Prepared(fit_x, fit_y, fit_what, splits["train"], splits["dev"], splits["test"], len(data.vocab),
                    data.vocab.pad_idx, tuple(data.class_names), str(data.data_dir))


# -- batches ----------------------------------------------------------------------------------------
def pad_targets(rows, num_steps: int) -> np.ndarray:
    """Per-step targets of different lengths -> (N, num_steps), IGNORE_INDEX after each row's end."""
    y = np.full((len(rows), num_steps), IGNORE_INDEX, np.int64)  # (N, T)
    for i, r in enumerate(rows):
        y[i, :len(r)] = r
    return y


def prefix_collate(samples: list):
    """(ids, per-step targets) samples -> ((ids (N, T), lengths (N,)), targets (N, T))."""
    ids, lengths = pad_batch([s for s, _ in samples])
    return (ids, lengths), pad_targets([t for _, t in samples], ids.shape[1])


def loader(x, y, batch_size: int, rng: np.random.Generator | None = None, collate=pad_collate) -> DataLoader:
    """Batches of similar lengths; reshuffled every pass by ``rng``, or in one fixed order without it."""
    return DataLoader(ArrayDataset(x, y), batch_sampler=BucketBatchSampler([len(s) for s in x], batch_size, rng),
                      collate_fn=collate)


def batches_of(seqs, batch_size: int):
    """(indices, padded ids (N, T), lengths (N,)) of every batch of ``seqs``, bucketed, in a fixed order."""
    for idx in bucket_batches([len(s) for s in seqs], batch_size):
        x, lengths = pad_batch([seqs[i] for i in idx])
        yield idx, x, lengths


# -- training ---------------------------------------------------------------------------------------
class EvaluateEach(Callback):
    """After every epoch, ``score(model, loader)`` on each named set; ``values[name]`` holds one entry per
    epoch (checkpointed, so a resumed run keeps the epochs it did before)."""

    def __init__(self, sets: dict, score):
        self.sets, self.score = sets, score
        self.values: dict[str, list] = {name: [] for name in sets}

    def on_train_begin(self, trainer, logs):
        self.values = {name: [] for name in self.sets}

    def on_epoch_end(self, trainer, epoch, logs):
        for name, data in self.sets.items():
            self.values[name].append(self.score(trainer, data))

    def state_dict(self) -> dict:
        return {"values": self.values}

    def load_state_dict(self, state: dict) -> None:
        self.values = {name: list(v) for name, v in state["values"].items()}


def accuracy_of(trainer, data) -> float:
    return trainer.evaluate(data)[1]


def epoch_means(values: list, epoch_steps: list) -> list[float]:
    """Per-epoch means of a per-step list (``history.step_grad_norm`` cut by ``history.epoch_steps``)."""
    bounds = np.cumsum([0] + list(epoch_steps))
    return [float(np.mean(values[a:b])) for a, b in zip(bounds[:-1], bounds[1:])]


def _trainer(model, loss_fn, cfg, num_epochs, callbacks, checkpoint, tag, label, metric="accuracy") -> Trainer:
    from ..optim import Adam

    return Trainer(model, loss_fn, Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay),
                   num_epochs=num_epochs, clip_grad_norm=cfg.clip, record_step_grad_norms=True, eval_train=False,
                   metric=metric, checkpoint_path=checkpoint, checkpoint_tag=tag,
                   callbacks=callbacks + [progress.current().training(label)])


def train_many_to_one(model, rng, prep: Prepared, cfg, checkpoint=None, tag=None) -> list[dict]:
    """Train the classifier on ``prep.fit_*``; the model ends with the weights of its best dev epoch.

    ``rng`` is the generator the model was built with: it draws both the dropout masks and the
    batch order, so the seed fixes both. Returns one row per epoch.
    """
    fit = loader(prep.fit_x, prep.fit_y, cfg.batch_size, rng)
    others = EvaluateEach({"train": loader(prep.train.x, prep.train.y, EVAL_BATCH),
                           "test": loader(prep.test.x, prep.test.y, EVAL_BATCH)}, accuracy_of)
    # dev accuracy picks the epoch (the Trainer's evaluation set); test is only reported
    best = EarlyStopping(monitor="test_acc", patience=cfg.num_epochs, restore_best_weights=True)
    trainer = _trainer(model, CrossEntropyLoss(), cfg, cfg.num_epochs, [best, others], checkpoint, tag,
                       "many-to-one")
    h = trainer.fit(fit, x_test=loader(prep.dev.x, prep.dev.y, EVAL_BATCH))
    norms = epoch_means(h.step_grad_norm, h.epoch_steps)
    return [{"epoch": e + 1, "train_loss": h.train_loss[e], "grad_norm": norms[e],
             "train_acc": others.values["train"][e], "dev_acc": h.test_acc[e], "test_acc": others.values["test"][e],
             "epoch_time_s": h.epoch_time[e]} for e in range(len(h.train_loss))]


def labelled_hits(pred: np.ndarray, y: np.ndarray) -> tuple[int, int]:
    """(right, labelled) steps of predicted class ids ``pred`` (N, T) against per-step targets ``y`` (N, T)."""
    keep = y != IGNORE_INDEX
    return int(np.count_nonzero(pred[keep] == y[keep])), int(keep.sum())


def step_accuracy(logits: np.ndarray, y: np.ndarray) -> tuple[int, int]:
    """The tagger's metric: accuracy over the steps that carry a label, as (right, labelled)."""
    return labelled_hits(logits.argmax(-1), y)


def tagger_scores(trainer, data) -> list[float]:
    """[prefix accuracy over every labelled step, sentence accuracy of the last word's prediction]."""
    model = trainer.model
    was_training = model.training
    model.eval()
    hit = total = sentence_hit = sentences = 0
    try:
        for (ids, lengths), y in data.batches(shuffle=False):
            pred = model.forward(ids, lengths).argmax(-1)  # (N, T)
            a, b = labelled_hits(pred, y)
            hit, total = hit + a, total + b
            rows = np.arange(len(ids))
            sentence_hit += int(np.count_nonzero(pred[rows, lengths - 1] == y[rows, lengths - 1]))
            sentences += len(ids)
    finally:
        model.train(was_training)
    return [hit / total, sentence_hit / sentences]


def train_tagger(model, rng, prep: Prepared, targets: dict, cfg, checkpoint=None, tag=None) -> list[dict]:
    """Train the many-to-many head on the training sentences' prefix targets; one row per epoch."""
    fit = loader(prep.train.x, targets["train"], cfg.batch_size, rng, prefix_collate)
    scores = EvaluateEach({name: loader(getattr(prep, name).x, targets[name], EVAL_BATCH, collate=prefix_collate)
                           for name in ("dev", "test")}, tagger_scores)
    from ..models.rnn_classifier import SequenceCrossEntropyLoss

    trainer = _trainer(model, SequenceCrossEntropyLoss(), cfg, cfg.tagger_num_epochs, [scores], checkpoint, tag,
                       "many-to-many", metric=step_accuracy)
    h = trainer.fit(fit)
    return [{"epoch": e + 1, "train_loss": h.train_loss[e],
             "dev_prefix_acc": scores.values["dev"][e][0], "dev_sentence_acc": scores.values["dev"][e][1],
             "test_prefix_acc": scores.values["test"][e][0], "test_sentence_acc": scores.values["test"][e][1]}
            for e in range(len(h.train_loss))]


def prefix_sets(prep: Prepared, binary: bool) -> dict[str, list]:
    """Prefix targets of every sentence of each split (see :func:`backproplab.data.sst.prefix_targets`)."""
    return {name: [prefix_targets(t, binary) for t in getattr(prep, name).trees] for name in ("train", "dev", "test")}


# -- measurements -----------------------------------------------------------------------------------
def predict_proba(model, seqs) -> np.ndarray:
    """Class probabilities of every sequence, (N, C) float64, in eval mode."""
    model.eval()
    out = np.zeros((len(seqs), model.num_classes), np.float64)
    for idx, x, lengths in batches_of(seqs, EVAL_BATCH):
        out[idx] = softmax(model.forward(x, lengths).astype(np.float64), axis=-1)
    model.train()
    return out


def outputs_per_sentence(model, tagger, seqs) -> dict:
    """Class distributions (softmax outputs) per sentence of each head, counted from their outputs on ``seqs``.

    The classifier's logits are (N, C): one distribution per sentence whatever its length n; the
    tagger's are (N, T, C), of which the n real words of each sentence count.
    """
    one = many = 0
    model.eval()
    tagger.eval()
    for _idx, x, lengths in batches_of(seqs, EVAL_BATCH):
        one += model.forward(x, lengths).shape[0]
        steps = tagger.forward(x, lengths).shape[1]  # T = the longest sentence of the batch
        many += int(np.minimum(lengths, steps).sum())
    model.train()
    tagger.train()
    return {"many_to_one": one / len(seqs), "many_to_many": many / len(seqs),
            "mean_words": float(np.mean([len(s) for s in seqs]))}


def hidden_grad_profile(model, seqs, labels, max_back: int = 40) -> dict:
    """Mean ‖∂L/∂h_t‖ against k = steps before the last word (many-to-one loss on the true labels)."""
    loss_fn = CrossEntropyLoss()
    model.eval()
    sums, counts = np.zeros(max_back), np.zeros(max_back)
    for idx, x, lengths in batches_of(seqs, PROFILE_BATCH):
        loss_fn(model.forward(x, lengths), labels[idx])
        model.zero_grad()
        model.backward(loss_fn.backward())
        norms = model.rnn.hidden_grad_norms()  # (N, T)
        for row, n in zip(norms, lengths):
            k = min(int(n), max_back)
            sums[:k] += row[n - 1::-1][:k].astype(np.float64)  # reversed: k = 0 is the last word
            counts[:k] += 1
    model.zero_grad()
    model.train()
    ok = counts > 0
    return {"k": np.arange(max_back)[ok].tolist(), "mean_norm": (sums[ok] / counts[ok]).tolist(),
            "count": counts[ok].astype(int).tolist()}
