"""Probes of faults and numbers: Ctrl-C, a dead DataParallel worker, file permissions, a closed
pipe, --debug, runs that diverge, and PyTorch edge cases of the library (checked against PyTorch)."""
from __future__ import annotations

import numpy as np

from . import files
from .harness import Probe

SIGINT_LAB = """\
import signal, subprocess, sys, time
# 200 epochs: still running after 8 s on a fast machine
cmd = [sys.executable, "-m", "backproplab", "lab", "cnn", "--quick", "--quiet", "--out", "run", "--num-epochs", "200"]
# started as from a terminal: SIGINT at its default even when these probes run in the background (cmd &)
p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                     preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
time.sleep(8)
start = time.monotonic()
p.send_signal(signal.SIGINT)
err = p.communicate(timeout=30)[1]
took = time.monotonic() - start
lines = [line for line in err.splitlines() if line.strip()]
print(lines[0] if len(lines) == 1 else f"{len(lines)} lines: {err[-300:]}", file=sys.stderr)
print("ended within 2 s" if took < 2 else f"took {took:.1f} s", file=sys.stderr)
sys.exit(p.returncode)
"""

DEAD_WORKER = """\
import os, signal, time
import numpy as np
from backproplab import nn
from backproplab.nn import ShardWorkerDied
rng = np.random.default_rng(0)
model = nn.Sequential(nn.Linear(4, 8, rng=rng), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 2, rng=rng))
dp = nn.DataParallel(model, threads=2, backend="process")
x, dy = rng.standard_normal((16, 4)), rng.standard_normal((16, 2))
dp.forward(x); dp.backward(dy)
os.kill(dp.runner.workers.processes[0].pid, signal.SIGKILL)
start = time.monotonic()
try:
    dp.forward(x); dp.backward(dy)
    outcome = "replaced"
except ShardWorkerDied as e:
    outcome = "ShardWorkerDied"
took = time.monotonic() - start
dp.forward(x); dp.backward(dy)  # the next call runs on new workers
dp.close()
print(f"{outcome} within 2 s; the next call works" if took < 2 else f"{outcome} after {took:.1f} s")
"""

CONV1D_TUPLES = """\
import numpy as np, torch
from backproplab import nn
rng = np.random.default_rng(0)
ours = nn.Conv1d(2, 3, kernel_size=(3,), stride=(2,), padding=(1,), dilation=(2,), rng=rng)
ref = torch.nn.Conv1d(2, 3, kernel_size=(3,), stride=(2,), padding=(1,), dilation=(2,)).double()
ref.weight.data = torch.tensor(ours.weight.data, dtype=torch.float64)
ref.bias.data = torch.tensor(ours.bias.data, dtype=torch.float64)
x = rng.standard_normal((4, 2, 11))
want = ref(torch.tensor(x)).detach().numpy()
err = np.abs(ours.forward(x) - want).max() / np.abs(want).max()
assert err < 1e-6, err
print("Conv1d with 1-tuples equals PyTorch")
"""

FLATTEN_DIMS = """\
import numpy as np, torch
from backproplab import nn
x = np.zeros((2, 3, 4, 5))
for start, end in [(1, -1), (0, -1), (-2, -1), (1, 2), (2, 2), (-3, -2)]:
    got = nn.Flatten(start, end).forward(x).shape
    want = tuple(torch.nn.Flatten(start, end)(torch.zeros(2, 3, 4, 5)).shape)
    assert got == want, (start, end, got, want)
print("Flatten(start_dim, end_dim) shapes equal PyTorch's")
"""

MAXPOOL_TIES = """\
import numpy as np, torch
from backproplab import nn
x = np.full((1, 1, 4, 4), -np.inf); x[0, 0, 0, 1] = x[0, 0, 1, 0] = 1.0
dy = np.arange(1.0, 5.0).reshape(1, 1, 2, 2)
pool = nn.MaxPool2d(2); y = pool.forward(x); dx = pool.backward(dy)
t = torch.tensor(x, requires_grad=True); torch.nn.MaxPool2d(2)(t).backward(torch.tensor(dy))
assert np.array_equal(y, torch.nn.MaxPool2d(2)(torch.tensor(x)).numpy())
assert np.array_equal(dx, t.grad.numpy()), (dx, t.grad)
print("MaxPool2d on -inf and ties routes the gradient as PyTorch does")
"""

OPTIM_NO_GRAD = """\
import numpy as np
from backproplab import nn, optim
for name, make in [("SGD", lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9, weight_decay=0.1)),
                   ("Adam", lambda ps: optim.Adam(ps, lr=0.1, weight_decay=0.1)),
                   ("AdamW", lambda ps: optim.AdamW(ps, lr=0.1)), ("RMSprop", lambda ps: optim.RMSprop(ps, lr=0.1))]:
    used, unused = nn.Parameter(np.ones(3)), nn.Parameter(np.ones(3))
    opt = make([used, unused])
    for _ in range(3):
        opt.zero_grad(); used.grad += 1.0; opt.step()
    assert np.array_equal(unused.data, np.ones(3)), (name, unused.data)
    assert not np.array_equal(used.data, np.ones(3)), name
print("SGD, Adam, AdamW and RMSprop leave a parameter without a gradient untouched")
"""


