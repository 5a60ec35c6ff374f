"""Lab: a vanilla RNN reads a sentence word by word and classifies its sentiment (SST-5).

The question (document 002, theory question 3; answered in document 000, question 3): how does
an RNN rate an n-word sentence on a 0-4 sentiment scale at test time, how many outputs (softmax
evaluations) does it give, and what is each output a distribution over?

Many-to-one: run the RNN over the words and put one softmax on the last hidden state, so one
distribution over the 5 classes per sentence whatever n. Many-to-many: a softmax on every hidden
state (n distributions), trained where the sentence's tree gives the prefix a label.

Both heads train with the library's Trainer on DataLoaders of length-bucketed batches, with
gradient-norm clipping; the classifier's reported model is its best dev epoch (EarlyStopping
restores its weights). What you should see: test accuracy around 40% (5 classes, chance 20%,
the majority class about 23%); most errors between neighbouring classes; and the gradient that
reaches early words through time shrinking by orders of magnitude (vanishing gradients).

Exercises: train without the phrases (``--no-train-phrases``); lower ``--clip``; try ``--binary``
(SST-2); compare with the many-to-many head's sentence accuracy.

Reference: Socher et al., "Recursive Deep Models for Semantic Compositionality Over a Sentiment
Treebank", EMNLP 2013; Goodfellow, Bengio & Courville, Deep Learning (2016), §10.2 and §10.7.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..report.document import CodeText
from ..report.i18n import N_, _
from .config import LabConfig, option, quick
from .rnn_sentiment_plots import plot_confusion, plot_curves, plot_grad_profile
from .rnn_sentiment_text import (class_label, confusion_sentence, distribution_sentence, findings_lines,
                                 goal_sentence, grad_sentence, outputs_sentence, tagger_sentence)

NAME = "rnn-sentiment"
TITLE = N_("RNN sentiment classification on the Stanford Sentiment Treebank (SST-5)")
SUMMARY = N_("a NumPy RNN rates SST sentences (one softmax per sentence), with a many-to-many head and the "
             "gradient through time")
QUESTIONS = ("002/Q3.a", "002/Q3.b", "000/Q3.a", "000/Q3.b")


@dataclass(frozen=True)
class Config(LabConfig):
    data_dir: str | None = option(None, "folder of train/dev/test.txt; None = $BACKPROPLAB_SST, then "
                                        "../shared/data/sst and the other default places")
    binary: bool = option(False, "SST-2 (neutral sentences dropped) instead of SST-5")
    train_phrases: bool = option(True, "train on every labelled phrase of the training trees, not only sentences")
    lowercase: bool = option(True, "fold case: a smaller vocabulary for 8.5k sentences")
    min_freq: int = option(2, "rarer training words become <unk> (a word seen once teaches little)",
                           low=1, high=1000)
    train_size: int | None = option(None, "random training sentences (the phrases are those of their trees); "
                                          "None = all", low=1)
    dev_size: int | None = option(None, "random dev sentences; None = all", low=1)
    test_size: int | None = option(None, "random test sentences; None = all", low=1)
    embedding_dim: int = option(100, "word vectors learned from scratch", low=1, high=4096)
    hidden_size: int = option(128, "RNN state size", low=1, high=4096)
    num_layers: int = option(1, "stacked RNN layers", low=1, high=8)
    dropout: float = option(0.3, "drop probability on the word vectors and on the hidden states the heads read",
                            low=0, high=1, high_open=True)
    batch_size: int = option(128, "sequences per step (batches of similar length)", low=1, high=100000)
    lr: float = option(1e-3, "Adam learning rate", low=0, low_open=True, high=10)
    weight_decay: float = option(0.0, "L2 in Adam's gradient", low=0, high=1)
    clip: float = option(5.0, "largest global gradient norm; larger gradients are rescaled to it",
                         low=0, low_open=True)
    num_epochs: int = option(10, "many-to-one epochs; the reported model is the epoch with the best dev accuracy",
                             low=1, high=1000)
    tagger_num_epochs: int = option(4, "many-to-many epochs (on sentences, prefix targets)", low=1, high=1000)
    num_examples: int = option(6, "test sentences shown with their predicted distribution", low=1, high=100)

    def quick(self) -> "Config":
        return quick(self, train_size=300, dev_size=300, test_size=300, embedding_dim=16, hidden_size=16,
                     num_epochs=3, tagger_num_epochs=2, batch_size=32, lr=1e-2, num_examples=3)


#: the lab's target test accuracy on SST-5 with all the data (Socher et al. 2013 report 43.2% for
#: their recursive network, 40.7% for naive Bayes)
GOAL_ACC = 0.42
SOCHER_RNN = 0.432


def full_setting(config: Config) -> bool:
    """True when this run is the goal's setting: SST-5, every training sentence, the full dev and test sets."""
    return (not config.binary and not config.is_quick and config.train_size is None and config.dev_size is None
            and config.test_size is None)


