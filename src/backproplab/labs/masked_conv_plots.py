"""Figures of the masked-conv lab (drawn from its result and arrays, in the report's language)."""
from __future__ import annotations

import numpy as np

from ..report.i18n import N_, _
from .plotting import colorbar, epoch_axis, new_figure

KIND_NAMES = {"plain": N_("plain (PixelCNN)"), "dilated": N_("dilated"), "gated": N_("gated (two stacks)")}


def _bare(ax) -> None:
    ax.set_xticks([])
    ax.set_yticks([])
    ax.grid(False)
    for spine in ax.spines.values():
        spine.set_visible(False)


def plot_masks():
    """The 0/1 masks: plain 5x5 type A and B, and the gated layer's vertical and horizontal (type B) stacks."""
    from ..nn import pixelcnn_mask

    cases = [(_("type A (first layer)"), "A", "plain"), (_("type B (later layers)"), "B", "plain"),
             (_("vertical stack"), "B", "vertical"), (_("horizontal stack, type B"), "B", "horizontal")]
    fig, axes = new_figure(1, len(cases), size=(3.0 * len(cases) + 0.8, 3.2))
    for ax, (title, kind, stack) in zip(axes[0], cases):
        mask = pixelcnn_mask(1, 1, 5, kind, stack=stack)[0, 0].astype(float)
        im = ax.imshow(mask, cmap="Greens", vmin=0, vmax=1)
        ax.plot(2, 2, marker="s", ms=14, mfc="none", mec="tab:red", mew=2)
        ax.set_title(title, fontsize=9)
        _bare(ax)
    colorbar(fig, im, list(axes[0]), _("mask value (1 = tap kept)"))
    fig.suptitle(_("5×5 masks; red square: the position being predicted"), y=1.02)
    return fig


def plot_fields(arrays: dict, counts: dict):
    """Heatmaps of |∂y_p/∂x| (log scale) for each kind of stack and depth; blind-spot pixels in red."""
    from matplotlib.colors import ListedColormap, LogNorm

    kinds = list(counts)
    depths = len(counts[kinds[0]]["rows"])
    fig, axes = new_figure(len(kinds), depths, size=(1.75 * depths + 1.2, 2.0 * len(kinds) + 0.6))
    red, grey = ListedColormap(["tab:red"]), ListedColormap(["0.9"])
    for r, kind in enumerate(kinds):
        heat, blind = arrays[f"{kind}_heat"], arrays[f"{kind}_blind"]
        pi, pj = counts[kind]["pixel"]
        # the colour scale starts at the row's weakest connection, a whole decade below it
        floor = 10.0 ** np.floor(np.log10(heat[heat > 0].min()))
        for d in range(depths):
            ax = axes[r][d]
            ax.imshow(np.zeros_like(heat[d]), cmap=grey)  # the canvas: pixels p does not see
            im = ax.imshow(np.ma.masked_less_equal(heat[d], 0), cmap="viridis", norm=LogNorm(vmin=floor, vmax=1))
            ax.imshow(np.ma.masked_where(~blind[d], np.ones_like(heat[d])), cmap=red, vmin=0, vmax=1)
            ax.plot(pj, pi, marker="s", ms=3, mfc="white", mec="black", mew=0.5)
            ax.set_title(_("{kind}, L = {n}", kind=_(KIND_NAMES[kind]), n=d + 1) if d == 0 else
                         _("L = {n}", n=d + 1), fontsize=8)
            _bare(ax)
        colorbar(fig, im, list(axes[r]), _("|∂y_p/∂x| / max"))
    fig.suptitle(_("Receptive field of pixel p (white square) through L masked layers; red: the blind spot; grey: "
                   "not seen"), y=1.0)
    return fig


def plot_growth(counts: dict):
    """Pixels seen and pixels in the blind spot against the number of layers, per kind of stack."""
    fig, axes = new_figure(1, 2, size=(10, 3.8))
    for kind, c in counts.items():
        layers = [r["layers"] for r in c["rows"]]
        axes[0][0].plot(layers, [r["seen"] for r in c["rows"]], marker="o", label=_(KIND_NAMES[kind]))
        axes[0][1].plot(layers, [r["blind_spot"] for r in c["rows"]], marker="o", label=_(KIND_NAMES[kind]))
    axes[0][0].set_ylabel(_("input pixels seen by p"))
    axes[0][1].set_ylabel(_("pixels in the blind spot"))
    for ax in axes[0]:
        epoch_axis(ax, _("masked layers"))
        ax.legend()
    fig.subplots_adjust(wspace=0.3)
    return fig


def plot_nll(result: dict):
    """Test NLL after each epoch and the training NLL of every step (running mean), both networks,
    with the independent-pixel baseline."""
    fig, axes = new_figure(1, 2, size=(10, 3.8))
    names = {"masked": _("masked"), "unmasked": _("unmasked (cheat)")}
    for label, net in result["networks"].items():
        curve = net["test_nll_curve"]
        axes[0][0].plot(range(1, len(curve) + 1), curve, marker="o", label=names[label])
        steps = np.asarray(net["step_nll"], dtype=float)
        if steps.size:
            k = max(1, min(25, steps.size // 10))
            axes[0][1].plot(np.arange(k, steps.size + 1), np.convolve(steps, np.ones(k) / k, mode="valid"),
                            label=names[label])
    for ax in axes[0]:
        ax.axhline(result["nll"]["baseline"], color="0.4", ls="--", label=_("independent pixels"))
        ax.set_ylabel(_("NLL (nats per image)"))
        ax.legend()
    epoch_axis(axes[0][0])
    axes[0][0].set_title(_("test images"))
    axes[0][1].set_xlabel(_("step"))
    axes[0][1].set_title(_("training batches (running mean)"))
    fig.subplots_adjust(wspace=0.3)
    return fig


def _grid(ax, images, title, cols: int) -> None:
    """Binary images (N, 28, 28) tiled in ``cols`` columns with a 1-pixel grey gap."""
    n = len(images)
    rows = -(-n // cols)
    canvas = np.full((rows * 29 + 1, cols * 29 + 1), 0.5)
    for k, im in enumerate(images):
        r, c = divmod(k, cols)
        canvas[1 + 29 * r:29 * (r + 1), 1 + 29 * c:29 * (c + 1)] = im
    ax.imshow(canvas, cmap="gray", vmin=0, vmax=1)
    ax.set_title(title, fontsize=9)
    _bare(ax)


def plot_samples(arrays: dict, given_rows: int):
    """Samples of both networks, and completions: the test image, its kept top, the completed image."""
    fig, axes = new_figure(1, 3, size=(13, 4.6))
    cols = max(1, int(np.ceil(np.sqrt(len(arrays["masked_samples"])))))
    _grid(axes[0][0], arrays["masked_samples"], _("samples, masked PixelCNN"), cols)
    _grid(axes[0][1], arrays["unmasked_samples"], _("samples, unmasked (cheat)"), cols)
    originals, done = arrays["originals"], arrays["completions"]
    kept = originals.astype(float).copy()
    kept[:, given_rows:] = 0.5
    triples = np.stack([originals, kept, done], axis=1).reshape(-1, 28, 28)
    _grid(axes[0][2], triples, _("test image | top {g} rows kept | completed", g=given_rows), 3)
    return fig
