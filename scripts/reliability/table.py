"""Every probe, in the order docs/reliability.md lists them."""
from __future__ import annotations

from . import table_cli, table_faults, table_files, table_options
from .files import FinishedRuns
from .harness import Probe


def all_probes(runs: FinishedRuns) -> list[Probe]:
    """Every probe; ``runs`` makes the finished runs that some probes damage (only when one runs)."""
    probes = (table_cli.names() + table_cli.issue_examples() + table_cli.languages() + table_options.probes()
              + table_files.run_folders(runs) + table_files.reports(runs) + table_files.caches(runs)
              + table_cli.clusters() + table_cli.calc() + table_cli.course() + table_cli.check() + table_cli.data()
              + table_files.fashion_mnist() + table_files.npz() + table_files.sst() + table_files.cifar10()
              + table_faults.probes())
    seen: set[str] = set()
    for p in probes:
        if p.id in seen:
            raise ValueError(f"two probes are called {p.id!r}")
        seen.add(p.id)
    return probes
