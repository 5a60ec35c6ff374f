"""Shard runners: the shards of one batch run at once on copies of a module, one per core.

:class:`~backproplab.nn.DataParallel` splits each batch into shards, hands them to a runner
and gathers the results. Every runner has the same three calls (:class:`ShardRunner`):
``sync()``, ``run(call)`` and ``close()``. :class:`ThreadRunner` runs shards 1, 2, ... in
threads of this process, :class:`ProcessRunner` in ``fork()``ed worker processes; shard 0 runs
on the module itself in the calling thread. Both synchronize BatchNorm through the same
all-reduce (:class:`ShardGroup`, set as ``BatchNorm.sync_group``), so both give the same
numbers bit for bit.
"""
from .group import ShardGroup, ShardsOutOfStep, ShardWorkerDied, ThreadBarrier
from .process import ProcessRunner
from .runner import ShardCall, ShardResults, ShardRunner, ThreadRunner, random_layers

__all__ = ["ProcessRunner", "ShardCall", "ShardGroup", "ShardResults", "ShardRunner", "ShardWorkerDied",
           "ShardsOutOfStep", "ThreadBarrier", "ThreadRunner", "random_layers"]
