"""Command line: ``backproplab COMMAND ...``.

Commands live in their own packages and are imported only when used, so ``--help`` is fast
and a missing optional dependency (PyTorch) affects only the command that needs it.
"""
from __future__ import annotations

import difflib
import importlib
import sys

#: command -> (one-line description, module with ``main(argv) -> int``)
COMMANDS = {
    "lab": ("run a lab (or a group of labs) and write its run folder and report", "backproplab.labs.command"),
    "report": ("write an existing run's report again, e.g. in another language", "backproplab.labs.rerender"),
    "course": ("the homework questions, what answers each, and the errata of their solutions",
               "backproplab.course.cli"),
    "calc": ("course calculators that print their working", "backproplab.calc.cli"),
    "data": ("dataset tools: locate, convert to the assignment's npz, download", "backproplab.data.cli"),
    "check": ("check a student's own NumPy code against the reference layers, sandboxed", "backproplab.check.cli"),
}


def _usage() -> str:
    lines = ["usage: backproplab [--version] COMMAND ...", "", "commands:"]
    lines += [f"  {name:8s}{text}" for name, (text, _module) in COMMANDS.items()]
    lines += ["", "backproplab COMMAND --help describes a command."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(_usage())
        return 0
    if argv[0] == "--version":
        from . import __version__

        print(f"backproplab {__version__}")
        return 0
    cmd, rest = argv[0], argv[1:]
    if cmd not in COMMANDS:
        close = difflib.get_close_matches(cmd, list(COMMANDS), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        print(f"backproplab: error: unknown command {cmd!r}{hint} (commands: {', '.join(COMMANDS)})",
              file=sys.stderr)
        return 2
    module = importlib.import_module(COMMANDS[cmd][1])
    return int(module.main(rest) or 0)


if __name__ == "__main__":
    sys.exit(main())