def _confusion(y: np.ndarray, pred: np.ndarray, num_classes: int) -> np.ndarray:
    confusion = np.zeros((num_classes, num_classes), np.int64)  # rows: true class, columns: predicted
    np.add.at(confusion, (y, pred), 1)
    return confusion


def off_by_one_share(confusion: np.ndarray) -> float | None:
    """Share of the errors that land on a neighbouring class (|true - predicted| = 1); None without errors."""
    c = np.asarray(confusion)
    errors = c.sum() - np.trace(c)
    if errors == 0:
        return None
    i, j = np.indices(c.shape)
    return float(c[np.abs(i - j) == 1].sum() / errors)


def _examples(prep, proba: np.ndarray, count: int, seed: int) -> list[dict]:
    pick = np.random.default_rng(seed + 1).choice(len(prep.test), size=min(count, len(prep.test)), replace=False)
    return [{"sentence": " ".join(prep.test.tokens[i]), "label": int(prep.test.y[i]),
             "predicted": int(proba[i].argmax()), "probs": [float(p) for p in proba[i]]} for i in pick]


def _many_to_one(config, prep, out) -> dict:
    from ..models.rnn_classifier import RNNClassifier
    from .rnn_sentiment_train import hidden_grad_profile, predict_proba, train_many_to_one

    rng = np.random.default_rng(config.seed)  # one generator: initial weights, dropout masks, batch order
    model = RNNClassifier(prep.vocab_size, len(prep.class_names), config.embedding_dim, config.hidden_size,
                          config.num_layers, padding_idx=prep.pad_idx, dropout=config.dropout, rng=rng)
    initial = hidden_grad_profile(model, prep.test.x, prep.test.y)
    curves = train_many_to_one(model, rng, prep, config, out.checkpoint("many_to_one"), config.fingerprint())
    proba = predict_proba(model, prep.test.x)
    return {"model": model, "curves": curves, "proba": proba, "initial": initial,
            "trained": hidden_grad_profile(model, prep.test.x, prep.test.y)}


def _many_to_many(config, prep, out) -> dict:
    from ..data.sst import IGNORE_INDEX
    from ..models.rnn_classifier import RNNTagger
    from .rnn_sentiment_train import prefix_sets, train_tagger

    rng = np.random.default_rng([config.seed, 1])  # its own stream: the tagger does not depend on the classifier
    tagger = RNNTagger(prep.vocab_size, len(prep.class_names), config.embedding_dim, config.hidden_size,
                       config.num_layers, padding_idx=prep.pad_idx, dropout=config.dropout, rng=rng)
    targets = prefix_sets(prep, config.binary)
    rows = train_tagger(tagger, rng, prep, targets, config, out.checkpoint("many_to_many"), config.fingerprint())
    test_labels = np.concatenate(targets["test"])
    test_labels = test_labels[test_labels != IGNORE_INDEX]
    return {"model": tagger, "curves": rows,
            "labels_per_sentence": float(np.mean([np.sum(t != IGNORE_INDEX) for t in targets["train"]])),
            "prefix_majority": float(np.bincount(test_labels).max() / len(test_labels))}


def _diagnosis(curves: list[dict], acc_keys: dict, chance: float) -> list[dict]:
    from ..train.diagnostics import diagnose

    history = {"train_loss": [r["train_loss"] for r in curves]}
    history.update({series: [r[key] for r in curves] for series, key in acc_keys.items()})
    return [f.to_dict() for f in diagnose(history, chance)]


def run(config: Config, out) -> dict:
    """The lab, with BLAS held to one thread.

    Why: the RNN does one small (N, H) @ (H, H) product per time step, where a second BLAS thread
    costs more than it computes; and OpenBLAS's products depend on the thread count in their last
    bits (a (128, 100) @ (100, 128) float32 product differs between one and two threads), which
    ten epochs turn into other accuracies. One thread gives the same numbers on every machine.
    """
    from ..utils.cores import single_threaded_blas

    with single_threaded_blas():
        return _run(config, out)


