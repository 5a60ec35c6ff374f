"""The committee lab's arithmetic on the members' test probabilities: committee errors, how the members'
errors correlate, the squared-error decomposition E_COM vs E_AV, and paired comparisons.

A committee averages its N members' class probabilities p_n(x) (N_test, C). With one-hot targets
t(x), member n's error vector is e_n = p_n - t, and

    E_AV  = (1/N) Σ_n E[|e_n|²]          (the members' mean squared error)
    E_COM = E[|(1/N) Σ_n e_n|²]          (the committee's)
          = (1/N²) Σ_n Σ_m C_nm,  C_nm = E[e_n · e_m]

so E_COM = E_AV/N exactly when the cross terms C_nm (n ≠ m) vanish (uncorrelated errors), and
E_COM ≤ E_AV always: |(1/N) Σ e_n|² ≤ (1/N) Σ |e_n|² for every image (Cauchy-Schwarz). With
equal variances s² and equal correlations r = C_nm / s², E_COM = E_AV·(r + (1 - r)/N).

Reference: Bishop, Pattern Recognition and Machine Learning (2006), §14.2 (eq. 14.10-14.14);
Ciresan et al., ICDAR 2011 (committees of networks).
"""
from __future__ import annotations

import numpy as np

#: relative slack of the per-image check E_COM ≤ E_AV (float64 rounding of sums of N squares)
BOUND_RTOL = 1e-12


def predictions(probs: list[np.ndarray]) -> list[np.ndarray]:
    return [np.argmax(p, axis=1) for p in probs]


def error_rate(pred: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean(pred != y))


def committee_errors(probs: list[np.ndarray], y: np.ndarray) -> list[float]:
    """Test error of the average of the first k members' probabilities, k = 1..N."""
    running = np.zeros_like(probs[0])
    errors = []
    for k, p in enumerate(probs, start=1):
        running += p
        errors.append(error_rate(np.argmax(running / k, axis=1), y))
    return errors


def error_correlation(probs: list[np.ndarray], y: np.ndarray) -> np.ndarray:
    """(N, N) Pearson correlation of the members' 0/1 error indicators on the test set (0 where undefined)."""
    wrong = np.stack([np.argmax(p, axis=1) != y for p in probs]).astype(np.float64)  # (N, N_test)
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = np.corrcoef(wrong)
    return np.nan_to_num(np.atleast_2d(corr), nan=0.0)


def mean_off_diagonal(matrix: np.ndarray) -> float | None:
    m = np.asarray(matrix, dtype=np.float64)
    off = m[~np.eye(len(m), dtype=bool)]
    return float(off.mean()) if off.size else None


def squared_errors(probs: list[np.ndarray], y: np.ndarray) -> dict:
    """E_AV, E_COM and the members' error correlations for probabilities against one-hot targets.

    Returns ``E_AV``, ``E_COM``, ``E_AV_over_N``, ``member`` (each E[|e_n|²]), ``second_moment`` C (N, N),
    ``correlation`` R_nm = C_nm / √(C_nn C_mm) (uncentred: the quantity the cross terms of E_COM are made
    of), ``mean_correlation`` (mean R_nm, n ≠ m), ``equal_correlation_prediction`` E_AV·(r̄ + (1 - r̄)/N),
    ``cross_terms`` (1/N²) Σ_{n≠m} C_nm, ``bound`` (per-image check of E_COM ≤ E_AV) and ``k_curve``
    (E_AV and E_COM of the first k members).
    """
    p = np.stack([np.asarray(q, dtype=np.float64) for q in probs])  # (N, S, C)
    n, s, c = p.shape
    e = p.copy()
    e[:, np.arange(s), y] -= 1.0  # e_n = p_n - one_hot(y)
    flat = e.reshape(n, s * c)
    second = flat @ flat.T / s  # (N, N): C_nm = mean over images of e_n · e_m
    member = np.diag(second).copy()
    per_image_av = np.sum(e ** 2, axis=2).mean(axis=0)  # (S,)
    per_image_com = np.sum(e.mean(axis=0) ** 2, axis=1)  # (S,)
    excess = per_image_com - per_image_av * (1 + BOUND_RTOL)
    scale = np.sqrt(np.outer(member, member))
    corr = np.divide(second, scale, out=np.zeros_like(second), where=scale > 0)
    r = mean_off_diagonal(corr)
    e_av, e_com = float(member.mean()), float(per_image_com.mean())
    curve = []
    for k in range(1, n + 1):
        curve.append({"k": k, "E_AV": float(member[:k].mean()),
                      "E_COM": float(np.sum(e[:k].mean(axis=0) ** 2, axis=1).mean())})
    return {"N": n, "E_AV": e_av, "E_COM": e_com, "E_AV_over_N": e_av / n, "member": member.tolist(),
            "second_moment": second.tolist(), "correlation": corr.tolist(), "mean_correlation": r,
            "equal_correlation_prediction": None if r is None else e_av * (r + (1 - r) / n),
            "cross_terms": float((second.sum() - np.trace(second)) / n ** 2),
            "bound": {"images": int(s), "violations": int(np.count_nonzero(excess > 0)),
                      "largest_excess": float(np.max(per_image_com - per_image_av))},
            "k_curve": curve}


