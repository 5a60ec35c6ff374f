"""``backproplab lab``: list the labs, run one, or run a group (``lab all``)."""
from __future__ import annotations

import sys
import textwrap

from ..errors import USAGE, run_command
from ..report.i18n import _
from . import registry


def print_labs(stream=None) -> None:
    stream = stream or sys.stdout
    infos = registry.labs()
    print("usage: backproplab lab NAME [options]     (backproplab lab NAME --help lists its options)\n", file=stream)
    print("labs:", file=stream)
    width = max(len(n) for n in infos) + 2
    for name, info in sorted(infos.items()):
        questions = f" [course {', '.join(info.questions)}]" if info.questions else ""
        text = f"{str(_(info.summary)) if info.summary else str(_(info.title))}{questions}"
        lines = textwrap.wrap(text, 100 - width - 2) or [""]
        print(f"  {name:<{width}}{lines[0]}", file=stream)
        for line in lines[1:]:
            print(" " * (width + 2) + line, file=stream)
    print("\ngroups:", file=stream)
    for group, members in registry.GROUPS.items():
        print(f"  {group:<{width}}{', '.join(members)} (one index of their reports)", file=stream)
    print("\nEvery lab takes --quick (seconds), --out DIR, --lang en|fa, --seed N, --overwrite, --quiet.", file=stream)


def _run_one(name: str, argv: list[str]) -> int:
    from .cli import build_config, lab_parser
    from .executor import executor_for
    from .progress import Progress
    from .runner import run_lab, report_files

    module = registry.load_lab(name)
    parser, names = lab_parser(name, module)
    args = parser.parse_args(argv)
    prog = f"backproplab lab {name}"

    def go() -> int:
        from ..utils.memory import retain_freed_memory

        config = build_config(module.Config, args, names)
        out = args.out or f"runs/{name}{'-quick' if config.is_quick else ''}"
        print(f"{name}: running into {out}{' (quick run)' if config.is_quick else ''}", flush=True)
        retain_freed_memory()  # a training step frees and re-allocates the same arrays: keep the pages
        with executor_for(args.cluster) as executor:
            result = run_lab(module, config, out, langs=args.lang, overwrite=args.overwrite, executor=executor,
                             progress=Progress(False if args.quiet else None))
        summary = result.get("summary") if isinstance(result, dict) else None
        print(f"{name}: wrote {out}/{report_files(args.lang[0])[1]}" + (f"\n{summary}" if summary else ""))
        return 0

    return run_command(prog, go, debug=args.debug)


def main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help"):
        return run_command("backproplab lab", print_labs)  # `backproplab lab | head` closes the pipe early
    name, rest = argv[0], argv[1:]
    if name in registry.GROUPS:
        from .suite import main as suite_main

        return suite_main(name, rest)
    try:
        registry.lab_info(name)
    except KeyError as e:
        print(f"backproplab lab: error: {e.args[0]}", file=sys.stderr)
        return USAGE
    return _run_one(name, rest)
