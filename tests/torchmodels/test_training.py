"""torchmodels.training.train_model (the eager loop of benchmarks/bench_mobilenet.py): a run killed after
2 epochs and resumed from its checkpoint repeats the uninterrupted run bit for bit (CPU, deterministic)."""
from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="the MobileNet models need the optional extra backproplab[torch]")

from backproplab.torchmodels import MobileNetV2  # noqa: E402
from backproplab.torchmodels.training import TrainSettings, train_model  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")


class Killed(Exception):
    pass


def test_resume_after_kill_repeats_the_uninterrupted_run(tmp_path):
    rng = np.random.default_rng(0)
    x = torch.tensor(rng.standard_normal((64, 1, 16, 16)), dtype=torch.float32)
    y = torch.tensor(rng.integers(0, 10, 64))
    settings = TrainSettings(num_epochs=3, batch_size=32, lr=0.05, crop_pad=2, seed=3, progress=False)

    def fresh():
        torch.manual_seed(1)
        return MobileNetV2(0.25, 10, 16, in_channels=1, variant="cifar")

    torch.use_deterministic_algorithms(True)
    try:
        whole = fresh()
        full = train_model(whole, x, y, x[:16], y[:16], settings, checkpoint_path=tmp_path / "a.pt", tag="t")

        def kill_after_two(epoch, history):
            if epoch == 2:
                raise Killed

        with pytest.raises(Killed):
            train_model(fresh(), x, y, x[:16], y[:16], settings, checkpoint_path=tmp_path / "b.pt", tag="t",
                        on_epoch_end=kill_after_two)
        assert torch.load(tmp_path / "b.pt", weights_only=True)["epoch"] == 2
        resumed_model = fresh()
        resumed = train_model(resumed_model, x, y, x[:16], y[:16], settings, checkpoint_path=tmp_path / "b.pt",
                              tag="t")
    finally:
        torch.use_deterministic_algorithms(False)
    assert resumed.resumed_from_epoch == 2 and full.resumed_from_epoch == 0
    for key in ("train_loss", "train_acc", "test_loss", "test_acc", "lr"):
        assert resumed.history[key] == full.history[key], key
    whole_state, resumed_state = whole.state_dict(), resumed_model.state_dict()
    assert all(torch.equal(whole_state[k], resumed_state[k]) for k in whole_state)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.pt", "b.pt"]  # no temporary files left
    # a different tag (another model's checkpoint) is not resumed from
    other = train_model(fresh(), x, y, x[:16], y[:16], settings, checkpoint_path=tmp_path / "b.pt", tag="other")
    assert other.resumed_from_epoch == 0
