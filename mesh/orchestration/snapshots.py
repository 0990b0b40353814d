"""Snapshot jobs: each domain materializes its source-aligned products on its own cadence.

A domain's job selects its source-aligned products; its schedule fires at the domain's cadence
(time of day, weekday, timezone or explicit cron) and requests the newest complete partition,
plus the preceding partitions that late records may still reach (``lateness_days``), as one
ranged run (unpartitioned products take a full snapshot in that run). Consumer products then
follow through automation.
"""

from __future__ import annotations

from datetime import timedelta

import dagster as dg

from mesh.contracts.contract import Kind
from mesh.contracts.partitions import format_key, partitions_def
from mesh.contracts.registry import Mesh
from mesh.orchestration.keys import asset_key


def source_products(mesh: Mesh, domain: str):
    return [p for p in mesh.in_domain(domain) if p.contract.kind is Kind.source_aligned]


def snapshot_job(mesh: Mesh, domain: str) -> dg.UnresolvedAssetJobDefinition | None:
    products = source_products(mesh, domain)
    if not products:
        return None
    return dg.define_asset_job(
        f"{domain}_snapshot",
        selection=dg.AssetSelection.assets(*[asset_key(p) for p in products]),
        description=f"Publish the newest snapshot of domain {domain}'s source-aligned products.",
        tags={"mesh/domain": domain, "mesh/trigger": "snapshot"},
    )


def snapshot_schedule(mesh: Mesh, domain: str, job: dg.UnresolvedAssetJobDefinition) -> dg.ScheduleDefinition:
    spec = mesh.domains[domain]
    partitions = partitions_def(spec)
    products = source_products(mesh, domain)
    partitioned = any(p.partitioned for p in products)
    lateness = max((p.contract.partitioning.lateness_days for p in products if p.partitioned), default=0)

    @dg.schedule(
        name=f"{domain}_snapshot_schedule",
        job=job,
        cron_schedule=spec.snapshots.cron_schedule,
        execution_timezone=spec.snapshots.timezone,
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description=f"{spec.snapshots.cadence.value} snapshot of domain {domain}",
    )
    def _schedule(context: dg.ScheduleEvaluationContext):
        tick = context.scheduled_execution_time
        if not partitioned:  # full snapshots only
            return dg.RunRequest(run_key=f"{domain}:{tick.isoformat() if tick else 'manual'}")
        keys = partitions.get_partition_keys(current_time=context.scheduled_execution_time)
        if not keys:
            return dg.SkipReason("no complete partition yet")
        newest = keys[-1]
        window = partitions.time_window_for_partition_key(newest)
        first_moment = window.start - timedelta(days=lateness)
        first = max(format_key(first_moment.replace(tzinfo=None), spec.snapshots.cadence), keys[0])
        return dg.RunRequest(
            run_key=f"{domain}:{newest}",
            tags={"dagster/asset_partition_range_start": first, "dagster/asset_partition_range_end": newest},
        )

    return _schedule
