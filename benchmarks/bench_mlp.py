"""NumPy (backproplab) vs PyTorch (CPU): one MLP, one optimizer, measured side by side.

Model: 784-256-128-10 MLP, ReLU, softmax cross-entropy, Adam(lr=1e-3), float32, on the
real Fashion-MNIST training set (10 classes). The NumPy side is the library itself:
``nn.Sequential`` of ``nn.Linear``/``nn.ReLU``, ``nn.CrossEntropyLoss``, ``optim.Adam`` and
``train.Trainer(eval_train=False)`` (no benchmark-only code path). The PyTorch side runs the
same loop: shuffle, gather the batch, forward, loss, zero_grad, backward, step, and read the
loss and the number of correct predictions back as Python numbers every step (as the
Trainer does with ``eval_train=False``). torch.optim.Adam runs with its defaults.

With more than one thread, two more sides train the same NumPy model wrapped in
``nn.DataParallel(model, threads)`` (one shard of each batch per core, BLAS on one thread per
shard): with the thread backend (columns headed DP) and the process backend (DPp).

Per batch size, epochs alternate NumPy, PyTorch, NumPy, ... ``--repeats`` times each and the
best epoch time of each side is kept (other processes share the machine: the minimum is the
least disturbed figure). Both sides use the same thread count (``--threads``; the BLAS of
NumPy via OPENBLAS_NUM_THREADS/OMP_NUM_THREADS set before NumPy is imported, PyTorch via
torch.set_num_threads).

FLOPs counted (GEMMs only; biases, activations, loss and optimizer are not counted):
per sample and layer of sizes (in, out), 2·in·out for the forward product, 2·in·out for
dW = dyᵀx, and 2·in·out for dx = dy W except in the first layer (its input needs no
gradient). For 784-256-128-10 that is 1,007,104 FLOP per sample, 60.4 GFLOP per epoch of
60000 samples. GEMM peak: the best of large square np.matmul and torch.mm products
measured in this script (before the first row and after each row; the best one counts,
since other processes can only lower it); each side's fraction is (FLOPs / epoch time) / peak.

Usage: python benchmarks/bench_mlp.py [--threads 2] [--repeats 3] [--batch-sizes 32 128 512 full]
"""
from __future__ import annotations

import argparse
import os
import sys


def _parse() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, default=os.cpu_count(), help="threads for both NumPy's BLAS and PyTorch")
    ap.add_argument("--repeats", type=int, default=3, help="epochs measured per side and batch size (best kept)")
    ap.add_argument("--batch-sizes", nargs="+", default=["32", "128", "512", "full"],
                    help="batch sizes; 'full' = the whole (sub)set in one step")
    ap.add_argument("--full-subset", type=int, default=60000, help="training samples used by the full-batch row")
    ap.add_argument("--peak-size", type=int, default=2048, help="side of the square matrices of the peak test")
    ap.add_argument("--data-dir", default=None, help="Fashion-MNIST folder (default: the library's search)")
    return ap.parse_args()


ARGS = _parse()
# before NumPy is imported: its OpenBLAS reads these once, at load time
os.environ["OPENBLAS_NUM_THREADS"] = str(ARGS.threads)
os.environ["OMP_NUM_THREADS"] = str(ARGS.threads)

import time  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src"))
from backproplab import nn, optim  # noqa: E402
from backproplab.data.fashion_mnist import load_fashion_mnist  # noqa: E402
from backproplab.train import Trainer  # noqa: E402

SIZES = (784, 256, 128, 10)
LR = 1e-3


def flops_per_sample(sizes=SIZES) -> int:
    """GEMM FLOPs of one training step per sample (see the module docstring)."""
    layers = list(zip(sizes[:-1], sizes[1:]))
    fwd = sum(2 * i * o for i, o in layers)
    dw = fwd
    dx = sum(2 * i * o for i, o in layers[1:])  # no dx for the first layer
    return fwd + dw + dx


