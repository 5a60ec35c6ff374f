"""What every lab shares: its run folder, config.json, metrics, plots, report, and resumable steps.

A lab module defines::

    NAME = "activations"                 # the CLI name
    TITLE = "Activations and vanishing gradients"
    @dataclass(frozen=True)
    class Config:                         # one field per option; a comment on each default
        seed: int = 0
        quick: bool = False
        ...
    def run(config: Config, out_dir: Path) -> dict:   # returns the lab's result summary

The CLI builds ``--field-name`` options from the Config's fields (see
:func:`add_config_arguments`), so an unknown option is an argparse error, and
``run`` is the same function the tests call.

Inside ``run``, use :class:`LabRun`::

    lab = LabRun(out_dir, config)          # writes config.json
    res = lab.step("train-relu", lambda: train(...))   # cached: a killed run resumes here
    lab.save_metrics("curves", rows)       # curves.json + curves.csv
    lab.savefig(fig, "loss")               # loss.png
    lab.write_report(markdown)             # report.md
"""
from __future__ import annotations

import argparse
import csv
import dataclasses
import hashlib
import io
import json
import types
import typing
from pathlib import Path
from typing import Any, Callable

from ..utils.io import atomic_write_bytes, atomic_write_json, atomic_write_text, to_jsonable


def config_to_dict(config) -> dict:
    return to_jsonable(dataclasses.asdict(config))


class LabRun:
    """The run folder of one lab run.

    Args:
        out_dir: folder to write into (created).
        config: the lab's frozen Config dataclass; written to ``config.json``.
    """

    def __init__(self, out_dir, config):
        self.out_dir = Path(out_dir)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.config = config
        cfg = config_to_dict(config)
        self.config_hash = hashlib.sha256(json.dumps(cfg, sort_keys=True).encode()).hexdigest()[:16]
        atomic_write_json(self.out_dir / "config.json", cfg)
        self.files: list[str] = ["config.json"]

    # -- resumable steps -------------------------------------------------------
    def step(self, key: str, fn: Callable[[], Any]) -> Any:
        """Return ``fn()``'s JSON-able result, cached in ``.steps/KEY.json`` under this config.

        A killed run, started again with the same config, skips finished steps.
        A different config recomputes (the cache is keyed by the config hash).
        """
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in key)
        path = self.out_dir / ".steps" / f"{safe}.json"
        if path.exists():
            try:
                saved = json.loads(path.read_text())
                if saved.get("config_hash") == self.config_hash:
                    return saved["result"]
            except (json.JSONDecodeError, KeyError):
                pass  # a damaged cache entry is recomputed
        result = to_jsonable(fn())
        atomic_write_json(path, {"config_hash": self.config_hash, "key": key, "result": result})
        return result

    # -- outputs ---------------------------------------------------------------
    def save_metrics(self, name: str, rows: list[dict] | dict) -> None:
        """Write ``NAME.json`` (as given) and, for a list of flat dicts, ``NAME.csv``."""
        atomic_write_json(self.out_dir / f"{name}.json", rows)
        self.files.append(f"{name}.json")
        if isinstance(rows, list) and rows and all(isinstance(r, dict) for r in rows):
            fields: list[str] = []
            for r in rows:
                for k in r:
                    if k not in fields:
                        fields.append(k)
            buf = io.StringIO()
            w = csv.DictWriter(buf, fieldnames=fields)
            w.writeheader()
            for r in rows:
                w.writerow({k: to_jsonable(r.get(k, "")) for k in fields})
            atomic_write_text(self.out_dir / f"{name}.csv", buf.getvalue())
            self.files.append(f"{name}.csv")

    def savefig(self, fig, name: str, dpi: int = 110) -> str:
        """Save a matplotlib figure as ``NAME.png`` atomically and close it."""
        import matplotlib.pyplot as plt

        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
        plt.close(fig)
        atomic_write_bytes(self.out_dir / f"{name}.png", buf.getvalue())
        self.files.append(f"{name}.png")
        return f"{name}.png"

    def write_report(self, markdown: str) -> Path:
        path = atomic_write_text(self.out_dir / "report.md", markdown.rstrip() + "\n")
        self.files.append("report.md")
        return path


