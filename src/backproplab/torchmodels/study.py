"""The MobileNet study on one GPU, in one command: ``python -m backproplab.torchmodels.study``.

The plain CNN, MobileNet V1 and V2 at four widths, and V1/V2 at three input sides
(the mobilenet lab's 16 models), 30 epochs each on Fashion-MNIST padded to 32x32.
Phases, each written into ``--out`` as it ends:

1. ceilings: the bf16 matmul rate (our "peak") and the device copy bandwidth;
2. probe (:mod:`~backproplab.torchmodels.probe`): eager vs CUDA graph (vs compile),
   channels_last vs NCHW, 1/2/4/8 lanes, stacked seeds -- and the choice;
3. training (:mod:`~backproplab.torchmodels.lanes`): the models, several at once; each
   one's results go into ``study.json`` as it finishes (atomic; a rerun skips them);
4. alone: each model's training rate with the GPU to itself (and so the share of the
   bf16 peak it reaches), and its batch-1 inference latency, eager and as a CUDA graph;
5. report: ``study.md`` and ``accuracy_vs_macs.png``.

``--budget-seconds`` bounds the whole run: a model starts only if the cost model
predicts it ends in time; at the limit the running ones stop and everything is written.
"""
from __future__ import annotations

import dataclasses
import platform
import subprocess
import sys
import time
import traceback

import torch

from . import build_model, count_model
from .gpu_data import load_fashion_mnist_32
from .job import JobOptions, JobSpec, Recipe, TrainJob
from .lanes import run_lanes
from .probe import CostModel, measure, probe
from .study_config import StudyConfig, parse_args, parse_spec, plan
from .study_report import summary, write_report
from .study_store import ResultStore, record_key
from .timing import copy_bandwidth, forward_latency_ms, matmul_peak, synchronize
from .training import select_device

#: used when no probe runs: CUDA graphs, channels_last, 4 lanes on a GPU (1 on a CPU)
DEFAULT_CHOICE = {"engine": "graph", "channels_last": True, "lanes": 4, "stack_seeds": False}
#: a guess until the probe measures: 34 bytes moved per conv-output element and image (bf16 forward + backward
#: through conv, BatchNorm and ReLU), at 3 TB/s; the arithmetic at half the matmul rate
GUESS_SECONDS_PER_ACTIVATION = 34 / 3e12


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


