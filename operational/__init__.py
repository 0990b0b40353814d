"""The operational plane: simulated source systems whose daily feeds the source-aligned products read.

Each system is a module with ``generate(root: Path, settings: Settings, force: bool = False,
on_file=None) -> Path`` that writes ``<root>/<system>/<feed>/<day>.<format>`` files for the whole
simulated history, deterministically from the settings, calling ``on_file()`` as each file is complete,
and is a no-op when its feeds are already up to date; and ``day_files(settings) -> int``, how many
files that is. ``SYSTEMS`` lists them; ``mesh operational generate`` (and ``make up``) runs them all.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Protocol

from operational.feeds import Defects

DEFAULT_EPOCH = date(2023, 1, 1)

# system name -> module; every module exposes generate(root, settings, force=False)
SYSTEMS: dict[str, str] = {
    "erp": "operational.erp",
    "product_events": "operational.product_events",
    "hr": "operational.hr",
}


@dataclass(frozen=True)
class Settings:
    """What every simulator is generated from: scale, calendar, format and defects."""

    scale_factor: float = 0.01
    epoch: date = DEFAULT_EPOCH
    format: str = "csv"
    defects: Defects = field(default_factory=Defects)
    seed: int = 7


class Progress(Protocol):
    """What ``generate_all`` reports to (``mesh.orchestration.progress.Progress`` is one): files done of total per
    system."""

    def add(self, task: str, total: int) -> None: ...
    def start(self, task: str) -> None: ...
    def advance(self, task: str, units: int = 1) -> None: ...
    def finish(self, task: str, failed: bool = False) -> None: ...


def generate_all(root: Path, settings: Settings, force: bool = False, systems: list[str] | None = None,
                 progress: Progress | None = None) -> list[Path]:
    """Generate every system's feeds (in dependency order: the ERP first; others read its customers),
    reporting each system's day files done of total to ``progress``."""
    chosen = systems or list(SYSTEMS)
    unknown = [s for s in chosen if s not in SYSTEMS]
    if unknown:
        raise ValueError(f"unknown operational systems {unknown}; known: {', '.join(SYSTEMS)}")
    modules = {name: importlib.import_module(SYSTEMS[name]) for name in chosen}
    if progress is None:
        return [module.generate(root, settings, force=force) for module in modules.values()]
    for name, module in modules.items():
        progress.add(name, module.day_files(settings))
    paths = []
    for name, module in modules.items():
        progress.start(name)
        try:
            paths.append(module.generate(root, settings, force=force, on_file=lambda n=name: progress.advance(n)))
        except BaseException:
            progress.finish(name, failed=True)
            raise
        progress.finish(name)
    return paths
