"""Lab: a sigmoid network started with large positive weights saturates, and its gradients vanish.

The question: what happens to a sigmoid MLP whose weights all start large and
positive? On Fashion-MNIST the pixels are in [0, 1], so every pre-activation
z = Σ_k w_k x_k + b is a sum of hundreds of positive terms: z ≫ 1, σ(z) ≈ 1 and
σ'(z) = σ(z)(1 - σ(z)) ≈ 0. Backpropagation multiplies by σ'(z) at every layer,
so the weight gradients are (numerically) zero and the network cannot learn.
A Glorot initialization keeps z of order 1: σ' stays near its maximum 1/4.

Measured for both initializations on a batch of training images, per hidden layer:
the fraction of saturated units (σ < 0.01 or σ > 0.99), the mean σ'(z), and the
norm of each weight gradient after one backward pass (library layers and loss);
then both networks are trained with the same SGD settings (the library's Trainer).

Exercises: (1) lower ``large_scale`` until the network trains: at which scale does
the fraction of saturated units drop below one half? (2) why do negative-and-
positive large weights saturate too, but less often?

Reference: Glorot & Bengio 2010, "Understanding the difficulty of training deep
feedforward neural networks"; LeCun et al. 1998, "Efficient BackProp", §4.4.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .common import LabRun, markdown_table, new_figure, parse_classes, replace_known

NAME = "saturation"
TITLE = "Sigmoid saturation from large positive weights: activations, σ', gradients, training"


@dataclass(frozen=True)
class Config:
    seed: int = 0                      # weights and batch order
    quick: bool = False                # subset and one epoch: seconds
    data_dir: str | None = None        # Fashion-MNIST folder (None: the default location)
    classes: str = "all"               # class ids, e.g. "0,1", or "all"
    hidden: tuple[int, ...] = (128, 128, 128)  # sigmoid hidden layers
    large_scale: float = 1.0           # bad init: w = |N(0, large_scale²)| (all positive)
    good_init: str = "glorot_uniform"  # the comparison (any backproplab.nn.init name)
    num_epochs: int = 5                # training epochs for each network
    lr: float = 0.5                    # SGD learning rate (sigmoid nets need a large one)
    batch_size: int = 64               # mini-batch size
    probe_size: int = 1000             # training images the activations and gradients are measured on


QUICK = dict(num_epochs=2, probe_size=500)


def build(in_features: int, hidden, num_classes: int, init: str, rng, large_scale: float):
    """Linear-Sigmoid-...-Linear. ``init="large_positive"``: every weight |N(0, large_scale²)|, biases 0."""
    from ..nn import Linear, Sigmoid, Sequential

    sizes = [in_features, *hidden, num_classes]
    layers = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        if init == "large_positive":
            lin = Linear(a, b, rng=rng, init="large", scale=large_scale)
            lin.weight.data[...] = np.abs(lin.weight.data)  # all positive: no cancellation in z
        else:
            lin = Linear(a, b, rng=rng, init=init)
        layers.append(lin)
        if i < len(sizes) - 2:
            layers.append(Sigmoid())
    return Sequential(*layers)


def probe(model, x, y) -> list[dict]:
    """Per hidden layer: saturation, mean σ'(z), and per Linear the weight-gradient norm (one backward)."""
    from ..nn import CrossEntropyLoss, Linear, Sigmoid

    loss_fn = CrossEntropyLoss()
    model.train()
    model.zero_grad()
    acts, h = [], x
    for layer in model.layers:
        h = layer.forward(h)
        if isinstance(layer, Sigmoid):
            acts.append(h.astype(np.float64))
    loss = loss_fn(h, y)
    model.backward(loss_fn.backward())
    linears = [l for l in model.layers if isinstance(l, Linear)]
    rows = []
    for i, lin in enumerate(linears):
        row = {"layer": i + 1, "grad_norm": float(np.linalg.norm(lin.weight.grad)),
               "weight_norm": float(np.linalg.norm(lin.weight.data))}
        if i < len(acts):
            a = acts[i]
            row.update(saturated=float(np.mean((a < 0.01) | (a > 0.99))), mean_act=float(a.mean()),
                       mean_dsigma=float(np.mean(a * (1.0 - a))))
        rows.append(row)
    rows[0]["loss"] = float(loss)
    return rows, acts


