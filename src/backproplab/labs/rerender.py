"""``backproplab report RUN_DIR [--lang fa]``: write a finished run's report again, from its result.

The report is computed from ``result.json`` and ``config.json`` alone, so another language (or a
report after an upgrade of the report code) needs no new run.
"""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from ..errors import run_command
from . import registry
from .cli import Parser, _languages
from .run_folder import RunFolder
from .runner import report_files, write_reports


def _saved_run(run_dir: Path):
    """(lab module, Config) of the run in ``run_dir``, from its config.json; FileNotFoundError naming the
    file and the fix when it is missing, damaged, of an unknown lab or holds settings out of range."""
    path = run_dir / "config.json"
    try:
        saved = json.loads(path.read_text())
    except FileNotFoundError:
        raise FileNotFoundError(f"{run_dir} is not a lab run (it has no config.json); pass the folder a lab "
                                "wrote") from None
    except (OSError, ValueError) as e:
        raise FileNotFoundError(f"{path} is damaged ({e}); pass the folder a lab wrote, or run the lab into it "
                                "again with --overwrite") from None
    if not isinstance(saved, dict) or not isinstance(saved.get("config"), dict) or "lab" not in saved:
        raise FileNotFoundError(f"{path} lacks the lab and its settings (damaged, or written by an older "
                                "backproplab); run the lab into the folder again with --overwrite")
    try:
        module = registry.load_lab(saved["lab"])
    except KeyError as e:
        raise FileNotFoundError(f"{path} names a lab this backproplab lacks: {e.args[0]}") from None
    fields = {f.name for f in dataclasses.fields(module.Config)}
    try:
        config = module.Config(**{k: tuple(v) if isinstance(v, list) else v
                                  for k, v in saved["config"].items() if k in fields})
    except (ValueError, TypeError) as e:  # ConfigError is a ValueError
        raise FileNotFoundError(f"{path} holds settings this backproplab refuses ({e}); run the lab into the "
                                "folder again with --overwrite") from None
    return module, config


def main(argv: list[str]) -> int:
    from ..report.i18n import LANGUAGES

    p = Parser(prog="backproplab report", description=__doc__.splitlines()[0])
    p.add_argument("run_dir", type=Path, help="a lab's run folder (it holds config.json and result.json)")
    p.add_argument("--lang", default=("en",), type=_languages(LANGUAGES), help="language(s), comma-separated")
    p.add_argument("--debug", action="store_true", help="show the traceback of an error")
    args = p.parse_args(argv)

    def go() -> int:
        module, config = _saved_run(args.run_dir)
        with RunFolder(args.run_dir, module.NAME, config) as folder:
            result = folder.finished_result()
            if result is None:
                raise FileNotFoundError(f"{args.run_dir} holds no finished run (no result.json of its settings); "
                                        f"run `backproplab lab {module.NAME}` into it first")
            write_reports(module, result, config, folder, args.lang)
        for lang in args.lang:
            print(f"wrote {args.run_dir / report_files(lang)[1]}")
        return 0

    return run_command("backproplab report", go, debug=args.debug)
