"""Lab: a small CNN on Fashion-MNIST (all 10 classes), trained with the core Trainer.

Question: how far does a 3-stage convolutional network (conv-BN-ReLU-pool) get on
Fashion-MNIST, compared with the MLPs of the earlier labs, and which classes stay hard?

What you should see: test accuracy above 92% after about 10 epochs (goal 92.5%), the
shirt / T-shirt / pullover / coat classes confused with each other, and a train/test gap that
opens once the learning rate is lowered.

The run saves the trained weights (``model_weights.npz``, plain arrays, no pickle) for the
``gradcam`` lab: ``backproplab lab gradcam --cnn-run <this run folder>``.

Reference: the model is :func:`backproplab.models.cnn.make_cnn`; Ioffe & Szegedy 2015 (BN);
Xiao, Rasul & Vollgraf 2017, "Fashion-MNIST".
"""
from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..analysis.summary import format_summary, summary
from ..models.cnn import make_cnn
from .common import LabRun, markdown_table, new_figure, on_cores, parse_classes
from .mlp_common import option

NAME = "cnn"
TITLE = "A small CNN on Fashion-MNIST (10 classes)"
GOAL = 0.925  # the target test accuracy


@dataclass(frozen=True)
class Config:
    seed: int = option(0, "initial weights, dropout masks and shuffling")
    quick: bool = option(False, "1024 train / 512 test images, 2 epochs: seconds")
    data_dir: str | None = option(None, "folder with the Fashion-MNIST files; None = default")
    classes: str = option("all", "Fashion-MNIST class ids, comma list, or 'all'")
    num_epochs: int = option(10, "passes over the training set")
    batch_size: int = option(64, "mini-batch size")
    lr: float = option(1e-3, "Adam learning rate")
    lr_decay: float = option(0.2, "learning rate factor applied at each epoch in lr_decay_epochs")
    lr_decay_epochs: tuple[int, ...] = option((6, 9), "epochs (1-based) after which the lr is multiplied")
    channels: tuple[int, ...] = option((32, 64, 64), "output channels of the conv stages (2 or 3)")
    hidden: int = option(128, "hidden fully connected width (0 = none)")
    dropout: float = option(0.3, "dropout before the last Linear")
    batchnorm: bool = option(True, "BN after every convolution")
    train_size: int | None = option(None, "use the first N (shuffled) training images; None = all")
    threads: int = option(0, "cores, one shard of each batch per core (nn.DataParallel); 0 = all, 1 = off")


def _lr_at(config: Config, epochs_done: int) -> float:
    """Step schedule: lr · lr_decay^(number of decay epochs already passed)."""
    return config.lr * config.lr_decay ** sum(1 for e in config.lr_decay_epochs if epochs_done >= e)


