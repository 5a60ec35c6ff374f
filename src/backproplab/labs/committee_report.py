"""The committee lab's outputs: metrics files, figures and report.md, every sentence from the numbers."""
from __future__ import annotations

import numpy as np

from ..data.preprocess import apply_variant, distort
from .common import LabRun, markdown_table, new_figure


def _pct(e: float) -> str:
    return f"{100 * e:.2f}%"


def write_outputs(lab: LabRun, config, blocks, results, committee, data, class_names, note, epochs) -> dict:
    from .committee import paired_test

    x_train, y_train, x_test, y_test = data
    main = blocks[0]
    control = blocks[1] if len(blocks) > 1 else None
    # -- metrics -------------------------------------------------------------------
    rows = []
    for key, r in results.items():
        roles = [b["name"] for b in blocks if f"{key[0]}/seed{key[1]}" in b["members"]]
        rows.append({"member": f"{key[0]}/seed{key[1]}", "variant": key[0], "seed": key[1], "in": "+".join(roles),
                     "test_error": float(np.mean(np.argmax(r["probs"], axis=1) != y_test)),
                     "final_train_loss": float(r["train_loss"][-1]), "train_time_s": float(r["train_time_s"]),
                     "distort_time_s": float(r["distort_time_s"])})
    lab.save_metrics("members", rows)
    curve_rows = [{"k": k + 1, **{f"{b['name']}_error": b["k_curve"][k] for b in blocks}}
                  for k in range(len(main["k_curve"]))]
    lab.save_metrics("k_curve", curve_rows)
    lab.save_metrics("error_correlation", {b["name"]: {"members": b["members"], "corr": b["corr"].tolist()}
                                           for b in blocks})
    test = paired_test(main["pred"], control["pred"], y_test) if control else None
    summary_rows = [{"committee": b["name"], "members": len(b["members"]), "committee_error": b["committee_error"],
                     "best_member_error": b["best_member_error"], "mean_member_error": b["mean_member_error"],
                     "mean_error_correlation": b["mean_corr"]} for b in blocks]
    lab.save_metrics("summary", summary_rows)
    per_class = _per_class(blocks, results, committee, y_test, class_names)
    lab.save_metrics("per_class", per_class)
    # -- figures -------------------------------------------------------------------
    figures = [lab.savefig(_plot_curves(blocks), "k_curve"), lab.savefig(_plot_corr(blocks), "error_correlation")]
    fixes = _fixes(main, results, committee, x_test, y_test)
    if fixes["idx"]:
        figures.append(lab.savefig(_plot_fixes(fixes, x_test, y_test, class_names, config.num_examples), "fixes"))
    figures.append(lab.savefig(_plot_preprocessing(config, x_train, [v for v, _ in committee]), "preprocessing"))
    # -- report --------------------------------------------------------------------
    beats = main["committee_error"] < main["best_member_error"]
    summary = (f"committee: {len(main['members'])} members, committee test error {_pct(main['committee_error'])} "
               f"vs best member {_pct(main['best_member_error'])} ({'below' if beats else 'NOT below'} it)")
    if control:
        summary += f"; seed-only control {_pct(control['committee_error'])}"
    _report(lab, config, blocks, rows, curve_rows, test, fixes, figures, note, epochs, per_class)
    return {"summary": summary, "committee_error": main["committee_error"],
            "best_member_error": main["best_member_error"], "mean_member_error": main["mean_member_error"],
            "control_error": control["committee_error"] if control else None, "k_curve": main["k_curve"],
            "control_k_curve": control["k_curve"] if control else None, "paired_test": test, "members": rows,
            "figures": figures, "files": list(lab.files)}


