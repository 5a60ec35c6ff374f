"""DataParallel: split every batch into shards and run them on all CPU cores at once.

Why: NumPy runs its element-wise work (bias adds, activations, pooling, im2col,
the loss) on one core; only the BLAS matrix products use more. On a 2-core
machine half the machine idles during every element-wise pass, which is where
PyTorch (whose element-wise kernels are multi-threaded) pulls ahead.

How (data parallelism, as ``torch.nn.DataParallel`` across devices, here across cores):

    forward(x):   x -> shards x[lo:hi]; replica k runs forward(shard k) on core k;
                  y = concatenate(shard outputs)
    backward(dy): dy -> the same shards; replica k runs backward(dy[lo:hi]);
                  weight.grad = Σ_k replica_k.weight.grad;  dx = concatenate(shard dx)

Because samples of a batch do not interact (see the restriction below), the sum
over shards of the per-shard gradient is the gradient of the whole batch: the
numbers differ from the unsplit run only by floating-point summation order
(relative error ~1e-7 in float32, tested). Shard 0 runs on the wrapped module
itself, in the calling thread; the other shards run on replicas that share the
parameter arrays (``data``) but own their gradients and activations. Each
thread runs its whole network on its shard, so a shard's activations also stay
in cache between layers.

While the shards run, BLAS is limited to one thread per call (threadpoolctl):
the shards already cover the cores, and a multi-threaded GEMM in each would
fight over them. The previous limit is restored after each call.

Two backends run shards 1, 2, ...: ``"thread"``, threads of this process on
replicas (deep copies) of the module; ``"process"``, ``fork()``ed worker
processes that share the parameters through shared memory
(:mod:`backproplab.nn._process_shards`). Threads share one interpreter lock,
and a step of short NumPy calls hands it back and forth: on the benchmark CNN
the process backend's step is 14% shorter (docs/conv.md). Both give the same
numbers bit for bit.

Layers whose samples interact are kept exact across shards:

* BatchNorm in training mode normalizes with the statistics of the whole batch:
  its per-channel sums are added over the shards (an all-reduce behind a
  barrier; ``torch.nn.SyncBatchNorm`` does the same across devices). Only shard 0
  updates the running statistics, once per batch; the replicas read the module's.
* Layers that draw random numbers (Dropout) get one stream per shard: at every
  training forward, the module's own generator draws a seed for each other
  shard. A run therefore depends on the seed *and* the thread count (the masks of
  shard k come from a different stream than the unsplit layer's), and a resumed
  run is still bit-identical, since the module's generator is checkpointed.

Any other layer is assumed to treat samples independently (every layer of
``backproplab.nn`` does); a layer with buffers that is not BatchNorm is rejected.

Reference: https://pytorch.org/docs/stable/generated/torch.nn.DataParallel.html
"""
from __future__ import annotations

import copy
import multiprocessing
import threading
import weakref

import numpy as np

from ..utils.cores import _blas_libraries, _pool, available_cores, even_bounds, single_threaded_blas  # noqa: F401
from ._process_shards import ProcessShards, pack_args, random_layers
from .batchnorm import _BatchNorm
from .module import Module

BACKENDS = ("thread", "process")


def _check_shardable(module: Module) -> None:
    """Raise if a layer of ``module`` keeps state computed over the batch that sharding would change."""
    for path, m in module.named_modules():
        if m._buffers and not isinstance(m, _BatchNorm):
            raise ValueError(
                f"DataParallel cannot split {path or 'the model'} ({type(m).__name__}): it keeps buffers "
                f"({', '.join(m._buffers)}) that may depend on the whole batch; train it without DataParallel"
            )


class _ShardGroup:
    """The shards of one call: ``allreduce`` sums an array over them (every shard must call it)."""

    def __init__(self, size: int):
        self._barrier = threading.Barrier(size)
        self._slots: list = [None] * size

    def allreduce(self, rank: int, a: np.ndarray) -> np.ndarray:
        self._slots[rank] = a
        self._barrier.wait()
        # every shard adds the slots in the same order (float64): all get identical numbers
        total = self._slots[0].astype(np.float64)
        for other in self._slots[1:]:
            total = total + other
        self._barrier.wait()  # no shard overwrites its slot before all have read it
        return total

    def abort(self) -> None:
        """Release shards waiting in ``allreduce`` (they raise BrokenBarrierError) after an error."""
        self._barrier.abort()


