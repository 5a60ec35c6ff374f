"""Lab: a small CNN on Fashion-MNIST (all 10 classes), trained with the core Trainer.

Question: how far does a 3-stage convolutional network (conv-BN-ReLU-pool) get on
Fashion-MNIST, compared with the MLPs of the earlier labs, and which classes stay hard?

What you should see with the default recipe (all 10 classes, the full data): test accuracy above
92% after 10 epochs (the goal is 92.5%), shirt / T-shirt / pullover / coat confused with each
other, and a train/test gap that opens once the learning rate is lowered.

Training: Adam, the learning rate multiplied by ``lr_decay`` after each epoch in ``lr_decay_epochs``
(:class:`~backproplab.optim.lr_scheduler.MultiStepLR`), one shard of every batch per core
(:func:`~backproplab.labs.cores.on_cores`), a checkpoint after every epoch in the run folder (a
killed run resumes where it stopped; the checkpoint is tied to the configuration's fingerprint).

The run saves the trained weights (``model_weights.npz``, plain arrays, no pickle) and the
builder's settings (``result.json``, key ``model``) for the ``gradcam`` lab:
``backproplab lab gradcam --cnn-run <this run folder>``.

Reference: the model is :func:`backproplab.models.cnn.make_cnn`; Ioffe & Szegedy 2015 (BN);
Xiao, Rasul & Vollgraf 2017, "Fashion-MNIST".
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..report.i18n import N_
from ..train import Callback
from . import progress
from .cnn_report import report  # noqa: F401  (the lab's report function)
from .config import ConfigError, option, quick
from .training import TrainingConfig

NAME = "cnn"
TITLE = N_("A small CNN on Fashion-MNIST (10 classes)")
SUMMARY = N_("a conv-BN-ReLU network on Fashion-MNIST: test accuracy, the hard classes, the 92.5% goal")
QUESTIONS = ()

#: test accuracy the default recipe should reach on all 10 classes with the full data
GOAL = 0.925
#: the options of the recipe the goal is set for (each at its default), besides the data
RECIPE = ("num_epochs", "batch_size", "lr", "lr_decay", "lr_decay_epochs", "channels", "hidden", "dropout",
          "batchnorm")
#: the data the goal is set for: every class and image of Fashion-MNIST
GOAL_DATA = {"num_classes": 10, "n_train": 60000, "n_test": 10000}


@dataclass(frozen=True)
class Config(TrainingConfig):
    classes: str = option("all", "Fashion-MNIST class ids (comma list) or 'all'")
    num_epochs: int = option(10, "passes over the training set", low=1, high=1000)
    batch_size: int = option(64, "mini-batch size", low=1, high=60000)
    lr: float = option(1e-3, "Adam learning rate", low=0, low_open=True, high=1e6)
    lr_decay: float = option(0.2, "factor the learning rate is multiplied by after each epoch of --lr-decay-epochs",
                             low=0, low_open=True, high=1)
    lr_decay_epochs: tuple[int, ...] = option((6, 9), "epochs (1-based) after which the learning rate is "
                                                      "multiplied by --lr-decay", each_low=1, each_high=1000)
    channels: tuple[int, ...] = option((32, 64, 64), "output channels of the 2 or 3 conv stages", min_len=2,
                                       each_low=1, each_high=4096)
    hidden: int = option(128, "width of the hidden fully connected layer (0: none)", low=0, high=100000)
    dropout: float = option(0.3, "drop probability before the last Linear", low=0, high=1, high_open=True)
    batchnorm: bool = option(True, "BN after every convolution")
    threads: int | None = option(None, "cores, one shard of each batch per core (nn.DataParallel); None = every "
                                       "core this process may use, 1 = unsharded", low=1, high=1024)

    def check(self) -> None:
        super().check()
        check_stages(self.channels)

    def quick(self) -> "Config":
        return quick(self, num_epochs=2, train_size=1024, test_size=512, lr_decay_epochs=(1,))


def check_stages(channels) -> None:
    """make_cnn builds 2 or 3 conv stages: refuse more when the Config is built."""
    if len(channels) > 3:
        raise ConfigError(f"--channels lists {len(channels)} stages; the CNN has 2 or 3 conv stages")


def load_data(config: Config):
    """Fashion-MNIST images (N, 1, 28, 28) for ``config.classes``, subset to ``train_size``/``test_size``."""
    from ..data import load_fashion_mnist, parse_classes

    ds = load_fashion_mnist(parse_classes(config.classes), data_dir=config.data_dir, flatten=False)
    if config.train_size is None and config.test_size is None:
        return ds
    # its own generator (seed + 1): the subset does not shift the model's random numbers
    return ds.subset(config.train_size, np.random.default_rng(config.seed + 1), config.test_size)


def builder(config: Config, num_classes: int) -> dict:
    """make_cnn's keyword arguments for ``config`` (what gradcam rebuilds the model from)."""
    return {"num_classes": num_classes, "channels": list(config.channels), "hidden": config.hidden,
            "dropout": config.dropout, "batchnorm": config.batchnorm}


