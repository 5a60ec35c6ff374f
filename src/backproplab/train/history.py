"""What a training run measured, epoch by epoch (and step by step when asked)."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass
class History:
    """Per-epoch curves of a :class:`~backproplab.train.Trainer` run.

    Lists are indexed by epoch (0 = after the first epoch). ``step_loss`` holds the
    training loss of every optimizer step when ``record_steps=True``.
    ``grad_norms[name]`` is the mean over the epoch's steps of ‖∂L/∂θ‖₂ for each
    parameter (``record_grad_norms=True``); ``weight_norm`` is Σθ² over weights
    (2+ dim parameters) at the end of each epoch.
    """

    train_loss: list = field(default_factory=list)
    train_acc: list = field(default_factory=list)
    test_loss: list = field(default_factory=list)
    test_acc: list = field(default_factory=list)
    epoch_time: list = field(default_factory=list)
    weight_norm: list = field(default_factory=list)
    step_loss: list = field(default_factory=list)
    grad_norms: dict = field(default_factory=dict)

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
