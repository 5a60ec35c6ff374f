"""Lab: a vanilla RNN reads a sentence word by word and classifies its sentiment (SST-5).

Question: how does an RNN classify an n-word sentence into 5 classes? Many-to-one: run the
RNN over the words and put one softmax on the last hidden state. Many-to-many: a softmax on
every hidden state, trained where the tree gives the prefix a label.

What you should see: test accuracy around 40% (5 classes, chance 20%, the majority class
~23%); most errors between neighbouring classes (confusion matrix); and the gradient that
reaches early words through time shrinking by orders of magnitude (vanishing gradients).

Exercises: train without the phrases (``--no-train-phrases``); lower ``--clip``; try
``--binary`` (SST-2); compare with the many-to-many head's sentence accuracy.
"""
from __future__ import annotations

import os
import time
import dataclasses
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..data.sst import IGNORE_INDEX, bucket_batches, load_sst, pad_batch, prefix_targets
from ..models.rnn_classifier import RNNClassifier, RNNTagger, SequenceCrossEntropyLoss
from ..nn.clip import clip_grad_norm_
from ..nn.loss import CrossEntropyLoss
from ..optim import Adam
from ..utils.io import atomic_savez, load_npz
from .common import LabRun, markdown_table, new_figure

NAME = "rnn-sentiment"
TITLE = "RNN sentiment classification on the Stanford Sentiment Treebank (SST-5)"


@dataclass(frozen=True)
class Config:
    seed: int = 0  # one generator for init, dropout and batch order
    quick: bool = False  # a slice of the data and a tiny model: seconds, for tests
    data_dir: str | None = None  # folder of train/dev/test.txt (default: $BACKPROPLAB_SST, ../shared/data/sst)
    binary: bool = False  # SST-2 (neutral dropped) instead of SST-5
    train_phrases: bool = True  # train on every labelled phrase of the training trees, not only sentences
    lowercase: bool = True  # fold case: a smaller vocabulary for 8.5k sentences
    min_freq: int = 2  # rarer training words become <unk> (a word seen once teaches little; halves the vocab)
    embedding_dim: int = 100  # word vectors learned from scratch (no pretrained embeddings)
    hidden_size: int = 128  # RNN state size
    num_layers: int = 1  # stacked RNN layers
    dropout: float = 0.3  # on the word vectors and on the last hidden state
    batch_size: int = 128  # sequences per step (bucketed by length)
    lr: float = 1e-3  # Adam step size
    weight_decay: float = 0.0  # L2 in Adam's gradient
    clip: float = 5.0  # max global gradient norm (clip_grad_norm_)
    num_epochs: int = 10  # many-to-one epochs; the reported model is the epoch with the best dev accuracy
    tagger_epochs: int = 4  # many-to-many head epochs (on sentences, prefix targets)
    num_examples: int = 6  # test sentences shown with their predicted distribution


def batches_of(seqs, batch_size, rng=None):
    """(index array, padded ids (N, T), lengths (N,)) per bucketed batch."""
    for idx in bucket_batches([len(s) for s in seqs], batch_size, rng):
        x, lengths = pad_batch([seqs[i] for i in idx])
        yield idx, x, lengths


def predict_proba(model, seqs, batch_size=512) -> np.ndarray:
    """Softmax over the classes for every sequence, (N, C), in eval mode."""
    model.eval()
    out = np.zeros((len(seqs), model.num_classes), np.float64)
    for idx, x, lengths in batches_of(seqs, batch_size):
        z = model(x, lengths).astype(np.float64)
        z = np.exp(z - z.max(axis=-1, keepdims=True))
        out[idx] = z / z.sum(axis=-1, keepdims=True)
    model.train()
    return out