def gemm_peak(n: int, reps: int = 5) -> tuple[float, float]:
    """Best float32 GFLOP/s of an n×n×n product with np.matmul and with torch.mm."""
    a = np.random.default_rng(0).random((n, n), dtype=np.float32)
    b = a.copy()
    c = np.empty_like(a)
    ta, tb, tc = torch.from_numpy(a), torch.from_numpy(b), torch.from_numpy(c)
    best = {"numpy": 0.0, "torch": 0.0}
    for _ in range(reps):
        for name, f in (("numpy", lambda: np.matmul(a, b, out=c)), ("torch", lambda: torch.mm(ta, tb, out=tc))):
            f()  # warm up
            t = time.perf_counter()
            for _ in range(3):
                f()
            dt = (time.perf_counter() - t) / 3
            best[name] = max(best[name], 2 * n ** 3 / dt / 1e9)
    return best["numpy"], best["torch"]


class NumpySide:
    """The library: Sequential MLP + CrossEntropyLoss + Adam, trained by Trainer, one epoch per fit()."""

    def __init__(self, x, y, batch_size, threads: int = 1, backend: str = "thread"):
        rng = np.random.default_rng(0)
        layers = []
        for k, (i, o) in enumerate(zip(SIZES[:-1], SIZES[1:])):
            layers.append(nn.Linear(i, o, rng=rng))
            if k < len(SIZES) - 2:
                layers.append(nn.ReLU())
        self.model = nn.Sequential(*layers)
        if threads > 1:  # shards of each batch on every core (nn.DataParallel)
            self.model = nn.DataParallel(self.model, threads, backend=backend)
        self.trainer = Trainer(self.model, nn.CrossEntropyLoss(), optim.Adam(self.model.parameters(), lr=LR),
                               batch_size=batch_size, num_epochs=1, rng=rng, eval_train=False)
        self.x, self.y = x, y

    def epoch(self) -> float:
        self.trainer.fit(self.x, self.y)
        return self.trainer.history.epoch_time[-1]

    def check_float32(self) -> None:
        """No float64 anywhere: every layer's output, every gradient, every Adam buffer."""
        h = self.x[:4]
        for layer in getattr(self.model, "module", self.model):
            h = layer.forward(h)
            assert h.dtype == np.float32, f"{layer!r} returned {h.dtype}"
        for name, p in self.model.named_parameters():
            assert p.data.dtype == p.grad.dtype == np.float32, name
        for key, v in self.trainer.optimizer.state_dict().items():
            assert v.ndim == 0 or v.dtype == np.float32, key


class TorchSide:
    """The same model, loss and optimizer in PyTorch, with the same per-step work."""

    def __init__(self, x, y, batch_size):
        torch.manual_seed(0)
        layers = []
        for k, (i, o) in enumerate(zip(SIZES[:-1], SIZES[1:])):
            layers.append(torch.nn.Linear(i, o))
            if k < len(SIZES) - 2:
                layers.append(torch.nn.ReLU())
        self.model = torch.nn.Sequential(*layers)
        self.opt = torch.optim.Adam(self.model.parameters(), lr=LR)
        self.loss_fn = torch.nn.CrossEntropyLoss()
        self.x, self.y = torch.from_numpy(x), torch.from_numpy(y)
        self.batch_size = batch_size
        self.gen = torch.Generator().manual_seed(0)

    def epoch(self) -> float:
        x, y, n = self.x, self.y, len(self.x)
        t0 = time.perf_counter()
        self.model.train()
        if self.batch_size is None or self.batch_size >= n:
            batches = [None]
        else:
            batches = torch.randperm(n, generator=self.gen).split(self.batch_size)
        loss_sum, correct = 0.0, 0
        for idx in batches:
            xb, yb = (x, y) if idx is None else (x[idx], y[idx])
            out = self.model(xb)
            loss = self.loss_fn(out, yb)
            self.opt.zero_grad()
            loss.backward()
            self.opt.step()
            loss_sum += loss.item() * len(xb)
            correct += int((out.argmax(1) == yb).sum())
        return time.perf_counter() - t0


