"""The operational plane: simulated source systems whose daily feeds the source-aligned products read.

Each system is a module with ``generate(root: Path, settings: Settings, force: bool = False) -> Path``
that writes ``<root>/<system>/<feed>/<day>.<format>`` files for the whole simulated history,
deterministically from the settings, and is a no-op when its feeds are already up to date.
``SYSTEMS`` lists them; ``mesh operational generate`` (and ``make up``) runs them all.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

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


def generate_all(root: Path, settings: Settings, force: bool = False, systems: list[str] | None = None) -> list[Path]:
    """Generate every system's feeds (in dependency order: the ERP first; others read its customers)."""
    chosen = systems or list(SYSTEMS)
    unknown = [s for s in chosen if s not in SYSTEMS]
    if unknown:
        raise ValueError(f"unknown operational systems {unknown}; known: {', '.join(SYSTEMS)}")
    return [importlib.import_module(SYSTEMS[name]).generate(root, settings, force=force) for name in chosen]
