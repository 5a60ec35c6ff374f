"""Timestamps that work on the GPU without stalling it, and the GPU's own ceilings.

On CUDA, work is queued: a host clock read after a launch measures the launch, not the
work. A :class:`Mark` is a CUDA event recorded on the current stream (the time the
stream reaches it), read later when it has completed -- so several jobs on several
streams can be timed without any of them waiting; on the CPU it is a plain
``perf_counter`` reading. The ceilings (a large bf16 matrix product, a large copy) are
measured on random data, after warm-up, as the median of several repetitions.
"""
from __future__ import annotations

import statistics
import time

import torch


class Mark:
    """A point in the current stream's work (CUDA) or in host time (CPU)."""

    def __init__(self, device: torch.device):
        self.event = None
        if device.type == "cuda":
            self.event = torch.cuda.Event(enable_timing=True)
            self.event.record()
        else:
            self.t = time.perf_counter()

    def done(self) -> bool:
        """Has the stream reached this point (never blocks)?"""
        return self.event is None or self.event.query()

    def wait(self) -> None:
        if self.event is not None:
            self.event.synchronize()

    def seconds_since(self, earlier: "Mark") -> float:
        """Seconds from ``earlier`` to this mark (both must be done on CUDA)."""
        if self.event is not None:
            return earlier.event.elapsed_time(self.event) / 1000.0
        return self.t - earlier.t


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def median_seconds(fn, device: torch.device, reps: int, warmup: int = 2) -> float:
    """Median wall time of ``fn()`` over ``reps`` calls after ``warmup`` calls, synchronizing each."""
    for _ in range(warmup):
        fn()
    synchronize(device)
    times = []
    for _ in range(reps):
        start = Mark(device)
        fn()
        end = Mark(device)
        end.wait()
        times.append(end.seconds_since(start))
    return statistics.median(times)


def matmul_peak(device: torch.device, n: int = 8192, reps: int = 10) -> dict:
    """bf16 ``n x n @ n x n`` products on random data: the achieved rate, our stand-in for the peak.

    2 n^3 FLOPs per product (a multiply and an add per term).
    """
    gen = torch.Generator(device=device).manual_seed(0)
    a = torch.randn((n, n), generator=gen, device=device).to(torch.bfloat16)
    b = torch.randn((n, n), generator=gen, device=device).to(torch.bfloat16)
    s = median_seconds(lambda: a @ b, device, reps, warmup=3)
    return {"n": n, "dtype": "bfloat16", "seconds": s, "tflops": 2 * n**3 / s / 1e12}


def copy_bandwidth(device: torch.device, nbytes: int = 1 << 30, reps: int = 10) -> dict:
    """Device-to-device copy of ``nbytes``: GB/s counting bytes read plus bytes written."""
    src = torch.rand(nbytes // 4, device=device)
    dst = torch.empty_like(src)
    s = median_seconds(lambda: dst.copy_(src), device, reps)
    return {"bytes": nbytes, "seconds": s, "gb_per_s": 2 * nbytes / s / 1e9}


@torch.no_grad()
def forward_latency_ms(model: torch.nn.Module, x: torch.Tensor, amp: bool, use_graph: bool, reps: int) -> float:
    """Median milliseconds of one eval-mode forward of ``x`` (bf16 autocast when ``amp``).

    With ``use_graph`` (CUDA only) the forward is recorded once as a CUDA graph and the
    replays are timed: what a deployed model pays without the per-kernel launch cost.
    """
    from .step import autocast, record_graph

    model.eval()

    def forward():
        with autocast(x.device, amp):
            model(x)

    run = forward
    if use_graph and x.is_cuda:
        run = record_graph(forward, forward, warmup=2).replay  # cuDNN picks its algorithms before the capture
    return 1000 * median_seconds(run, x.device, reps)