class DataParallel(Module):
    """Run ``module`` on ``threads`` shards of each batch in parallel; same results, more cores.

    Shapes: whatever ``module`` takes and returns, with the batch on axis 0 of the
    input, the (single array) output and every gradient. The parameters are ``module``'s own
    (state-dict keys gain the prefix ``module.``, as in PyTorch); wrap the finished
    model, since layers added after wrapping are not replicated.

    Args:
        module: the model (see the module docstring for BatchNorm and Dropout).
        threads: shards per batch (default: the cores this process may use). A batch
            smaller than ``threads`` uses one shard per sample; ``threads=1`` is the plain module.
        backend: ``"thread"`` (shards 1.. in threads of this process) or ``"process"``
            (in ``fork()``ed worker processes, started at the first batch; see
            :mod:`backproplab.nn._process_shards`). Both give the same numbers bit for bit;
            processes do not share the interpreter lock and are faster (measured in
            docs/conv.md). ``close()`` stops the workers; so does garbage collection.
    """

    def __init__(self, module: Module, threads: int | None = None, backend: str = "thread"):
        super().__init__()
        if threads is None:
            threads = available_cores()
        if not isinstance(threads, (int, np.integer)) or threads < 1:
            raise ValueError(f"DataParallel: threads must be a positive integer, got {threads!r}")
        if backend not in BACKENDS:
            raise ValueError(f"DataParallel: backend must be one of {BACKENDS}, got {backend!r}")
        if backend == "process" and "fork" not in multiprocessing.get_all_start_methods():
            raise ValueError("DataParallel: backend='process' needs fork() (Linux, macOS); use backend='thread'")
        _check_shardable(module)
        self.module = module
        self.threads = int(threads)
        self.backend = backend
        # a dict, not a list: replicas are not children (their parameters are module's own)
        self._replicas = {k: self._replicate() for k in range(1, self.threads)} if backend == "thread" else {}
        # the worker processes live in a holder the finalizer can reach without keeping self alive
        self._workers: list[ProcessShards | None] = [None]
        self._last_workers: ProcessShards | None = None
        weakref.finalize(self, _close_workers, self._workers)
        self._bounds: list[tuple[int, int]] = []
        self.training = module.training
        # walked once here, not every step (Python work holds the GIL the other shards need)
        self._params = module.parameters()
        self._replica_params = {k: r.parameters() for k, r in self._replicas.items()}
        models = [module] + list(self._replicas.values())
        self._norms = [[m for m in model.modules() if isinstance(m, _BatchNorm)] for model in models]
        self._layers = dict(module.named_modules())  # a dict: a list of modules would count as children
        self._random_layers = random_layers(module)  # [(layer, attribute holding a Generator)]
        self._replica_random = [[r for r, _ in random_layers(replica)] for replica in self._replicas.values()]

    def _replicate(self) -> Module:
        """A deep copy of ``module`` whose parameters share ``data`` with the original but own ``grad``."""
        memo = {id(p.data): p.data for p in self.module.parameters()}
        return copy.deepcopy(self.module, memo)

    def _sync(self) -> None:
        """Point every replica at the module's current parameters and BatchNorm statistics
        (an optimizer, ``to()`` or a BatchNorm update may have replaced the arrays)."""
        for k, replica_params in self._replica_params.items():
            for p, q in zip(self._params, replica_params):
                if q.data is not p.data:
                    q.data = p.data
                    q.grad = np.zeros_like(p.data)
            for m, r in zip(self._norms[0], self._norms[k]):
                r.running_mean, r.running_var = m.running_mean, m.running_var

    def _draw_seeds(self, shards: int) -> list[list[int]]:
        """For shards 1.. (in training), one seed per random layer, drawn from the module's own
        generators shard by shard: both backends draw the same seeds in the same order."""
        if not self.training:
            return [[] for _ in range(1, shards)]
        return [[int(getattr(m, name).integers(2 ** 63)) for m, name in self._random_layers]
                for _ in range(1, shards)]

    def _seed_random_layers(self, shards: int) -> None:
        """Give every random layer of replica k a fresh stream from :meth:`_draw_seeds`."""
        for k, seeds in enumerate(self._draw_seeds(shards), start=1):
            for (_, name), r, seed in zip(self._random_layers, self._replica_random[k - 1], seeds):
                setattr(r, name, np.random.default_rng(seed))

    def _run(self, fn, n: int) -> list:
        """fn(module_or_replica, lo, hi) for every shard of a batch of n; results in shard order."""
        shards = self._split(n)
        if shards == 1:
            return [fn(self.module, 0, n)]
        group = _ShardGroup(shards)
        models = [self.module] + [self._replicas[k] for k in range(1, shards)]
        for rank in range(shards):
            for m in self._norms[rank]:
                m._shard = (group, rank)

        def shard(rank):
            try:
                return fn(models[rank], *self._bounds[rank])
            except BaseException:
                group.abort()  # a shard waiting in an all-reduce must not wait for this one forever
                raise

        try:
            with single_threaded_blas():
                futures = [_pool(self.threads - 1).submit(shard, rank) for rank in range(1, shards)]
                try:
                    results, errors = [shard(0)], [None]
                except BaseException as e:
                    results, errors = [], [e]
                errors += [f.exception() for f in futures]  # waits: no shard keeps running after an error
        finally:
            for norms in self._norms[:shards]:
                for m in norms:
                    m._shard = None
        _raise_first(errors)
        return results + [f.result() for f in futures]

    def forward(self, x: np.ndarray, *args, **kwargs) -> np.ndarray:
        """``module.forward(x, *args, **kwargs)`` shard by shard; extra arguments that are arrays
        with one row per sample (e.g. an RNN's ``lengths``) are split with ``x``, others passed whole."""
        if np.ndim(x) == 0 or len(x) == 0:
            raise ValueError(f"DataParallel expects a non-empty batch (N, ...) with the batch on axis 0, "
                             f"got shape {np.shape(x)}")
        n = len(x)

        def part(a, lo, hi):
            return a[lo:hi] if isinstance(a, np.ndarray) and a.ndim and len(a) == n else a

        def shard(m, lo, hi):
            return m.forward(x[lo:hi], *(part(a, lo, hi) for a in args),
                             **{k: part(v, lo, hi) for k, v in kwargs.items()})

        if self.backend == "process":
            return self._forward_processes(x, args, kwargs, part, shard)
        self._sync()
        self._seed_random_layers(min(self.threads, n))
        outs = self._run(shard, n)
        return outs[0] if len(outs) == 1 else np.concatenate(outs)

    def backward(self, dy: np.ndarray) -> np.ndarray | None:
        if not self._bounds:
            raise RuntimeError("DataParallel.backward called before forward")
        n = self._bounds[-1][1]
        if len(dy) != n:
            raise ValueError(f"DataParallel.backward: dy has {len(dy)} rows but the last forward had {n} samples")
        if len(self._bounds) == 1:
            return self.module.backward(dy)
        if self.backend == "process":
            return self._backward_processes(dy)
        for replica_params in self._replica_params.values():
            for q in replica_params:
                q.zero_grad()
        dxs = self._run(lambda m, lo, hi: m.backward(dy[lo:hi]), n)  # the same shards as forward
        for k in range(1, len(self._bounds)):
            for p, q in zip(self._params, self._replica_params[k]):
                if q.has_grad:  # the shard reached this parameter
                    p.grad += q.grad
        if dxs[0] is None:  # needs_input_grad is False: no shard computed dx
            return None
        return np.concatenate(dxs)

    # -- the process backend -----------------------------------------------------------
    def _split(self, n: int) -> int:
        """Set the shard bounds for a batch of n; return the number of shards."""
        shards = min(self.threads, n)
        self._bounds = even_bounds(n, shards)
        return shards

    def _forward_processes(self, x, args, kwargs, part, shard) -> np.ndarray:
        shards = self._split(len(x))
        if shards == 1:
            return self.module.forward(x, *args, **kwargs)
        workers = self._workers[0]
        if workers is None or not workers.usable():  # first call, dead worker, new dtype, or a fork()ed child
            _close_workers(self._workers)
            workers = self._workers[0] = ProcessShards(self.module, self.threads - 1)
        workers.sync()
        seeds = self._draw_seeds(shards)
        keys = list(kwargs)
        messages = []
        for k in range(1, shards):
            lo, hi = self._bounds[k]
            spec, arrays = pack_args([x[lo:hi]] + [part(a, lo, hi) for a in args]
                                     + [part(kwargs[key], lo, hi) for key in keys])
            header = {"op": "forward", "shards": shards, "seeds": seeds[k - 1], "input_grad": self.needs_input_grad,
                      "training": [m.training for m in self._layers.values()], "args": spec[1:len(args) + 1],
                      "kwargs": keys, "kwarg_values": spec[len(args) + 1:]}
            messages.append((header, arrays))
        out0, replies = self._call_processes(workers, shards, messages, lambda: shard(self.module, *self._bounds[0]))
        self._last_workers = workers
        return np.concatenate([out0] + [replies[k][1][0] for k in range(1, shards)])

    def _backward_processes(self, dy: np.ndarray) -> np.ndarray | None:
        workers, shards = self._last_workers, len(self._bounds)
        if workers is None or workers.broken:
            raise RuntimeError("DataParallel.backward: the worker processes of the last forward are gone; "
                               "run forward again")
        messages = [({"op": "backward", "shards": shards}, [dy[lo:hi]]) for lo, hi in self._bounds[1:]]
        lo, hi = self._bounds[0]
        dx0, replies = self._call_processes(workers, shards, messages, lambda: self.module.backward(dy[lo:hi]))
        for k in range(1, shards):
            for p, g, reached in zip(workers.params, workers.grads[k - 1], replies[k][0]["reached"]):
                if reached:  # the shard reached this parameter
                    p.grad += g
        if dx0 is None:  # needs_input_grad is False: no shard computed dx
            return None
        return np.concatenate([dx0] + [replies[k][1][0] for k in range(1, shards)])

    def _call_processes(self, workers: ProcessShards, shards: int, messages, run0):
        """Post ``messages[k-1]`` to worker k, run shard 0 here, collect the replies: (result of run0, replies)."""
        done = False
        try:
            for rank, (header, arrays) in enumerate(messages, start=1):
                workers.post(rank, header, arrays)
            group, error, out0 = workers.group(shards), None, None
            for m in self._norms[0]:
                m._shard = (group, 0)
            try:
                with single_threaded_blas():
                    out0 = run0()
            except BaseException as e:
                group.abort()  # a worker waiting in an all-reduce must not wait for this one forever
                error = e
            finally:
                for m in self._norms[0]:
                    m._shard = None
            replies, errors = workers.collect(range(1, shards))
            done = True
        finally:
            if not done:  # interrupted half-way: replies may be pending, start afresh next time
                workers.broken = True
        _raise_first([error] + errors)
        return out0, replies

    def close(self) -> None:
        """Stop the worker processes of ``backend="process"`` (the next batch starts new ones)."""
        _close_workers(self._workers)

    def __getstate__(self) -> dict:
        # a copy (deepcopy, pickle) starts workers of its own: processes and shared memory do not travel
        state = dict(vars(self))
        state["_workers"], state["_last_workers"] = [None], None
        return state

    def __setstate__(self, state: dict) -> None:
        vars(self).update(state)
        weakref.finalize(self, _close_workers, self._workers)

    # -- keep the replicas in step with the module -------------------------------------
    def train(self, mode: bool = True) -> "DataParallel":
        super().train(mode)
        for replica in self._replicas.values():
            replica.train(mode)
        return self

    @property
    def needs_input_grad(self) -> bool:
        return self.module.needs_input_grad

    @needs_input_grad.setter
    def needs_input_grad(self, value: bool) -> None:
        self.module.needs_input_grad = value
        for replica in getattr(self, "_replicas", {}).values():
            replica.needs_input_grad = value

    def extra_repr(self) -> str:
        return f"threads={self.threads}" + (f", backend={self.backend!r}" if self.backend != "thread" else "")


def _raise_first(errors: list) -> None:
    """Raise the error that broke a group of shards (None entries are shards that succeeded),
    not the BrokenBarrierError it caused in the shards waiting for it."""
    for e in sorted((e for e in errors if e is not None), key=lambda e: isinstance(e, threading.BrokenBarrierError)):
        raise e


def _close_workers(holder: list) -> None:
    workers, holder[0] = holder[0], None
    if workers is not None:
        workers.close()