class LearningRates(Callback):
    """Trainer callback: the learning rate of every epoch (kept in the checkpoint, so a resumed run has all)."""

    def __init__(self):
        self.lrs: list[float] = []

    def on_epoch_end(self, trainer, epoch: int, logs: dict) -> None:
        self.lrs.append(float(logs["lr"]))

    def state_dict(self) -> dict:
        return {"lrs": list(self.lrs)}

    def load_state_dict(self, state: dict) -> None:
        self.lrs = [float(v) for v in state["lrs"]]


def train(config: Config, data, out) -> tuple:
    """(model, history, diverged message or None, untrained test loss and accuracy, lrs, shards, backend)."""
    from ..models.cnn import make_cnn
    from ..nn import make_loss
    from ..optim import make_optimizer
    from ..optim.lr_scheduler import MultiStepLR
    from ..train import Trainer, TrainingDiverged
    from .cores import SHARD_BACKEND, on_cores

    rng = np.random.default_rng(config.seed)  # initial weights, dropout masks and shuffling
    model = make_cnn(rng, **builder(config, data.num_classes))
    optimizer = make_optimizer("adam", model.parameters(), lr=config.lr)
    scheduler = MultiStepLR(optimizer, milestones=config.lr_decay_epochs, gamma=config.lr_decay)
    trained, shards = on_cores(model, config.threads)  # shares model's parameters
    lrs = LearningRates()
    trainer = Trainer(trained, make_loss("cross_entropy"), optimizer, batch_size=config.batch_size,
                      num_epochs=config.num_epochs, rng=rng, eval_train=False, scheduler=scheduler,
                      callbacks=[progress.current().training(NAME), lrs], checkpoint_path=out.checkpoint(),
                      checkpoint_tag=config.fingerprint())
    diverged = None
    try:
        init = trainer.evaluate(data.x_test, data.y_test)  # eval mode: draws nothing, changes nothing
        # overflow on the way to a NaN loss is expected for a diverging run: the Trainer catches the NaN
        with np.errstate(over="ignore", invalid="ignore"):
            history = trainer.fit(data.x_train, data.y_train, data.x_test, data.y_test)
    except TrainingDiverged as e:
        history, diverged = trainer.history, str(e)
    finally:
        if shards > 1:
            trained.close()
    return model, history, diverged, init, lrs.lrs, shards, SHARD_BACKEND if shards > 1 else None


def confusion_details(model, data) -> dict:
    """Per-class test accuracy and the confusion matrix of the trained model (eval mode)."""
    model.eval()
    with np.errstate(over="ignore", invalid="ignore"):
        pred = np.concatenate([model.forward(data.x_test[i:i + 1000]).argmax(axis=1)
                               for i in range(0, len(data.x_test), 1000)])
    k = data.num_classes
    confusion = np.zeros((k, k), dtype=np.int64)
    np.add.at(confusion, (data.y_test, pred), 1)
    support = confusion.sum(axis=1)
    per_class = [float(confusion[i, i] / support[i]) if support[i] else None for i in range(k)]
    return {"confusion": confusion.tolist(), "support": support.tolist(), "per_class_acc": per_class}


