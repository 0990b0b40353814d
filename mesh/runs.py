"""Materializing the mesh from the command line, recorded in the project's Dagster instance.

``materialize_window`` builds the whole mesh as one ``Definitions`` and runs every product for a
window of partitions in one ranged run (unpartitioned products once, after their inputs), so the
Dagster UI shows the runs, materializations and check results exactly as scheduled runs would.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import dagster as dg

from mesh.errors import MeshError
from mesh.project import project_dir, work_dir


@dataclass
class RunOutcome:
    success: bool
    summary: str
    run_id: str | None = None


def ensure_instance() -> dg.DagsterInstance:
    """The project's instance: ``DAGSTER_HOME`` or ``.mesh/dagster`` with the project's dagster.yaml."""
    home = os.environ.get("DAGSTER_HOME") or str(work_dir() / "dagster")
    os.environ["DAGSTER_HOME"] = home
    Path(home).mkdir(parents=True, exist_ok=True)
    config = Path(home) / "dagster.yaml"
    template = project_dir() / "deploy" / "local" / "dagster.yaml"
    if not config.exists():
        if template.exists():
            shutil.copy(template, config)
        else:
            config.write_text("telemetry:\n  enabled: false\n")
    return dg.DagsterInstance.get()


def window_keys(days: int, start: str | None, end: str | None, partitions: dg.PartitionsDefinition,
                now: datetime | None = None) -> tuple[str, str]:
    keys = partitions.get_partition_keys(current_time=now)
    if not keys:
        raise MeshError("no complete partition yet: the domains' start date is in the future")
    newest = end or keys[-1]
    if start is None:
        if days < 1:
            raise MeshError(f"--days must be at least 1, found {days}")
        first_moment = datetime.strptime(newest[:10], "%Y-%m-%d") - timedelta(days=days - 1)
        first = max(first_moment.strftime("%Y-%m-%d"), keys[0])
    else:
        first = start
    for key in (first, newest):
        if key not in keys:
            raise MeshError(f"partition {key!r} does not exist: expected {keys[0]}..{keys[-1]}")
    if first > newest:
        raise MeshError(f"the window is empty: {first} is after {newest}")
    return first, newest


def materialize_window(days: int = 30, start: str | None = None, end: str | None = None,
                       domains: list[str] | None = None, echo: Callable[[str], None] = print,
                       instance: dg.DagsterInstance | None = None) -> RunOutcome:
    from mesh.compile import asset_key, observes_mesh
    from mesh.definitions import build_mesh
    from mesh.registry import load_mesh

    mesh = load_mesh()
    definitions, failures = build_mesh(mesh, domains=domains)
    for domain, error in failures.items():
        echo(f"warning: domain {domain} is not materialized: {error}")
    # Products that observe the mesh (the SLO scorecard) run last, so they see this run's results.
    built = set(definitions.resolve_all_asset_keys())
    observers = [asset_key(p) for p in mesh.products.values() if observes_mesh(p) and asset_key(p) in built]
    jobs = [dg.define_asset_job("materialize_mesh", selection=dg.AssetSelection.all()
                                - dg.AssetSelection.assets(*observers))]
    if observers:
        jobs.append(dg.define_asset_job("observe_mesh", selection=dg.AssetSelection.assets(*observers)))
    definitions = dg.Definitions.merge(definitions, dg.Definitions(jobs=jobs))
    instance = instance or ensure_instance()
    outcomes = []
    for job in (definitions.resolve_job_def(j.name) for j in jobs):
        tags = {"mesh/trigger": "cli"}
        if job.partitions_def is not None:
            first, last = window_keys(days, start, end, job.partitions_def)
            tags |= {"dagster/asset_partition_range_start": first, "dagster/asset_partition_range_end": last}
            echo(f"materializing {first}..{last} of {', '.join(sorted(domains or _names(definitions)))}")
        outcomes.append(_execute(job, instance, tags))
    success = all(o.success for o in outcomes) and not failures
    summary = "\n".join(o.summary for o in outcomes)
    if failures:
        summary += f"\n  domains not loaded: {', '.join(sorted(failures))}"
    return RunOutcome(success, summary, outcomes[0].run_id if outcomes else None)


def _execute(job: dg.JobDefinition, instance: dg.DagsterInstance, tags: dict[str, str]) -> RunOutcome:
    quiet = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
    result = job.execute_in_process(instance=instance, tags=tags, raise_on_error=False, run_config=quiet)
    failed = [e for e in result.all_events if e.is_step_failure]
    summary = f"run {result.run_id} ({job.name}): {'succeeded' if result.success else 'failed'}"
    for event in failed:
        message = event.event_specific_data.error.message.strip().splitlines()[0]
        summary += f"\n  failed {event.step_key}: {message}"
    return RunOutcome(result.success, summary, result.run_id)


def _names(definitions: dg.Definitions) -> set[str]:
    return {key.path[0] for key in definitions.resolve_all_asset_keys()}
