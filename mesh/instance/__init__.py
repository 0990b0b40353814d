"""The Dagster instance of the project: where runs, events and check results are recorded.

Owns the local instance's event log storage, which writes a batch of events at once (``eventlog``),
its run launcher with the worker health check (``launcher``), and opening the instance and reading
what it recorded, directly from the local SQLite index when it can (``state``): the command line
answers without importing Dagster.

May use ``mesh.contracts`` and ``mesh.errors``. A sibling of ``mesh.storage``: neither uses the other.
"""
