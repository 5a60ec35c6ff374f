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


def main(argv: list[str]) -> int:
    from ..report.i18n import LANGUAGES

    p = Parser(prog="backproplab report", description=__doc__.splitlines()[0])
    p.add_argument("run_dir", type=Path, help="a lab's run folder (it holds config.json and result.json)")
    p.add_argument("--lang", default=("en",), type=_languages(LANGUAGES), help="language(s), comma-separated")
    p.add_argument("--debug", action="store_true", help="show the traceback of an error")
    args = p.parse_args(argv)

    def go() -> int:
        try:
            saved = json.loads((args.run_dir / "config.json").read_text())
        except (OSError, ValueError) as e:
            raise FileNotFoundError(f"{args.run_dir} is not a finished lab run (no readable config.json: {e}); "
                                    "pass the folder a lab wrote") from None
        module = registry.load_lab(saved["lab"])
        fields = {f.name for f in dataclasses.fields(module.Config)}
        config = module.Config(**{k: tuple(v) if isinstance(v, list) else v
                                  for k, v in saved["config"].items() if k in fields})
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
