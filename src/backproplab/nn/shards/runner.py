"""The shard-runner interface, and its thread implementation.

A runner owns copies of a module, one per shard, and runs the shards of one call at once:

    sync()     make shards 1, 2, ... see the module's current parameters, buffers and modes
    run(call)  shard k of ``call`` on copy k (shard 0 on the module itself, in the calling
               thread), BatchNorm synchronized over the shards; every shard's result
    close()    release what the runner holds (worker processes); the next call starts afresh

:class:`ThreadRunner` runs shards 1.. in threads of this process on replicas (deep copies that
share the parameter arrays, but own their gradients and activations);
:class:`~backproplab.nn.shards.process.ProcessRunner` runs them in ``fork()``ed worker processes.

Reference: https://pytorch.org/docs/stable/generated/torch.nn.DataParallel.html
"""
from __future__ import annotations

import copy
from concurrent.futures import wait as wait_futures
from typing import NamedTuple

import numpy as np

from ...utils.cores import single_threaded_blas, thread_pool
from ..module import Module
from .group import ShardGroup, ThreadBarrier, batchnorms, raise_first, slots_shape


class ShardCall(NamedTuple):
    """One forward or backward over the shards of a batch.

    op: ``"forward"`` or ``"backward"``.
    args: per shard, the positional arguments (forward: the shard of x, then the other
        arguments; backward: the shard of dy).
    kwargs: per shard, the keyword arguments of forward (empty for backward).
    seeds: per shard 1, 2, ...: one seed per random layer (:func:`random_layers`), for a
        forward in training; empty lists otherwise.
    """

    op: str
    args: list[tuple]
    kwargs: list[dict]
    seeds: list[list[int]]


class ShardResults(NamedTuple):
    """values: per shard, forward's output or backward's dx (None where it was not computed).
    grads: after a backward, per shard 1, 2, ...: per parameter of the module (in
    ``parameters()`` order) that shard's gradient, or None where the shard did not reach it.
    Shard 0 adds its gradients into the module's own ``.grad`` directly."""

    values: list
    grads: list[list[np.ndarray | None]]


class ShardRunner:
    """Runs the shards of a call on copies of ``module``; see the module docstring."""

    def sync(self) -> None:
        raise NotImplementedError

    def run(self, call: ShardCall) -> ShardResults:
        raise NotImplementedError

    def close(self) -> None:
        """Release what the runner holds (nothing for threads)."""


def random_layers(module: Module) -> list[tuple[Module, str]]:
    """(layer, attribute) of every ``np.random.Generator`` a layer of ``module`` draws from."""
    return [(m, name) for m in module.modules() for name, value in vars(m).items()
            if isinstance(value, np.random.Generator)]


def seed_random_layers(layers: list[tuple[Module, str]], seeds: list[int]) -> None:
    """Give each random layer a fresh generator from its seed (a shard's own streams)."""
    for (m, name), seed in zip(layers, seeds):
        setattr(m, name, np.random.default_rng(seed))


def call_shard(model: Module, norms: list, group: ShardGroup, op: str, args, kwargs=None):
    """``model.forward(*args, **kwargs)`` or ``model.backward(*args)`` (``op``), with the model's
    BatchNorm layers synchronized through ``group``."""
    for m in norms:
        m.sync_group = group
    try:
        if op == "forward":
            return model.forward(*args, **kwargs)
        return model.backward(*args)
    finally:
        for m in norms:
            m.sync_group = None


class ThreadRunner(ShardRunner):
    """Shards 1 .. size-1 in the process-wide thread pool, on replicas of ``module``.

    ``models[k]`` runs shard k (``models[0]`` is ``module``). BLAS is held to one thread per
    call while the shards run: the shards already cover the cores.
    """

    def __init__(self, module: Module, size: int):
        self.module, self.size = module, size
        memo = {id(p.data): p.data for p in module.parameters()}  # replicas share the arrays
        self.models = [module] + [copy.deepcopy(module, dict(memo)) for _ in range(1, size)]
        # walked once here, not every step (Python work holds the GIL the other shards need)
        self._params = [m.parameters() for m in self.models]
        self._layers = [list(m.modules()) for m in self.models]
        self._norms = [batchnorms(m) for m in self.models]
        self._random = [random_layers(m) for m in self.models]
        self._slots = np.zeros(slots_shape(module, size))

    def sync(self) -> None:
        """Point every replica at the module's current arrays (an optimizer, ``to()`` or a
        BatchNorm update may have replaced them), modes and ``needs_input_grad``."""
        for k in range(1, self.size):
            for p, q in zip(self._params[0], self._params[k]):
                if q.data is not p.data:
                    q.data = p.data
                    q.grad = np.zeros_like(p.data)
            for m, r in zip(self._norms[0], self._norms[k]):
                r.running_mean, r.running_var = m.running_mean, m.running_var
            for m, r in zip(self._layers[0], self._layers[k]):
                r.training = m.training
            if self.models[k].needs_input_grad != self.module.needs_input_grad:
                self.models[k].needs_input_grad = self.module.needs_input_grad

    def run(self, call: ShardCall) -> ShardResults:
        shards = len(call.args)
        for k in range(1, shards):
            if call.op == "forward":
                seed_random_layers(self._random[k], call.seeds[k - 1])
            else:
                for q in self._params[k]:
                    q.zero_grad()
        barrier = ThreadBarrier(shards)

        def shard(rank):
            try:
                group = ShardGroup(rank, shards, self._slots, barrier)
                value = call_shard(self.models[rank], self._norms[rank], group, call.op, call.args[rank],
                                   call.kwargs[rank] if call.kwargs else None)
            except BaseException:
                barrier.abort()  # a shard waiting in an all-reduce must not wait for this one forever
                raise
            barrier.finish()
            return value

        futures = []
        with single_threaded_blas():
            try:
                for rank in range(1, shards):
                    futures.append(thread_pool(self.size - 1).submit(shard, rank))
                try:
                    values, errors = [shard(0)], [None]
                except Exception as e:
                    values, errors = [], [e]
                errors += [f.exception() for f in futures]  # waits: no shard keeps running after an error
            except BaseException:  # Ctrl-C: release the other shards and let them end first
                barrier.abort()
                wait_futures(futures)
                raise
        raise_first(errors)
        values += [f.result() for f in futures]
        grads = [] if call.op == "forward" else [[q.grad if q.has_grad else None for q in self._params[k]]
                                                 for k in range(1, shards)]
        return ShardResults(values, grads)
