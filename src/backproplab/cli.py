"""Command line: ``backproplab lab NAME [options]``, ``backproplab calc ...``, ``backproplab data ...``.

Each lab's options come from its Config dataclass (``--help`` after the lab
name lists them). Sub-commands are imported lazily so ``--help`` is fast and a
missing optional dependency only affects the command that needs it.
"""
from __future__ import annotations

import argparse
import importlib
import os
import sys
from pathlib import Path


def _lab_main(argv: list[str]) -> int:
    from .labs import GROUPS, LABS, load_lab
    from .labs.common import add_config_arguments, config_from_args

    if not argv or argv[0] in ("-h", "--help"):
        print("usage: backproplab lab NAME [options]   (backproplab lab NAME --help for its options)\n")
        print("labs:   " + ", ".join(LABS))
        print("groups: " + ", ".join(f"{g} ({', '.join(m)})" for g, m in GROUPS.items()))
        return 0
    name, rest = argv[0], argv[1:]
    if name in GROUPS:
        suite = importlib.import_module(".labs.suite", __package__)
        return suite.main(name, rest)
    module = load_lab(name)
    parser = argparse.ArgumentParser(prog=f"backproplab lab {name}", description=getattr(module, "TITLE", name))
    parser.add_argument("--out", type=Path, default=None, help=f"run folder (default: runs/{name})")
    add_config_arguments(parser, module.Config)
    args = parser.parse_args(rest)
    try:
        config = config_from_args(module.Config, args)
    except (TypeError, ValueError) as e:
        parser.error(str(e))
    out = args.out or Path("runs") / name
    try:
        result = module.run(config, out)
    except (ValueError, FileNotFoundError, FloatingPointError) as e:
        # bad input (an option, a data file, a diverging run): the message names the problem and
        # the fix; BACKPROPLAB_TRACEBACK=1 shows where it came from
        if os.environ.get("BACKPROPLAB_TRACEBACK"):
            raise
        print(f"backproplab lab {name}: error: {e}", file=sys.stderr)
        return 2
    print(f"{name}: wrote {out / 'report.md'}")
    summary = result.get("summary") if isinstance(result, dict) else None
    if summary:
        print(summary)
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    commands = {
        "lab": ("run a lab (or a group of labs) and write its run folder", _lab_main),
        "calc": ("course calculators that print their working", None),
        "data": ("dataset tools: locate, convert to the assignment's npz, download", None),
    }
    if not argv or argv[0] in ("-h", "--help"):
        print("usage: backproplab COMMAND ...\n\ncommands:")
        for c, (h, _) in commands.items():
            print(f"  {c:6s} {h}")
        return 0
    cmd, rest = argv[0], argv[1:]
    if cmd not in commands:
        print(f"backproplab: unknown command {cmd!r}; choose one of {', '.join(commands)}", file=sys.stderr)
        return 2
    if cmd == "lab":
        return _lab_main(rest)
    # calc and data live in their own packages: backproplab.calc.cli / backproplab.data.cli
    module = importlib.import_module(f".{cmd}.cli", __package__)
    return int(module.main(rest) or 0)


if __name__ == "__main__":
    sys.exit(main())
