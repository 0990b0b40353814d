"""A data mesh platform on Dagster: contracts in, governed data products out.

Domain code imports only what it needs from here: ``rule`` to declare a rule's severity and
blocking, ``Result`` to return metadata with the rows, and the column types in ``mesh.types``.
Consumers read products by address with ``mesh.read`` and ``mesh.sql`` (see ``mesh.api``).

Every name is imported on first use (PEP 562): ``import mesh`` alone loads neither pandera nor
Dagster, so the command lines that only read the lake start in a fraction of a second.
"""

from __future__ import annotations

from importlib import import_module

__all__ = ["Result", "connect", "read", "rule", "sql"]

_HOMES = {"rule": "mesh.quality.rules", "Result": "mesh.contracts.result",
          "read": "mesh.api", "sql": "mesh.api", "connect": "mesh.api"}


def __getattr__(name: str):
    if name in _HOMES:
        return getattr(import_module(_HOMES[name]), name)
    raise AttributeError(f"module 'mesh' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
