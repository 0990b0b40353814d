"""Public for product functions: ``RunWindow``, the partitions and time window a run computes.

A product function that reads over time takes ``window: RunWindow``::

    from mesh.partitions import RunWindow

The platform's partitions (keys from a domain's cadence, Dagster's partitions definitions) live in
``mesh.contracts.partitions``; this module is the stable name product code imports.
"""

from mesh.contracts.partitions import RunWindow

__all__ = ["RunWindow"]
