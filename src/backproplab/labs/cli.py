"""``backproplab lab NAME [options]``: a lab's options come from the fields of its Config.

Every field declared with :func:`~backproplab.labs.config.option` becomes ``--field-name``
(booleans ``--x/--no-x``, tuples comma lists), with its help text, default and valid range in
``--help``. Parsing errors are one line with exit status 2: a misspelled lab or option gets
"did you mean ...?", a bad list entry names the entry and the type wanted, a value outside its
range names the range. Options shared by every lab: ``--out``, ``--quick``, ``--overwrite``,
``--lang``, ``--quiet``, ``--debug``.
"""
from __future__ import annotations

import argparse
import dataclasses
import difflib
import re
import sys
import types
import typing
from pathlib import Path

from .config import ConfigError, flag_name, range_text


class Parser(argparse.ArgumentParser):
    """argparse with "did you mean" for misspelled options and one-line errors (exit 2)."""

    def error(self, message: str):
        if "unrecognized arguments:" in message:
            words = message.split("unrecognized arguments:", 1)[1].split()
            known = _option_strings(self)
            hints = []
            for w in words:
                if w.startswith("--"):
                    close = difflib.get_close_matches(w.split("=")[0], known, n=2, cutoff=0.6)
                    if close:
                        hints.append(f"{w}: did you mean {' or '.join(close)}?")
            message += " (" + "; ".join(hints) + ")" if hints else f" (`{self.prog} --help` lists the options)"
        elif "invalid choice:" in message:
            message += _did_you_mean_choice(message)
        self.exit(2, f"{self.prog}: error: {message}\n")


def _option_strings(parser: argparse.ArgumentParser) -> list[str]:
    """Every option of ``parser`` and of its sub-commands (argparse reports a sub-command's unknown
    option from the top parser)."""
    found = []
    for action in parser._actions:
        found += action.option_strings
        if isinstance(action, argparse._SubParsersAction):
            for sub in dict.fromkeys(action.choices.values()):
                found += [s for s in _option_strings(sub) if s not in found]
    return found


