"""Options of the MobileNet study, its plan, and its command line (``python -m backproplab.torchmodels.study``).

Two frozen dataclasses: :class:`~backproplab.torchmodels.job.Recipe` (what a model's
result depends on; part of its cache key) and :class:`StudyConfig` (which models, where,
how fast). Every field becomes a ``--flag`` (tuples comma-separated, booleans as
``--flag/--no-flag``), so a misspelled option is an error.
"""
from __future__ import annotations

import argparse
import dataclasses
import sys
import typing
from dataclasses import dataclass, field

from .job import JobSpec, Recipe

FAMILIES = ("cnn", "v1", "v2")


@dataclass(frozen=True)
class StudyConfig:
    """Which models the study trains, on what, and how it spends the GPU."""

    out: str = field(default="runs/gpu-study", metadata={"help": "folder for study.json, study.md and the plot"})
    data_dir: str | None = field(default=None, metadata={"help": "Fashion-MNIST IDX folder (default: the loader's)"})
    device: str = field(default="auto", metadata={"help": "auto (CUDA when present), cuda, cpu"})
    cpu_threads: int = field(default=0, metadata={"help": "torch's CPU threads (0: its default); 1 on a busy "
                                                           "shared machine, where spinning thread pools fight"})
    models: tuple[str, ...] = field(default=FAMILIES, metadata={"help": "families trained at every width"})
    widths: tuple[float, ...] = field(default=(1.0, 0.75, 0.5, 0.25), metadata={"help": "width multipliers"})
    resolutions: tuple[int, ...] = field(default=(32, 24, 16), metadata={"help": "input sides; the first is the base"})
    resolution_models: tuple[str, ...] = field(default=("v1", "v2"),
                                               metadata={"help": "families also trained at the other resolutions"})
    seeds: tuple[int, ...] = field(default=(0,), metadata={"help": "seeds of every model"})
    train_size: int | None = field(default=None, metadata={"help": "first N training images (None: all 60000)"})
    test_size: int | None = field(default=None, metadata={"help": "first N test images (None: all 10000)"})
    engine: str = field(default="auto", metadata={"help": "auto (probe decides), eager, graph, compile"})
    channels_last: str = field(default="auto", metadata={"help": "auto (probe decides), yes, no"})
    lanes: int = field(default=0, metadata={"help": "jobs side by side on their own CUDA streams (0: probe decides)"})
    stack_seeds: str = field(default="auto", metadata={"help": "train a model's seeds as one grouped network: "
                                                                  "auto, yes, no"})
    processes: int = field(default=1, metadata={"help": "worker processes sharing the GPU, each with its lanes"})
    probe: str = field(default="quick", metadata={"help": "none, quick, full (adds torch.compile: minutes)"})
    probe_only: bool = field(default=False, metadata={"help": "measure the options, report them, train nothing"})
    probe_model: str = field(default="v2-w0.5-r32", metadata={"help": "FAMILY-wWIDTH-rSIDE the probe times"})
    probe_steps: int = field(default=40, metadata={"help": "timed steps per probe option"})
    probe_lanes: tuple[int, ...] = field(default=(2, 4, 8), metadata={"help": "lane counts the probe tries"})
    probe_stack: int = field(default=4, metadata={"help": "models stacked in the probe's grouped network"})
    budget_seconds: float | None = field(default=None, metadata={
        "help": "wall-clock limit from the start: no model starts that would not finish; at the limit, running "
                "models stop and results are written"})
    reserve_seconds: float = field(default=30.0, metadata={"help": "kept from the budget for timings and report"})
    warmup_steps: int = field(default=2, metadata={"help": "steps before graph capture or timing"})
    eval_batch: int = field(default=0, metadata={"help": "test images per evaluation batch (0: the training "
                                                          "batch size, whose shapes cuDNN has tuned already)"})
    alone_steps: int = field(default=20, metadata={"help": "steps timed per model with the GPU to itself"})
    latency_reps: int = field(default=50, metadata={"help": "batch-1 forwards timed per model"})
    peak_size: int = field(default=8192, metadata={"help": "side of the bf16 matmul that measures the peak"})
    resume_from: str | None = field(default=None, metadata={"help": "an earlier study.json: its finished "
                                                                    "models are not trained again"})
    tiny: bool = field(default=False, metadata={"help": "a few hundred images, tiny widths, one epoch: the "
                                                        "whole pipeline in about a minute on a CPU"})
    shard: str | None = field(default=None, metadata={"help": "internal: I/P, a worker of --processes P"})


def tiny_overrides(config: StudyConfig, recipe: Recipe, given: frozenset = frozenset()) -> tuple[StudyConfig, Recipe]:
    """The dry run: every phase of the study on a CPU in about a minute (numbers not meaningful).

    Options named in ``given`` (set on the command line) keep their values.
    """
    tiny_config = dict(widths=(0.125,), resolutions=(8, 4), resolution_models=("v2",), train_size=128, test_size=100,
                       probe_model="v2-w0.125-r4", probe_steps=2, probe_lanes=(2,), probe_stack=2, warmup_steps=1,
                       eval_batch=64, alone_steps=2, latency_reps=3, peak_size=256,
                       reserve_seconds=min(config.reserve_seconds, 10.0), cpu_threads=config.cpu_threads or 1)
    tiny_recipe = dict(num_epochs=1, batch_size=32, warmup_epochs=0.5)
    config = dataclasses.replace(config, **{k: v for k, v in tiny_config.items() if k not in given})
    return config, dataclasses.replace(recipe, **{k: v for k, v in tiny_recipe.items() if k not in given})


