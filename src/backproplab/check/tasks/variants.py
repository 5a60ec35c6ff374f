"""Calling a function in several plausible ways, and judging the way that fits.

Students' losses differ in how they are called (logits or probabilities, integer labels or
one-hot, batch-first or feature-first). The child calls every variant and returns each result in
the reference's layout; the judge takes the first variant that matches the reference (or an
accepted convention), else the first whose error has a known pattern, and says which it assumed.
"""
from __future__ import annotations

from ..judging import Check, compare

SEP = "/"


def run_variants(probe, key: str, variants: dict, doing: str) -> None:
    """variants: label -> thunk returning the result already in the reference's layout (or None)."""
    ok = []
    for label, thunk in variants.items():
        result = probe.attempt(f"{key}@{label}", thunk, doing)
        if result is not None:
            probe.put(f"{key}@{label}", result)
            ok.append(label)
        elif probe.errors.get(f"{key}@{label}", {}).get("type") in ("MemoryError", "_ArrayMemoryError",
                                                                      "RecursionError"):
            break  # not a calling-convention problem: another variant would only do it again
    probe.values[f"{key}.variants"] = ok


def first_error(out, key: str) -> str:
    return next((e["text"] for k, e in out.errors.items() if k.startswith(f"{key}@") or k == key), "")


def judge_variants(task: str, name: str, out, key: str, ref, tol: float, describe, hypotheses=(), accept=(),
                   note: str = "") -> tuple[Check, str, str]:
    """(check, chosen label, accepted-convention note or "") over the variants the child ran for ``key``.

    ``hypotheses`` and ``accept`` may be callables label -> list, when they depend on the variant.
    """
    labels = out.value(f"{key}.variants", []) or []
    if not labels:
        return Check(task, name, "error", message=first_error(out, key) or "no result came back"), "", ""

    def run(label):
        hyp = hypotheses(label) if callable(hypotheses) else hypotheses
        acc = accept(label) if callable(accept) else accept
        extra = "; ".join(p for p in (f"assumed {describe(label)}", note, out.note(f"{key}@{label}")) if p)
        return compare(task, name, out.arr(f"{key}@{label}"), ref, tol, hypotheses=hyp, accept=acc, note=extra)

    results = [(label, *run(label)) for label in labels]
    for label, check, which in results:
        if check.passed:
            return check, label, which if which else ""
    for label, check, _ in results:
        if check.hint:
            return check, label, ""
    label, check, _ = min(results, key=lambda r: r[1].error if r[1].error is not None else float("inf"))
    return check, label, ""