def _did_you_mean_choice(message: str) -> str:
    """"; did you mean 'show'?" for argparse's "invalid choice: 'shwo' (choose from ...)", else ""."""
    found = re.search(r"invalid choice: '?([^'(]*?)'? \(choose from (.*)\)", message)
    if not found:
        return ""
    choices = [c.strip().strip("'") for c in found.group(2).split(",")]
    close = difflib.get_close_matches(found.group(1), choices, n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


_TYPE_WORDS = {int: "an integer", float: "a number", str: "a text"}


def _scalar(tp, flag: str):
    def convert(text: str):
        try:
            return tp(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{flag} takes {_TYPE_WORDS.get(tp, tp.__name__)}, got {text!r}") from None
    return convert


def _parse_bool(text: str) -> bool:
    low = text.lower()
    if low in ("1", "true", "yes", "on"):
        return True
    if low in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


def field_parser(tp, flag: str):
    """A str -> value converter for a Config field's annotation, with messages that name ``flag``."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        conv = field_parser([a for a in args if a is not type(None)][0], flag)
        return lambda s: None if s.strip().lower() == "none" else conv(s)
    if origin is tuple:
        elem = args[0] if args else str

        def convert(text: str):
            if not text.strip():
                return ()  # an empty list ("" for no entries); the field's min_len decides if it is allowed
            out = []
            for part in (p.strip() for p in text.split(",")):
                if not part:  # "1,,2" or "1,2,": a number left out is a typo, not nothing
                    raise argparse.ArgumentTypeError(f"{flag} has an empty entry in {text!r}; separate the "
                                                     "entries by single commas")
                try:
                    out.append(elem(part) if elem in (int, float) else part)
                except ValueError:
                    raise argparse.ArgumentTypeError(
                        f"{flag} takes comma-separated {_TYPE_WORDS.get(elem, elem.__name__)}s like "
                        f"{'1,2,4' if elem is int else '0.1,0.5'}; {part!r} is not "
                        f"{_TYPE_WORDS.get(elem, elem.__name__)}") from None
            return tuple(out)
        return convert
    if tp is bool:
        return _parse_bool
    if tp in (int, float):
        return _scalar(tp, flag)
    return str


def add_config_arguments(parser: argparse.ArgumentParser, config_cls) -> list[str]:
    """``--field-name`` for every CLI field of ``config_cls``; returns the field names added."""
    hints = typing.get_type_hints(config_cls)
    names = []
    for f in dataclasses.fields(config_cls):
        if not f.metadata.get("cli", True):
            continue
        tp, flag = hints[f.name], flag_name(f.name)
        default = f.default
        shown = ",".join(map(str, default)) if isinstance(default, tuple) else default
        extra = range_text(f.metadata)
        help_text = f"{f.metadata.get('help', '')} (default: {shown}{'; ' + extra if extra else ''})"
        # SUPPRESS: only options given on the command line reach the namespace, so that
        # --quick's settings apply first and explicit options override them
        if tp is bool:
            parser.add_argument(flag, dest=f.name, action=argparse.BooleanOptionalAction,
                                default=argparse.SUPPRESS, help=help_text)
        else:
            metavar = "LIST" if typing.get_origin(tp) is tuple else None
            parser.add_argument(flag, dest=f.name, type=field_parser(tp, flag), default=argparse.SUPPRESS,
                                help=help_text, metavar=metavar)
        names.append(f.name)
    return names


def add_run_arguments(parser: argparse.ArgumentParser, default_out: str) -> None:
    """The options every lab (and ``lab all``) takes besides its Config."""
    from ..report.i18n import LANGUAGES

    parser.add_argument("--out", type=Path, default=None,
                        help=f"run folder (default: {default_out}, or {default_out}-quick with --quick)")
    parser.add_argument("--quick", action="store_true",
                        help="a run of seconds on a slice of the data (for trying things out; not the lab's answer)")
    parser.add_argument("--overwrite", action="store_true",
                        help="start afresh, replacing the run in the run folder (default: resume a run with the same "
                             "settings, refuse one with other settings)")
    parser.add_argument("--lang", default="en", type=_languages(LANGUAGES),
                        help=f"report language(s), comma-separated: {', '.join(LANGUAGES)} (default: en)")
    parser.add_argument("--quiet", action="store_true", help="no progress display (also when not on a terminal)")
    parser.add_argument("--debug", action="store_true", help="show the traceback of an error")
    parser.add_argument("--cluster", default=None, metavar="ADDRESS",
                        help="run independent sub-experiments on a Dask cluster: tcp://HOST:8786, or local:N "
                             "for N workers on this machine (default: here, one after the other)")


def _languages(known):
    def convert(text: str) -> tuple[str, ...]:
        langs = tuple(p.strip() for p in text.split(",") if p.strip())
        bad = [lang for lang in langs if lang not in known]
        if bad or not langs:
            raise argparse.ArgumentTypeError(f"--lang takes {', '.join(known)} (comma-separated), got {text!r}")
        twice = sorted({lang for lang in langs if langs.count(lang) > 1})
        if twice:
            raise argparse.ArgumentTypeError(f"--lang names {', '.join(twice)} twice in {text!r}; name each "
                                             "language once")
        return langs
    return convert


def build_config(config_cls, args: argparse.Namespace, names: list[str]):
    """The Config of the command line: defaults, then ``quick()`` if asked, then the options given."""
    config = config_cls()
    if getattr(args, "quick", False):
        config = config.quick()
    given = {k: getattr(args, k) for k in names if hasattr(args, k)}
    return dataclasses.replace(config, **given) if given else config


def lab_parser(name: str, module) -> tuple[Parser, list[str]]:
    from ..report.i18n import _

    title = str(_(module.TITLE))
    parser = Parser(prog=f"backproplab lab {name}", description=title, allow_abbrev=False)
    add_run_arguments(parser, f"runs/{name}")
    names = add_config_arguments(parser, module.Config)
    return parser, names


def config_error_exit(prog: str, error: ConfigError | TypeError):
    print(f"{prog}: error: {error}", file=sys.stderr)
    return 2
