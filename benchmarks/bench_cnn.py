"""Training speed of a small CNN: backproplab (NumPy) vs the identical model in PyTorch on the CPU.

Model (both sides): conv3x3(1->16, pad 1) - ReLU - maxpool2 - conv3x3(16->32, pad 1) - ReLU -
maxpool2 - Flatten - Linear(32*7*7 -> 10), softmax cross-entropy, SGD (or Adam).
One "epoch-equivalent" = ``--steps`` training steps (default 200) at ``--batch-size`` (64) on
float32 inputs of shape (1, 28, 28); the inputs are random (speed does not depend on the values).
Both sides use ``--threads`` threads (default: every core): PyTorch through
``torch.set_num_threads``, NumPy's OpenBLAS through OPENBLAS_NUM_THREADS, set before NumPy is
imported (OpenBLAS reads it once, at load time; an OPENBLAS_NUM_THREADS already in the
environment wins). With more than one thread a third side runs: the same NumPy model wrapped in
``nn.DataParallel(model, threads)``, which runs one shard of each batch per core (NumPy's
element-wise work is single-threaded; see backproplab/nn/parallel.py). The sides alternate
``--repeats`` times and the best run of each is kept (the least disturbed by other processes
on a shared machine).

    python benchmarks/bench_cnn.py [--steps 200] [--batch-size 64] [--optimizer sgd|adam] [--repeats 3]
"""
from __future__ import annotations

import argparse
import os
import sys
import time


def _threads_from_argv(argv: list[str]) -> int:
    """``--threads N`` (or ``--threads=N``) from the command line, before argparse runs."""
    for i, arg in enumerate(argv):
        if arg == "--threads" and i + 1 < len(argv):
            return int(argv[i + 1])
        if arg.startswith("--threads="):
            return int(arg.split("=", 1)[1])
    return os.cpu_count() or 1


os.environ.setdefault("OPENBLAS_NUM_THREADS", str(_threads_from_argv(sys.argv[1:])))  # before NumPy loads

import numpy as np  # noqa: E402


def numpy_model(rng):
    from backproplab import nn

    model = nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1, rng=rng), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1, rng=rng), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(32 * 7 * 7, 10, rng=rng),
    )
    model.needs_input_grad = False  # the images need no gradient, as the Trainer sets it (torch skips it too)
    return model


def torch_model(np_model):
    """The same architecture in PyTorch, with the NumPy model's initial weights."""
    import torch

    t = torch.nn.Sequential(
        torch.nn.Conv2d(1, 16, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(16, 32, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Flatten(), torch.nn.Linear(32 * 7 * 7, 10),
    )
    t.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in np_model.state_dict().items()})
    return t


def time_numpy(model, opt, x, y, steps: int) -> float:
    from backproplab.nn import CrossEntropyLoss

    loss_fn = CrossEntropyLoss()
    t0 = time.perf_counter()
    for i in range(steps):
        xb, yb = x[i % len(x)], y[i % len(y)]
        out = model.forward(xb)
        loss_fn(out, yb)
        opt.zero_grad()
        model.backward(loss_fn.backward())
        opt.step()
    return time.perf_counter() - t0


