"""Keep freed memory in the process, so the same-sized arrays of every training step do not
cost fresh pages from the kernel.

Why: a training step allocates and frees the same large temporaries every time (im2col
columns, activations, gradients). With glibc's default settings much of that memory goes back
to the kernel when it is freed (heap trimming, and ``mmap`` for big blocks), so the next step
touches brand-new pages, and each 4 KiB page costs a page fault. Measured on 2026-11-23 on the
shared 2-core development machine, the benchmark CNN (one 32-image shard, one thread): 313 page
faults and 6.86 ms per step by default, none and 6.48 ms with the settings below; batch 64 with
``nn.DataParallel`` on two cores: 680-730 faults and 8.8 ms per step, none and 8.0 ms. (A
process that also runs PyTorch reached the same state without help: its allocations had already
raised glibc's dynamic thresholds.)

What: ``mallopt`` raises the size above which blocks are ``mmap``-ed (M_MMAP_THRESHOLD, 32 MiB,
the top of glibc's own dynamic range) and the free space the heap keeps before it shrinks
(M_TRIM_THRESHOLD, 256 MiB). The cost: up to that much freed memory stays in the process.
Only glibc (Linux) has these knobs; elsewhere nothing changes.

Reference: mallopt(3), https://man7.org/linux/man-pages/man3/mallopt.3.html
"""
from __future__ import annotations

import ctypes
import sys

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # glibc's <malloc.h>

_done = False


def retain_freed_memory(mmap_threshold: int = 32 << 20, trim_threshold: int = 256 << 20) -> bool:
    """Tell glibc's malloc to keep freed memory (process-wide; idempotent). True if it applied.

    A process-wide setting, so it belongs to the program, not to a library call: the lab CLI
    calls it once at start-up (the Trainer does not). A script that trains in a loop of its
    own calls it once before the loop.
    """
    global _done
    if _done:
        return True
    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt  # the C library the interpreter runs on
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    _done = mallopt(M_MMAP_THRESHOLD, mmap_threshold) == 1 and mallopt(M_TRIM_THRESHOLD, trim_threshold) == 1
    return _done
