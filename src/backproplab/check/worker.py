"""The sandboxed child: ``python -m backproplab.check.worker JOB_FOLDER``.

It imports the submission (as module ``submission``, so code under ``if __name__ ==
"__main__":`` does not run), calls one task's probe on the inputs the parent wrote, and
writes what came back to ``JOB_FOLDER/outputs`` (JSON + .npy, no pickle). The parent has
already set the memory, CPU-time and file-size limits on this process and kills its process
group at the wall-clock timeout. An import failure is written as ``import_error.json``.
"""
from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

from .exchange import Probe, read_folder
from .probing import describe_error
from .tasks import TASKS

IMPORTING = "importing the submission"


def _import_submission(path: str):
    spec = importlib.util.spec_from_file_location("submission", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules["submission"] = module
    folder = str(Path(path).parent)
    if folder not in sys.path:  # the submission may import its own helper files
        sys.path.insert(0, folder)
    spec.loader.exec_module(module)
    return module


def main(argv: list[str]) -> int:
    job_dir = Path(argv[0])
    job = json.loads((job_dir / "job.json").read_text())
    inputs, manifest = read_folder(job_dir / "inputs")
    progress = job_dir / "progress"
    probe = Probe(inputs, manifest.get("settings", {}), job["file"], job.get("memory_limit"), progress)
    probe.progress(IMPORTING)
    try:
        module = _import_submission(job["file"])
    except KeyboardInterrupt:
        raise
    except BaseException as e:  # SyntaxError, a failing top-level statement, exit() at import
        info = describe_error(e, job["file"], job.get("memory_limit"))
        if isinstance(e, SyntaxError) and e.lineno:
            info["line"] = e.lineno
            info["text"] = f"SyntaxError: {e.msg} (line {e.lineno})"
        (job_dir / "import_error.json").write_text(json.dumps(info))
        return 0
    TASKS[job["task"]].probe(module, probe)
    probe.progress("writing the results")
    probe.save(job_dir / "outputs")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
