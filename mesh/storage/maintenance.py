"""Lake maintenance: what a contract's retention and the lake's time travel window leave behind.

Publishing already drops partitions older than a product's retention (``mesh.storage.lake``); their files,
and every file a newer snapshot replaced, stay readable by older snapshots until those expire. The
maintenance job of each domain (and ``mesh maintain``) merges the small files of the domain's
tables, expires snapshots older than the time travel window, and deletes the files no remaining
snapshot reads. Dagster wiring is ``maintenance_job``; the lake operations are ``Lake.maintain``.
"""

from datetime import timedelta

import dagster as dg

from mesh.contracts.registry import Mesh
from mesh.errors import MeshError
from mesh.storage.lake import Lake

DEFAULT_KEEP_SNAPSHOTS_DAYS = 30.0


def maintain(mesh: Mesh, lake: Lake, domains: list[str] | None, keep_snapshots: timedelta) -> dict[str, int]:
    unknown = sorted(set(domains or []) - set(mesh.domains))
    if unknown:
        raise MeshError(f"no domain {', '.join(unknown)}; domains: {', '.join(sorted(mesh.domains))}")
    tables = []
    for product in mesh.products.values():
        if domains is None or product.domain.name in domains:
            for major in lake.majors(product.address):
                tables += [(product.address, major), (product.address.quarantined, major)]
    return lake.maintain(tables, keep_snapshots)


class MaintenanceConfig(dg.Config):
    keep_snapshots_days: float = DEFAULT_KEEP_SNAPSHOTS_DAYS


def maintenance_job(mesh: Mesh, domain: str) -> dg.JobDefinition:
    @dg.op(name=f"{domain}_lake_maintenance", required_resource_keys={"storage"},
           tags={"mesh/domain": domain})
    def _maintain(context: dg.OpExecutionContext, config: MaintenanceConfig) -> None:
        done = maintain(mesh, context.resources.storage.lake(), [domain], timedelta(days=config.keep_snapshots_days))
        context.log.info(f"lake maintenance of {domain}: {done}")

    @dg.job(name=f"{domain}_maintenance", tags={"mesh/domain": domain, "mesh/trigger": "maintenance"},
            description=f"Merge small files of domain {domain}'s tables, expire old lake snapshots, delete "
                        f"files no snapshot reads.")
    def _job():
        _maintain()

    return _job


def maintenance_schedule(domain: str, job: dg.JobDefinition, timezone: str) -> dg.ScheduleDefinition:
    return dg.ScheduleDefinition(name=f"{domain}_maintenance_schedule", job=job, cron_schedule="30 4 * * 0",
                                 execution_timezone=timezone, default_status=dg.DefaultScheduleStatus.RUNNING,
                                 description=f"weekly lake maintenance of domain {domain}")
