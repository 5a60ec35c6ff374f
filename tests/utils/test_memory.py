"""utils.memory.retain_freed_memory: applied on Linux (glibc), idempotent, and a training step
then runs without fresh pages from the kernel (page faults counted in a subprocess)."""
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

SRC = str(Path(__file__).resolve().parents[1] / "src")

LOOP = textwrap.dedent("""
    import resource, sys
    import numpy as np
    sys.path.insert(0, {src!r})
    from backproplab import nn
    from backproplab.utils import retain_freed_memory
    if sys.argv[1] == "retain":
        assert retain_freed_memory() and retain_freed_memory()  # applied, and again: idempotent
    rng = np.random.default_rng(0)
    model = nn.Sequential(nn.Conv2d(1, 16, 3, padding=1, rng=rng), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Conv2d(16, 32, 3, padding=1, rng=rng), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Flatten(), nn.Linear(32 * 7 * 7, 10, rng=rng))
    x = rng.standard_normal((32, 1, 28, 28)).astype(np.float32)
    def steps(n):
        for _ in range(n):
            y = model.forward(x)
            model.backward(np.ones_like(y))
    steps(500)  # warm-up: the heap grows to its working size (a few one-time growths up to about step 350)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    steps(100)
    print((resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 100)
""")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_training_steps_take_no_fresh_pages_once_freed_memory_is_kept():
    def faults(mode):
        out = subprocess.run([sys.executable, "-c", LOOP.format(src=SRC), mode], capture_output=True, text=True,
                             env={"OPENBLAS_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"}, timeout=300)
        assert out.returncode == 0, out.stderr
        return float(out.stdout.split()[-1])

    kept, default = faults("retain"), faults("default")
    assert kept < 2, kept  # per step; about 300 with glibc's defaults on the project machine
    print(f"page faults per step: {default:.0f} by default, {kept:.1f} with retain_freed_memory()")
