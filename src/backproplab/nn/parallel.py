"""DataParallel: split every batch into shards and run them on all CPU cores at once.

Why: NumPy runs its element-wise work (bias adds, activations, pooling, im2col,
the loss) on one core; only the BLAS matrix products use more. On a 2-core
machine half the machine idles during every element-wise pass, which is where
PyTorch (whose element-wise kernels are multi-threaded) pulls ahead.

How (data parallelism, as ``torch.nn.DataParallel`` across devices, here across cores):

    forward(x):   x -> shards x[lo:hi]; copy k of the module runs forward(shard k) on core k;
                  y = concatenate(shard outputs)
    backward(dy): dy -> the same shards; copy k runs backward(dy[lo:hi]);
                  weight.grad = Σ_k copy_k.weight.grad;  dx = concatenate(shard dx)

Because samples of a batch do not interact (see the restriction below), the sum
over shards of the per-shard gradient is the gradient of the whole batch: the
numbers differ from the unsplit run only by floating-point summation order
(relative error ~1e-7 in float32, tested). Shard 0 runs on the wrapped module
itself, in the calling thread; each shard runs its whole network, so its
activations also stay in cache between layers.

This class only splits batches, gathers outputs and sums gradients. A shard runner
(:mod:`backproplab.nn.shards`) runs the shards: ``backend="thread"``, threads of this
process on replicas (deep copies) of the module; ``backend="process"``, ``fork()``ed
worker processes that share the parameters through shared memory. Threads share one
interpreter lock, and a step of short NumPy calls hands it back and forth: on the
benchmark CNN the process backend's step was 14% shorter (measured on 2026-11-23 on the
shared 2-core development machine; docs/conv.md). Both give the same numbers bit for bit.
While the shards run, BLAS is limited to one thread per call: the shards already cover the
cores.

Layers whose samples interact are kept exact across shards:

* BatchNorm in training mode normalizes with the statistics of the whole batch:
  its per-channel sums are added over the shards (an all-reduce, set as the layer's
  ``sync_group``; ``torch.nn.SyncBatchNorm`` does the same across devices). Only shard 0
  updates the running statistics, once per batch; the other shards read the module's.
* Layers that draw random numbers (Dropout) get one stream per shard: at every
  training forward, the module's own generator draws a seed for each other
  shard. A run therefore depends on the seed *and* the shard count (the masks of
  shard k come from a different stream than the unsplit layer's), and a resumed
  run is still bit-identical, since the module's generator is checkpointed; the shard
  count is in :meth:`DataParallel.checkpoint_settings`.

Any other layer is assumed to treat samples independently (every layer of
``backproplab.nn`` does); a layer with buffers that is not BatchNorm is rejected.

Reference: https://pytorch.org/docs/stable/generated/torch.nn.DataParallel.html
"""
from __future__ import annotations

import multiprocessing

import numpy as np

from ..utils.cores import available_cores, even_bounds
from .batchnorm import _BatchNorm
from .module import Module
from .shards import ProcessRunner, ShardCall, ShardsOutOfStep, ThreadRunner, random_layers

BACKENDS = ("thread", "process")

__all__ = ["BACKENDS", "DataParallel", "available_cores"]


def _check_shardable(module: Module) -> None:
    """Raise if a layer of ``module`` keeps state computed over the batch that sharding would change."""
    for path, m in module.named_modules():
        if m._buffers and not isinstance(m, _BatchNorm):
            raise ValueError(
                f"DataParallel cannot split {path or 'the model'} ({type(m).__name__}): it keeps buffers "
                f"({', '.join(m._buffers)}) that may depend on the whole batch; train it without DataParallel"
            )


def _child_links(module: Module) -> list[tuple[Module, str, object]]:
    """(owner, attribute, child or tuple of children) of every link in the module tree: adding,
    removing or replacing a layer of a container changes one of them."""
    links = []
    for m in module.modules():
        for name, value in vars(m).items():
            if isinstance(value, Module):
                links.append((m, name, value))
            elif isinstance(value, (list, tuple)) and value and all(isinstance(v, Module) for v in value):
                links.append((m, name, tuple(value)))
    return links