def _run(config: Config, out) -> dict:
    from .rnn_sentiment_train import outputs_per_sentence, prepare

    prep = prepare(config)
    num_classes = len(prep.class_names)
    m2o = _many_to_one(config, prep, out)
    m2m = _many_to_many(config, prep, out)
    curves = m2o["curves"]
    best = max(curves, key=lambda r: r["dev_acc"])  # the first of equal dev accuracies, as EarlyStopping keeps
    pred = m2o["proba"].argmax(1)
    confusion = _confusion(prep.test.y, pred, num_classes)
    test_acc = float(np.mean(pred == prep.test.y))
    majority = float(np.mean(prep.test.y == np.bincount(prep.train.y, minlength=num_classes).argmax()))
    out.save_metrics("curves", curves)
    out.save_metrics("many_to_many", m2m["curves"])
    out.save_metrics("hidden_grad_norms", [{"k": k, "trained": a, "initial": b, "sentences": c} for k, a, b, c in zip(
        m2o["trained"]["k"], m2o["trained"]["mean_norm"], m2o["initial"]["mean_norm"], m2o["trained"]["count"])])
    examples = _examples(prep, m2o["proba"], config.num_examples, config.seed)
    out.save_metrics("examples", examples)
    sums = m2o["proba"].sum(axis=1)
    task = "SST-2" if config.binary else "SST-5"
    last_tag = m2m["curves"][-1]
    summary = (f"{task} many-to-one RNN: test accuracy {test_acc:.2%} at epoch {best['epoch']} (best dev "
               f"{best['dev_acc']:.2%}); many-to-many sentence accuracy {last_tag['test_sentence_acc']:.2%}")
    return {
        "summary": summary, "task": task, "test_acc": test_acc, "best_epoch": best["epoch"], "dev_acc": best["dev_acc"],
        "goal": {"test_acc": GOAL_ACC, "full_setting": full_setting(config)},
        "data": {"fit_what": prep.fit_what, "n_fit": len(prep.fit_x), "n_train": len(prep.train),
                 "n_dev": len(prep.dev), "n_test": len(prep.test), "vocab_size": prep.vocab_size, "class_names": list(prep.class_names),
                 "source": prep.source, "majority": majority, "chance": 1.0 / num_classes},
        "curves": curves, "confusion": confusion.tolist(), "off_by_one": off_by_one_share(confusion),
        "grad_profile": m2o["trained"], "grad_profile_initial": m2o["initial"], "examples": examples,
        "outputs": {**outputs_per_sentence(m2o["model"], m2m["model"], prep.test.x),
                    "classes": num_classes, "largest_sum_error": float(np.abs(sums - 1.0).max()),
                    "smallest_probability": float(m2o["proba"].min())},
        "many_to_many": {k: m2m[k] for k in ("curves", "labels_per_sentence", "prefix_majority")},
        "findings": {"many-to-one": _diagnosis(curves, {"train_acc": "train_acc", "test_acc": "test_acc"}, majority),
                     "many-to-many": _diagnosis(m2m["curves"], {"test_acc": "test_prefix_acc"},
                                                m2m["prefix_majority"])},
        "train_time_s": float(sum(r["epoch_time_s"] for r in curves)),
    }


# -- report ---------------------------------------------------------------------------------------
def _setup(result: dict, config: Config, doc) -> None:
    d = result["data"]
    fit = _("every distinct labelled phrase of the training trees") if d["fit_what"] == "phrases" \
        else _("the training sentences")
    doc.bullets([
        _("Data: {task}, read from `{source}`; {n_fit} training sequences ({fit}), {n_dev} dev and {n_test} test "
          "sentences; vocabulary of {v} words from the training trees (`lowercase` = {low}, `min_freq` = {mf}).",
          task=result["task"], source=d["source"], n_fit=d["n_fit"], fit=fit, n_dev=d["n_dev"], n_test=d["n_test"],
          v=d["vocab_size"], low=config.lowercase, mf=config.min_freq),
        _("Model: `Embedding({v}, {e})` → `RNN(tanh, hidden {h}, layers {l})` → last valid hidden state → `Linear` "
          "→ softmax; dropout {p:g}.", v=str(d["vocab_size"]), e=str(config.embedding_dim),
          h=str(config.hidden_size), l=str(config.num_layers), p=config.dropout),  # code keeps its digits
        _("Training: the library's `Trainer` on a `DataLoader` of batches of {b} sequences of similar length; Adam, "
          "`lr` = {lr:g}, weight decay {wd:g}; gradients clipped to a global norm of {clip:g}; {e} epochs, seed {s}; "
          "{t:.0f} s of training.", b=config.batch_size, lr=config.lr, wd=config.weight_decay, clip=config.clip,
          e=config.num_epochs, s=config.seed, t=result["train_time_s"]),
    ])