def main() -> None:
    from backproplab.utils import retain_freed_memory

    retain_freed_memory()  # as the lab command line does at start-up: every step re-allocates the same arrays
    torch.set_num_threads(ARGS.threads)
    load0 = os.getloadavg()
    data = load_fashion_mnist(classes=None, data_dir=ARGS.data_dir)
    x, y = np.ascontiguousarray(data.x_train, dtype=np.float32), data.y_train.astype(np.int64)
    peaks = [gemm_peak(ARGS.peak_size)]
    fps = flops_per_sample()
    print(f"threads: {ARGS.threads} (NumPy BLAS and PyTorch); torch {torch.__version__}, numpy {np.__version__}")
    print(f"float32 GEMM peak ({ARGS.peak_size}^3) before: numpy {peaks[0][0]:.1f} GFLOP/s, "
          f"torch {peaks[0][1]:.1f} GFLOP/s")
    print(f"GEMM FLOPs per sample per step: {fps:,} (fwd + dW all layers, dx all but the first)")
    print(f"load average before: {load0[0]:.2f} {load0[1]:.2f} {load0[2]:.2f}; best of {ARGS.repeats} epochs per side")
    header = (f"{'batch':>6} {'samples':>7} {'numpy s':>8} {'torch s':>8} {'ratio':>6} "
              f"{'numpy %peak':>11} {'torch %peak':>11}")
    if ARGS.threads > 1:
        header += f" {'DP s':>7} {'DP ratio':>8} {'DP %peak':>8}"  # nn.DataParallel(model, threads)
        header += f" {'DPp s':>7} {'DPp ratio':>9} {'DPp %peak':>9}"  # the same, backend="process"
    rows = []
    for bs_text in ARGS.batch_sizes:
        full = bs_text == "full"
        n = ARGS.full_subset if full else len(x)
        xs, ys = x[:n], y[:n]
        bs = None if full else int(bs_text)
        sides = {"numpy": NumpySide(xs, ys, bs), "torch": TorchSide(xs, ys, bs)}
        if ARGS.threads > 1:
            sides["numpy-dp"] = NumpySide(xs, ys, bs, ARGS.threads)
            sides["numpy-dp-process"] = NumpySide(xs, ys, bs, ARGS.threads, backend="process")
        best = {k: float("inf") for k in sides}
        for name, side in sides.items():
            side.epoch()  # warm-up epoch: first-touch allocations, thread pools
        sides["numpy"].check_float32()
        for _ in range(ARGS.repeats):
            for name, side in sides.items():
                best[name] = min(best[name], side.epoch())
        print(f"  batch {bs_text}: " + ", ".join(f"{k} {v:.3f} s" for k, v in best.items())
              + f" (ratio {best['numpy'] / best['torch']:.2f})", flush=True)
        rows.append((bs_text, n, best["numpy"], best["torch"], best.get("numpy-dp"), best.get("numpy-dp-process")))
        for side in sides.values():
            getattr(side.model, "close", lambda: None)()  # DataParallel's worker processes
        peaks.append(gemm_peak(ARGS.peak_size, reps=2))  # between rows: the least disturbed peak wins
    # the peak is the best product seen during the whole run (load only ever lowers it)
    peak = max(max(p) for p in peaks)
    print(f"float32 GEMM peak: best of {len(peaks)} measurements = {peak:.1f} GFLOP/s "
          f"(numpy best {max(p[0] for p in peaks):.1f}, torch best {max(p[1] for p in peaks):.1f})")
    print(header)
    for bs_text, n, t_np, t_torch, t_dp, t_dpp in rows:
        gflop = fps * n / 1e9
        line = (f"{bs_text:>6} {n:>7} {t_np:>8.3f} {t_torch:>8.3f} {t_np / t_torch:>6.2f} "
                f"{100 * gflop / t_np / peak:>10.1f}% {100 * gflop / t_torch / peak:>10.1f}%")
        if t_dp is not None:
            line += f" {t_dp:>7.3f} {t_dp / t_torch:>8.2f} {100 * gflop / t_dp / peak:>7.1f}%"
            line += f" {t_dpp:>7.3f} {t_dpp / t_torch:>9.2f} {100 * gflop / t_dpp / peak:>8.1f}%"
        print(line)
    load1 = os.getloadavg()
    print(f"load average after: {load1[0]:.2f} {load1[1]:.2f} {load1[2]:.2f}")


if __name__ == "__main__":
    main()
