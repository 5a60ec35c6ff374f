"""``backproplab course``: the questions of the five homework sets, and what answers each.

    backproplab course list [SET]          the questions (of one set: 000 .. 004)
    backproplab course show ID             a question, its errata, and its answer (runs the quick form)
    backproplab course check [SET]         every checkable answer against its expected value
    backproplab course run                 every experiment at full settings, one index of the answers
    backproplab course errata              the errata of the documents' solutions (Markdown)

Each takes ``--lang fa|en`` (default fa, the documents' language) and ``--json``.
"""
from __future__ import annotations

import json
import sys

from ..errors import UsageError, run_command
from ..labs.cli import Parser
from ..report.i18n import N_, _, language
from .map import load_map, question

LANGS = ("fa", "en")
ERRATA = N_("errata")


def _common(p) -> None:
    p.add_argument("--lang", choices=LANGS, default="fa", help="language of the questions and messages (default: fa)")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.add_argument("--debug", action="store_true", help="show the traceback of an error")


def parser() -> Parser:
    p = Parser(prog="backproplab course", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=Parser)
    q = sub.add_parser("list", help="the questions of one set or of all five")
    q.add_argument("set", nargs="?", default=None, help="000, 001, 002, 003 or 004 (default: all)")
    _common(q)
    q = sub.add_parser("show", help="one question, its errata and its answer")
    q.add_argument("id", help="a question id, e.g. 001/Q5.b")
    q.add_argument("--no-run", action="store_true", help="do not run the command, only show the question")
    q.add_argument("--full", action="store_true", help="run the full command, not its quick form")
    _common(q)
    q = sub.add_parser("check", help="run every checkable answer and compare it with its expected value")
    q.add_argument("set", nargs="?", default=None, help="one set (default: all)")
    q.add_argument("--full", action="store_true", help="run the full commands, not their quick forms")
    _common(q)
    q = sub.add_parser("run", help="every lab at full settings, and one index of the answers")
    q.add_argument("--out", default="runs/course-run", help="folder of the runs and the index")
    q.add_argument("--quick", action="store_true", help="quick forms (seconds per lab; not the answers)")
    q.add_argument("--include-gpu", action="store_true", help="also the mobilenet study (hours on a CPU)")
    q.add_argument("--jobs", type=int, default=None, metavar="N",
                   help="labs run side by side (default: one per core; the numbers do not depend on it)")
    _common(q)
    q = sub.add_parser("errata", help="every erratum of the documents' solutions, as Markdown")
    _common(q)
    return p


def _sets(set_id):
    sets = load_map()
    if set_id is None:
        return list(sets.values())
    if set_id not in sets:
        raise UsageError(f"no course set {set_id!r}; the sets are {', '.join(sets)}")
    return [sets[set_id]]


def cmd_list(args) -> int:
    sets = _sets(args.set)
    if args.json:
        print(json.dumps([{"set": s.set, "document": s.document, "title": s.title(args.lang),
                           "questions": [{"id": q.id, "kind": q.kind, "question": q.text(args.lang),
                                          "command": q.command or q.call or q.docs, "errata": list(q.errata)}
                                         for q in s.questions]} for s in sets], ensure_ascii=False, indent=1))
        return 0
    for s in sets:
        print(f"{s.set}  {s.title(args.lang)}  ({s.document})")
        for q in s.questions:
            mark = f"  [{_(ERRATA)}: {', '.join(q.errata)}]" if q.errata else ""
            print(f"  {q.id:<12} {str(_(q.kind)):<12} {q.text(args.lang)}{mark}")
            print(f"  {'':<12} {'':<12} → {q.command or q.call or q.docs}")
        print()
    return 0


def cmd_show(args) -> int:
    from .show import show

    return show(question(args.id), args.lang, run=not args.no_run, quick=not args.full, as_json=args.json)


def cmd_check(args) -> int:
    from .check import check

    return check(_sets(args.set), args.lang, quick=not args.full, as_json=args.json)


def cmd_run(args) -> int:
    from .run_all import run_all

    from ..utils.cores import available_cores

    jobs = args.jobs if args.jobs is not None else available_cores()
    if jobs < 1:
        raise UsageError(f"--jobs must be >= 1, got {jobs}")
    return run_all(args.out, args.lang, quick=args.quick, include_gpu=args.include_gpu, as_json=args.json,
                   jobs=jobs)


def cmd_errata(args) -> int:
    from .errata import errata_markdown

    sys.stdout.write(errata_markdown(args.lang))
    return 0


COMMANDS = {"list": cmd_list, "show": cmd_show, "check": cmd_check, "run": cmd_run, "errata": cmd_errata}


def main(argv: list[str]) -> int:
    args = parser().parse_args(argv)

    def go() -> int:
        with language(args.lang):
            return COMMANDS[args.command](args)

    return run_command(f"backproplab course {args.command}", go, debug=args.debug)


def print_answer_table(rows: list[dict]) -> None:
    """A plain table: id, expected, got, verdict (used by check)."""
    widths = {k: max(len(k), *(len(str(r[k])) for r in rows)) for k in rows[0]} if rows else {}
    for r in [dict(zip(widths, widths))] + rows:
        print("  ".join(str(r[k])[:60].ljust(min(widths[k], 60)) for k in widths))

