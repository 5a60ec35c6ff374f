"""Checkpoints the Trainer must refuse with one clear ValueError, before restoring anything: damaged
files (empty, truncated, bit-flipped, compressed and corrupt, a missing record), an older format, another
model configuration, another checkpoint_tag, other model settings."""
import json

import numpy as np
import pytest

from backproplab import nn, optim
from backproplab.train import Trainer
from backproplab.utils.io import load_npz


def small_problem(n=40):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, 4)).astype(np.float32)
    return x, (x[:, 0] > 0).astype(np.int64)


def make_trainer(ckpt, hidden=8, tag=None, model=None, num_epochs=1):
    rng = np.random.default_rng(0)
    model = model or nn.Sequential(nn.Linear(4, hidden, rng=rng), nn.ReLU(), nn.Linear(hidden, 2, rng=rng))
    return Trainer(model, nn.CrossEntropyLoss(), optim.Adam(model.parameters(), lr=0.01), batch_size=10,
                   num_epochs=num_epochs, rng=np.random.default_rng(1), checkpoint_path=ckpt, checkpoint_tag=tag)


@pytest.fixture
def ckpt(tmp_path):
    path = tmp_path / "run.npz"
    make_trainer(path).fit(*small_problem())
    return path


def refused(path, match, **kwargs):
    """fit() on this checkpoint raises ValueError matching ``match`` and leaves the model as it was."""
    trainer = make_trainer(path, num_epochs=3, **kwargs)
    before = [p.data.copy() for p in trainer.model.parameters()]
    with pytest.raises(ValueError, match=match) as info:
        trainer.fit(*small_problem())
    assert all(np.array_equal(a, p.data) for a, p in zip(before, trainer.model.parameters()))
    return str(info.value)


DAMAGED = r"checkpoint .*run\.npz is damaged \(.*\); delete it to start the run afresh"


def test_empty_file(ckpt):
    ckpt.write_bytes(b"")
    assert "EOFError" in refused(ckpt, DAMAGED)


@pytest.mark.parametrize("keep", [0.2, 0.5, 0.9, 0.999])
def test_truncated_file(ckpt, keep):
    data = ckpt.read_bytes()
    ckpt.write_bytes(data[:int(len(data) * keep)])
    refused(ckpt, DAMAGED)


def test_bit_flips_anywhere_are_one_clear_error(ckpt):
    data = ckpt.read_bytes()
    messages = []
    for offset in np.linspace(0, len(data) - 1, 60).astype(int):
        flipped = bytearray(data)
        flipped[offset] ^= 0x10
        ckpt.write_bytes(bytes(flipped))
        trainer = make_trainer(ckpt, num_epochs=3)
        try:
            trainer.fit(*small_problem())
        except ValueError as e:
            assert str(e).startswith(f"checkpoint {ckpt}"), (offset, e)
            messages.append(str(e))
        # a flip in bytes the reader never uses (e.g. a zip header's timestamp) changes nothing
    assert sum("is damaged" in m for m in messages) >= 30


def test_corrupt_compressed_checkpoint(ckpt):
    """A checkpoint someone recompressed, then damaged: zlib's error is reported the same way."""
    arrays = load_npz(ckpt)
    np.savez_compressed(ckpt, **arrays)
    data = bytearray(ckpt.read_bytes())
    start = data.index(b"model.0.weight.npy") + 40  # inside that member's deflate stream
    for i in range(start, start + 8):
        data[i] ^= 0xFF
    ckpt.write_bytes(bytes(data))
    assert "zlib.error" in refused(ckpt, DAMAGED)


def rewrite_meta(ckpt, change):
    arrays = load_npz(ckpt)
    meta = json.loads(str(arrays["meta"]))
    change(meta)
    arrays["meta"] = np.array(json.dumps(meta))
    np.savez(ckpt, **arrays)


def test_missing_records(ckpt):
    rewrite_meta(ckpt, lambda m: m.pop("rng_states"))
    refused(ckpt, DAMAGED + "|lacks \\['rng_states'\\]")
    arrays = load_npz(ckpt)
    del arrays["meta"]
    np.savez(ckpt, **arrays)
    refused(ckpt, DAMAGED)


def test_older_format(ckpt):
    rewrite_meta(ckpt, lambda m: m.pop("format"))
    refused(ckpt, r"written by an older backproplab \(checkpoint format 1, this one reads 2\); delete it")


def test_another_model_configuration(ckpt):
    msg = refused(ckpt, "belongs to another model configuration", hidden=16)
    assert "0.weight has shape (8, 4) in the checkpoint, (16, 4) in the model" in msg
    rng = np.random.default_rng(0)
    deeper = nn.Sequential(nn.Linear(4, 8, rng=rng), nn.ReLU(), nn.Linear(8, 8, rng=rng), nn.Linear(8, 2, rng=rng))
    assert "missing keys ['3.bias', '3.weight']" in refused(ckpt, "another model configuration", model=deeper)


def test_other_checkpoint_tag(tmp_path):
    path = tmp_path / "run.npz"
    make_trainer(path, tag={"config": "abc123", "lr": [0.1, 0.2]}).fit(*small_problem())
    refused(path, r"checkpoint_tag .*'abc123'.* this run has .*'zzz'.*use the same settings or delete",
            tag={"config": "zzz", "lr": [0.1, 0.2]})
    refused(path, "checkpoint_tag", tag=None)
    make_trainer(path, tag={"lr": (0.1, 0.2), "config": "abc123"}, num_epochs=2).fit(*small_problem())  # same tag


class Sharded(nn.Sequential):
    """Stands for a wrapper whose settings decide the numbers (as DataParallel's shard count)."""

    def __init__(self, shards, *layers):
        super().__init__(*layers)
        self.shards = shards

    def checkpoint_settings(self):
        return {"data_parallel_shards": self.shards} if self.shards > 1 else {}


def sharded(shards):
    rng = np.random.default_rng(0)
    return Sharded(shards, nn.Linear(4, 8, rng=rng), nn.ReLU(), nn.Linear(8, 2, rng=rng))


def test_other_model_settings(tmp_path):
    path = tmp_path / "run.npz"
    make_trainer(path, model=sharded(2)).fit(*small_problem())
    msg = refused(path, "other model settings", model=sharded(3))
    assert "data_parallel_shards: 2 in the checkpoint, 3 in this run" in msg
    assert msg.endswith("use the same settings or delete the checkpoint") and "--" not in msg
    assert "2 in the checkpoint, absent in this run" in refused(path, "other model settings", model=sharded(1))
    make_trainer(path, model=sharded(2), num_epochs=2).fit(*small_problem())  # the same settings resume


def test_optimizer_state_of_an_older_format(ckpt):
    arrays = load_npz(ckpt)
    for key in ("optim.format", "optim.type", "optim.param_groups"):
        del arrays[key]
    np.savez(ckpt, **arrays)
    refused(ckpt, r"optimizer state lacks .* older backproplab.*delete the checkpoint")

