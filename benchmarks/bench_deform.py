"""Speed of one deformable convolution layer, forward + backward: backproplab (NumPy) vs PyTorch on the CPU.

Both sides compute the same thing: the offset branch (a 3x3 convolution, C -> 2·K or 3·K channels),
the deformable convolution with bilinear sampling (and sigmoid masks with ``--modulation``), and
every gradient (input, weight, bias, offset-branch weight and bias) for a random upstream gradient.
The PyTorch side is the autograd reference of the tests (tests/nn/test_deform_conv.py: bilinear
sampling with ``torch.gather``; torchvision is not installed), run in float32 like the NumPy side.
Default size: N=32, C=32 -> 32, 14x14, 3x3, padding 1. The sides alternate ``--repeats`` times;
the best run of each is kept (the least disturbed by other processes on a shared machine).

    python benchmarks/bench_deform.py [--batch-size 32] [--channels 32] [--size 14] [--steps 20]
                                      [--repeats 5] [--modulation] [--threads N]
"""
from __future__ import annotations

import argparse
import importlib.util
import os
import time
from pathlib import Path

TEST_FILE = Path(__file__).resolve().parents[1] / "tests" / "nn" / "test_deform_conv.py"


def torch_reference():
    """``torch_deform_conv2d`` from the test file (one reference for tests and benchmark), with torch bound
    (the tests pass the module in, so that they import it only where they compare)."""
    import functools

    import torch

    spec = importlib.util.spec_from_file_location("deform_conv_reference", TEST_FILE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return functools.partial(module.torch_deform_conv2d, torch)


def time_numpy(layer, x, dy, steps: int) -> float:
    t0 = time.perf_counter()
    for _ in range(steps):
        layer.forward(x)
        layer.zero_grad()
        layer.backward(dy)
    return time.perf_counter() - t0


def time_torch(step, steps: int) -> float:
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    return time.perf_counter() - t0


def torch_step(layer, x, dy):
    """A closure running the PyTorch forward + backward of the same layer (same weights)."""
    import torch
    import torch.nn.functional as F

    reference = torch_reference()
    params = {name: torch.tensor(p.data, requires_grad=True) for name, p in layer.named_parameters()}
    tx, tdy = torch.tensor(x, requires_grad=True), torch.from_numpy(dy)
    n_off = 2 * layer.offset_groups * layer.kernel_size[0] * layer.kernel_size[1]

    def step():
        for p in list(params.values()) + [tx]:
            p.grad = None
        raw = F.conv2d(tx, params["conv_offset.weight"], params["conv_offset.bias"], layer.stride, layer.padding,
                       layer.dilation)
        mask = torch.sigmoid(raw[:, n_off:]) if layer.modulation else None
        y = reference(tx, raw[:, :n_off], params["weight"], params["bias"], layer.stride,
                      (layer.padding, layer.padding), layer.dilation, mask)
        y.backward(tdy)

    return step


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--channels", type=int, default=32, help="in and out channels (default 32)")
    ap.add_argument("--size", type=int, default=14, help="height = width of the input (default 14)")
    ap.add_argument("--steps", type=int, default=20, help="forward+backward passes per timed run (default 20)")
    ap.add_argument("--repeats", type=int, default=5, help="alternating timed runs per side; the best is kept")
    ap.add_argument("--modulation", action="store_true", help="DCN v2 masks on both sides")
    ap.add_argument("--threads", type=int, default=os.cpu_count(), help="threads of both sides (default: all cores)")
    args = ap.parse_args(argv)
    os.environ.setdefault("OPENBLAS_NUM_THREADS", str(args.threads))  # must precede the NumPy import

    import numpy as np
    import torch

    from backproplab import nn
    from backproplab.utils import retain_freed_memory

    torch.set_num_threads(args.threads)
    retain_freed_memory()
    rng = np.random.default_rng(0)
    c, n, s = args.channels, args.batch_size, args.size
    layer = nn.DeformConv2d(c, c, 3, padding=1, modulation=args.modulation, rng=rng)
    # trained-looking offsets of a pixel or two (a zero branch would sample exactly on the grid)
    layer.conv_offset.weight.data[...] = rng.normal(0, 0.05, layer.conv_offset.weight.shape)
    layer.conv_offset.bias.data[...] = rng.normal(0, 0.5, layer.conv_offset.bias.shape)
    x = rng.standard_normal((n, c, s, s)).astype(np.float32)
    dy = rng.standard_normal((n, c, s, s)).astype(np.float32)
    runs = {"numpy": lambda steps: time_numpy(layer, x, dy, steps),
            "torch": lambda steps, step=torch_step(layer, x, dy): time_torch(step, steps)}
    for run in runs.values():
        run(3)  # warm-up: allocator, thread pools
    times = {name: [] for name in runs}
    for _ in range(args.repeats):
        for name, run in runs.items():
            times[name].append(run(args.steps))
    t_np, t_torch = min(times["numpy"]), min(times["torch"])
    print(f"DeformConv2d({c}, {c}, 3, padding=1, modulation={args.modulation}), input ({n}, {c}, {s}, {s}), "
          f"float32, forward + backward, {args.steps} passes per run")
    print(f"cores: {os.cpu_count()}; torch threads: {torch.get_num_threads()}; "
          f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS')}; torch {torch.__version__}, "
          f"numpy {np.__version__}")
    for name, label in (("numpy", "numpy (backproplab):"), ("torch", "pytorch (reference):")):
        best = min(times[name])
        print(f"{label:22s}{1e3 * best / args.steps:8.2f} ms/pass  runs (ms/pass): "
              + ", ".join(f"{1e3 * t / args.steps:.2f}" for t in times[name]))
    print(f"ratio numpy / pytorch: {t_np / t_torch:.3f}  (goal <= 1.0)")
    return {"numpy_ms": 1e3 * t_np / args.steps, "torch_ms": 1e3 * t_torch / args.steps, "ratio": t_np / t_torch}


if __name__ == "__main__":
    main()