def run(config: Config, out_dir) -> dict:
    from ..data.fashion_mnist import load_fashion_mnist
    from ..nn import CrossEntropyLoss
    from ..optim import Adam
    from ..train import Trainer

    if config.quick:
        config = dataclasses.replace(config, num_epochs=min(config.num_epochs, 2),
                                     train_size=min(config.train_size or 1024, 1024), lr_decay_epochs=(2,))
    lab = LabRun(out_dir, config)
    out = Path(out_dir)
    rng = np.random.default_rng(config.seed)
    data = load_fashion_mnist(parse_classes(config.classes), data_dir=config.data_dir, flatten=False)
    x_train, y_train, x_test, y_test = data.x_train, data.y_train, data.x_test, data.y_test
    if config.train_size:
        keep = rng.permutation(len(x_train))[: config.train_size]
        x_train, y_train = x_train[keep], y_train[keep]
    if config.quick:
        x_test, y_test = x_test[:512], y_test[:512]
    num_classes = len(data.class_names)

    model = make_cnn(rng, num_classes=num_classes, channels=config.channels, hidden=config.hidden,
                     dropout=config.dropout, batchnorm=config.batchnorm)
    table = summary(model, (1,) + x_train.shape[1:])
    optimizer = Adam(model.parameters(), lr=config.lr)

    def schedule(trainer, epoch, history):
        for g in trainer.optimizer.param_groups:
            g["lr"] = _lr_at(config, epoch + 1)

    for g in optimizer.param_groups:  # a resumed run continues on the schedule
        g["lr"] = _lr_at(config, 0)
    trained, threads = on_cores(model, config.threads)  # shares model's parameters
    trainer = Trainer(trained, CrossEntropyLoss(), optimizer, batch_size=config.batch_size,
                      num_epochs=config.num_epochs, rng=rng, eval_train=False, callbacks=[schedule],
                      checkpoint_path=out / ".checkpoint.npz")
    t0 = time.perf_counter()
    hist = trainer.fit(x_train, y_train, x_test, y_test)
    wall = time.perf_counter() - t0
    np.savez(out / "model_weights.npz", **model.state_dict())  # plain arrays: np.load(allow_pickle=False)
    lab.files.append("model_weights.npz")

    # -- test-set details ---------------------------------------------------------------------
    model.eval()
    pred = np.concatenate([model.forward(x_test[i:i + 1000]).argmax(axis=1) for i in range(0, len(x_test), 1000)])
    confusion = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(confusion, (y_test, pred), 1)
    support = confusion.sum(axis=1)
    per_class = np.divide(np.diag(confusion), support, out=np.full(num_classes, np.nan), where=support > 0)
    off = confusion.copy()
    np.fill_diagonal(off, 0)
    worst_pair = np.unravel_index(off.argmax(), off.shape)

    rows = hist.epoch_rows()
    for r, e in zip(rows, range(len(rows))):
        r["lr"] = _lr_at(config, e)
    lab.save_metrics("curves", rows)
    lab.save_metrics("per_class", [{"class": data.class_names[k], "test_acc": float(per_class[k]),
                                    "n": int(support[k])} for k in range(num_classes)])
    lab.save_metrics("summary_table", table)

    fig, axes = new_figure(1, 3, size=(16, 4.2))
    ep = np.arange(1, len(rows) + 1)
    axes[0, 0].plot(ep, hist.train_loss, "o-", label="train (running mean over the epoch)")
    axes[0, 0].plot(ep, hist.test_loss, "s-", label="test")
    axes[0, 0].set(xlabel="epoch", ylabel="cross-entropy", title="loss")
    axes[0, 1].plot(ep, hist.train_acc, "o-", label="train (running)")
    axes[0, 1].plot(ep, hist.test_acc, "s-", label="test")
    axes[0, 1].axhline(GOAL, color="grey", ls="--", lw=1, label=f"goal {GOAL:.1%}")
    axes[0, 1].set(xlabel="epoch", ylabel="accuracy", title="accuracy")
    for ax in axes[0, :2]:
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
        ax.set_xticks(ep if len(ep) <= 20 else ep[:: len(ep) // 10])  # whole epochs only
    im = axes[0, 2].imshow(confusion, cmap="Blues")
    axes[0, 2].set(title="test confusion matrix", xlabel="predicted", ylabel="true",
                   xticks=range(num_classes), yticks=range(num_classes))
    axes[0, 2].set_yticklabels(data.class_names, fontsize=7)
    fig.colorbar(im, ax=axes[0, 2], fraction=0.046)
    lab.savefig(fig, "cnn_curves")

    final = hist.test_acc[-1]
    best_epoch = int(np.argmax(hist.test_acc)) + 1
    gap = hist.train_acc[-1] - final
    order = np.argsort(per_class)
    met = "meets" if final >= GOAL else "does NOT meet"
    summary_text = (f"test accuracy {final:.4f} after {len(rows)} epochs ({met} the {GOAL:.1%} goal); "
                    f"training took {wall:.0f} s")
    sharding = (f"one shard of each batch per core, nn.DataParallel, {trained.backend} backend" if threads > 1
                else "unsharded")
    report = [
        f"# {TITLE}", "",
        f"Data: {len(x_train)} training and {len(x_test)} test images, {num_classes} classes. "
        f"Adam, lr {config.lr:g} (x{config.lr_decay:g} after epochs {list(config.lr_decay_epochs)}), "
        f"batch {config.batch_size}, {len(rows)} epochs, seed {config.seed}, {threads} core(s) ({sharding}).", "",
        "## Model", "", "```", format_summary(table), "```", "",
        "## Results", "",
        f"- Final test accuracy **{final:.4f}** ({met} the goal of {GOAL:.1%}); best {max(hist.test_acc):.4f} "
        f"at epoch {best_epoch}.",
        f"- Training wall time {wall:.0f} s ({wall / max(len(rows), 1):.0f} s per epoch, evaluation included; "
        "shared CPU, so timings are noisy).",
        f"- Train accuracy (running mean over the last epoch, dropout on) {hist.train_acc[-1]:.4f}: "
        f"the train - test gap is {gap:+.4f}.",
        f"- Hardest class: {data.class_names[order[0]]} ({per_class[order[0]]:.3f}); easiest: "
        f"{data.class_names[order[-1]]} ({per_class[order[-1]]:.3f}).",
        f"- Most frequent confusion: true {data.class_names[worst_pair[0]]} predicted as "
        f"{data.class_names[worst_pair[1]]} ({off[worst_pair]} of {support[worst_pair[0]]} test images).", "",
        markdown_table(rows, ["epoch", "lr", "train_loss", "train_acc", "test_loss", "test_acc", "epoch_time"]),
        "![curves](cnn_curves.png)", "",
        "Weights: `model_weights.npz` (load with `np.load(..., allow_pickle=False)` and "
        "`backproplab.models.cnn.model_from_run(config, state)`).",
    ]
    lab.write_report("\n".join(report))
    return {"summary": summary_text, "test_acc": final, "best_test_acc": max(hist.test_acc),
            "per_class_acc": {data.class_names[k]: float(per_class[k]) for k in range(num_classes)},
            "train_time_s": wall, "epochs": len(rows), "weights": str(out / "model_weights.npz"),
            "goal_met": bool(final >= GOAL)}
