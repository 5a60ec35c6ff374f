"""Memory and time of one Newton step vs one gradient-descent step, as a function of the parameter count P.

Gradient descent keeps the gradient (P numbers) and updates w ← w - lr·g: P multiply-adds,
2P flops, on top of the gradient itself.

Newton's method w ← w - H⁻¹g keeps the Hessian H (P² numbers; its factor overwrites it in place)
and per step:
  * forms H: P Hessian-vector products (Pearlmutter 1994), each counted as 2 gradient costs;
  * factorizes it: Cholesky (H symmetric positive definite) P³/3 flops, or LU with pivoting
    2P³/3 flops when H is indefinite, as it is near the saddle points of a deep network's loss;
  * two triangular solves, 2P² flops, and the update, 2P flops.

The gradient of a dense network costs about 6 flops per weight per example (2 forward, 4
backward), so with a batch of B examples 6·P·B flops. Seconds are flops / rate, at a stated
rate (default 1e11 flop/s, the order of a float32 GEMM on a few CPU cores; pass a measured rate
with ``flops``). Memory is counted in bytes at ``bytes_per_number`` (4 = float32).

Reference: Goodfellow et al., Deep Learning (2016), §8.6.1 (Newton's method, its O(k³) cost);
Golub & Van Loan, Matrix Computations, §4.2 (Cholesky n³/3) and §3.2 (LU 2n³/3);
Pearlmutter 1994, "Fast exact multiplication by the Hessian".
"""
from __future__ import annotations

from .result import CalcResult, check_float, check_int

SOLVERS = {"cholesky": (1.0 / 3.0, "P³/3 (Cholesky: H symmetric positive definite)"),
           "lu": (2.0 / 3.0, "2P³/3 (LU with partial pivoting: any nonsingular H)")}
DEFAULT_PARAMS = (1_000, 1_000_000, 100_000_000)
DEFAULT_FLOPS = 1e11


def human_bytes(n: float) -> str:
    for unit, size in (("PB", 1e15), ("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= size:
            return f"{n / size:.3g} {unit}"
    return f"{n:.3g} B"


def human_seconds(t: float) -> str:
    for unit, size in (("years", 365.25 * 86400), ("days", 86400), ("h", 3600), ("min", 60), ("s", 1)):
        if t >= size:
            return f"{t / size:.3g} {unit}"
    return f"{t:.3g} s"


def _row(p: int, batch_size: int, coeff: float, rate: float, nbytes: int) -> dict:
    grad = 6.0 * p * batch_size
    gd_flops = grad + 2.0 * p
    hessian = p * 2.0 * grad
    factor = coeff * float(p) ** 3
    newton_flops = grad + hessian + factor + 2.0 * float(p) ** 2 + 2.0 * p
    return {"params": p,
            "gd_bytes": nbytes * p, "newton_bytes": nbytes * float(p) ** 2,
            "gd_flops": gd_flops, "newton_flops": newton_flops,
            "newton_factor_flops": factor, "newton_hessian_flops": hessian,
            "gd_seconds": gd_flops / rate, "newton_seconds": newton_flops / rate,
            "time_ratio": newton_flops / gd_flops}


def newton_cost(params=DEFAULT_PARAMS, flops=DEFAULT_FLOPS, solver="cholesky", batch_size=1,
                bytes_per_number=4) -> CalcResult:
    """Per-step memory and time of Newton's method and of gradient descent for each P in ``params``.

    Returns values ``rows`` [{params, gd_bytes, newton_bytes, gd_flops, newton_flops,
    newton_factor_flops, newton_hessian_flops, gd_seconds, newton_seconds, time_ratio}],
    ``solver``, ``flops_per_second``.
    """
    if isinstance(params, (int, float)):
        params = [params]
    ps = [check_int(f"params[{k}]", p) for k, p in enumerate(params)]
    if not ps:
        raise ValueError("params must list at least one parameter count")
    rate = check_float("flops", flops)
    if rate <= 0:
        raise ValueError(f"flops (the machine's rate in flop/s) must be positive, got {rate:g}")
    if solver not in SOLVERS:
        raise ValueError(f"unknown solver {solver!r}; choose cholesky or lu")
    b = check_int("batch_size", batch_size)
    nbytes = check_int("bytes_per_number", bytes_per_number)
    coeff, solver_text = SOLVERS[solver]
    steps = [f"GD step: gradient 6·P·B flops (B = {b}) + update 2P flops; memory: the gradient, P numbers",
             f"Newton step: gradient + Hessian (P Hessian-vector products ≈ 2 gradients each = 12·P²·B flops) "
             f"+ factorization {solver_text} + two triangular solves 2P² + update 2P; memory: H, P² numbers",
             f"{nbytes} bytes per number, {rate:.3g} flop/s"]
    rows = [_row(p, b, coeff, rate, nbytes) for p in ps]
    for r in rows:
        steps.append(f"P = {r['params']:.3g}: memory GD {human_bytes(r['gd_bytes'])} vs Newton "
                     f"{human_bytes(r['newton_bytes'])}; time GD {r['gd_flops']:.3g} flops = "
                     f"{human_seconds(r['gd_seconds'])} vs Newton {r['newton_flops']:.3g} flops = "
                     f"{human_seconds(r['newton_seconds'])} ({r['time_ratio']:.3g}x)")
    steps.append("Newton's memory grows as P² and its factorization as P³; GD's memory and update grow as P")
    return CalcResult(name="newton-cost",
                      inputs={"params": ps, "flops": rate, "solver": solver, "batch_size": b,
                              "bytes_per_number": nbytes},
                      values={"rows": rows, "solver": solver, "flops_per_second": rate},
                      steps=steps)
