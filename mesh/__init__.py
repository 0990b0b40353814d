"""A data mesh platform on Dagster: contracts in, governed data products out.

Domain code imports only what it needs from here: ``rule`` to declare a rule's severity, the
column types in ``mesh.types``, and ``read``/``sql`` to consume products by address.
"""

from mesh.quality import rule

__all__ = ["rule"]
