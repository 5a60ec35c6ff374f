"""Figures of the committee lab (drawn from its result and saved arrays, in the report's language)."""
from __future__ import annotations

import numpy as np

from ..report.i18n import _
from .committee_text import class_label, committee_label
from .plotting import colorbar, new_figure

COLORS = ("tab:blue", "tab:orange")


def plot_k_curves(blocks: list[dict]):
    """Left: error of the average of the first k members. Right: members (bars) and committees (dashed)."""
    fig, axes = new_figure(1, 2, size=(11, 4.2))
    ax = axes[0, 0]
    for b, color in zip(blocks, COLORS):
        ks = np.arange(1, len(b["k_curve"]) + 1)
        ax.plot(ks, 100 * np.array(b["k_curve"]), "o-", color=color,
                label=_("{c}: committee of the first k", c=committee_label(b["name"])))
        ax.axhline(100 * b["best_member_error"], color=color, ls=":",
                   label=_("{c}: best single member", c=committee_label(b["name"])))
    ax.set_xticks(np.arange(1, len(blocks[0]["k_curve"]) + 1))
    ax.set_xlabel(_("k (members averaged)"))
    ax.set_ylabel(_("test error (%)"))
    ax.set_title(_("Error of the average of the first k members"))
    ax.legend(fontsize=7)
    ax = axes[0, 1]
    width = 0.8 / len(blocks)
    for j, (b, color) in enumerate(zip(blocks, COLORS)):
        pos = np.arange(len(b["member_error"])) + j * width
        ax.bar(pos, 100 * np.array(b["member_error"]), width, color=color,
               label=_("{c}: members", c=committee_label(b["name"])))
        ax.axhline(100 * b["committee_error"], color=color, ls="--",
                   label=_("{c}: committee", c=committee_label(b["name"])))
    ax.set_xticks(np.arange(len(blocks[0]["members"])) + width * (len(blocks) - 1) / 2)
    ax.set_xticklabels([m.replace("/", "\n") for m in blocks[0]["members"]], fontsize=6)
    lo = 100 * min(min(min(b["member_error"]), b["committee_error"]) for b in blocks)
    ax.set_ylim(max(0.0, lo - 2), None)
    ax.set_ylabel(_("test error (%)"))
    ax.set_title(_("Members (bars) and committees (dashed)"))
    ax.legend(fontsize=7)
    fig.subplots_adjust(wspace=0.3)
    return fig


def plot_corr(blocks: list[dict]):
    """Pearson correlation of the members' 0/1 test errors, one heat map per committee."""
    fig, axes = new_figure(1, len(blocks), size=(5.6 * len(blocks), 4.8))
    for ax, b in zip(axes[0], blocks):
        corr = np.asarray(b["corr"])
        n = len(b["members"])
        im = ax.imshow(corr, vmin=0, vmax=1, cmap="viridis")
        for i in range(n):
            for j in range(n):
                ax.text(j, i, f"{corr[i, j]:.2f}", ha="center", va="center", fontsize=6,
                        color="white" if corr[i, j] < 0.6 else "black")
        ax.set_xticks(range(n))
        ax.set_yticks(range(n))
        ax.set_xticklabels(b["members"], rotation=60, fontsize=6, ha="right")
        ax.set_yticklabels(b["members"], fontsize=6)
        ax.grid(False)
        ax.set_title(_("{c}: error correlation (mean off the diagonal {r:.3f})", c=committee_label(b["name"]),
                       r=b["mean_corr"]), fontsize=9)
        colorbar(fig, im, ax, _("correlation of 0/1 errors"))
    fig.subplots_adjust(wspace=0.6)
    return fig


def plot_squared_errors(blocks: list[dict]):
    """E_AV, E_COM and E_AV/k of the first k members, per committee."""
    fig, axes = new_figure(1, len(blocks), size=(5.2 * len(blocks), 4))
    for ax, b in zip(axes[0], blocks):
        curve = b["squared_error"]["k_curve"]
        ks = np.array([c["k"] for c in curve])
        av = np.array([c["E_AV"] for c in curve])
        ax.plot(ks, av, "o-", label=_("E_AV (members' mean)"))
        ax.plot(ks, [c["E_COM"] for c in curve], "o-", label=_("E_COM (committee)"))
        ax.plot(ks, av / ks, "k--", label=_("E_AV/k (uncorrelated errors)"))
        ax.set_xticks(ks)
        ax.set_xlabel(_("k (members averaged)"))
        ax.set_ylabel(_("squared error of the probabilities"))
        ax.set_title(_("{c} committee", c=committee_label(b["name"])))
        ax.set_ylim(0, None)
        ax.legend(fontsize=7)
    fig.subplots_adjust(wspace=0.3)
    return fig


def plot_fixes(images: dict, fixes: dict, class_names: list):
    """Test images the committee gets right where its best member is wrong."""
    x, y = images["fixed_images"], images["fixed_labels"]
    cols = min(6, len(x))
    rows = -(-len(x) // cols)
    fig, axes = new_figure(rows, cols, size=(2.1 * cols, 2.6 * rows))
    for ax in axes.ravel():
        ax.axis("off")
    for k, ax in enumerate(axes.ravel()[:len(x)]):
        ax.imshow(x[k], cmap="gray")
        ax.set_title(_("member: {m}\ncommittee: {c}\n{w}/{n} members wrong",
                       m=class_label(class_names[fixes["pred_best"][k]]), c=class_label(class_names[int(y[k])]),
                       w=fixes["n_wrong"][k], n=fixes["n_members"]), fontsize=7)
    fig.suptitle(_("Committee right where its best member ({m}) is wrong", m=fixes["best_name"]), fontsize=9)
    fig.subplots_adjust(hspace=0.45)
    return fig


def plot_preprocessing(views: np.ndarray, variants) -> object:
    """Four training images under every member's preprocessing, then two fresh distortions of the first."""
    n_images, cols = views.shape[:2]
    fig, axes = new_figure(n_images, cols, size=(1.4 * cols, 1.6 * n_images))
    titles = list(variants) + [_("{v}\ndistorted #{k}", v=variants[0], k=k + 1) for k in range(cols - len(variants))]
    for i in range(n_images):
        for j in range(cols):
            axes[i, j].imshow(views[i, j], cmap="gray", vmin=0, vmax=1)
            axes[i, j].set_xticks([])
            axes[i, j].set_yticks([])
            axes[i, j].grid(False)
    for j, title in enumerate(titles):
        axes[0, j].set_title(title, fontsize=7)
    return fig
