"""Learning-rate schedulers with PyTorch's names, arguments and numbers.

    scheduler = StepLR(optimizer, step_size=30, gamma=0.1)
    for epoch in range(num_epochs):
        train(...)              # optimizer.step() for every batch
        scheduler.step()        # after the epoch (OneCycleLR: after every batch)

Construction sets every group's lr to the schedule's value at ``last_epoch = 0`` (and
records ``initial_lr`` in the group, as PyTorch). ``step()`` advances ``last_epoch`` by one
and writes the new lr into the optimizer's groups; ``get_last_lr()`` returns them.

StepLR, MultiStepLR, ExponentialLR and CosineAnnealingLR are *chainable*, as in PyTorch: a
step scales the group's current lr, so a change made by other code (or by another
scheduler) carries on. LambdaLR and OneCycleLR compute the lr from their base values.

``state_dict()`` holds plain JSON values only (so a checkpoint needs no pickle); the
optimizer's own state dict holds the current lr, momentum and betas of every group.

Reference: https://pytorch.org/docs/stable/optim.html#how-to-adjust-learning-rate
"""
from __future__ import annotations

import math
from typing import Callable

from .optimizer import Optimizer


def _per_group(name: str, optimizer: Optimizer, value) -> list:
    """One value per parameter group from a number or a list with one entry per group."""
    if isinstance(value, (list, tuple)):
        if len(value) != len(optimizer.param_groups):
            raise ValueError(f"{name} has {len(value)} values but the optimizer has "
                             f"{len(optimizer.param_groups)} parameter groups")
        return list(value)
    return [value] * len(optimizer.param_groups)


class LRScheduler:
    """Base class: subclasses implement :meth:`get_lr` (the lrs at ``last_epoch``).

    Args:
        optimizer: the :class:`~backproplab.optim.Optimizer` whose groups' ``lr`` it sets.
        last_epoch: index of the last step taken; -1 (default) starts the schedule. A value
            >= 0 resumes one and needs ``initial_lr`` in every group (a restored optimizer).
    """

    #: attributes besides the step counters that ``state_dict`` saves (hyperparameters, as PyTorch)
    _saved: tuple[str, ...] = ()

    def __init__(self, optimizer: Optimizer, last_epoch: int = -1):
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{type(self).__name__} needs a backproplab Optimizer, got {type(optimizer).__name__}")
        self.optimizer = optimizer
        for i, group in enumerate(optimizer.param_groups):
            if last_epoch == -1:
                group.setdefault("initial_lr", group["lr"])
            elif "initial_lr" not in group:
                raise ValueError(f"{type(self).__name__}(last_epoch={last_epoch}) resumes a schedule, but "
                                 f"param_groups[{i}] has no 'initial_lr'; restore the optimizer's state first")
        self.base_lrs = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = last_epoch
        self._step_count = 0
        self._is_initial = True  # the constructor's step sets the lr at last_epoch = 0
        self.step()
        self._is_initial = False

    def get_lr(self) -> list[float]:  # pragma: no cover - abstract
        raise NotImplementedError

    def step(self) -> None:
        """Advance one epoch (or one batch, for per-step schedules) and set every group's lr."""
        self._step_count += 1
        self.last_epoch += 1
        for group, lr in zip(self.optimizer.param_groups, self.get_lr()):
            group["lr"] = lr
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]

    def get_last_lr(self) -> list[float]:
        """The lr of every group as the last :meth:`step` set it."""
        return list(self._last_lr)

    def _current(self) -> list[float]:
        return [group["lr"] for group in self.optimizer.param_groups]

    def state_dict(self) -> dict:
        """Plain JSON values: the type, ``last_epoch``, ``base_lrs``, the last lrs and the hyperparameters."""
        state = {"type": type(self).__name__, "last_epoch": self.last_epoch, "base_lrs": list(self.base_lrs),
                 "_step_count": self._step_count, "_last_lr": list(self._last_lr)}
        state.update({name: getattr(self, name) for name in self._saved})
        return state

    def load_state_dict(self, state: dict) -> None:
        """Restore :meth:`state_dict`'s output (restore the optimizer's state too: it holds the lrs)."""
        if state.get("type") != type(self).__name__:
            raise ValueError(f"the scheduler state belongs to {state.get('type')}, not {type(self).__name__}")
        for key, value in state.items():
            if key != "type":
                setattr(self, key, value)


class LambdaLR(LRScheduler):
    """lr = initial_lr · lr_lambda(last_epoch), one function per group or one for all.

    The functions are not saved by :meth:`state_dict` (as PyTorch's, for plain functions):
    a resumed run passes the same ones to the constructor.
    Reference: https://pytorch.org/docs/stable/generated/torch.optim.lr_scheduler.LambdaLR.html
    """

    def __init__(self, optimizer: Optimizer, lr_lambda: Callable[[int], float] | list, last_epoch: int = -1):
        self.lr_lambdas = _per_group("lr_lambda", optimizer, lr_lambda)
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        return [base * f(self.last_epoch) for f, base in zip(self.lr_lambdas, self.base_lrs)]