def parse_spec(text: str) -> JobSpec:
    """'v2-w0.5-r32' -> JobSpec('v2', 0.5, 32)."""
    try:
        family, w, r = text.split("-")
        if family not in FAMILIES or w[0] != "w" or r[0] != "r":
            raise ValueError
        return JobSpec(family, float(w[1:]), int(r[1:]))
    except (ValueError, IndexError):
        raise ValueError(f"model {text!r} is not FAMILY-wWIDTH-rSIDE with FAMILY in {', '.join(FAMILIES)} "
                         "(e.g. v2-w0.5-r32)") from None


def validate(config: StudyConfig, recipe: Recipe) -> None:
    """Raise ValueError naming the first bad option and its fix."""
    checks = [
        (set(config.models) | set(config.resolution_models) <= set(FAMILIES),
         f"--models/--resolution-models take {', '.join(FAMILIES)}"),
        (config.engine in ("auto", "eager", "graph", "compile"), "--engine takes auto, eager, graph, compile"),
        (config.channels_last in ("auto", "yes", "no"), "--channels-last takes auto, yes, no"),
        (config.stack_seeds in ("auto", "yes", "no"), "--stack-seeds takes auto, yes, no"),
        (config.probe in ("none", "quick", "full"), "--probe takes none, quick, full"),
        (config.lanes >= 0 and config.processes >= 1, "--lanes must be >= 0 and --processes >= 1"),
        (all(w > 0 for w in config.widths) and all(r >= 4 for r in config.resolutions),
         "widths must be > 0 and resolutions >= 4"),
        (bool(config.seeds) and len(set(config.seeds)) == len(config.seeds), "--seeds must be distinct"),
        (recipe.num_epochs >= 1 and recipe.batch_size >= 1 and recipe.lr > 0, "epochs, batch size and lr must "
                                                                                "be positive"),
    ]
    if config.shard is not None:
        i, _, n = config.shard.partition("/")
        checks.append((i.isdigit() and n.isdigit() and int(i) < int(n), "--shard takes I/P with 0 <= I < P"))
    for ok, message in checks:
        if not ok:
            raise ValueError(message)
    parse_spec(config.probe_model)


def plan(config: StudyConfig) -> list[tuple[str, float, int]]:
    """(family, width, resolution) of every model: each family at every width (base resolution), then the
    resolution families at every resolution (base width) -- the mobilenet lab's set."""
    base_w, base_r = config.widths[0], config.resolutions[0]
    out = [(m, w, base_r) for m in config.models for w in config.widths]
    out += [(m, base_w, r) for m in config.resolution_models for r in config.resolutions if (m, base_w, r) not in out]
    return out


# -- command line ------------------------------------------------------------------
def _parser_type(tp):
    """(argparse type, is_tuple) for a dataclass field's annotation."""
    args = [a for a in typing.get_args(tp) if a is not type(None)]
    if typing.get_origin(tp) is tuple:
        return args[0], True
    if args:  # Optional[X]
        return _parser_type(args[0])
    return tp, False


def _add_fields(parser: argparse.ArgumentParser, cls, group: str) -> None:
    hints = typing.get_type_hints(cls)
    section = parser.add_argument_group(group)
    for f in dataclasses.fields(cls):
        flag = "--" + f.name.replace("_", "-")
        tp, is_tuple = _parser_type(hints[f.name])
        help_text = f.metadata.get("help", "") + f" (default: {f.default})"
        if tp is bool:
            section.add_argument(flag, action=argparse.BooleanOptionalAction, default=f.default, help=help_text)
        elif is_tuple:
            section.add_argument(flag, type=lambda s, t=tp: tuple(t(v) for v in s.split(",") if v),
                                 default=f.default, help=help_text + "; comma-separated")
        else:
            section.add_argument(flag, type=tp, default=f.default, help=help_text)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m backproplab.torchmodels.study",
        description="MobileNet V1/V2 vs a plain CNN on Fashion-MNIST (32 px): the whole study on one GPU.")
    _add_fields(parser, StudyConfig, "study")
    _add_fields(parser, Recipe, "recipe (what a result depends on)")
    return parser


def given_options(argv: list[str]) -> frozenset:
    """Field names of the options written in ``argv`` ('--num-epochs 2', '--no-flip', '--out=x')."""
    names = set()
    for token in argv:
        if token.startswith("--"):
            name = token[2:].split("=", 1)[0].replace("-", "_")
            names.add(name[3:] if name.startswith("no_") else name)
    return frozenset(names)


def parse_args(argv=None) -> tuple[StudyConfig, Recipe]:
    argv = list(argv) if argv is not None else None
    ns = vars(build_parser().parse_args(argv))
    config = StudyConfig(**{f.name: ns[f.name] for f in dataclasses.fields(StudyConfig)})
    recipe = Recipe(**{f.name: ns[f.name] for f in dataclasses.fields(Recipe)})
    if config.tiny:
        config, recipe = tiny_overrides(config, recipe, given_options(argv if argv is not None else sys.argv[1:]))
    validate(config, recipe)
    return config, recipe