def goal_status(config: Config, data_facts: dict, test_acc: float | None) -> dict:
    """Whether the goal applies to this run (its setting is the goal's) and, if so, whether it is met.

    ``differences`` lists the options (as ``--name value``) in which this run's setting is not the goal's.
    """
    defaults = Config()
    differences = [f"--{name.replace('_', '-')} {_shown(getattr(config, name))}" for name in RECIPE
                   if getattr(config, name) != getattr(defaults, name)]
    if data_facts["num_classes"] != GOAL_DATA["num_classes"]:
        differences.insert(0, f"--classes {config.classes}")
    for key, flag in (("n_train", "--train-size"), ("n_test", "--test-size")):
        if data_facts[key] != GOAL_DATA[key]:
            differences.append(f"{flag} {data_facts[key]}")
    applies = not differences
    met = None if not applies else bool(test_acc is not None and test_acc >= GOAL)
    return {"goal": GOAL, "applies": applies, "met": met, "differences": differences}


def _shown(value) -> str:
    return ",".join(map(str, value)) if isinstance(value, (tuple, list)) else str(value)


def run(config: Config, out) -> dict:
    from ..analysis.summary import summary
    from ..train.diagnostics import diagnose
    from .training import data_facts

    data = load_data(config)
    facts = data_facts(data, config)
    model, history, diverged, (init_loss, init_acc), lrs, shards, backend = train(config, data, out)
    h = history.to_dict()
    curves = [{**row, "lr": lr} for row, lr in zip(history.epoch_rows(), lrs)]
    out.save_metrics("curves", curves)
    table = summary(model, (1,) + data.x_train.shape[1:])
    out.save_metrics("summary_table", table)
    details, weights = None, None
    if diverged is None:
        details = confusion_details(model, data)
        out.save_metrics("per_class", [{"class": name, "test_acc": details["per_class_acc"][k],
                                        "n": details["support"][k]} for k, name in enumerate(data.class_names)])
        weights = out.save_arrays("model_weights", **model.state_dict())  # plain arrays: no pickle
    test_acc = h["test_acc"][-1] if h["test_acc"] and diverged is None else None
    best = max(h["test_acc"]) if h["test_acc"] else None
    goal = goal_status(config, facts, test_acc)
    findings = [f.to_dict() for f in diagnose(h, facts["chance"], initial_loss=init_loss)]
    summary_text = (f"test accuracy {test_acc:.4f} after {len(curves)} epochs" if test_acc is not None
                    else f"training diverged after {len(curves)} complete epochs")
    if goal["applies"]:
        summary_text += f" ({'meets' if goal['met'] else 'does NOT meet'} the {GOAL:.1%} goal)"
    if findings:
        summary_text += f"; findings: {', '.join(f['code'] for f in findings)}"
    return {"summary": summary_text, "test_acc": test_acc, "best_test_acc": best,
            "best_epoch": int(np.argmax(h["test_acc"])) + 1 if h["test_acc"] else None,
            "epochs_run": len(curves), "curves": curves, "history": h, "init": {"test_loss": init_loss,
                                                                              "test_acc": init_acc},
            "diverged": diverged, "findings": findings, "goal": goal, "data": facts, "details": details,
            "per_class_acc": None if details is None else dict(zip(data.class_names, details["per_class_acc"])),
            "train_time_s": float(sum(h["epoch_time"])), "threads": shards, "backend": backend,
            "summary_table": table, "model": {"builder": builder(config, data.num_classes), "weights": weights,
                                              "classes": config.classes, "class_names": list(data.class_names)}}
