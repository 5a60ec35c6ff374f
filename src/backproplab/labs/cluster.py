"""Run a lab's independent sub-experiments as tasks on a Dask cluster (``--cluster ADDRESS``).

    backproplab lab activations --cluster local:2             # a LocalCluster of 2 workers here
    backproplab lab committee --cluster tcp://10.0.0.5:8786   # an existing scheduler

Only the steps a lab hands to :meth:`RunFolder.map` go to the cluster (each trains one model or
computes one sub-result, and seeds its own generators), so the numbers equal the serial run's.
The client writes each result into the run folder (atomically) as soon as it arrives, so a run
stopped and started again submits only the missing tasks. A worker that dies mid-task loses
nothing written: the scheduler runs the task again on another worker. Tasks that need a GPU ask
for the resource ``GPU`` (a worker started with ``--resources GPU=1`` runs one at a time; each
worker of ``local:N`` offers it, so on a machine with a GPU the N workers share it).

Trust: Dask moves tasks and results between machines with pickle. Point ``--cluster`` only at
a scheduler whose workers you control (your own machines or this one), never at a shared one.

Reference: https://distributed.dask.org/en/stable/ (Client.submit, as_completed, worker resources).
"""
from __future__ import annotations

import contextlib
import re
import time
from typing import Any, Callable

from . import progress
from .config import ConfigError

#: seconds to wait for an existing scheduler before giving up with a message
CONNECT_TIMEOUT = 20
#: BLAS threads of a local worker: the workers already cover the cores
WORKER_ENV = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def parse_address(address: str) -> tuple[str, int | str]:
    """("local", N) for ``local:N``; ("remote", address) for ``tcp://HOST:PORT``."""
    m = re.fullmatch(r"local:(\d+)", address.strip())
    if m:
        n = int(m.group(1))
        if not 1 <= n <= 256:
            raise ConfigError(f"--cluster local:N needs 1 <= N <= 256 workers, got {address!r}")
        return "local", n
    if re.fullmatch(r"(tcp|tls)://[^\s:/]+:\d+", address.strip()):
        return "remote", address.strip()
    raise ConfigError(f"--cluster takes local:N (N workers on this machine) or tcp://HOST:PORT (a running Dask "
                      f"scheduler), got {address!r}")


class DaskExecutor:
    """Submit the missing tasks of :meth:`RunFolder.map` to a Dask client; store results as they arrive."""

    def __init__(self, client):
        self.client = client

    def map(self, folder, tasks: dict[str, Callable[[], Any]], label: str = "", resources: dict | None = None):
        from distributed import as_completed

        results: dict[str, Any] = {}
        futures = {}
        if resources and not all(folder.cached(key)[0] for key in tasks):
            self.wait_for_resources(resources)
        for key, fn in tasks.items():
            done, value = folder.cached(key)
            if done:
                results[key] = value
            else:
                name = f"{folder.lab}-{folder.fingerprint[:8]}-{key}"
                futures[self.client.submit(fn, key=name, pure=False, resources=resources)] = key
        shown = progress.current()
        if futures:
            shown.info(f"{label or folder.lab}: {len(futures)} task(s) on the cluster, {len(results)} cached")
        bar = shown.bar(as_completed(futures), total=len(futures), desc=label or "tasks", unit="task")
        for future in bar:
            key = futures[future]
            results[key] = folder.store(key, future.result())
        return {key: results[key] for key in tasks}


    def wait_for_resources(self, resources: dict, timeout: float | None = None) -> None:
        """Return once a worker offers ``resources``; after ``timeout`` s (CONNECT_TIMEOUT) raise a one-line error.

        Without such a worker the scheduler would hold the tasks forever; a worker that is still starting
        gets the time to connect.
        """
        deadline = time.monotonic() + (CONNECT_TIMEOUT if timeout is None else timeout)
        while True:
            workers = self.client.scheduler_info()["workers"].values()
            if any(all(w.get("resources", {}).get(k, 0) >= v for k, v in resources.items()) for w in workers):
                return
            if time.monotonic() > deadline:
                wanted = " ".join(f"{k}={v}" for k, v in resources.items())
                raise ConfigError(f"no worker of the cluster offers the resource {wanted} that these tasks need; "
                                  f"start one with `dask worker ADDRESS --resources {wanted}`, or run them without "
                                  "it (for the mobilenet lab: --device cpu)")
            time.sleep(0.5)


@contextlib.contextmanager
def cluster_executor(address: str):
    """A :class:`DaskExecutor` on the cluster at ``address`` (started here for ``local:N``); closed after."""
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise ImportError("--cluster needs Dask's distributed package: pip install 'distributed==2026.8.0'") from None
    kind, where = parse_address(address)
    cluster = None
    try:
        if kind == "local":
            # each local worker may run one GPU task at a time: on a machine with a GPU, N workers share it
            cluster = LocalCluster(n_workers=where, threads_per_worker=1, processes=True, dashboard_address=None,
                                   env=WORKER_ENV, resources={"GPU": 1})
            client = Client(cluster)
        else:
            try:
                client = Client(where, timeout=CONNECT_TIMEOUT)
            except OSError as e:
                raise ConnectionError(f"no Dask scheduler answered at {where} within {CONNECT_TIMEOUT} s ({e}); "
                                      "start one with `dask scheduler` and workers with `dask worker ADDRESS`") from None
        try:
            yield DaskExecutor(client)
        finally:
            client.close()
    finally:
        if cluster is not None:
            cluster.close()