def _fixes(main, results, committee, x_test, y_test) -> dict:
    """Test images the committee gets right and its best member gets wrong."""
    errs = main["member_error"]
    best = int(np.argmin(errs))
    pred_best = np.argmax(results[committee[best]]["probs"], axis=1)
    idx = np.where((pred_best != y_test) & (main["pred"] == y_test))[0]
    broken = int(np.sum((pred_best == y_test) & (main["pred"] != y_test)))
    n_wrong = np.sum([np.argmax(results[m]["probs"], axis=1) != y_test for m in committee], axis=0)  # (N_test,)
    # the most instructive first: the committee overrules the most members
    idx = idx[np.argsort(-n_wrong[idx], kind="stable")]
    return {"best": best, "best_name": main["members"][best], "pred_best": pred_best, "idx": idx.tolist(),
            "broken": broken, "n_wrong": n_wrong, "n_members": len(committee)}


def _plot_curves(blocks):
    fig, axes = new_figure(1, 2, size=(11, 4))
    ax = axes[0, 0]
    for b, color in zip(blocks, ("tab:blue", "tab:orange")):
        ks = np.arange(1, len(b["k_curve"]) + 1)
        ax.plot(ks, 100 * np.array(b["k_curve"]), "o-", color=color, label=f"{b['name']} committee of first k")
        ax.axhline(100 * b["best_member_error"], color=color, ls=":", label=f"{b['name']}: best single member")
    ax.set_xticks(np.arange(1, len(blocks[0]["k_curve"]) + 1))
    ax.set_xlabel("k (members averaged)")
    ax.set_ylabel("test error (%)")
    ax.set_title("Error of the average of the first k members")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    ax = axes[0, 1]
    width = 0.8 / len(blocks)
    for j, (b, color) in enumerate(zip(blocks, ("tab:blue", "tab:orange"))):
        pos = np.arange(len(b["member_error"])) + j * width
        ax.bar(pos, 100 * np.array(b["member_error"]), width, color=color, label=f"{b['name']} members")
        ax.axhline(100 * b["committee_error"], color=color, ls="--", label=f"{b['name']} committee")
    ax.set_xticks(np.arange(len(blocks[0]["members"])) + width * (len(blocks) - 1) / 2)
    ax.set_xticklabels([m.replace("/", "\n") for m in blocks[0]["members"]], fontsize=6)  # control: original, same seed
    lo = 100 * min(min(min(b["member_error"]), b["committee_error"]) for b in blocks)
    ax.set_ylim(max(0.0, lo - 2), None)
    ax.set_ylabel("test error (%)")
    ax.set_title("Members (bars) and committees (dashed)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def _plot_corr(blocks):
    fig, axes = new_figure(1, len(blocks), size=(5.2 * len(blocks), 4.4))
    for ax, b in zip(axes[0], blocks):
        n = len(b["members"])
        im = ax.imshow(b["corr"], vmin=0, vmax=1, cmap="viridis")
        for i in range(n):
            for j in range(n):
                ax.text(j, i, f"{b['corr'][i, j]:.2f}", ha="center", va="center", fontsize=6,
                        color="white" if b["corr"][i, j] < 0.6 else "black")
        ax.set_xticks(range(n))
        ax.set_yticks(range(n))
        ax.set_xticklabels(b["members"], rotation=60, fontsize=6, ha="right")
        ax.set_yticklabels(b["members"], fontsize=6)
        ax.set_title(f"{b['name']}: error correlation (mean off-diag {b['mean_corr']:.3f})", fontsize=9)
        fig.colorbar(im, ax=ax, fraction=0.046)
    fig.tight_layout()
    return fig


def _plot_fixes(fixes, x_test, y_test, class_names, count):
    idx = fixes["idx"][:count]
    cols = min(6, len(idx))
    rows = -(-len(idx) // cols)
    fig, axes = new_figure(rows, cols, size=(2.0 * cols, 2.7 * rows))
    for ax in axes.ravel():
        ax.axis("off")
    for ax, i in zip(axes.ravel(), idx):
        ax.imshow(x_test[i], cmap="gray")
        ax.set_title(f"member: {class_names[fixes['pred_best'][i]]}\ncommittee: {class_names[y_test[i]]}\n"
                     f"{fixes['n_wrong'][i]}/{fixes['n_members']} members wrong", fontsize=7)
    fig.suptitle(f"Committee right where its best member ({fixes['best_name']}) is wrong", fontsize=9)
    fig.tight_layout()
    return fig


def _plot_preprocessing(config, x, variants, n_images: int = 4):
    rng = np.random.default_rng([config.seed, 20_002])
    pick = x[rng.choice(len(x), n_images, replace=False)]
    cols = len(variants) + 2
    fig, axes = new_figure(n_images, cols, size=(1.4 * cols, 1.5 * n_images))
    for j, v in enumerate(variants):
        out = apply_variant(pick, v, config.threshold)
        for i in range(n_images):
            axes[i, j].imshow(out[i], cmap="gray", vmin=0, vmax=1)
        axes[0, j].set_title(v, fontsize=7)
    for j in range(2):  # two fresh distortions of the first variant
        out = distort(apply_variant(pick, variants[0], config.threshold), rng, alpha=config.alpha, sigma=config.sigma,
                      rotation=config.rotation, scale=config.scale, shear=config.shear)
        for i in range(n_images):
            axes[i, len(variants) + j].imshow(out[i], cmap="gray", vmin=0, vmax=1)
        axes[0, len(variants) + j].set_title(f"{variants[0]}\ndistorted #{j + 1}", fontsize=7)
    for ax in axes.ravel():
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout()
    return fig


def _per_class(blocks, results, committee, y_test, class_names) -> list[dict]:
    """Test error per class: the first member, the mean of the other committee members, both committees."""
    def err(pred, mask):
        return float(np.mean(pred[mask] != y_test[mask])) if mask.any() else None

    first = np.argmax(results[committee[0]]["probs"], axis=1)
    others = [np.argmax(results[m]["probs"], axis=1) for m in committee[1:]]
    rows = []
    for c, name in enumerate(class_names):
        mask = y_test == c
        row = {"class": name, "n": int(mask.sum()), f"{committee[0][0]}_member": err(first, mask),
               "other_members_mean": float(np.mean([err(p, mask) for p in others])) if mask.any() else None}
        for b in blocks:
            row[f"{b['name']}_committee"] = err(b["pred"], mask)
        rows.append(row)
    return rows


def _report(lab, config, blocks, rows, curve_rows, test, fixes, figures, note, epochs, per_class):
    main = blocks[0]
    control = blocks[1] if len(blocks) > 1 else None
    n = len(main["members"])
    obs = []
    gap = main["best_member_error"] - main["committee_error"]
    if gap > 0:
        obs.append(f"The committee's test error, {_pct(main['committee_error'])}, is below its best single member's, "
                   f"{_pct(main['best_member_error'])} ({100 * gap:.2f} points), and below the mean member's "
                   f"{_pct(main['mean_member_error'])}.")
    else:
        obs.append(f"The committee's test error, {_pct(main['committee_error'])}, is NOT below its best single "
                   f"member's, {_pct(main['best_member_error'])}; the mean member has {_pct(main['mean_member_error'])}.")
    best_k = int(np.argmin(main["k_curve"])) + 1
    obs.append(f"Averaging the first k members: error {_pct(main['k_curve'][0])} at k=1, lowest "
               f"{_pct(min(main['k_curve']))} at k={best_k}, {_pct(main['k_curve'][-1])} at k={n}.")
    obs.append(f"The committee fixes {len(fixes['idx'])} of the best member's ({fixes['best_name']}) mistakes and "
               f"breaks {fixes['broken']} of its correct answers.")
    if control:
        mc, cc = main["mean_corr"], control["mean_corr"]
        obs.append(f"Mean pairwise correlation of the members' errors: {mc:.3f} with preprocessing diversity, "
                   f"{cc:.3f} with seed diversity only "
                   f"({'lower' if mc < cc else 'not lower'} with preprocessing).")
        d = control["committee_error"] - main["committee_error"]
        sig = test["p_value"] < 0.05
        if d > 0 and sig:
            verdict = "beat seed diversity"
        elif d > 0:
            verdict = "gave a lower error than seed diversity, but not by more than chance explains,"
        elif d == 0:
            verdict = "tied with seed diversity"
        else:
            verdict = "did not beat seed diversity" + ("" if sig else " (and the gap is within chance)")
        obs.append(
            f"Preprocessing diversity {verdict} on this data: committee error {_pct(main['committee_error'])} vs "
            f"{_pct(control['committee_error'])} for the seed-only committee of the same size "
            f"({abs(100 * d):.2f} points {'lower' if d > 0 else 'higher' if d < 0 else 'different'}). "
            f"On the test images where "
            f"exactly one of the two committees is right, the preprocessing committee wins {test['a_only_right']} and "
            f"the seed-only one {test['b_only_right']} (exact McNemar p = {test['p_value']:.3g}: "
            f"{'a significant' if sig else 'not a significant'} difference at the 5% level).")
        obs.append(f"Members alone: preprocessing members' mean error {_pct(main['mean_member_error'])} "
                   f"(best {_pct(main['best_member_error'])}), seed-only members' mean "
                   f"{_pct(control['mean_member_error'])} (best {_pct(control['best_member_error'])}); "
                   f"a committee gains from decorrelated errors only if its members are not much worse.")
    first_key = f"{blocks[0]['members'][0].split('/')[0]}_member"
    gaps = [(r["other_members_mean"] - r[first_key], r["class"]) for r in per_class if r[first_key] is not None]
    if gaps:
        gaps.sort(reverse=True)
        worst = ", ".join(f"{name} (+{100 * g:.1f} points)" for g, name in gaps[:3] if g > 0)
        obs.append(f"Per class, the other committee members are worse than `{blocks[0]['members'][0]}` most on: "
                   + (worst or "no class (they are never worse)") + "; "
                   + f"they are better on {sum(g < 0 for g, _ in gaps)} of {len(gaps)} classes.")
    train_s = sum(r["train_time_s"] for r in rows)
    dist_s = sum(r["distort_time_s"] for r in rows)
    arch = f"MLP 784-{'-'.join(str(h) for h in ((64,) if config.quick else config.hidden))}-10" \
        if config.arch == "mlp" else (f"CNN (models.cnn.make_cnn: conv channels {(4, 8) if config.quick else config.channels}, "
                                      f"FC {32 if config.quick else config.fc})")
    md = [f"# {lab.out_dir.name}: committee of networks (Ciresan et al. 2011)", "",
          f"Data: Fashion-MNIST, {note}. Architecture: {arch}, Adam lr={config.lr} (cosine-decayed per epoch), "
          f"batch {config.batch_size}, "
          f"{epochs} epochs per member. Distortions "
          + (f"(fresh every epoch): elastic alpha={config.alpha}, sigma={config.sigma}; rotation ±{config.rotation}°, "
             f"scale ±{config.scale}, shear ±{config.shear}." if config.distortions else "off.")
          + f" Training took {train_s:.0f} s in all ({dist_s:.0f} s of it distorting).", "",
          "## Observations (computed from this run)", ""]
    md += [f"- {o}" for o in obs]
    md += ["", "## Committees", "", markdown_table([
        {"committee": b["name"], "members": len(b["members"]), "committee error": _pct(b["committee_error"]),
         "best member": _pct(b["best_member_error"]), "mean member": _pct(b["mean_member_error"]),
         "mean error corr.": b["mean_corr"]} for b in blocks], floatfmt=".3f"),
           "## Members", "", markdown_table([{**r, "test_error": _pct(r["test_error"])} for r in rows]),
           "## Test error per class", "",
           markdown_table([{k: (_pct(v) if isinstance(v, float) else v) for k, v in r.items()} for r in per_class]),
           "## Error of the first k members averaged", "",
           markdown_table([{k: (_pct(v) if k != "k" else v) for k, v in r.items()} for r in curve_rows]),
           "## Figures", ""]
    md += [f"![{f}]({f})" for f in figures]
    lab.write_report("\n".join(md))