class DataParallel(Module):
    """Run ``module`` on ``threads`` shards of each batch in parallel; same results, more cores.

    Shapes: whatever ``module`` takes and returns, with the batch on axis 0 of the
    input, the (single array) output and every gradient. The parameters are ``module``'s own
    (state-dict keys gain the prefix ``module.``, as in PyTorch). Wrap the finished model:
    adding, removing or replacing its layers afterwards is an error at the next forward
    (:class:`~backproplab.nn.shards.ShardsOutOfStep`), since the shards' copies are made once.

    Args:
        module: the model (see the module docstring for BatchNorm and Dropout).
        threads: shards per batch (default: the cores this process may use). A batch
            smaller than ``threads`` uses one shard per sample; ``threads=1`` is the plain module.
        backend: ``"thread"`` (shards 1.. in threads of this process) or ``"process"``
            (in ``fork()``ed worker processes, started at the first batch; see
            :mod:`backproplab.nn.shards.process`). Both give the same numbers bit for bit;
            processes do not share the interpreter lock and are faster (measured in
            docs/conv.md). A worker that dies during a call raises
            :class:`~backproplab.nn.shards.ShardWorkerDied`, and the next call starts new ones.
            ``close()`` stops the workers; so does garbage collection, and so does the end of
            this process.

    Attributes:
        runner: the :class:`~backproplab.nn.shards.ShardRunner` that runs the shards.
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
        self.training = module.training
        self.runner = (ThreadRunner if backend == "thread" else ProcessRunner)(module, self.threads)
        self._bounds: list[tuple[int, int]] = []
        # walked once here, not every step (Python work holds the GIL the other shards need)
        self._params = module.parameters()
        self._random_layers = random_layers(module)  # [(layer, attribute holding a Generator)]
        self._links = [(self, "module", module)] + _child_links(module)

    def checkpoint_settings(self) -> dict:
        """The shard count decides the dropout streams: a resumed run must use the same."""
        return {"data_parallel_shards": self.threads}

    def _check_unchanged(self) -> None:
        """Raise if a layer was added, removed or replaced since wrapping (the copies would differ)."""
        for owner, name, child in self._links:
            now = vars(owner).get(name)
            if now is child or (type(child) is tuple and isinstance(now, (list, tuple)) and tuple(now) == child):
                continue
            path = next((p for p, m in self.named_modules() if m is owner), "?")
            raise ShardsOutOfStep(f"DataParallel: {path + '.' if path else ''}{name} changed after wrapping (a "
                                  "layer added, removed or replaced), but the shards' copies of the module were "
                                  "made when it was wrapped; wrap the finished model in a new DataParallel")

    def _split(self, n: int) -> int:
        """Set the shard bounds for a batch of n; return the number of shards."""
        shards = min(self.threads, n)
        self._bounds = even_bounds(n, shards)
        return shards

    def _draw_seeds(self, shards: int) -> list[list[int]]:
        """For shards 1.. (in training), one seed per random layer, drawn from the module's own
        generators shard by shard."""
        if not self.training:
            return [[] for _ in range(1, shards)]
        return [[int(getattr(m, name).integers(2 ** 63)) for m, name in self._random_layers]
                for _ in range(1, shards)]

    def forward(self, x: np.ndarray, *args, **kwargs) -> np.ndarray:
        """``module.forward(x, *args, **kwargs)`` shard by shard; extra arguments that are arrays
        with one row per sample (e.g. an RNN's ``lengths``) are split with ``x``, others passed whole."""
        if np.ndim(x) == 0 or len(x) == 0:
            raise ValueError(f"DataParallel expects a non-empty batch (N, ...) with the batch on axis 0, "
                             f"got shape {np.shape(x)}")
        self._check_unchanged()
        n = len(x)
        shards = self._split(n)
        if shards == 1:
            return self.module.forward(x, *args, **kwargs)

        def part(a, lo, hi):
            return a[lo:hi] if isinstance(a, np.ndarray) and a.ndim and len(a) == n else a

        self.runner.sync()
        call = ShardCall("forward", [(x[lo:hi], *(part(a, lo, hi) for a in args)) for lo, hi in self._bounds],
                         [{k: part(v, lo, hi) for k, v in kwargs.items()} for lo, hi in self._bounds],
                         self._draw_seeds(shards))
        return np.concatenate(self.runner.run(call).values)

    def backward(self, dy: np.ndarray) -> np.ndarray | None:
        if not self._bounds:
            raise RuntimeError("DataParallel.backward called before forward")
        n = self._bounds[-1][1]
        if len(dy) != n:
            raise ValueError(f"DataParallel.backward: dy has {len(dy)} rows but the last forward had {n} samples")
        if len(self._bounds) == 1:
            return self.module.backward(dy)
        results = self.runner.run(ShardCall("backward", [(dy[lo:hi],) for lo, hi in self._bounds], [], []))
        for grads in results.grads:  # shards 1, 2, ... in order: the same sum on either backend
            for p, g in zip(self._params, grads):
                if g is not None:  # the shard reached this parameter
                    p.grad += g
        if results.values[0] is None:  # needs_input_grad is False: no shard computed dx
            return None
        return np.concatenate(results.values)

    def close(self) -> None:
        """Stop the worker processes of ``backend="process"`` (the next batch starts new ones)."""
        self.runner.close()

    # -- keep the shards' copies in step with the module -------------------------------
    def train(self, mode: bool = True) -> "DataParallel":
        super().train(mode)
        self.runner.sync()
        return self

    @property
    def needs_input_grad(self) -> bool:
        return self.module.needs_input_grad

    @needs_input_grad.setter
    def needs_input_grad(self, value: bool) -> None:
        self.module.needs_input_grad = value

    def extra_repr(self) -> str:
        return f"threads={self.threads}" + (f", backend={self.backend!r}" if self.backend != "thread" else "")