def run(config: Config, out_dir: Path) -> dict:
    from ..data import load_fashion_mnist
    from ..nn import CrossEntropyLoss
    from ..optim import SGD
    from ..train.trainer import Trainer

    if config.quick:
        config = replace_known(config, **QUICK)
    lab = LabRun(out_dir, config)
    if config.large_scale <= 0 or not config.hidden:
        raise ValueError("large_scale must be > 0 and hidden must list at least one layer")
    ds = load_fashion_mnist(classes=parse_classes(config.classes), data_dir=config.data_dir)
    rng = np.random.default_rng(config.seed)
    x_tr, y_tr = ds.x_train, ds.y_train
    if config.quick:
        keep = rng.choice(len(x_tr), 2000, replace=False)
        x_tr, y_tr = x_tr[keep], y_tr[keep]
    k = int(ds.y_train.max()) + 1
    pidx = rng.choice(len(x_tr), min(config.probe_size, len(x_tr)), replace=False)
    xp, yp = x_tr[pidx], y_tr[pidx]

    results, acts_by = {}, {}
    for name in ("large_positive", config.good_init):
        model = build(x_tr.shape[1], config.hidden, k, name, rng, config.large_scale)
        rows, acts = probe(model, xp, yp)
        acts_by[name] = acts
        hist = Trainer(model, CrossEntropyLoss(), SGD(model.parameters(), lr=config.lr),
                       batch_size=config.batch_size, num_epochs=config.num_epochs, rng=rng).fit(
            x_tr, y_tr, ds.x_test, ds.y_test)
        after, _ = probe(model, xp, yp)
        results[name] = {"before": rows, "after": after, "history": hist.epoch_rows()}
        lab.save_metrics(f"probe_{name}", [{"when": "init", **r} for r in rows] + [{"when": "trained", **r}
                                                                                   for r in after])
        lab.save_metrics(f"history_{name}", hist.epoch_rows())

    fig, axes = new_figure(1, 3, size=(16, 4.2))
    for j, (name, acts) in enumerate(acts_by.items()):
        ax = axes[0][j]
        for i, a in enumerate(acts):
            ax.hist(a.ravel(), bins=50, range=(0, 1), alpha=0.5, label=f"hidden layer {i + 1}")
        ax.set_yscale("log")
        ax.set_title(f"σ(z) at init: {name}")
        ax.set_xlabel("activation")
        ax.legend(fontsize=7)
    ax = axes[0][2]
    for name, r in results.items():
        losses = [h["train_loss"] for h in r["history"]]
        ax.semilogy(np.arange(1, len(losses) + 1), losses, "o-", label=name)
    ax.set_xlabel("epoch")
    ax.set_ylabel("training loss")
    ax.set_title("training")
    ax.legend(fontsize=8)
    lab.savefig(fig, "saturation")

    bad, good = results["large_positive"], results[config.good_init]
    cols = ["layer", "saturated", "mean_act", "mean_dsigma", "grad_norm", "weight_norm"]
    sat_bad = np.mean([r["saturated"] for r in bad["before"] if "saturated" in r])
    sat_good = np.mean([r["saturated"] for r in good["before"] if "saturated" in r])
    g_bad, g_good = bad["before"][0]["grad_norm"], good["before"][0]["grad_norm"]
    l_bad = [h["train_loss"] for h in bad["history"]]
    l_good = [h["train_loss"] for h in good["history"]]
    acc_bad, acc_good = bad["history"][-1].get("test_acc"), good["history"][-1].get("test_acc")
    summary = (f"at init: {100 * sat_bad:.1f}% of sigmoid units saturated with large positive weights vs "
               f"{100 * sat_good:.1f}% with {config.good_init}; first-layer gradient norm {g_bad:.2e} vs "
               f"{g_good:.2e}; test accuracy after {config.num_epochs} epoch(s): {acc_bad:.3f} vs {acc_good:.3f}.")
    report = [f"# {TITLE}\n",
              f"Sigmoid MLP {x_tr.shape[1]}-{'-'.join(map(str, config.hidden))}-{k}, {len(x_tr)} training images "
              f"({ds.source}), probe batch {len(xp)}; SGD lr {config.lr}, batch {config.batch_size}, "
              f"{config.num_epochs} epoch(s). Large positive init: w = |N(0, {config.large_scale}²)|.\n",
              "## Large positive weights, at initialization\n", markdown_table(bad["before"], cols),
              f"\n## {config.good_init}, at initialization\n", markdown_table(good["before"], cols),
              "\n## Training\n", markdown_table([{"init": n, "epoch": h["epoch"], "train_loss": h["train_loss"],
                                                  "test_acc": h.get("test_acc")}
                                                 for n, r in results.items() for h in r["history"]]),
              "\n## Observations (from the numbers)\n",
              f"- Saturated sigmoid units at init (σ < 0.01 or > 0.99), mean over hidden layers: "
              f"{100 * sat_bad:.1f}% (large positive) vs {100 * sat_good:.1f}% ({config.good_init}).",
              f"- Mean σ'(z) per hidden layer: large positive "
              f"{[round(r['mean_dsigma'], 6) for r in bad['before'] if 'mean_dsigma' in r]}, {config.good_init} "
              f"{[round(r['mean_dsigma'], 4) for r in good['before'] if 'mean_dsigma' in r]} (maximum possible 0.25).",
              f"- First-layer weight-gradient norm at init: {g_bad:.3e} vs {g_good:.3e}"
              + (f" ({g_good / g_bad:.1e} times smaller)." if g_bad > 0 else " (exactly zero: vanished)."),
              f"- Training loss, first to last epoch: large positive {l_bad[0]:.4f} → {l_bad[-1]:.4f}; "
              f"{config.good_init} {l_good[0]:.4f} → {l_good[-1]:.4f}. Test accuracy {acc_bad:.4f} vs {acc_good:.4f} "
              f"(chance 1/{k} = {1 / k:.3f}).",
              "\n![saturation](saturation.png)\n"]
    lab.write_report("\n".join(report))
    return {"summary": summary, "results": results, "saturated_bad": float(sat_bad),
            "saturated_good": float(sat_good), "grad_norm_bad": g_bad, "grad_norm_good": g_good}