def time_torch(model, opt, x, y, steps: int) -> float:
    import torch

    loss_fn = torch.nn.CrossEntropyLoss()
    t0 = time.perf_counter()
    for i in range(steps):
        xb, yb = x[i % len(x)], y[i % len(y)]
        loss = loss_fn(model(xb), yb)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return time.perf_counter() - t0


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--steps", type=int, default=200, help="training steps per timed run (default 200)")
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--optimizer", choices=("sgd", "adam"), default="sgd")
    ap.add_argument("--repeats", type=int, default=3, help="alternating timed runs per side; the best is kept")
    ap.add_argument("--threads", type=int, default=os.cpu_count(), help="threads of both sides (default: all cores)")
    args = ap.parse_args(argv)

    import torch

    from backproplab import nn, optim
    from backproplab.utils import retain_freed_memory

    torch.set_num_threads(args.threads)
    retain_freed_memory()  # as the lab command line does at start-up
    rng = np.random.default_rng(0)
    nbatch = 8  # a few distinct batches, cycled
    x = rng.standard_normal((nbatch, args.batch_size, 1, 28, 28)).astype(np.float32)
    y = rng.integers(0, 10, (nbatch, args.batch_size))
    model = numpy_model(rng)
    tmodel = torch_model(model)
    # the same optimizer and lr on every side
    np_opt, torch_opt, lr = {"sgd": (optim.SGD, torch.optim.SGD, 0.01),
                             "adam": (optim.Adam, torch.optim.Adam, 1e-3)}[args.optimizer]
    opt, topt = np_opt(model.parameters(), lr=lr), torch_opt(tmodel.parameters(), lr=lr)
    tx, ty = torch.from_numpy(x), torch.from_numpy(y)
    # name -> run(steps); the DataParallel sides wrap a fresh copy of the same model
    runs = {"numpy": lambda steps: time_numpy(model, opt, x, y, steps),
            "torch": lambda steps: time_torch(tmodel, topt, tx, ty, steps)}
    wrapped = {}  # name -> (label, label in the ratio line, result key)
    if args.threads > 1:
        for name, backend, label, ratio_label, key in (
                ("numpy-dp", "thread", f"numpy DataParallel({args.threads})", "numpy DataParallel", "dp"),
                ("numpy-dp-process", "process", f"numpy DataParallel({args.threads}, backend='process')",
                 "numpy DataParallel (processes)", "dp_process")):
            dp = nn.DataParallel(numpy_model(np.random.default_rng(0)), args.threads, backend=backend)
            dp.needs_input_grad = False
            dp_opt = np_opt(dp.parameters(), lr=lr)
            runs[name] = lambda steps, dp=dp, dp_opt=dp_opt: time_numpy(dp, dp_opt, x, y, steps)
            wrapped[name] = (label, ratio_label, key)

    for run in runs.values():
        run(10)  # warm-up: allocator, BLAS threads, oneDNN kernels, worker processes
    times = {name: [] for name in runs}
    for _ in range(args.repeats):
        for name, run in runs.items():
            times[name].append(run(args.steps))
    np_times, torch_times = times["numpy"], times["torch"]
    t_np, t_torch = min(np_times), min(torch_times)
    print(f"model: conv3x3(1->16)-ReLU-maxpool-conv3x3(16->32)-ReLU-maxpool-Linear(1568->10), "
          f"{args.optimizer}, batch {args.batch_size}, float32, {args.steps} steps")
    print(f"cores: {os.cpu_count()}; torch threads: {torch.get_num_threads()}; "
          f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS')}; torch {torch.__version__}, "
          f"numpy {np.__version__}")
    print(f"numpy (backproplab): {t_np:8.3f} s  ({1e3 * t_np / args.steps:.2f} ms/step)  runs: "
          + ", ".join(f"{t:.3f}" for t in np_times))
    print(f"pytorch (CPU):       {t_torch:8.3f} s  ({1e3 * t_torch / args.steps:.2f} ms/step)  runs: "
          + ", ".join(f"{t:.3f}" for t in torch_times))
    print(f"ratio numpy / pytorch: {t_np / t_torch:.3f}  (goal <= 1.0)")
    result = {"numpy_s": t_np, "torch_s": t_torch, "ratio": t_np / t_torch}
    for name, (label, ratio_label, key) in wrapped.items():
        t_dp = min(times[name])
        print(f"{label}: {t_dp:8.3f} s  ({1e3 * t_dp / args.steps:.2f} ms/step)  runs: "
              + ", ".join(f"{t:.3f}" for t in times[name]))
        print(f"ratio {ratio_label} / pytorch: {t_dp / t_torch:.3f}  (goal <= 1.0)")
        result.update({f"numpy_{key}_s": t_dp, f"ratio_{key}": t_dp / t_torch})
    return result


if __name__ == "__main__":
    main()
