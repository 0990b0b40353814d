"""Dagster ``Definitions`` for one domain (a code location) or for the whole mesh (tests and tools).

A domain's definitions hold its compiled products, its snapshot job and schedule, its weekly lake
maintenance job (``mesh.storage.maintenance``), an automation
sensor that lets its consumer products follow their inputs (also across code locations) and the
environment's resources. Products of other domains that it reads appear as external assets, so
the lineage graph is one graph across locations. Policy lives here; mechanisms live elsewhere.
"""

from __future__ import annotations

import dagster as dg

from mesh.contracts.registry import Mesh, load_mesh
from mesh.errors import MeshError
from mesh.orchestration.compile import blocking_checks, compile_blocked, compile_product
from mesh.orchestration.environment import resources, sensor_interval_seconds
from mesh.orchestration.keys import asset_key
from mesh.orchestration.monitor import monitor_sensor
from mesh.orchestration.snapshots import snapshot_job, snapshot_schedule
from mesh.quality.code import ProductCode, resolve
from mesh.storage.maintenance import maintenance_job, maintenance_schedule


def domain_code(mesh: Mesh, domain: str) -> dict[str, ProductCode]:
    if domain in mesh.failed:
        raise MeshError(f"domain {domain!r} did not load:\n{mesh.failed[domain]}")
    if domain not in mesh.domains:
        raise MeshError(f"no domain {domain!r}: expected one of {sorted(mesh.domains)} (folders under domains/)")
    return {str(p.address): resolve(p, mesh.root) for p in mesh.in_domain(domain)}


def domain_assets(mesh: Mesh, domain: str, code: dict[str, ProductCode]) -> list[dg.AssetsDefinition]:
    return [compile_blocked(product, mesh.blocked[product.address]) if product.address in mesh.blocked
            else compile_product(mesh, product, code[str(product.address)]) for product in mesh.in_domain(domain)]


def _external_inputs(mesh: Mesh, domains: set[str]) -> list[dg.AssetSpec]:
    """Products of other domains read by these domains, declared so lineage crosses locations."""
    specs = {}
    for domain in domains:
        for product in mesh.in_domain(domain):
            for spec in product.contract.inputs.values():
                upstream = mesh.products.get(spec.address)
                if upstream is not None and upstream.domain.name not in domains:
                    specs[spec.address] = dg.AssetSpec(
                        asset_key(upstream), group_name=upstream.domain.name, owners=[upstream.owner],
                        description=upstream.contract.description.strip())
    return list(specs.values())


def _domain_extras(mesh: Mesh, domain: str, code: dict[str, ProductCode]) -> tuple[list, list, list]:
    job = snapshot_job(mesh, domain)
    jobs: list = [job] if job is not None else []
    schedules = [snapshot_schedule(mesh, domain, job)] if job is not None else []
    upkeep = maintenance_job(mesh, domain)
    jobs.append(upkeep)
    schedules.append(maintenance_schedule(domain, upkeep, mesh.domains[domain].snapshots.timezone))
    blocking = {str(p.address): blocking_checks(p, code[str(p.address)]) for p in mesh.in_domain(domain)
                if p.address not in mesh.blocked}
    sensors = [
        dg.AutomationConditionSensorDefinition(
            f"{domain}_automation", target=dg.AssetSelection.groups(domain),
            default_status=dg.DefaultSensorStatus.RUNNING, minimum_interval_seconds=sensor_interval_seconds(),
            run_tags={"mesh/domain": domain}),  # the run queue's per-domain limit applies to them too
        monitor_sensor(mesh, domain, blocking),
    ]
    return jobs, schedules, sensors


def build_domain(domain: str, mesh: Mesh | None = None) -> dg.Definitions:
    """The code location of one domain."""
    mesh = mesh or load_mesh()
    code = domain_code(mesh, domain)
    assets = domain_assets(mesh, domain, code)
    jobs, schedules, sensors = _domain_extras(mesh, domain, code)
    return dg.Definitions(
        assets=[*assets, *_external_inputs(mesh, {domain})],
        jobs=jobs, schedules=schedules, sensors=sensors, resources=resources(),
    )


def build_mesh(mesh: Mesh | None = None, domains: list[str] | None = None,
               resource_overrides: dict | None = None) -> tuple[dg.Definitions, dict[str, MeshError]]:
    """Every domain in one ``Definitions``; domains that fail are returned with why, not raised."""
    mesh = mesh or load_mesh()
    failures = {d: e for d, e in mesh.failed.items() if domains is None or d in domains}
    chosen = [d for d in (domains or sorted(mesh.domains)) if d not in failures]
    assets, jobs, schedules, sensors, built = [], [], [], [], set()
    for domain in chosen:
        try:
            code = domain_code(mesh, domain)
        except MeshError as err:
            failures[domain] = err
            continue
        assets += domain_assets(mesh, domain, code)
        built.add(domain)
        extra_jobs, extra_schedules, extra_sensors = _domain_extras(mesh, domain, code)
        jobs += extra_jobs
        schedules += extra_schedules
        sensors += extra_sensors
    definitions = dg.Definitions(
        assets=[*assets, *_external_inputs(mesh, built)], jobs=jobs, schedules=schedules, sensors=sensors,
        resources={**resources(), **(resource_overrides or {})},
    )
    return definitions, failures
