"""Resuming a Trainer from its checkpoint: a run killed mid-epoch (SIGKILL) or after an epoch (os._exit)
resumes bit-identical to a run never stopped (weights, optimizer state, history), from a pickle-free
checkpoint; a checkpoint from other settings is refused with both settings named."""
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from backproplab import nn, optim
from backproplab.train import Trainer

SRC = str(Path(__file__).resolve().parents[2] / "src")


CHILD = textwrap.dedent("""
    import os, signal, sys
    import numpy as np
    from backproplab import nn, optim
    from backproplab.train import Trainer

    ckpt, out, kill = sys.argv[1], sys.argv[2], sys.argv[3]
    rng = np.random.default_rng(0)
    x = rng.standard_normal((60, 6)).astype(np.float32)
    y = (x[:, 0] - x[:, 2] > 0).astype(np.int64) + (x[:, 1] > 1).astype(np.int64)
    model = nn.Sequential(nn.Linear(6, 16, rng=rng), nn.ReLU(), nn.Dropout(0.3, rng=np.random.default_rng(1)),
                          nn.Linear(16, 3, rng=rng))

    class KillAt(optim.Adam):
        steps = 0
        def step(self):
            super().step()
            KillAt.steps += 1
            if kill.startswith("sigkill:") and KillAt.steps == int(kill[8:]):
                os.kill(os.getpid(), signal.SIGKILL)  # mid-epoch, as a real kill

    def exit_after(trainer, epoch, history):
        if kill.startswith("exit:") and epoch + 1 == int(kill[5:]):
            os._exit(3)  # no cleanup, no flush

    trainer = Trainer(model, nn.CrossEntropyLoss(), KillAt(model.parameters(), lr=0.02), batch_size=16,
                      num_epochs=6, rng=np.random.default_rng(2), checkpoint_path=ckpt or None,
                      callbacks=[exit_after])
    h = trainer.fit(x, y, x, y)
    np.savez(out, train_loss=h.train_loss, test_acc=h.test_acc, **model.state_dict(),
             **{"opt." + k: v for k, v in trainer.optimizer.state_dict().items()})
""")


def run_child(tmp_path, ckpt, out, kill):
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    env = {"PYTHONPATH": SRC, "PATH": "/usr/bin:/bin", "OPENBLAS_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, str(script), str(ckpt), str(out), kill], env=env,
                          capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("reference")
    proc = run_child(tmp, "", tmp / "ref.npz", "none")
    assert proc.returncode == 0, proc.stderr
    with np.load(tmp / "ref.npz", allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


@pytest.mark.parametrize("kill, code", [("sigkill:10", -9), ("exit:2", 3)], ids=["sigkill_mid_epoch", "os_exit"])
def test_killed_run_resumes_bit_identical(tmp_path, uninterrupted, kill, code):
    ckpt, out = tmp_path / "run.ckpt.npz", tmp_path / "out.npz"
    killed = run_child(tmp_path, ckpt, out, kill)
    assert killed.returncode == code, killed.stderr
    assert ckpt.exists() and not out.exists()
    with np.load(ckpt, allow_pickle=False) as z:  # plain arrays only: no pickle needed to read it
        arrays = {k: z[k] for k in z.files}
    assert all(a.dtype != object for a in arrays.values())
    assert json.loads(str(arrays["meta"]))["epoch"] == 2  # 4 steps per epoch: killed in (or after) epoch 2/3
    resumed = run_child(tmp_path, ckpt, out, "none")
    assert resumed.returncode == 0, resumed.stderr
    with np.load(out, allow_pickle=False) as z:
        final = {k: z[k] for k in z.files}
    assert final.keys() == uninterrupted.keys()
    for k, v in uninterrupted.items():
        assert np.array_equal(final[k], v), k  # bit-identical, optimizer state and history included


def test_checkpoint_from_other_settings_is_refused(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((50, 4)).astype(np.float32)
    y = (x[:, 0] + 0.5 * x[:, 1] > 0).astype(np.int64)
    ckpt = tmp_path / "c.npz"
    model = nn.Sequential(nn.Linear(4, 8, rng=rng), nn.Tanh(), nn.Linear(8, 2, rng=rng))
    Trainer(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1), batch_size=10, num_epochs=1,
            rng=np.random.default_rng(0), checkpoint_path=ckpt).fit(x, y)
    other = Trainer(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1), batch_size=5,
                    num_epochs=2, rng=np.random.default_rng(0), checkpoint_path=ckpt)
    with pytest.raises(ValueError, match="batch_size=10.*batch_size=5"):
        other.fit(x, y)
    ckpt.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="damaged.*delete it"):
        other.fit(x, y)
