"""Runs a lab module that has no ``report`` function: its Config from the command line, then ``run(config, out)``."""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path


def main(name: str, module, argv: list[str]) -> int:
    from .common import add_config_arguments, config_from_args

    parser = argparse.ArgumentParser(prog=f"backproplab lab {name}", description=getattr(module, "TITLE", name))
    parser.add_argument("--out", type=Path, default=None, help=f"run folder (default: runs/{name})")
    add_config_arguments(parser, module.Config)
    args = parser.parse_args(argv)
    try:
        config = config_from_args(module.Config, args)
    except (TypeError, ValueError) as e:
        parser.error(str(e))
    out = args.out or Path("runs") / name
    try:
        result = module.run(config, out)
    except (ValueError, FileNotFoundError, FloatingPointError) as e:
        if os.environ.get("BACKPROPLAB_TRACEBACK"):
            raise
        print(f"backproplab lab {name}: error: {e}", file=sys.stderr)
        return 2
    print(f"{name}: wrote {out / 'report.md'}")
    summary = result.get("summary") if isinstance(result, dict) else None
    if summary:
        print(summary)
    return 0
