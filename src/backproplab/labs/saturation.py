"""Lab: a sigmoid network started with large positive weights saturates, and its gradients vanish.

The question (document 003, question 1.3): is a fully connected network with sigmoid activations
everywhere, started from large positive weights, a suitable classifier? On Fashion-MNIST the pixels
are in [0, 1], so every pre-activation z = Σ_k w_k x_k + b is a sum of hundreds of positive terms:
z ≫ 1, σ(z) ≈ 1 and σ'(z) = σ(z)(1 - σ(z)) ≈ 0. Backpropagation multiplies by σ'(z) at every layer,
so the weight gradients are (numerically) zero and the network cannot learn. A Glorot
initialization keeps z of order 1: σ' stays near its maximum 1/4.

Measured for both initializations on a probe batch of training images, per hidden layer: the
fraction of saturated units (σ < 0.01 or σ > 0.99), the mean σ'(z), and the norm of each weight
gradient after one backward pass (library layers and loss); then both networks are trained with
the same SGD settings (the library's Trainer). Each initialization is a task of its own, from a
generator seeded with the lab's seed.

Exercises: (1) lower ``large_scale`` until the network trains: at which scale does the fraction of
saturated units drop below one half? (2) why do negative-and-positive large weights saturate too,
but less often?

Reference: Glorot & Bengio 2010, "Understanding the difficulty of training deep feedforward neural
networks"; LeCun et al. 1998, "Efficient BackProp", §4.4.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from ..nn.init import INIT_NAMES
from ..report.document import CodeText
from ..report.i18n import N_, _, _n, join
from .config import option, quick
from .plotting import epoch_axis, new_figure
from .training import QUICK_TEST, TrainingConfig, curve, data_facts, data_sentence, load_data, summarize, train_run
from .training_problems import problems_section, training_findings

NAME = "saturation"
TITLE = N_("Sigmoid saturation from large positive weights: activations, `σ'`, gradients, training")
SUMMARY = N_("a sigmoid MLP started from large positive weights: every unit saturated, zero gradients, no "
             "learning; Glorot init for comparison")
QUESTIONS = ("003/Q1.3",)

#: a unit is saturated when σ(z) is below LOW or above 1 - LOW
LOW = 0.01
#: histogram bins of the activations at initialization
BINS = 50
BAD = "large_positive"


@dataclass(frozen=True)
class Config(TrainingConfig):
    classes: str = option("all", "Fashion-MNIST class ids (comma list) or 'all'")
    hidden: tuple[int, ...] = option((128, 128, 128), "widths of the sigmoid hidden layers", min_len=1, each_low=1,
                                     each_high=100000)
    large_scale: float = option(1.0, "the bad init draws every weight as |N(0, large_scale²)| (all positive)",
                                low=0, low_open=True, high=1000)
    good_init: str = option("glorot_uniform", "the initialization to compare with", choices=INIT_NAMES)
    num_epochs: int = option(5, "training epochs of each network", low=1, high=10000)
    lr: float = option(0.5, "SGD learning rate (sigmoid nets need a large one)", low=0, low_open=True, high=100)
    batch_size: int = option(64, "mini-batch size", low=1, high=100000)
    probe_size: int = option(1000, "training images the activations and gradients are measured on", low=1)

    def quick(self) -> "Config":
        # a sigmoid net needs about 200 steps to leave chance: 4000 images, 3 epochs
        return quick(self, num_epochs=3, train_size=4000, test_size=QUICK_TEST, probe_size=min(self.probe_size, 500))


def build(in_features: int, hidden, num_classes: int, init: str, rng, large_scale: float):
    """Linear-Sigmoid-...-Linear. ``init="large_positive"``: every weight |N(0, large_scale²)|, biases 0."""
    from ..nn import Linear, Sequential, Sigmoid

    sizes = [in_features, *hidden, num_classes]
    layers = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        if init == BAD:
            lin = Linear(a, b, rng=rng, init="large", scale=large_scale)
            lin.weight.data[...] = np.abs(lin.weight.data)  # all positive: no cancellation in z
        else:
            lin = Linear(a, b, rng=rng, init=init)
        layers.append(lin)
        if i < len(sizes) - 2:
            layers.append(Sigmoid())
    return Sequential(*layers)


def probe(model, x, y) -> tuple[list[dict], list[np.ndarray]]:
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
    linears = [m for m in model.layers if isinstance(m, Linear)]
    rows = []
    for i, lin in enumerate(linears):
        row = {"layer": i + 1, "grad_norm": float(np.linalg.norm(lin.weight.grad)),
               "weight_norm": float(np.linalg.norm(lin.weight.data))}
        if i < len(acts):
            a = acts[i]
            row.update(saturated=float(np.mean((a < LOW) | (a > 1 - LOW))), mean_act=float(a.mean()),
                       mean_dsigma=float(np.mean(a * (1.0 - a))))
        rows.append(row)
    rows[0]["loss"] = float(loss)
    return rows, acts


def train_init(config: Config, init: str) -> dict:
    """Probe, train and probe again one network (a task; draws the probe batch, weights and batch order from
    a generator seeded with the lab's seed)."""
    from ..optim import make_optimizer

    data = load_data(config)
    rng = np.random.default_rng(config.seed)
    pidx = rng.choice(len(data.x_train), min(config.probe_size, len(data.x_train)), replace=False)
    xp, yp = data.x_train[pidx], data.y_train[pidx]
    model = build(data.x_train.shape[1], config.hidden, data.num_classes, init, rng, config.large_scale)
    before, acts = probe(model, xp, yp)
    run = train_run(model, make_optimizer("sgd", model.parameters(), lr=config.lr), data, loss="cross_entropy",
                    batch_size=config.batch_size, num_epochs=config.num_epochs, rng=rng, label=init)
    after, _acts = probe(model, xp, yp)
    counts = [np.histogram(a, bins=BINS, range=(0.0, 1.0))[0].tolist() for a in acts]
    return {**run, "before": before, "after": after, "histograms": counts, "probe_size": len(xp)}


def hidden_mean(rows: list[dict], key: str) -> float:
    return float(np.mean([r[key] for r in rows if key in r]))


def run(config: Config, out) -> dict:
    data = load_data(config)
    inits = (BAD, config.good_init)
    runs = out.map({f"train-{init}": functools.partial(train_init, config, init) for init in inits}, label=NAME)
    runs = {init: runs[f"train-{init}"] for init in inits}
    for init, r in runs.items():
        out.save_metrics(f"probe_{init}", [{"when": "init", **row} for row in r["before"]]
                         + [{"when": "trained", **row} for row in r["after"]])
    facts = data_facts(data, config)
    rows = [summarize(init, r, 1.0, facts["chance"], init=init) for init, r in runs.items()]
    out.save_metrics("summary", rows)
    bad, good = runs[BAD], runs[config.good_init]
    result = {
        "data": facts, "rows": rows, "runs": runs,
        "findings": {init: training_findings(r, facts["chance"]) for init, r in runs.items()}, "inits": list(inits), "probe_size": bad["probe_size"],
        "saturated_bad": hidden_mean(bad["before"], "saturated"),
        "saturated_good": hidden_mean(good["before"], "saturated"),
        "mean_dsigma_bad": [r["mean_dsigma"] for r in bad["before"] if "mean_dsigma" in r],
        "mean_dsigma_good": [r["mean_dsigma"] for r in good["before"] if "mean_dsigma" in r],
        "grad_norm_bad": bad["before"][0]["grad_norm"], "grad_norm_good": good["before"][0]["grad_norm"],
        "test_acc_bad": rows[0]["final_test_acc"], "test_acc_good": rows[1]["final_test_acc"],
    }
    result["summary"] = (f"at init: {result['saturated_bad']:.1%} of sigmoid units saturated with large positive "
                         f"weights vs {result['saturated_good']:.1%} with {config.good_init}; first-layer gradient "
                         f"norm {result['grad_norm_bad']:.2e} vs {result['grad_norm_good']:.2e}; test accuracy "
                         f"after {config.num_epochs} epoch(s): {result['test_acc_bad']} vs {result['test_acc_good']}")
    return result


# -- report ---------------------------------------------------------------------------------------
def gradient_sentence(g_bad: float, g_good: float, good: str):
    """The first layer's weight-gradient norm at initialization, bad against good init."""
    params = dict(a=g_bad, b=g_good, good=good)
    if g_bad == 0:
        return _("First-layer weight-gradient norm at initialization: exactly 0 with large positive weights (every "
                 "`σ'` on the way back is 0 in float32), {b:.3e} with `{good}`: the gradient vanished.", **params)
    if g_bad < g_good:
        return _("First-layer weight-gradient norm at initialization: {a:.3e} with large positive weights, {b:.3e} "
                 "with `{good}`: {r:.1e} times smaller.", r=g_good / g_bad, **params)
    return _("First-layer weight-gradient norm at initialization: {a:.3e} with large positive weights, {b:.3e} with "
             "`{good}`: NOT smaller, so at this scale the gradient did not vanish.", **params)


def saturation_sentence(sat_bad: float, sat_good: float, good: str):
    return _("Saturated sigmoid units at initialization (`σ < {lo:g}` or `σ > {hi:g}`), mean over the hidden layers: "
             "{a:.1%} with large positive weights, {b:.1%} with `{good}`.", lo=LOW, hi=1 - LOW, a=sat_bad, b=sat_good,
             good=good)


def report(result: dict, config: Config, doc) -> None:
    good, runs = config.good_init, result["runs"]
    doc.para(_("**Question** (document 003, question 1.3). Is a fully connected network with sigmoid activations "
               "everywhere, started from large positive weights, a suitable classifier?"))
    doc.bullets([
        data_sentence(result["data"]),
        _("Model: Linear-Sigmoid MLP with hidden widths {h} and a linear output; bad init: every weight "
          "`|N(0, {s:g}²)|`, biases 0; good init: `{good}`.", h=join(config.hidden), s=config.large_scale, good=good),
        _("Both trained with plain `SGD`, `lr` = {lr:g}, batch {b}, {e} epochs, seed {seed}; the probe batch has {p} "
          "training images.", lr=config.lr, b=config.batch_size, e=config.num_epochs, seed=config.seed,
          p=result["probe_size"]),
    ])
    cols = [("layer", _("layer"), "d"), ("saturated", _("saturated"), ".1%"), ("mean_act", _("mean σ"), ".4f"),
            ("mean_dsigma", _("mean σ'"), ".4g"), ("grad_norm", _("‖∂L/∂W‖"), ".3e"), ("weight_norm", _("‖W‖"), ".4g")]
    for init in result["inits"]:
        doc.table(cols, runs[init]["before"], caption=_("At initialization: {init} (the last layer is the linear "
                                                        "output).", init=CodeText(init)))
    doc.table([("model", _("initialization"), ""), ("final_train_loss", _("final train loss"), ".4g"),
               ("final_train_acc", _("final train acc."), ".2%"), ("final_test_acc", _("final test acc."), ".2%"),
               ("stalled", _("stalled"), "")], [{**r, "model": CodeText(r["model"])} for r in result["rows"]])
    doc.heading(_("Observations (computed from this run)"))
    doc.bullets([
        saturation_sentence(result["saturated_bad"], result["saturated_good"], good),
        _("Mean `σ'(z)` per hidden layer (at most 0.25): {a} with large positive weights, {b} with `{good}`.",
          a=join([float(f"{v:.4g}") for v in result["mean_dsigma_bad"]]),
          b=join([float(f"{v:.4g}") for v in result["mean_dsigma_good"]]), good=good),
        gradient_sentence(result["grad_norm_bad"], result["grad_norm_good"], good),
        _n("Test accuracy after {n} epoch: {a:.2%} with large positive weights, {b:.2%} with `{good}` (the "
           "majority-class rate is {c:.1%}).",
           "Test accuracy after {n} epochs: {a:.2%} with large positive weights, {b:.2%} with `{good}` (the "
           "majority-class rate is {c:.1%}).", config.num_epochs, a=result["test_acc_bad"],
           b=result["test_acc_good"], good=good, c=result["data"]["chance"])
        if None not in (result["test_acc_bad"], result["test_acc_good"]) else None,
    ])
    problems_section(doc, result["findings"], runs)
    doc.plot(plot_saturation(result), "saturation",
             _("Left and middle: the sigmoid outputs at initialization per hidden layer (counts on a log scale). "
               "Right: training loss per epoch (epoch 0 = untrained)."))


def plot_saturation(result: dict):
    fig, axes = new_figure(1, 3, size=(16, 4.2))
    edges = np.linspace(0.0, 1.0, BINS + 1)
    for ax, init in zip(axes[0][:2], result["inits"]):
        for i, counts in enumerate(result["runs"][init]["histograms"]):
            ax.stairs(np.maximum(counts, 0.5), edges, fill=True, alpha=0.5, label=_("hidden layer {k}", k=i + 1))
        ax.set_yscale("log")
        ax.set_ylim(bottom=0.5)
        ax.set_title(_("σ(z) at initialization: {init}", init=init))
        ax.set_xlabel(_("activation"))
        ax.legend(fontsize=7)
    ax = axes[0][2]
    for init in result["inits"]:
        losses = curve(result["runs"][init], "train_loss")
        ax.semilogy(range(len(losses)), losses, "o-", label=init)
    epoch_axis(ax)
    ax.set_ylabel(_("training loss"))
    ax.set_title(_("training"))
    ax.legend(fontsize=8)
    return fig