def paired_test(pred_a: np.ndarray, pred_b: np.ndarray, y: np.ndarray) -> dict:
    """Exact McNemar (sign) test on the images where exactly one of two classifiers is right."""
    from scipy.stats import binomtest

    a_only = int(np.sum((pred_a == y) & (pred_b != y)))
    b_only = int(np.sum((pred_a != y) & (pred_b == y)))
    p = float(binomtest(a_only, a_only + b_only, 0.5).pvalue) if a_only + b_only else 1.0
    return {"a_only_right": a_only, "b_only_right": b_only, "p_value": p}


def committee_block(name: str, labels: list[str], probs: list[np.ndarray], y: np.ndarray) -> dict:
    """Everything the report says about one committee; ``pred`` (its predictions) is an array, not JSON."""
    member_err = [error_rate(p, y) for p in predictions(probs)]
    curve = committee_errors(probs, y)
    corr = error_correlation(probs, y)
    return {"name": name, "members": labels, "member_error": member_err, "k_curve": curve,
            "committee_error": curve[-1], "best_member_error": min(member_err),
            "mean_member_error": float(np.mean(member_err)), "corr": corr.tolist(),
            "mean_corr": mean_off_diagonal(corr), "squared_error": squared_errors(probs, y),
            "pred": np.argmax(np.mean(probs, axis=0), axis=1)}


def fixes(block: dict, probs: list[np.ndarray], y: np.ndarray, shown: int) -> dict:
    """Test images the committee gets right and its best member wrong (``count``; the first ``shown`` of them,
    the most-overruled first, in ``idx`` with the best member's answer and how many members were wrong),
    and how many of the best member's right answers the committee breaks."""
    best = int(np.argmin(block["member_error"]))
    pred_best = np.argmax(probs[best], axis=1)
    idx = np.where((pred_best != y) & (block["pred"] == y))[0]
    broken = int(np.sum((pred_best == y) & (block["pred"] != y)))
    n_wrong = np.sum([p != y for p in predictions(probs)], axis=0)  # (N_test,)
    idx = idx[np.argsort(-n_wrong[idx], kind="stable")]  # the committee overrules the most members first
    top = idx[:shown]
    return {"best": best, "best_name": block["members"][best], "count": len(idx), "broken": broken,
            "idx": top.tolist(), "pred_best": pred_best[top].tolist(), "n_wrong": n_wrong[top].tolist(),
            "n_members": len(probs)}


def per_class(blocks: list[dict], first_probs: np.ndarray, other_probs: list[np.ndarray], y: np.ndarray,
              class_names) -> list[dict]:
    """Test error per class: the first member, the mean of the other committee members, each committee."""
    def err(pred, mask):
        return float(np.mean(pred[mask] != y[mask])) if mask.any() else None

    first = np.argmax(first_probs, axis=1)
    others = predictions(other_probs)
    rows = []
    for c, name in enumerate(class_names):
        mask = y == c
        row = {"class": name, "n": int(mask.sum()), "first_member": err(first, mask),
               "other_members_mean": float(np.mean([err(p, mask) for p in others])) if mask.any() and others else None}
        for b in blocks:
            row[f"{b['name']}_committee"] = err(b["pred"], mask)
        rows.append(row)
    return rows