class Study:
    """One invocation of the study (see the module docstring); ``run()`` does every phase."""

    def __init__(self, config: StudyConfig, recipe: Recipe, argv: list[str], started: float):
        self.config, self.recipe, self.argv, self.started = config, recipe, argv, started
        self.device = select_device(config.device)
        self.store = ResultStore(f"{config.out}/study.json")
        self.run_info: dict = {"config": dataclasses.asdict(config), "recipe": dataclasses.asdict(recipe),
                               "environment": environment(self.device), "skipped": [], "phases_s": {}}
        budget = config.budget_seconds
        self.final_deadline = started + budget - 3.0 if budget else None  # 3 s to write the report
        self.train_deadline = started + budget - config.reserve_seconds if budget else None

    def run(self) -> dict:
        c = self.config
        torch.backends.cudnn.benchmark = self.device.type == "cuda"
        if c.cpu_threads:
            torch.set_num_threads(c.cpu_threads)
        if c.resume_from:
            log(f"resume: {self.store.merge_from(c.resume_from)} finished models read from {c.resume_from}")
        self._phase("data", self._load_data)
        if c.shard is None:
            self._phase("ceilings", self._ceilings, essential=False)
        self.cost_model = self._fit_cost_model()
        pending = self._pending()
        self.choice, self.probe_result = dict(DEFAULT_CHOICE, lanes=4 if self.device.type == "cuda" else 1), None
        if c.shard is None and c.probe != "none" and (pending or c.probe_only):
            self._phase("probe", lambda: self._probe(pending), essential=False)
        self._apply_flags()
        self.cost_model = self._fit_cost_model()
        self.options = JobOptions(engine=self.choice["engine"], channels_last=self.choice["channels_last"],
                                  warmup_steps=c.warmup_steps, eval_batch=c.eval_batch)
        self.run_info["choice"] = self.choice
        try:
            if not c.probe_only:
                self._phase("training", lambda: self._train(pending))
                if c.shard is None:
                    self._phase("alone", self._alone, essential=False)
        finally:  # whatever broke, the finished models get their report
            if c.shard is None:
                self.run_info["total_s"] = time.monotonic() - self.started
                data = self.store.update(lambda d: d["runs"].append(self.run_info))
                write_report(c.out, data, self.run_info, self._keys())
                print(summary(data, self.run_info, self._keys()), flush=True)
                log(f"done in {self.run_info['total_s']:.0f} s: {c.out}/study.md")
        return self.run_info

    def _phase(self, name: str, fn, essential: bool = True) -> None:
        """Run and time one phase; a non-essential one that raises is logged and the study goes on."""
        t0 = time.monotonic()
        try:
            fn()
        except Exception as e:  # noqa: BLE001 -- e.g. a failed probe: train with the defaults instead
            if essential:
                raise
            log(f"{name} failed, going on without it: {type(e).__name__}: {e}\n{traceback.format_exc()}")
            self.run_info["skipped"].append({"what": f"phase {name}", "why": f"{type(e).__name__}: {e}"})
        self.run_info["phases_s"][name] = time.monotonic() - t0

    # -- phases ------------------------------------------------------------------------
    def _load_data(self) -> None:
        c = self.config
        self.data = load_fashion_mnist_32(self.device, c.data_dir, c.train_size, c.test_size)
        for r in c.resolutions:
            self.data.at(r)  # every resolution made now, on the default stream, before the lanes share it
        synchronize(self.device)
        self.run_info["data"] = self.data.note
        self.settings = {**dataclasses.asdict(self.recipe), "data": self.data.name,
                         "train_size": len(self.data.x_train), "test_size": len(self.data.x_test)}
        self.costs = {p: model_cost(*p, self.data.channels, self.data.num_classes) for p in plan(self.config)}
        log(self.data.note)

    def _ceilings(self) -> None:
        c, dev = self.config, self.device
        self.run_info["peak"] = matmul_peak(dev, c.peak_size)
        self.run_info["copy"] = copy_bandwidth(dev, (1 << 30) if dev.type == "cuda" else (1 << 24))
        log(f"bf16 matmul {c.peak_size}^3: {self.run_info['peak']['tflops']:.3g} TFLOP/s; device copy "
            f"{self.run_info['copy']['gb_per_s']:.3g} GB/s")

    def _probe(self, pending: list) -> None:
        c, spec = self.config, parse_spec(self.config.probe_model)
        images = sum(self._images(p, len(seeds)) for p, seeds in pending)
        self.probe_result = probe(self.data, self.recipe, JobOptions(warmup_steps=c.warmup_steps,
                                                                     eval_batch=c.eval_batch), self.device, spec,
                                  c.probe_steps, c.probe_lanes, c.probe_stack, c.probe == "full", images,
                                  len({p for p, _ in pending}), log)
        self.choice = dict(self.probe_result["choice"])
        self.run_info["probe"] = self.probe_result
        for reason in self.probe_result["reasons"]:
            log(f"probe: {reason}")

    def _apply_flags(self) -> None:
        """Options given on the command line override the probe's choice."""
        c = self.config
        if c.engine != "auto":
            self.choice["engine"] = c.engine
        if c.channels_last != "auto":
            self.choice["channels_last"] = c.channels_last == "yes"
        if c.lanes:
            self.choice["lanes"] = c.lanes
        if c.stack_seeds != "auto":
            self.choice["stack_seeds"] = c.stack_seeds == "yes"

    def _train(self, pending: list) -> None:
        if not pending:
            log("every model of the plan is already in study.json: nothing to train")
            return
        if self.config.processes > 1 and self.config.shard is None:
            self._train_in_processes()
            return
        jobs = [TrainJob(spec, self.data, self.recipe, self.options, self.device) for spec in self._job_specs(pending)]
        lanes = self.choice["lanes"]
        log(f"training {len(jobs)} job(s), {lanes} lane(s), engine {self.options.engine}, "
            f"channels_last {self.options.channels_last}")
        run_lanes(jobs, lanes, on_finish=self._finished, can_start=self._can_start, on_skip=self._skipped,
                  deadline=self.train_deadline, log=log)

    def _alone(self) -> None:
        """Each finished model with the GPU to itself: training rate, share of peak, batch-1 latency."""
        records = self.store.read()["models"]
        device_name = self.run_info["environment"]["device"]
        todo = sorted((k for k in self._keys() if records.get(k, {}).get("status") == "finished"
                       and records[k].get("timing_device") != device_name), key=lambda k: -records[k]["macs"])
        for key in todo:
            if self.final_deadline and time.monotonic() > self.final_deadline - 5:
                self.run_info["skipped"].append({"what": f"alone timings of {key}", "why": "time budget"})
                continue
            try:
                timings = self._time_alone(records[key])
            except Exception as e:  # noqa: BLE001 -- a timing that fails leaves the model's results as they are
                log(f"alone timings of {key} failed: {type(e).__name__}: {e}")
                self.run_info["skipped"].append({"what": f"alone timings of {key}", "why": f"{type(e).__name__}"})
                continue
            self.store.put_models({key: {**records[key], **timings, "timing_device": device_name}})

    # -- helpers ---------------------------------------------------------------------
    def _keys(self) -> list[str]:
        return [record_key(m, w, r, s, self.settings) for m, w, r in plan(self.config) for s in self.config.seeds]

    def _pending(self) -> list[tuple[tuple, tuple[int, ...]]]:
        """[((family, width, side), seeds not yet finished), ...] in plan order (this shard's share)."""
        done = self.store.finished_keys()
        out = []
        for p in plan(self.config):
            seeds = tuple(s for s in self.config.seeds if record_key(*p, s, self.settings) not in done)
            if seeds:
                out.append((p, seeds))
        if self.config.shard:
            i, n = map(int, self.config.shard.split("/"))
            mine = set(sorted(plan(self.config), key=self._order_key)[i::n])
            out = [(p, s) for p, s in out if p in mine]
        return out

    def _order_key(self, p: tuple) -> tuple:
        """Base models (first width, first side) first, then the rest, each group slowest first."""
        base = p[1] == self.config.widths[0] and p[2] == self.config.resolutions[0]
        return (not base, -self._raw_seconds(p))

    def _images(self, p: tuple, k: int) -> float:
        steps = max(1, self.settings["train_size"] // self.recipe.batch_size)
        return self.recipe.num_epochs * steps * self.recipe.batch_size * k

    def _raw_seconds(self, p: tuple, k: int = 1) -> float:
        cost = self.costs[p]
        return self.cost_model.raw_seconds(cost["activations"], 6 * cost["macs"], self._images(p, k))

    def _fit_cost_model(self) -> CostModel:
        """The guess, or -- after the probe -- fitted to the probe model's measured rate."""
        flops = 0.5 * self.run_info.get("peak", {}).get("tflops", 400.0) * 1e12
        pr = getattr(self, "probe_result", None)
        if not (pr and pr["single_images_per_s"]):
            return CostModel(GUESS_SECONDS_PER_ACTIVATION, flops)
        spec = parse_spec(self.config.probe_model)
        p = (spec.model, spec.width, spec.resolution)
        cost = self.costs.get(p) or model_cost(*p, self.data.channels, self.data.num_classes)
        return CostModel.fit(1 / pr["single_images_per_s"], cost["activations"], 6 * cost["macs"], flops)

    def _job_specs(self, pending: list) -> list[JobSpec]:
        specs = []
        for p, seeds in sorted(pending, key=lambda ps: self._order_key(ps[0])):
            if self.choice["stack_seeds"] and len(seeds) > 1:
                specs.append(JobSpec(*p, seeds))
            else:
                specs += [JobSpec(*p, (s,)) for s in seeds]
        return specs

    def _slowdown(self) -> float:
        """How much longer a job takes among ``lanes`` others than alone (the probe's measured speed-up)."""
        lanes, pr = self.choice["lanes"], self.probe_result
        if lanes <= 1 or not pr or not pr["single_images_per_s"]:
            return float(lanes)
        return max(1.0, lanes / (pr["best_images_per_s"] / pr["single_images_per_s"]))

    def _predicted(self, job: TrainJob) -> float:
        spec = job.spec
        return self._raw_seconds((spec.model, spec.width, spec.resolution), len(spec.seeds)) * self._slowdown()

    def _can_start(self, job: TrainJob) -> str:
        if self.train_deadline is None:
            return ""
        need = self.cost_model.correction * self._predicted(job)
        left = self.train_deadline - time.monotonic()
        return "" if need <= left else f"predicted {need:.0f} s, {left:.0f} s left in the budget"

    def _skipped(self, job: TrainJob, reason: str) -> None:
        log(f"skip {job.spec.name}: {reason}")
        self.run_info["skipped"].append({"what": job.spec.name, "why": reason})

    def _finished(self, job: TrainJob, results: list[dict]) -> None:
        device_name = self.run_info["environment"]["device"]
        records = {record_key(r["model"], r["width"], r["resolution"], r["seed"], self.settings):
                   {**r, "device": device_name} for r in results}
        self.store.put_models(records)
        r = results[0]
        if r["status"] == "finished":
            self.cost_model.observe(self._predicted(job), r["job_wall_s"])
            accs = ", ".join(f"{x['test_acc']:.4f}" for x in results)
            log(f"finished {job.spec.name}: test acc {accs}, {r['s_per_epoch']:.2f} s/epoch, "
                f"{r['images_per_s']:.0f} images/s, {r['job_wall_s']:.0f} s")
        else:
            log(f"{job.spec.name}: {r['status']}")

    def _time_alone(self, rec: dict) -> dict:
        c, spec = self.config, JobSpec(rec["model"], rec["width"], rec["resolution"], (rec["seed"],))
        row = measure(self.data, self.recipe, self.options, self.device, spec, c.alone_steps, "alone")
        peak = self.run_info.get("peak", {}).get("tflops")
        fmt = torch.channels_last if self.options.channels_last else torch.contiguous_format
        torch.manual_seed(rec["seed"])
        model = build_model(rec["model"], rec["width"], self.data.num_classes, rec["resolution"],
                            in_channels=self.data.channels, variant="cifar").to(self.device, memory_format=fmt)
        x = torch.randn((1, self.data.channels, rec["resolution"], rec["resolution"]), device=self.device)
        out = {"alone_images_per_s": row["images_per_s"], "alone_engine": row["engine"],
               "latency_b1_eager_ms": forward_latency_ms(model, x, self.recipe.amp, False, c.latency_reps),
               "latency_b1_graph_ms": forward_latency_ms(model, x, self.recipe.amp, True, c.latency_reps)
               if self.device.type == "cuda" else None}
        if peak and row["images_per_s"]:
            out["peak_fraction"] = row["images_per_s"] * 6 * rec["macs"] / (peak * 1e12)
        log(f"alone {spec.name}: {row['images_per_s']:.0f} images/s, batch-1 latency "
            f"{out['latency_b1_eager_ms']:.2f} ms eager")
        return out

    def _train_in_processes(self) -> None:
        """``processes`` copies of this command, each training its share of the plan with the same choice."""
        c, ch = self.config, self.choice
        left = (self.train_deadline - time.monotonic()) if self.train_deadline else None
        extra = ["--processes", "1", "--probe", "none", "--engine", ch["engine"], "--lanes", str(ch["lanes"]),
                 "--channels-last", "yes" if ch["channels_last"] else "no",
                 "--stack-seeds", "yes" if ch["stack_seeds"] else "no", "--reserve-seconds", "0"]
        if left is not None:
            extra += ["--budget-seconds", f"{max(left, 1.0):.0f}"]
        procs = [subprocess.Popen([sys.executable, "-m", "backproplab.torchmodels.study", *self.argv, *extra,
                                   "--shard", f"{i}/{c.processes}"]) for i in range(c.processes)]
        codes = [p.wait() for p in procs]
        if any(codes):
            self.run_info["skipped"].append({"what": "worker processes", "why": f"exit codes {codes}"})


def model_cost(family: str, width: float, resolution: int, channels: int, num_classes: int) -> dict:
    """MACs, parameters and conv-output elements per image, counted on the 'meta' device (no memory, no init)."""
    cost = count_model(family, width, num_classes, resolution, in_channels=channels, variant="cifar")
    return {"macs": cost.macs, "params": cost.params,
            "activations": sum(int(torch.Size(layer.out_shape).numel()) for layer in cost.layers)}


def environment(device: torch.device) -> dict:
    env = {"torch": torch.__version__, "python": platform.python_version(), "device": "CPU",
           "cpu_threads": torch.get_num_threads()}
    if device.type == "cuda":
        env.update(device=torch.cuda.get_device_name(device), cuda=torch.version.cuda,
                   cudnn=torch.backends.cudnn.version(),
                   sm_count=torch.cuda.get_device_properties(device).multi_processor_count)
    return env


def main(argv: list[str] | None = None) -> int:
    started = time.monotonic()
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        config, recipe = parse_args(argv)
        Study(config, recipe, argv, started).run()
    except (ValueError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
