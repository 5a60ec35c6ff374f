"""What a training run measured, epoch by epoch (and step by step when asked)."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass
class History:
    """Per-epoch curves of a :class:`~backproplab.train.Trainer` run.

    Lists are indexed by epoch (0 = after the first epoch). ``train_acc``/``test_acc`` hold
    the Trainer's metric (accuracy unless ``metric`` names another; None with ``metric=None``).
    ``step_loss`` holds the training loss of every optimizer step when ``record_steps=True``,
    and ``step_grad_norm`` the global gradient norm ‖∂L/∂θ‖₂ of every step, before any
    clipping, when ``record_step_grad_norms=True``; ``epoch_steps[e]`` is the number of
    steps epoch e took (to cut the per-step lists by epoch).
    ``grad_norms[name]`` is the mean over the epoch's steps of ‖∂L/∂θ‖₂ for each
    parameter (``record_grad_norms=True``); ``weight_norm`` is Σθ² over weights
    (2+ dim parameters) at the end of each epoch. ``diverged_at`` is set when the loss
    became NaN or inf: ``{"epoch": e, "step": s, "loss": value}`` (1-based, as the error says).
    """

    train_loss: list = field(default_factory=list)
    train_acc: list = field(default_factory=list)
    test_loss: list = field(default_factory=list)
    test_acc: list = field(default_factory=list)
    epoch_time: list = field(default_factory=list)
    weight_norm: list = field(default_factory=list)
    step_loss: list = field(default_factory=list)
    grad_norms: dict = field(default_factory=dict)
    step_grad_norm: list = field(default_factory=list)
    epoch_steps: list = field(default_factory=list)
    diverged_at: dict | None = None
    metric: str | None = "accuracy"

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "History":
        return cls(**{k: d[k] for k in cls.__dataclass_fields__ if k in d})

    def epoch_rows(self) -> list[dict]:
        """One flat dict per epoch, for CSV."""
        rows = []
        for e in range(len(self.train_loss)):
            row = {"epoch": e + 1, "train_loss": self.train_loss[e], "train_acc": self.train_acc[e]}
            if self.test_loss:
                row["test_loss"], row["test_acc"] = self.test_loss[e], self.test_acc[e]
            row["weight_norm"] = self.weight_norm[e] if e < len(self.weight_norm) else None
            row["epoch_time"] = self.epoch_time[e]
            rows.append(row)
        return rows