class StepLR(LRScheduler):
    """lr ← lr · gamma every ``step_size`` epochs (closed form: initial_lr · gamma^⌊epoch/step_size⌋).

    Reference: https://pytorch.org/docs/stable/generated/torch.optim.lr_scheduler.StepLR.html
    """

    _saved = ("step_size", "gamma")

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1, last_epoch: int = -1):
        if not isinstance(step_size, int) or step_size < 1:
            raise ValueError(f"StepLR: step_size must be a positive integer, got {step_size!r}")
        self.step_size, self.gamma = step_size, gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        if self.last_epoch == 0 or self.last_epoch % self.step_size:
            return self._current()
        return [lr * self.gamma for lr in self._current()]


class MultiStepLR(LRScheduler):
    """lr ← lr · gamma at each epoch listed in ``milestones`` (gamma^k if it is listed k times).

    Reference: https://pytorch.org/docs/stable/generated/torch.optim.lr_scheduler.MultiStepLR.html
    """

    _saved = ("milestones", "gamma")

    def __init__(self, optimizer: Optimizer, milestones, gamma: float = 0.1, last_epoch: int = -1):
        self.milestones = sorted(int(m) for m in milestones)
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        hits = self.milestones.count(self.last_epoch)
        if not hits:
            return self._current()
        return [lr * self.gamma ** hits for lr in self._current()]


class ExponentialLR(LRScheduler):
    """lr ← lr · gamma every epoch (closed form: initial_lr · gamma^epoch).

    Reference: https://pytorch.org/docs/stable/generated/torch.optim.lr_scheduler.ExponentialLR.html
    """

    _saved = ("gamma",)

    def __init__(self, optimizer: Optimizer, gamma: float, last_epoch: int = -1):
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        if self._is_initial:
            return self._current()
        return [lr * self.gamma for lr in self._current()]


class CosineAnnealingLR(LRScheduler):
    """lr_t = eta_min + (initial_lr - eta_min)·(1 + cos(π·t/T_max))/2, reached as PyTorch does.

    Each step multiplies (lr - eta_min) by the ratio of consecutive cosine factors; at the
    bottom of the cosine (where that ratio is 0/0) it adds the increment instead. Past
    ``T_max`` the lr rises again (a cosine of period 2·T_max), as in PyTorch.

    Reference: Loshchilov & Hutter, "SGDR: Stochastic Gradient Descent with Warm Restarts",
    ICLR 2017; https://pytorch.org/docs/stable/generated/torch.optim.lr_scheduler.CosineAnnealingLR.html
    """

    _saved = ("T_max", "eta_min")

    def __init__(self, optimizer: Optimizer, T_max: int, eta_min: float = 0.0, last_epoch: int = -1):
        if T_max <= 0:
            raise ValueError(f"CosineAnnealingLR: T_max must be positive, got {T_max}")
        self.T_max, self.eta_min = T_max, eta_min
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        t, T, lo = self.last_epoch, self.T_max, self.eta_min
        if self._is_initial:
            return self._current()
        if (t - 1 - T) % (2 * T) == 0:  # just past the bottom: the ratio below would be 0/0
            return [lr + (base - lo) * (1 - math.cos(math.pi / T)) / 2
                    for lr, base in zip(self._current(), self.base_lrs)]
        ratio = (1 + math.cos(math.pi * t / T)) / (1 + math.cos(math.pi * (t - 1) / T))
        return [ratio * (lr - lo) + lo for lr in self._current()]


