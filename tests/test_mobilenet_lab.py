"""The mobilenet lab end to end (quick mode, CPU) and its resume after a kill."""
from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="the mobilenet lab needs the optional extra backproplab[torch]")

from backproplab.labs import mobilenet  # noqa: E402
from backproplab.torchmodels import MobileNetV2  # noqa: E402
from backproplab.torchmodels.training import TrainSettings, train_model  # noqa: E402


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def write_cifar_binary(root, rng, n=60):
    """CIFAR-10's binary version, as the official archive unpacks it (records of 1 + 3072 bytes)."""
    folder = root / "cifar-10-batches-bin"
    folder.mkdir(parents=True)
    for name in [f"data_batch_{i}.bin" for i in range(1, 6)] + ["test_batch.bin"]:
        y = rng.integers(0, 10, n).astype(np.uint8)
        x = rng.integers(0, 256, (n, 3072)).astype(np.uint8)
        (folder / name).write_bytes(np.concatenate([y[:, None], x], axis=1).tobytes())
    return folder


def test_quick_lab_on_cifar_files(tmp_path):
    write_cifar_binary(tmp_path / "data", np.random.default_rng(0))
    config = mobilenet.Config(quick=True, dataset="auto", data_dir=str(tmp_path / "data"), device="cpu")
    out = tmp_path / "run"
    result = mobilenet.run(config, out)
    rows = result["results"]
    assert [(r["model"], r["width"], r["resolution"]) for r in rows] == [
        ("v2", 0.25, 16), ("v2", 0.25, 8), ("v1", 0.25, 16), ("cnn", 0.25, 16)]
    for r in rows:
        assert 0.0 <= r["test_acc"] <= 1.0 and r["macs"] > 0 and r["latency_b1_ms"] > 0
    assert rows[1]["macs"] < rows[0]["macs"]  # the 8px input costs less
    assert all(row["matches"] for row in result["imagenet_table"])
    report = (out / "report.md").read_text()
    assert "CIFAR-10" in report and "Fashion-MNIST" not in report
    for name in ("config.json", "results.csv", "curves.csv", "accuracy_vs_macs.png", "latency_vs_macs.png"):
        assert (out / name).exists(), name
    # a second call with the same config finds every run finished: same numbers, nothing retrained
    again = mobilenet.run(config, out)
    assert json.dumps(again["results"]) == json.dumps(rows)


def test_fashion_mnist_fallback_when_no_cifar(monkeypatch):
    monkeypatch.delenv("BACKPROPLAB_CIFAR10", raising=False)
    config = mobilenet.quick_overrides(mobilenet.Config(quick=True))
    try:
        data = mobilenet.load_data(config)
    except FileNotFoundError as e:
        pytest.skip(f"Fashion-MNIST is not on this machine: {e}")
    assert data["name"] == "Fashion-MNIST" and "CIFAR-10 was not found" in data["note"]
    assert data["x_train"].shape == (256, 1, 32, 32)
    assert np.all(data["x_train"][:, :, :2] == 0) and np.all(data["x_train"][:, :, :, -2:] == 0)  # the padding


class Killed(Exception):
    pass


def test_resume_after_kill_repeats_the_uninterrupted_run(tmp_path):
    """2 epochs, killed, resumed to 3 == 3 epochs uninterrupted, bit for bit (CPU, deterministic)."""
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
