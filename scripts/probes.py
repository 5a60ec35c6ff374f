"""Probe backproplab with bad input and faults; print what each gets; write docs/reliability.md.

    .venv/bin/python scripts/probes.py                 # every probe (a few minutes); writes the doc
    .venv/bin/python scripts/probes.py --fast          # the probes tests/test_probes.py runs (seconds)
    .venv/bin/python scripts/probes.py --slow          # the others (quick lab runs, faults, snippets)
    .venv/bin/python scripts/probes.py --only 'rf-*'   # some probes by id (shell patterns)
    .venv/bin/python scripts/probes.py --list          # the table, without running it
    .venv/bin/python scripts/probes.py --fast --update-doc   # rerun the fast ones, update their rows

The probes live in ``scripts/reliability/`` (one file per kind: lab options from every lab's
Config, command-line names and commands, files, faults). Each runs in a fresh temporary folder
with a timeout; see ``scripts/reliability/harness.py`` for how a run is judged. Exit status: 0 when
every probe run passes, 1 otherwise.
"""
from __future__ import annotations

import argparse
import fnmatch
import shutil
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from reliability import doc  # noqa: E402
from reliability.files import FinishedRuns  # noqa: E402
from reliability.harness import ROOT, Probe, Result, run_inprocess, run_subprocess  # noqa: E402
from reliability.table import all_probes  # noqa: E402

DOC = ROOT / "docs" / "reliability.md"


def _one(probe: Probe, root: Path, run) -> Result:
    folder = root / probe.id
    folder.mkdir()
    try:
        result = run(probe, folder)
    except Exception as e:  # a setup or check that fails is a defect of the probe; report it as such
        result = Result(None, "", "", 0.0, [f"the probe itself failed: {type(e).__name__}: {e}"])
    got = "hang" if result.status is None else result.status
    verdict = "ok" if result.ok else "FAIL " + "; ".join(result.problems)
    print(f"{probe.id:42s} {probe.status:>3} {got!s:>4} {result.seconds:6.1f}s  {verdict}", flush=True)
    if not result.ok:
        print(f"{'':42s} message: {result.message[:160]}", flush=True)
    return result


def run_all(probes: list[Probe], root: Path, jobs: int, in_process: bool) -> dict[str, Result]:
    """Fast probes here, one after the other (as tests/test_probes.py runs them), unless
    ``in_process`` is False; the others in their own processes, ``jobs`` at a time."""
    here = [p for p in probes if p.fast and in_process]
    results = {p.id: _one(p, root, run_inprocess) for p in here}
    rest = [p for p in probes if p.id not in results]
    with ThreadPoolExecutor(jobs) as pool:
        for probe, result in zip(rest, pool.map(lambda p: _one(p, root, run_subprocess), rest)):
            results[probe.id] = result
    return results


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--only", action="append", default=[], metavar="PATTERN", help="ids to run (shell patterns)")
    p.add_argument("--fast", action="store_true", help="only the probes marked fast")
    p.add_argument("--slow", action="store_true", help="only the probes not marked fast")
    p.add_argument("--jobs", "-j", type=int, default=2, help="probes run at the same time (default 2)")
    p.add_argument("--list", action="store_true", help="print the table without running it")
    p.add_argument("--update-doc", action="store_true",
                   help="after a partial run, update the doc's rows of the probes run (a full run always writes it)")
    p.add_argument("--keep", action="store_true", help="keep the temporary folders (their path is printed)")
    p.add_argument("--subprocess", action="store_true",
                   help="run the fast probes in their own processes too (default: here, as the tests do)")
    args = p.parse_args(argv)

    root = Path(tempfile.mkdtemp(prefix="backproplab-probes-"))
    runs = FinishedRuns(root / ".finished")
    (root / ".finished").mkdir()
    probes = all_probes(runs)
    chosen = [q for q in probes if (not args.fast or q.fast) and (not args.slow or not q.fast)
              and (not args.only or any(fnmatch.fnmatch(q.id, pat) for pat in args.only))]
    if args.list:
        for q in chosen:
            print(f"{q.id:42s} {q.status}  {'fast ' if q.fast else '     '}{q.family}: {q.shown()[:100]}")
        return 0
    print(f"{len(chosen)} probes in {root}\n{'id':42s} {'exp':>3} {'got':>4} {'time':>7}  verdict")
    start = time.monotonic()
    try:
        results = run_all(chosen, root, args.jobs, not args.subprocess)
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    seconds = time.monotonic() - start
    failed = [q.id for q in chosen if not results[q.id].ok]
    print(f"\n{len(chosen) - len(failed)} of {len(chosen)} probes pass ({seconds:.0f} s)")
    if failed:
        print("failing: " + ", ".join(failed))
    if len(chosen) == len(probes) or args.update_doc:
        earlier, full_seconds = doc.previous(DOC.read_text(encoding="utf-8")) if DOC.exists() else ({}, 0.0)
        DOC.write_text(doc.render(probes, results, seconds if len(chosen) == len(probes) else full_seconds,
                                  earlier), encoding="utf-8")
        print(f"wrote {DOC.relative_to(ROOT)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