def faults() -> list[Probe]:
    f = "faults: interrupts, workers, permissions, pipes"
    return [
        Probe("fault-ctrl-c", f, "Ctrl-C during a cnn run (DataParallel workers)", python=SIGINT_LAB, status=130,
              words=("interrupted", "resumes"), timeout=90, lines=2),
        Probe("fault-dead-worker", f, "a DataParallel worker killed between steps", python=DEAD_WORKER, status=0,
              words=("within 2 s",), timeout=60),
        Probe("fault-umask-022", f, "files a run writes under umask 022",
              shell="umask 022; $BPL lab graph --quick --quiet --out run >/dev/null && stat -c %a run/result.json "
                    "run/report.md run/config.json | sort -u", status=0, words=("644",)),
        Probe("fault-umask-002", f, "files a run writes under umask 002",
              shell="umask 002; $BPL lab graph --quick --quiet --out run >/dev/null && stat -c %a run/result.json "
                    "run/report.md | sort -u", status=0, words=("664",)),
        Probe("fault-closed-pipe", f, "output into a pipe closed early", shell="$BPL course list --lang en | head -1",
              status=0, words=("000",)),
        Probe("fault-closed-pipe-lab-list", f, "the lab list into a pipe closed early", shell="$BPL lab | head -1",
              status=0, words=("usage",)),
        Probe("fault-debug", f, "--debug shows the traceback", argv=("lab", "graph", "--quick", "--out", "afile",
              "--debug"), status=1, words=("Traceback",), lines=100, traceback=True,
              setup=lambda d: (d / "afile").write_text("x")),
    ]


def _report_says(*texts):
    def check(folder):
        report = (folder / "run" / "report.md")
        if not report.exists():
            return "no report.md"
        body = report.read_text().lower()
        return None if any(t in body for t in texts) else f"report.md does not say {' or '.join(texts)}"
    return check


def numbers() -> list[Probe]:
    f = "runs that diverge or overflow"
    said = _report_says("diverge", "explode", "overflow", "not finite", "nan")
    run = ("--quick", "--quiet", "--out", "run")
    return [
        Probe("num-cnn-lr-huge", f, "cnn at --lr 1e6", argv=("lab", "cnn", *run, "--train-size", "64",
              "--test-size", "32", "--num-epochs", "1", "--lr", "1e6", "--threads", "1"), status=0,
              words=("cnn: wrote run/report.html",), check=said, timeout=120),
        Probe("num-l2-lr-huge", f, "l2 at --lr 1e300", argv=("lab", "l2", *run, "--lr", "1e300"), status=0,
              words=("l2: wrote run/report.html",), check=said, timeout=120),
        Probe("num-init-large-scale", f, "init with --large-scale 1000 (its largest)", argv=("lab", "init", *run,
              "--large-scale", "1000"), status=0, words=("init: wrote run/report.html",), timeout=120),
        Probe("num-optimizers-lr", f, "optimizers with --lr-gd 1e300", argv=("lab", "optimizers", *run, "--lr-gd",
              "1e300"), status=0, words=("optimizers: wrote run/report.html",), check=said, timeout=180),
        Probe("num-quadratic-lr", f, "quadratic with learning rates 100/λ_max", argv=("lab", "quadratic", *run,
              "--lr-factors", "100"), status=0, words=("quadratic: wrote run/report.html",), check=said, timeout=120),
        Probe("num-saturation-scale", f, "saturation with --large-scale 1000", argv=("lab", "saturation", *run,
              "--large-scale", "1000"), status=0, words=("saturation: wrote run/report.html",), timeout=120),
        Probe("num-nan-targets", f, "NaN targets are a data error, not divergence", argv=("lab", "activations", *run,
              "--data-dir", "npz"), status=1, words=("y_train.npz", "label"),
              setup=lambda d: files.npz_set(d / "npz", 20, y_train=np.full(20, np.nan))),
    ]


def library() -> list[Probe]:
    f = "library edge cases (checked against PyTorch)"
    return [
        Probe("lib-conv1d-tuples", f, "Conv1d with kernel_size, stride, padding, dilation as 1-tuples",
              python=CONV1D_TUPLES, status=0, words=("equals PyTorch",)),
        Probe("lib-flatten-dims", f, "Flatten with negative and equal start/end dims", python=FLATTEN_DIMS, status=0,
              words=("equal PyTorch",)),
        Probe("lib-maxpool-ties", f, "MaxPool2d over -inf and tied maxima", python=MAXPOOL_TIES, status=0,
              words=("as PyTorch does",)),
        Probe("lib-optim-no-grad", f, "an optimizer step with a parameter that got no gradient", python=OPTIM_NO_GRAD,
              status=0, words=("untouched",)),
    ]


def probes() -> list[Probe]:
    return faults() + numbers() + library()
