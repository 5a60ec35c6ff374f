"""Find the labs: every module of :mod:`backproplab.labs` that sets ``NAME``, plus those of the
packages named in ``$BACKPROPLAB_LAB_PACKAGES`` (comma-separated; a TA's own labs).

Listing reads each module's source (``NAME``, ``TITLE``, ``SUMMARY``, ``QUESTIONS`` must be plain
literals, or ``N_("...")`` for the translatable ones) without importing it, so ``lab --help``
stays fast and one lab's optional dependency (PyTorch for ``mobilenet``) never breaks another.
Adding a lab is adding one file.
"""
from __future__ import annotations

import ast
import difflib
import importlib
import importlib.util
import os
import pkgutil
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

ENV_VAR = "BACKPROPLAB_LAB_PACKAGES"

#: groups runnable as ``backproplab lab GROUP``: ``all`` is the MLP assignment (document 004)
GROUPS = {
    "all": ("activations", "init", "optimizers", "l2"),
}


@dataclass(frozen=True)
class LabInfo:
    name: str         # CLI name
    module: str       # importable module path
    title: str        # English title (translated when shown)
    summary: str      # one line: what the lab answers
    questions: tuple  # course question ids (backproplab course show ID)


def _literal(node):
    if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "N_" and node.args:
        node = node.args[0]
    return ast.literal_eval(node)


def _read_info(path: Path, module: str) -> LabInfo | None:
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"))
    except (OSError, SyntaxError, UnicodeDecodeError):
        return None
    found = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            key = node.targets[0].id
            if key in ("NAME", "TITLE", "SUMMARY", "QUESTIONS"):
                try:
                    found[key] = _literal(node.value)
                except ValueError:
                    pass
    if not isinstance(found.get("NAME"), str):
        return None
    return LabInfo(found["NAME"], module, found.get("TITLE", found["NAME"]), found.get("SUMMARY", ""),
                   tuple(found.get("QUESTIONS", ())))


def _scan(package: str) -> list[LabInfo]:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit(f"backproplab: ${ENV_VAR} names {package!r}, which is not an importable package")
    infos = []
    for folder in spec.submodule_search_locations:
        for mod in pkgutil.iter_modules([folder]):
            if mod.ispkg or mod.name.startswith("_"):
                continue
            info = _read_info(Path(folder) / f"{mod.name}.py", f"{package}.{mod.name}")
            if info is not None:
                infos.append(info)
    return infos


@lru_cache(maxsize=None)
def _labs(extra: str) -> dict[str, LabInfo]:
    labs: dict[str, LabInfo] = {}
    for package in ["backproplab.labs"] + [p.strip() for p in extra.split(",") if p.strip()]:
        for info in sorted(_scan(package), key=lambda i: i.name):
            labs.setdefault(info.name, info)
    return labs


def labs() -> dict[str, LabInfo]:
    """Every lab by CLI name."""
    return _labs(os.environ.get(ENV_VAR, ""))


def suggest(name: str, known) -> str:
    close = difflib.get_close_matches(name, list(known), n=3, cutoff=0.6)
    return f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""


def lab_info(name: str) -> LabInfo:
    found = labs()
    if name not in found:
        raise KeyError(f"unknown lab {name!r}{suggest(name, list(found) + list(GROUPS))} "
                       "(`backproplab lab --help` lists them)")
    return found[name]


def load_lab(name: str):
    """The module of lab ``name`` (imported now)."""
    return importlib.import_module(lab_info(name).module)
