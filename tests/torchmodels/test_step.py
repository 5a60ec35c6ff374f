"""The study's step engines on the CPU: loss, fall-backs (no CUDA, failed compile, failed capture), warm-up trace."""
from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402
from torch.nn import functional as F  # noqa: E402

from backproplab.torchmodels import build_model  # noqa: E402
from backproplab.torchmodels import step as step_module  # noqa: E402
from backproplab.torchmodels.sgd import NesterovSGD, decay_groups  # noqa: E402
from backproplab.torchmodels.step import EvalStep, TrainStep, loss_and_stats, prepare  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def make_step(amp=False, channels_last=False, k=1):
    torch.manual_seed(0)
    model = build_model("v2", 0.25, 10, 8, in_channels=1, variant="cifar")
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    gen = torch.Generator().manual_seed(1)
    x = torch.randn((6, 1, 8, 8), generator=gen)
    y = torch.randint(0, 10, (6, k), generator=gen)
    opt = NesterovSGD(decay_groups(model, 5e-4), 0.9)
    opt.set_lr(0.1)
    return TrainStep(model, opt, x, y, k, 0.1, amp)


def test_loss_and_stats_against_cross_entropy():
    gen = torch.Generator().manual_seed(0)
    logits = torch.randn((7, 2 * 5), generator=gen, dtype=torch.float64)
    y = torch.randint(0, 5, (7, 2), generator=gen)
    loss, stats = loss_and_stats(logits, y, 2, label_smoothing=0.1)
    parts = [F.cross_entropy(logits[:, 5 * j:5 * (j + 1)], y[:, j], label_smoothing=0.1) for j in range(2)]
    assert loss.item() == pytest.approx(sum(parts).item(), rel=1e-12)  # each model its own mean loss
    for j in range(2):
        assert stats[j, 0].item() == pytest.approx(7 * parts[j].item(), rel=1e-12)
        assert stats[j, 1].item() == (logits[:, 5 * j:5 * (j + 1)].argmax(1) == y[:, j]).sum().item()
    valid = torch.tensor([True] * 4 + [False] * 3)
    _, masked = loss_and_stats(logits, y, 2, valid=valid)
    _, first4 = loss_and_stats(logits[:4], y[:4], 2)
    assert torch.allclose(masked, first4, rtol=1e-12)


def test_graph_engine_on_cpu_is_eager_and_says_why():
    step = make_step()
    prepared = prepare(step, "graph", warmup=1)
    assert prepared.engine == "eager" and "CUDA graphs need a CUDA device" in prepared.note
    prepared.run()
    assert step.stats[0, 0] > 0
    with pytest.raises(ValueError, match="engine"):
        prepare(step, "fast")


def test_warm_up_leaves_no_trace():
    step = make_step()
    before = {k: v.clone() for k, v in step.model.state_dict().items()}
    prepare(step, "eager", warmup=3)
    after = step.model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)  # weights and BatchNorm statistics
    assert all(b.abs().sum() == 0 for bufs in step.optimizer.buffers for b in bufs)
    assert step.stats.abs().sum() == 0


def test_failed_compile_falls_back(monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("no compiler here\nsecond line")

    monkeypatch.setattr(torch, "compile", broken)
    step = make_step()
    prepared = prepare(step, "compile", warmup=1)
    assert prepared.engine == "eager" and prepared.compile_s is None
    assert "torch.compile failed (RuntimeError: no compiler here)" in prepared.note
    assert step.forward is step.model
    prepared.run()


def test_compiled_forward_is_timed_and_used(monkeypatch):
    calls = []

    def fake_compile(model, **kwargs):
        calls.append(kwargs)
        return lambda x: model(x)

    monkeypatch.setattr(torch, "compile", fake_compile)
    step = make_step()
    prepared = prepare(step, "compile", warmup=1)
    assert calls == [{"dynamic": False}] and prepared.compile_s > 0 and prepared.engine == "compile"


def test_failed_capture_falls_back_to_eager(monkeypatch):
    monkeypatch.setattr(step_module, "graphs_available", lambda x: True)

    def broken_capture(step, warmup):
        step.eager()  # the warm-up ran and changed the state before the capture failed
        raise RuntimeError("operation not permitted when stream is capturing")

    monkeypatch.setattr(step_module, "capture_graph", broken_capture)
    step = make_step()
    before = {k: v.clone() for k, v in step.model.state_dict().items()}
    prepared = prepare(step, "graph", warmup=1)
    assert prepared.engine == "eager" and "CUDA graph capture failed (RuntimeError" in prepared.note
    assert all(torch.equal(before[k], v) for k, v in step.model.state_dict().items())


def test_bf16_autocast_and_channels_last_on_cpu():
    step = make_step(amp=True, channels_last=True)
    dtypes = []
    step.model.features[0][0].register_forward_hook(lambda m, i, o: dtypes.append((o.dtype, o.is_contiguous(
        memory_format=torch.channels_last))))
    prepare(step, "eager", warmup=1).run()
    assert dtypes[-1] == (torch.bfloat16, True)
    assert torch.isfinite(step.stats).all()


def test_eval_step_counts_only_valid_rows():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(4, 3)).eval()
    x = torch.randn(5, 1, 2, 2)
    y = torch.tensor([0, 1, 2, 0, 1])
    valid = torch.tensor([True, True, True, False, False])
    e = EvalStep(model, x, y, valid, 1, amp=False)
    prepare(e, "graph", warmup=2).run()
    hits = (model(x).argmax(1) == y)[:3].sum().item()
    assert e.stats[0, 1].item() == hits