class OneCycleLR(LRScheduler):
    """The 1cycle policy, stepped after every batch: lr rises from max_lr/div_factor to max_lr
    over the first ``pct_start`` of ``total_steps``, then anneals to initial_lr/final_div_factor.

    With ``cycle_momentum`` (the default, as PyTorch) the momentum of SGD/RMSprop, or β₁ of
    Adam/AdamW, moves the other way between ``max_momentum`` and ``base_momentum``.
    ``three_phase=True`` is the paper's form (up, back down to initial_lr, then to the minimum).

    Args (as PyTorch): max_lr (number or one per group), total_steps or (epochs and
    steps_per_epoch), pct_start, anneal_strategy ('cos' or 'linear'), cycle_momentum,
    base_momentum, max_momentum, div_factor, final_div_factor, three_phase, last_epoch.

    Reference: Smith & Topin, "Super-Convergence", 2017 (arXiv:1708.07120);
    https://pytorch.org/docs/stable/generated/torch.optim.lr_scheduler.OneCycleLR.html
    """

    _saved = ("total_steps", "phases", "anneal_strategy", "cycle_momentum", "use_beta1")

    def __init__(self, optimizer: Optimizer, max_lr, total_steps: int | None = None, epochs: int | None = None,
                 steps_per_epoch: int | None = None, pct_start: float = 0.3, anneal_strategy: str = "cos",
                 cycle_momentum: bool = True, base_momentum=0.85, max_momentum=0.95, div_factor: float = 25.0,
                 final_div_factor: float = 1e4, three_phase: bool = False, last_epoch: int = -1):
        self.total_steps = self._total_steps(total_steps, epochs, steps_per_epoch)
        if not 0.0 <= pct_start <= 1.0:
            raise ValueError(f"OneCycleLR: pct_start must be in [0, 1], got {pct_start}")
        if anneal_strategy not in ("cos", "linear"):
            raise ValueError(f"OneCycleLR: anneal_strategy must be 'cos' or 'linear', got {anneal_strategy!r}")
        self.anneal_strategy = anneal_strategy
        up = float(pct_start * self.total_steps) - 1  # the last step of the rising phase
        # (end step, lr from, lr to, momentum from, momentum to); the names are keys of each group
        if three_phase:
            self.phases = [[up, "initial_lr", "max_lr", "max_momentum", "base_momentum"],
                           [float(2 * pct_start * self.total_steps) - 2, "max_lr", "initial_lr", "base_momentum",
                            "max_momentum"],
                           [self.total_steps - 1, "initial_lr", "min_lr", "max_momentum", "max_momentum"]]
        else:
            self.phases = [[up, "initial_lr", "max_lr", "max_momentum", "base_momentum"],
                           [self.total_steps - 1, "max_lr", "min_lr", "base_momentum", "max_momentum"]]
        if last_epoch == -1:
            for group, top in zip(optimizer.param_groups, _per_group("max_lr", optimizer, max_lr)):
                group["initial_lr"] = top / div_factor
                group["max_lr"] = top
                group["min_lr"] = group["initial_lr"] / final_div_factor
        self.cycle_momentum = bool(cycle_momentum)
        self.use_beta1 = "betas" in optimizer.defaults
        if self.cycle_momentum:
            self._init_momentum(optimizer, base_momentum, max_momentum, last_epoch)
        super().__init__(optimizer, last_epoch)

    @staticmethod
    def _total_steps(total_steps, epochs, steps_per_epoch) -> int:
        if total_steps is not None:
            if not isinstance(total_steps, int) or total_steps <= 0:
                raise ValueError(f"OneCycleLR: total_steps must be a positive integer, got {total_steps!r}")
            return total_steps
        if epochs is None or steps_per_epoch is None:
            raise ValueError("OneCycleLR needs total_steps, or both epochs and steps_per_epoch")
        for name, v in (("epochs", epochs), ("steps_per_epoch", steps_per_epoch)):
            if not isinstance(v, int) or v <= 0:
                raise ValueError(f"OneCycleLR: {name} must be a positive integer, got {v!r}")
        return epochs * steps_per_epoch

    def _init_momentum(self, optimizer, base_momentum, max_momentum, last_epoch) -> None:
        if "momentum" not in optimizer.defaults and not self.use_beta1:
            raise ValueError(f"OneCycleLR(cycle_momentum=True) needs an optimizer with momentum or betas; "
                             f"{type(optimizer).__name__} has neither: pass cycle_momentum=False")
        if last_epoch != -1:
            return
        tops = _per_group("max_momentum", optimizer, max_momentum)
        bases = _per_group("base_momentum", optimizer, base_momentum)
        for group, top, base in zip(optimizer.param_groups, tops, bases):
            self._set_momentum(group, top)
            group["max_momentum"], group["base_momentum"] = top, base

    def _set_momentum(self, group: dict, value: float) -> None:
        if self.use_beta1:
            group["betas"] = (value, *group["betas"][1:])
        else:
            group["momentum"] = value

    def _anneal(self, start: float, end: float, pct: float) -> float:
        if self.anneal_strategy == "cos":
            return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)
        return (end - start) * pct + start

    def get_lr(self):
        t = self.last_epoch
        if t > self.total_steps:
            raise ValueError(f"OneCycleLR stepped {t} times but total_steps is {self.total_steps}; "
                             "give it the run's real number of optimizer steps")
        lrs = []
        for group in self.optimizer.param_groups:
            start = 0.0
            for i, (end, lr_from, lr_to, m_from, m_to) in enumerate(self.phases):
                if t <= end or i == len(self.phases) - 1:
                    pct = (t - start) / (end - start)
                    break
                start = end
            lrs.append(self._anneal(group[lr_from], group[lr_to], pct))
            if self.cycle_momentum:
                self._set_momentum(group, self._anneal(group[m_from], group[m_to], pct))
        return lrs


#: scheduler classes by name
SCHEDULERS = {cls.__name__: cls for cls in (LambdaLR, StepLR, MultiStepLR, ExponentialLR, CosineAnnealingLR,
                                            OneCycleLR)}
