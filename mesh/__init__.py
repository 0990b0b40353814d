"""A data mesh platform on Dagster: contracts in, governed data products out.

Domain code imports only what it needs from here: ``rule`` to declare a rule's severity and
blocking, ``Result`` to return metadata with the rows, and the column types in ``mesh.types``.
Consumers read products by address with ``mesh.read`` and ``mesh.sql`` (see ``mesh.api``).
"""

from mesh.quality import rule
from mesh.wap import Result

__all__ = ["Result", "connect", "read", "rule", "sql"]


def __getattr__(name: str):
    if name in ("read", "sql", "connect"):
        from mesh import api

        return getattr(api, name)
    raise AttributeError(name)
