"""--cluster: a lab's independent steps on a Dask LocalCluster over loopback give the serial
run's numbers; a worker killed during a task has it run again elsewhere and nothing half-written
is kept; a stopped run started again submits only the missing tasks."""
import json
import os
import signal
import sys
import time

import pytest

distributed = pytest.importorskip("distributed")

from backproplab.labs import activations  # noqa: E402
from backproplab.labs.cluster import DaskExecutor, cluster_executor, parse_address  # noqa: E402
from backproplab.labs.config import ConfigError, LabConfig  # noqa: E402
from backproplab.labs.run_folder import RunFolder  # noqa: E402
from backproplab.labs.runner import run_lab  # noqa: E402


def slow_square(x, marker_dir, seconds):
    """A task that records the worker process that runs it, then sleeps (long enough to be killed)."""
    with open(os.path.join(marker_dir, f"start-{x}-{os.getpid()}"), "w") as f:
        f.write(str(os.getpid()))
    time.sleep(seconds)
    return {"x": x, "square": x * x}


@pytest.fixture(scope="module")
def local_cluster():
    import cloudpickle

    cloudpickle.register_pickle_by_value(sys.modules[__name__])  # the workers cannot import a test module
    with cluster_executor("local:2") as executor:
        yield executor


def test_addresses_are_checked():
    assert parse_address("local:3") == ("local", 3)
    assert parse_address("tcp://10.0.0.5:8786") == ("remote", "tcp://10.0.0.5:8786")
    for bad in ("local:0", "local:x", "10.0.0.5", "tcp://host"):
        with pytest.raises(ConfigError, match="--cluster"):
            parse_address(bad)


def test_cluster_run_equals_the_serial_run(tmp_path, local_cluster):
    config = activations.Config().quick()
    import dataclasses

    config = dataclasses.replace(config, activations=("relu", "sigmoid"), depths=(1, 3), num_epochs=2)
    serial = run_lab(activations, config, tmp_path / "serial")
    parallel = run_lab(activations, config, tmp_path / "cluster", executor=local_cluster)
    for a, b in zip(serial["rows"], parallel["rows"]):
        assert {k: v for k, v in a.items() if k != "train_time_s"} == {k: v for k, v in b.items() if k != "train_time_s"}
    assert serial["runs"]["relu-d3"]["history"]["test_loss"] == parallel["runs"]["relu-d3"]["history"]["test_loss"]


def test_killed_worker_task_runs_again_and_nothing_half_written(tmp_path, local_cluster):
    import functools

    markers = tmp_path / "markers"
    markers.mkdir()
    tasks = {f"sq-{x}": functools.partial(slow_square, x, str(markers), 3.0) for x in range(2)}
    with RunFolder(tmp_path / "run", "toy", LabConfig()) as folder:
        import threading

        def kill_first_worker():
            deadline = time.time() + 30
            while time.time() < deadline:
                started = sorted(markers.iterdir())
                if started:
                    os.kill(int(started[0].read_text()), signal.SIGKILL)
                    return
                time.sleep(0.05)

        killer = threading.Thread(target=kill_first_worker)
        killer.start()
        results = local_cluster.map(folder, tasks, "toy")
        killer.join()
        assert results == {"sq-0": {"x": 0, "square": 0}, "sq-1": {"x": 1, "square": 1}}
        starts = sorted(p.name for p in markers.iterdir())
        assert len(starts) >= 3, f"the killed task was not run again: {starts}"
        for step in (folder.path / ".steps").iterdir():
            json.loads(step.read_text())  # every stored result is whole
        assert not [p for p in (folder.path / ".steps").iterdir() if p.name.startswith(".")]  # no temporary files


def test_restarted_run_submits_only_missing_tasks(tmp_path, local_cluster):
    import functools

    markers = tmp_path / "markers"
    markers.mkdir()
    tasks = {f"sq-{x}": functools.partial(slow_square, x, str(markers), 0.0) for x in range(4)}
    with RunFolder(tmp_path / "run", "toy", LabConfig()) as folder:
        folder.store("sq-0", {"x": 0, "square": 0})
        folder.store("sq-2", {"x": 2, "square": 4})
        results = local_cluster.map(folder, tasks, "toy")
    ran = sorted(int(p.name.split("-")[1]) for p in markers.iterdir())
    assert ran == [1, 3]
    assert [results[k]["square"] for k in tasks] == [0, 1, 4, 9]


class _FakeClient:
    def __init__(self, workers):
        self.workers = workers

    def scheduler_info(self):
        return {"workers": self.workers}


def test_tasks_needing_a_resource_no_worker_offers_fail_in_one_line():
    """Without the check the scheduler would hold such tasks forever."""
    idle = DaskExecutor(_FakeClient({"tcp://a:1": {"resources": {}}, "tcp://b:1": {}}))
    with pytest.raises(ConfigError, match="--resources GPU=1"):
        idle.wait_for_resources({"GPU": 1}, timeout=0.0)
    DaskExecutor(_FakeClient({"tcp://c:1": {"resources": {"GPU": 1}}})).wait_for_resources({"GPU": 1}, timeout=0.0)


def test_local_workers_offer_one_gpu_each(local_cluster):
    workers = local_cluster.client.scheduler_info()["workers"].values()
    assert [w["resources"] for w in workers] == [{"GPU": 1}, {"GPU": 1}]
