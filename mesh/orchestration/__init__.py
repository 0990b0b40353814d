"""Orchestration: the mesh as Dagster assets, checks, jobs, schedules, sensors and runs.

Owns the compiler from a contract to an asset with its checks (``compile``, ``keys``), and how a
run's audit appears in the UI (``reporting``, ``presentation``); each domain's definitions, its code
location (``definitions``); snapshot jobs and schedules (``snapshots``); the SLO monitor and owner
alerts (``monitor``, ``alerts``); the mesh observing itself (``observe``); the resources of each
environment (``environment``, ``resources``); and materializing from the command line (``runs``,
``progress``).

May use every layer below it. Above it sit only the entry points: ``mesh.cli``, ``mesh.api`` and
``mesh.locations``.
"""