def train_epoch(model, loss_fn, opt, seqs, targets, batch_size, clip, rng) -> tuple[float, float]:
    """One pass; returns (mean loss, mean pre-clipping gradient norm)."""
    losses, norms, weights = [], [], []
    for idx, x, lengths in batches_of(seqs, batch_size, rng):
        y = targets[idx] if isinstance(targets, np.ndarray) else pad_targets([targets[i] for i in idx], x.shape[1])
        loss = loss_fn(model(x, lengths), y)
        opt.zero_grad()
        model.backward(loss_fn.backward())
        norms.append(clip_grad_norm_(model.parameters(), clip))
        opt.step()
        losses.append(loss)
        weights.append(len(idx))
    return float(np.average(losses, weights=weights)), float(np.mean(norms))


def pad_targets(rows, num_steps) -> np.ndarray:
    y = np.full((len(rows), num_steps), IGNORE_INDEX, np.int64)  # (N, T)
    for i, r in enumerate(rows):
        y[i, :len(r)] = r
    return y


def hidden_grad_profile(model, seqs, labels, max_back: int = 40) -> dict:
    """Mean ||dL/dh_t|| against k = steps before the last word (many-to-one loss on true labels)."""
    loss_fn = CrossEntropyLoss()
    model.eval()
    sums, counts = np.zeros(max_back), np.zeros(max_back)
    for idx, x, lengths in batches_of(seqs, 256):
        loss_fn(model(x, lengths), labels[idx])
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


