"""Verdicts: one :class:`Check` per comparison, with its worst relative error and, when the
error has a typical pattern, a hint found by testing hypotheses.

A hypothesis is an alternative answer a typical mistake would give (the transposed
gradient, the loss without 1/m, the other sign, ...). When the student's array misses the
reference but matches a hypothesis within the tolerance, that hypothesis' hint is reported.
An *accepted* alternative (a documented convention, e.g. Ng's 1/m in the layer) passes with a note.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

#: tolerances on the worst relative error (see :func:`rel_error`), by the dtype the student computed in
TOL = {"float64": 1e-6, "float32": 1e-4}
#: student's backward vs central differences of the student's own forward
TOL_NUMERIC = {"float64": 1e-5, "float32": 2e-2}


@dataclass
class Check:
    """One comparison's verdict. status: "pass", "fail" (wrong numbers) or "error" (the code failed to run)."""

    task: str
    name: str
    status: str
    error: float | None = None
    tol: float | None = None
    hint: str = ""
    note: str = ""
    message: str = ""
    #: where the batch's 1/m lives, when the check tells: "loss" (the loss gradient) or "layer" (dW, db)
    convention: str = ""

    @property
    def passed(self) -> bool:
        return self.status == "pass"

    def to_dict(self) -> dict:
        d = asdict(self)
        if d["error"] is not None and not np.isfinite(d["error"]):
            d["error"] = None if np.isnan(d["error"]) else "inf"
        return d


def rel_error(student, ref) -> float:
    """Worst entry-wise relative error, max_i |s_i - r_i| / max(|s_i|, |r_i|, 1e-3 * max_j |r_j|).

    The floor (a thousandth of the reference's largest entry) keeps entries that should be about
    zero from dominating through rounding noise. A shape mismatch or a NaN/inf gives inf.
    """
    s = np.asarray(student, dtype=np.float64)
    r = np.asarray(ref, dtype=np.float64)
    if s.shape != r.shape:
        if s.size == r.size and s.squeeze().shape == r.squeeze().shape:
            s = s.reshape(r.shape)  # (n, 1) vs (n,): the same numbers
        else:
            return float("inf")
    if r.size == 0:
        return 0.0
    if not np.all(np.isfinite(s)):
        return float("inf")
    floor = max(1e-3 * float(np.max(np.abs(r))), 1e-12)
    return float(np.max(np.abs(s - r) / np.maximum(np.maximum(np.abs(s), np.abs(r)), floor)))


def shape_text(a) -> str:
    return "scalar" if np.ndim(a) == 0 else str(tuple(np.shape(a)))


def matches(student, alternative, tol: float) -> bool:
    """``student`` equals ``alternative`` within ``tol``. A mistake may itself produce NaN or inf (√ of a
    negative): then the same entries must be non-finite in both and the finite rest must agree."""
    if alternative is None:
        return False
    s, a = np.asarray(student, dtype=np.float64), np.asarray(alternative, dtype=np.float64)
    if s.shape == a.shape:
        bad = ~np.isfinite(s)
        if bad.any() and not bad.all() and np.array_equal(bad, ~np.isfinite(a)):
            return rel_error(s[~bad], a[~bad]) <= tol
    return rel_error(s, a) <= tol


def compare(task: str, name: str, student, ref, tol: float, *, hypotheses=(), accept=(), note: str = "",
            missing: str = "") -> tuple[Check, str]:
    """Verdict on ``student`` vs ``ref``.

    Args:
        hypotheses: (hint, alternative) pairs tried in order when the student misses ``ref``.
        accept: (note, alternative) pairs that also pass (documented conventions); the note says which.
        missing: the message when ``student`` is None (the child's error for this value).

    Returns:
        (check, which) where which is "" (matched ref), the accepted note, or "fail".
    """
    if student is None:
        return Check(task, name, "error", message=missing or "no value came back", note=note), "fail"
    err = rel_error(student, ref)
    if err <= tol:
        return Check(task, name, "pass", err, tol, note=note), ""
    for alt_note, alt in accept:
        if matches(student, alt, tol):
            return Check(task, name, "pass", rel_error(student, alt), tol, note=_join(note, alt_note)), alt_note
    hint = next((h for h, alt in hypotheses if matches(student, alt, tol)), "")
    message = ""
    if np.shape(student) != np.shape(ref) and err == float("inf") and np.all(np.isfinite(student)):
        message = f"shape {shape_text(student)}, expected {shape_text(ref)}"
    elif not np.all(np.isfinite(np.asarray(student, dtype=np.float64))):
        message = "the result contains NaN or inf"
    return Check(task, name, "fail", err, tol, hint=hint, note=note, message=message), "fail"


def _join(*parts: str) -> str:
    return "; ".join(p for p in parts if p)


def generic_hypotheses(ref, m: int | None = None, what: str = "the result") -> list[tuple[str, np.ndarray]]:
    """The patterns every comparison tests: the other sign, the transpose, a factor m (1/m) or 2 (½)."""
    ref = np.asarray(ref, dtype=np.float64)
    out = [(f"wrong sign: {what} is the negative of the expected one", -ref)]
    if ref.ndim == 2 and ref.shape[0] != ref.shape[1]:
        out.append((f"transposed: {what} is the transpose of the expected one (check the weight layout "
                    "and the order of the matrix product)", ref.T))
    if m and m > 1:
        out.append((f"missing 1/m: {what} is m = {m} times too large (divide by the batch size m)", ref * m))
        out.append((f"extra 1/m: {what} is divided by the batch size m = {m} once too often", ref / m))
    out.append((f"factor 2: {what} is twice the expected one (the ½ in 1/(2m) cancels the 2 of the square)",
                ref * 2))
    out.append((f"factor ½: {what} is half the expected one", ref / 2))
    return out


def tolerance(dtype: str, numeric: bool = False) -> float:
    table = TOL_NUMERIC if numeric else TOL
    return table["float32"] if dtype in ("float32", "float16") else table["float64"]


def missing_check(task: str, name: str, text: str) -> Check:
    """A check that could not run because an entry point is missing or could not be called."""
    return Check(task, name, "error", message=text)