def _answers(result: dict, doc) -> None:
    doc.heading(_("The questions"))
    doc.bullets([outputs_sentence(result["outputs"]),
                 distribution_sentence(result["outputs"], [class_label(c) for c in result["data"]["class_names"]])])


def report(result: dict, config: Config, doc) -> None:
    d, curves = result["data"], result["curves"]
    names = [class_label(c) for c in d["class_names"]]
    doc.para(_("**Question.** How does an RNN rate an n-word sentence on a sentiment scale at test time, how many "
               "softmax outputs does it give, and what is each a distribution over?"))
    _setup(result, config, doc)
    _answers(result, doc)
    doc.heading(_("Many-to-one: accuracy per epoch"))
    doc.table([("epoch", _("epoch"), "d"), ("train_loss", _("training loss"), ".4f"),
               ("grad_norm", _("mean gradient norm before clipping"), ".3g"),
               ("train_acc", _("training sentences"), ".2%"), ("dev_acc", _("dev"), ".2%"),
               ("test_acc", _("test"), ".2%")], curves,
              caption=_("The training loss is the mean over the epoch's training sequences; the accuracies are on "
                        "sentences, in evaluation mode."))
    doc.para(goal_sentence(result, SOCHER_RNN))
    doc.plot(plot_curves(curves), "accuracy_curves", _("Sentence accuracy and training loss per epoch; the dashed line "
                                                        "marks the epoch with the best dev accuracy."))
    doc.heading(_("Training problems"))
    doc.bullets(findings_lines(result["findings"]))
    doc.heading(_("Confusion matrix (test, rows = true class)"))
    confusion = np.asarray(result["confusion"])
    doc.table([("true", _("true class"), "")] + [(f"c{j}", names[j], "d") for j in range(len(names))],
              [{"true": names[i], **{f"c{j}": int(confusion[i, j]) for j in range(len(names))}}
               for i in range(len(names))])
    doc.para(confusion_sentence(result["off_by_one"], len(names)))
    doc.plot(plot_confusion(confusion, names), "confusion_matrix",
             _("Test sentences by true (rows) and predicted (columns) class."))
    doc.heading(_("Gradient through time"))
    doc.para(grad_sentence(result["grad_profile"], result["grad_profile_initial"]))
    doc.plot(plot_grad_profile(result["grad_profile"], result["grad_profile_initial"]), "hidden_grad_norms",
             _("Mean `‖∂L/∂h_t‖` over the test sentences against the number of steps before the last word (log "
               "scale)."))
    doc.heading(_("Test sentences and their predicted distribution"))
    doc.table([("sentence", _("sentence"), ""), ("label", _("true class"), ""), ("predicted", _("predicted"), "")]
              + [(f"p{c}", names[c], ".3f") for c in range(len(names))],
              [{"sentence": CodeText(e["sentence"].replace("`", "'")), "label": names[e["label"]],
                "predicted": names[e["predicted"]],
                **{f"p{c}": p for c, p in enumerate(e["probs"])}} for e in result["examples"]])
    doc.heading(_("Many-to-many head"))
    m2m = result["many_to_many"]
    doc.para(_("Targets: step t is labelled with the sentiment of the prefix `w_1..w_t` wherever that prefix is a node "
               "of the sentence's tree (the left spine; the last step is the whole sentence) and ignored elsewhere; "
               "{k:.1f} labelled steps per training sentence on average. Trained on sentences only, {e} epochs.",
               k=m2m["labels_per_sentence"], e=config.tagger_num_epochs))
    doc.table([("epoch", _("epoch"), "d"), ("train_loss", _("training loss"), ".4f"),
               ("dev_prefix_acc", _("dev prefix acc."), ".2%"), ("dev_sentence_acc", _("dev sentence acc."), ".2%"),
               ("test_prefix_acc", _("test prefix acc."), ".2%"),
               ("test_sentence_acc", _("test sentence acc."), ".2%")], m2m["curves"])
    doc.para(tagger_sentence(m2m, result["test_acc"], d["fit_what"]))