def new_figure(nrows: int = 1, ncols: int = 1, size: tuple[float, float] | None = None):
    """A matplotlib figure on the non-interactive Agg backend (no screen needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    size = size or (5.0 * ncols, 3.6 * nrows)
    fig, axes = plt.subplots(nrows, ncols, figsize=size, squeeze=False)
    return fig, axes


def markdown_table(rows: list[dict], columns: list[str] | None = None, floatfmt: str = ".4g") -> str:
    """A GitHub-flavoured Markdown table of ``rows`` (list of dicts)."""
    if not rows:
        return "_(no rows)_\n"
    columns = columns or list(rows[0])

    def fmt(v):
        if isinstance(v, float):
            return format(v, floatfmt)
        return "" if v is None else str(v)

    out = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for r in rows:
        out.append("| " + " | ".join(fmt(r.get(c)) for c in columns) + " |")
    return "\n".join(out) + "\n"


# -- CLI from a Config dataclass -----------------------------------------------
def _parse_bool(text: str) -> bool:
    low = text.lower()
    if low in ("1", "true", "yes", "on"):
        return True
    if low in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true/false, got {text!r}")


def _field_parser(tp):
    """A str -> value converter for a Config field's type annotation."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in args if a is not type(None)]
        conv = _field_parser(inner[0])
        return lambda s: None if s.lower() == "none" else conv(s)
    if origin is tuple:
        elem = args[0] if args else str
        conv = _field_parser(elem)
        return lambda s: tuple(conv(p.strip()) for p in s.split(",") if p.strip())
    if tp is bool:
        return _parse_bool
    if tp in (int, float, str):
        return tp
    return str


def add_config_arguments(parser: argparse.ArgumentParser, config_cls) -> None:
    """Add ``--field-name`` for every field of ``config_cls`` (bools are flags; tuples comma lists)."""
    hints = typing.get_type_hints(config_cls)
    for f in dataclasses.fields(config_cls):
        tp = hints[f.name]
        flag = "--" + f.name.replace("_", "-")
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()  # type: ignore[misc]
        help_text = f.metadata.get("help", "") + f" (default: {default})"
        if tp is bool:
            parser.add_argument(flag, dest=f.name, action=argparse.BooleanOptionalAction, default=default, help=help_text)
        else:
            parser.add_argument(flag, dest=f.name, type=_field_parser(tp), default=default, help=help_text)


def config_from_args(config_cls, args: argparse.Namespace):
    """Build ``config_cls`` from the argparse namespace (only its own fields)."""
    names = {f.name for f in dataclasses.fields(config_cls)}
    return config_cls(**{k: v for k, v in vars(args).items() if k in names})


def replace_known(config, **overrides):
    """``dataclasses.replace`` with only the overrides that are fields of ``config``."""
    names = {f.name for f in dataclasses.fields(config)}
    return dataclasses.replace(config, **{k: v for k, v in overrides.items() if k in names})


def parse_classes(text: str | tuple | list | None) -> tuple[int, ...] | None:
    """'0,1' -> (0, 1); 'all' or None -> None (all classes). Validates 0..9 and no repeats."""
    if text is None or (isinstance(text, str) and text.strip().lower() == "all"):
        return None
    parts = text if isinstance(text, (tuple, list)) else [p for p in str(text).split(",") if p.strip()]
    try:
        classes = tuple(int(p) for p in parts)
    except ValueError:
        raise ValueError(f"--classes takes a comma list of class ids like 0,1 or 'all', got {text!r}") from None
    if len(classes) < 2 or len(set(classes)) != len(classes) or any(c < 0 or c > 9 for c in classes):
        raise ValueError(f"--classes needs at least two distinct ids in 0..9, got {text!r}")
    return classes


def on_cores(model, threads: int):
    """(model to train, threads used): see :func:`backproplab.labs.cores.on_cores` (0 = every core)."""
    from .cores import on_cores as spread

    return spread(model, threads)