def run(config: Config, out_dir) -> dict:
    lab = LabRun(out_dir, config)
    cfg = config
    rng = np.random.default_rng(cfg.seed)
    t_start = time.perf_counter()
    cached_seconds = [0.0]  # time spent in steps that a resumed run reads from the cache

    def timed_step(key, fn):
        """lab.step that remembers how long ``fn`` took, so a resumed run still reports the full wall time."""
        def timed():
            t0 = time.perf_counter()
            rows = fn()
            return {"rows": rows, "seconds": time.perf_counter() - t0}
        t0 = time.perf_counter()
        res = lab.step(key, timed)
        cached_seconds[0] += max(0.0, res["seconds"] - (time.perf_counter() - t0))
        return res["rows"]
    data = load_sst(cfg.data_dir, binary=cfg.binary, train_phrases=cfg.train_phrases, lowercase=cfg.lowercase,
                    min_freq=cfg.min_freq)
    enc = lambda toks: [data.vocab.encode(t) for t in toks]  # noqa: E731
    keep = {name: np.arange(len(getattr(data, name).labels)) for name in ("train", "dev", "test")}
    if data.phrases is not None:
        keep["phrases"] = np.arange(len(data.phrases.labels))
    if cfg.quick:  # random slices (the files are sorted by label) and a tiny model: the whole lab in seconds
        sub = np.random.default_rng(cfg.seed + 2)
        keep = {k: np.sort(sub.choice(len(v), min(len(v), 3000 if k == "phrases" else 300), replace=False))
                for k, v in keep.items()}
        cfg = dataclasses.replace(cfg, embedding_dim=16, hidden_size=16, num_epochs=3, tagger_epochs=2,
                                  batch_size=32, lr=1e-2, num_examples=3)
    split = {k: getattr(data, k) for k in keep}
    tokens = {k: [split[k].tokens[i] for i in idx] for k, idx in keep.items()}
    trees = {k: [split[k].trees[i] for i in idx] for k, idx in keep.items() if k != "phrases"}
    train_x, dev_x, test_x = enc(tokens["train"]), enc(tokens["dev"]), enc(tokens["test"])
    train_y, dev_y, test_y = (split[k].labels[keep[k]] for k in ("train", "dev", "test"))
    if data.phrases is not None:
        fit_x, fit_y = enc(tokens["phrases"]), data.phrases.labels[keep["phrases"]]
    else:
        fit_x, fit_y = train_x, train_y
    num_classes = len(data.class_names)

    def new_model(cls, gen):
        return cls(len(data.vocab), num_classes, cfg.embedding_dim, cfg.hidden_size, cfg.num_layers,
                   padding_idx=data.vocab.pad_idx, dropout=cfg.dropout, rng=gen)

    # -- many-to-one ----------------------------------------------------------------------------
    model = new_model(RNNClassifier, rng)
    grad_profile_init = hidden_grad_profile(model, test_x, test_y)
    weights_path = lab.out_dir / "best_many_to_one.npz"

    def train_many_to_one():
        opt = Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        loss_fn, rows, best = CrossEntropyLoss(), [], -1.0
        for epoch in range(1, cfg.num_epochs + 1):
            t0 = time.perf_counter()
            loss, gnorm = train_epoch(model, loss_fn, opt, fit_x, fit_y, cfg.batch_size, cfg.clip, rng)
            epoch_time = time.perf_counter() - t0
            acc = {name: float(np.mean(predict_proba(model, xs).argmax(1) == ys))
                   for name, xs, ys in (("train", train_x, train_y), ("dev", dev_x, dev_y), ("test", test_x, test_y))}
            rows.append({"epoch": epoch, "train_loss": loss, "grad_norm": gnorm, "train_acc": acc["train"],
                         "dev_acc": acc["dev"], "test_acc": acc["test"], "epoch_time_s": epoch_time})
            if not cfg.quick:
                print(f"{NAME} epoch {epoch}: loss {loss:.4f} train {acc['train']:.4f} dev {acc['dev']:.4f} "
                      f"test {acc['test']:.4f} ({epoch_time:.0f} s)", flush=True)
            if acc["dev"] > best:  # model selection on dev only; test is just reported
                best = acc["dev"]
                atomic_savez(weights_path, **model.state_dict())
        return rows

    curves = timed_step("many-to-one", train_many_to_one)
    lab.save_metrics("curves", curves)
    model.load_state_dict(load_npz(weights_path))
    best = max(curves, key=lambda r: r["dev_acc"])

    test_proba = predict_proba(model, test_x)
    test_pred = test_proba.argmax(1)
    confusion = np.zeros((num_classes, num_classes), np.int64)
    np.add.at(confusion, (test_y, test_pred), 1)
    grad_profile = hidden_grad_profile(model, test_x, test_y)
    lab.save_metrics("hidden_grad_norms", [{"k": k, "trained": a, "initial": b, "sequences": c} for k, a, b, c in
                                           zip(grad_profile["k"], grad_profile["mean_norm"],
                                               grad_profile_init["mean_norm"], grad_profile["count"])])

    # -- many-to-many on prefix labels ---------------------------------------------------------------
    rng_tagger = np.random.default_rng([cfg.seed, 1])  # its own stream: a resumed run builds the same tagger
    tagger = new_model(RNNTagger, rng_tagger)
    prefix = {name: [prefix_targets(t, cfg.binary) for t in trees[name]] for name in ("train", "dev", "test")}

    def tagger_scores(xs, ys):
        tagger.eval()
        hit = tot = sent_hit = 0
        for idx, x, lengths in batches_of(xs, 512):
            pred = tagger(x, lengths).argmax(-1)  # (N, T)
            y = pad_targets([ys[i] for i in idx], x.shape[1])
            keep = y != IGNORE_INDEX
            hit, tot = hit + int(np.sum(pred[keep] == y[keep])), tot + int(keep.sum())
            last = pred[np.arange(len(idx)), lengths - 1]
            sent_hit += int(np.sum(last == y[np.arange(len(idx)), lengths - 1]))
        tagger.train()
        return hit / tot, sent_hit / len(xs)

    def train_tagger():
        opt = Adam(tagger.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        loss_fn, rows = SequenceCrossEntropyLoss(), []
        for epoch in range(1, cfg.tagger_epochs + 1):
            loss, _ = train_epoch(tagger, loss_fn, opt, train_x, prefix["train"], cfg.batch_size, cfg.clip,
                                  rng_tagger)
            dev_p, dev_s = tagger_scores(dev_x, prefix["dev"])
            test_p, test_s = tagger_scores(test_x, prefix["test"])
            rows.append({"epoch": epoch, "train_loss": loss, "dev_prefix_acc": dev_p, "dev_sentence_acc": dev_s,
                         "test_prefix_acc": test_p, "test_sentence_acc": test_s})
        return rows

    tagger_rows = timed_step("many-to-many", train_tagger)
    lab.save_metrics("many_to_many", tagger_rows)
    labels_per_sentence = float(np.mean([np.sum(p != IGNORE_INDEX) for p in prefix["train"]]))
    test_prefix = np.concatenate(prefix["test"])
    test_prefix = test_prefix[test_prefix != IGNORE_INDEX]
    prefix_majority = float(np.max(np.bincount(test_prefix)) / len(test_prefix))  # baseline for prefix accuracy
    wall = time.perf_counter() - t_start + cached_seconds[0]
    wall_note = f" ({cached_seconds[0]:.0f} s of it in steps resumed from the cache)" if cached_seconds[0] > 1 else ""

    # -- figures --------------------------------------------------------------------------------
    lab.savefig(plot_curves(curves), "accuracy_curves")
    lab.savefig(plot_confusion(confusion, data.class_names), "confusion_matrix")
    lab.savefig(plot_grad_profile(grad_profile, grad_profile_init), "hidden_grad_norms")

    # -- examples and report ---------------------------------------------------------------------------
    pick = np.random.default_rng(cfg.seed + 1).choice(len(test_x), size=min(cfg.num_examples, len(test_x)),
                                                      replace=False)
    examples = [{"sentence": " ".join(tokens["test"][i]), "label": int(test_y[i]), "predicted": int(test_pred[i]),
                 **{f"p{c}": round(float(test_proba[i, c]), 3) for c in range(num_classes)}} for i in pick]
    lab.save_metrics("examples", examples)
    test_acc = float(np.mean(test_pred == test_y))
    g = np.array(grad_profile["mean_norm"])
    k_far = min(len(g) - 1, 15)
    off_by_one = float(np.sum([confusion[i, j] for i in range(num_classes) for j in range(num_classes)
                               if abs(i - j) == 1]) / max(1, confusion.sum() - np.trace(confusion)))
    last_tag = tagger_rows[-1]
    task = "SST-2" if cfg.binary else "SST-5"
    summary = (f"{task} many-to-one RNN: test accuracy {test_acc:.1%} at epoch {best['epoch']} "
               f"(best dev {best['dev_acc']:.1%}); many-to-many sentence accuracy {last_tag['test_sentence_acc']:.1%}; "
               f"wall time {wall:.0f} s")
    fit_what = ("every distinct labelled phrase of the training trees" if data.phrases is not None
                else "training sentences")
    confusion_rows = [{"true": data.class_names[i], **{data.class_names[j]: int(confusion[i, j])
                                                       for j in range(num_classes)}} for i in range(num_classes)]
    majority = float(np.mean(test_y == np.bincount(train_y).argmax()))
    report = f"""# {TITLE}

{task}, {len(fit_x)} training sequences ({fit_what}),
{len(dev_x)} dev and {len(test_x)} test sentences; vocabulary {len(data.vocab)} (train only, lowercase={cfg.lowercase},
min_freq={cfg.min_freq}). Model: Embedding({len(data.vocab)}, {cfg.embedding_dim}) -> RNN(tanh, hidden {cfg.hidden_size},
layers {cfg.num_layers}) -> last valid hidden state -> Linear -> softmax; dropout {cfg.dropout}; Adam lr {cfg.lr};
gradient-norm clipping at {cfg.clip}; batch {cfg.batch_size}, bucketed by length. Seed {cfg.seed}. Wall time {wall:.0f} s{wall_note}
(OPENBLAS_NUM_THREADS={os.environ.get("OPENBLAS_NUM_THREADS", "unset")}).
{'**Quick mode: a slice of the data and a tiny model; the numbers below mean nothing.**' if cfg.quick else ''}

## Many-to-one: accuracy per epoch (model chosen by dev accuracy)

{markdown_table(curves)}
Best dev accuracy {best['dev_acc']:.2%} at epoch {best['epoch']}: **test accuracy {test_acc:.2%}**
(chance {1 / num_classes:.0%}, always predicting the most frequent class of the training sentences: {majority:.2%};
the goal was 42%, Socher et al. 2013 report 43.2% for their recursive RNN). The last epoch's train accuracy on
sentences is {curves[-1]['train_acc']:.2%} against dev {curves[-1]['dev_acc']:.2%} (train_loss is the mean over the
training sequences, train_acc the accuracy on the training sentences).

![curves](accuracy_curves.png)

## Confusion matrix (test, rows = true class)

{markdown_table(confusion_rows)}
{off_by_one:.0%} of the errors are between neighbouring classes.

![confusion](confusion_matrix.png)

## Gradient through time

Mean ||dL/dh_t|| over test sentences, k steps before the last word (the loss sits on the last state only):
trained model {g[0]:.3g} at k=0, {g[k_far]:.3g} at k={k_far} (ratio {g[0] / max(g[k_far], 1e-30):.3g});
at initialisation {grad_profile_init['mean_norm'][0]:.3g} and {grad_profile_init['mean_norm'][k_far]:.3g}
(ratio {grad_profile_init['mean_norm'][0] / max(grad_profile_init['mean_norm'][k_far], 1e-30):.3g}).

![grad](hidden_grad_norms.png)

## Test sentences and their predicted distribution

{markdown_table(examples)}
## Many-to-many head

Targets: step t is labelled with the sentiment of the prefix w_1..w_t wherever that prefix is a node of the
sentence's tree (the left spine of the tree; the last step is the whole sentence), and ignored elsewhere;
{labels_per_sentence:.1f} labelled steps per training sentence on average. Trained on sentences only, {cfg.tagger_epochs} epochs.

{markdown_table(tagger_rows)}
Prefix accuracy counts every labelled step; {prefix_majority:.1%} of the test prefix labels are the single most
common class (short prefixes are mostly neutral), so that is the baseline it must beat. The many-to-many
head's prediction at the last word gives a sentence accuracy of {last_tag['test_sentence_acc']:.2%}
on test, against {test_acc:.2%} for the many-to-one model {'(trained on phrases as well)' if data.phrases is not None else ''}.
"""
    lab.write_report(report)
    return {"summary": summary, "test_acc": test_acc, "best_epoch": best["epoch"], "dev_acc": best["dev_acc"],
            "curves": curves, "confusion": confusion.tolist(), "many_to_many": tagger_rows, "wall_time_s": wall,
            "grad_profile": grad_profile}


# -- plots ----------------------------------------------------------------------------------------
def plot_curves(curves):
    fig, axes = new_figure(1, 2, size=(10, 3.6))
    ep = [r["epoch"] for r in curves]
    for split in ("train", "dev", "test"):
        axes[0, 0].plot(ep, [r[f"{split}_acc"] for r in curves], marker="o", label=split)
    axes[0, 0].set(xlabel="epoch", ylabel="sentence accuracy", title="many-to-one accuracy")
    axes[0, 0].legend()
    axes[0, 1].plot(ep, [r["train_loss"] for r in curves], marker="o")
    axes[0, 1].set(xlabel="epoch", ylabel="cross-entropy", title="training loss")
    return fig


def plot_confusion(confusion, class_names):
    fig, axes = new_figure(1, 1, size=(5.2, 4.6))
    ax = axes[0, 0]
    im = ax.imshow(confusion, cmap="Blues")
    for (i, j), v in np.ndenumerate(confusion):
        ax.text(j, i, str(v), ha="center", va="center", color="white" if v > confusion.max() / 2 else "black")
    ticks = range(len(class_names))
    ax.set_xticks(ticks, class_names, rotation=30, ha="right")
    ax.set_yticks(ticks, class_names)
    ax.set(xlabel="predicted", ylabel="true", title="test confusion matrix")
    fig.colorbar(im, ax=ax)
    return fig


def plot_grad_profile(trained, initial):
    fig, axes = new_figure(1, 1)
    ax = axes[0, 0]
    ax.semilogy(trained["k"], trained["mean_norm"], marker=".", label="trained (best dev epoch)")
    ax.semilogy(initial["k"], initial["mean_norm"], marker=".", label="at initialisation")
    ax.set(xlabel="k = steps before the last word", ylabel="mean ||dL/dh_t||",
           title="hidden-state gradient through time")
    ax.legend()
    return fig
