"""Dagster ``Definitions`` for one domain (a code location) or for the whole mesh (tests and tools).

A domain's definitions hold its compiled products, its snapshot job and schedule, an automation
sensor that lets its consumer products follow their inputs (also across code locations) and the
environment's resources. Products of other domains that it reads appear as external assets, so
the lineage graph is one graph across locations. Policy lives here; mechanisms live elsewhere.
"""

from __future__ import annotations

import dagster as dg

from mesh.code import resolve
from mesh.compile import asset_key, compile_product
from mesh.environment import resources
from mesh.errors import MeshError
from mesh.registry import Mesh, load_mesh
from mesh.snapshots import snapshot_job, snapshot_schedule


def domain_assets(mesh: Mesh, domain: str) -> list[dg.AssetsDefinition]:
    if domain in mesh.failed:
        raise MeshError(f"domain {domain!r} did not load:\n{mesh.failed[domain]}")
    if domain not in mesh.domains:
        raise MeshError(f"no domain {domain!r}: expected one of {sorted(mesh.domains)} (folders under domains/)")
    return [compile_product(mesh, product, resolve(product, mesh.root)) for product in mesh.in_domain(domain)]


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


def _domain_extras(mesh: Mesh, domain: str) -> tuple[list, list, list]:
    job = snapshot_job(mesh, domain)
    jobs = [job] if job is not None else []
    schedules = [snapshot_schedule(mesh, domain, job)] if job is not None else []
    sensors = [dg.AutomationConditionSensorDefinition(
        f"{domain}_automation", target=dg.AssetSelection.groups(domain),
        default_status=dg.DefaultSensorStatus.RUNNING, minimum_interval_seconds=30)]
    return jobs, schedules, sensors


def build_domain(domain: str, mesh: Mesh | None = None) -> dg.Definitions:
    """The code location of one domain."""
    mesh = mesh or load_mesh()
    assets = domain_assets(mesh, domain)
    jobs, schedules, sensors = _domain_extras(mesh, domain)
    return dg.Definitions(
        assets=[*assets, *_external_inputs(mesh, {domain})],
        jobs=jobs, schedules=schedules, sensors=sensors, resources=resources(),
    )


def build_mesh(mesh: Mesh | None = None, domains: list[str] | None = None,
               resource_overrides: dict | None = None) -> tuple[dg.Definitions, dict[str, MeshError]]:
    """Every domain in one ``Definitions``; domains that fail are returned with why, not raised."""
    mesh = mesh or load_mesh()
    failures: dict[str, MeshError] = dict(mesh.failed)
    chosen = [d for d in (domains or sorted(mesh.domains)) if d not in failures]
    assets, jobs, schedules, sensors, built = [], [], [], [], set()
    for domain in chosen:
        try:
            assets += domain_assets(mesh, domain)
        except MeshError as err:
            failures[domain] = err
            continue
        built.add(domain)
        extra_jobs, extra_schedules, extra_sensors = _domain_extras(mesh, domain)
        jobs += extra_jobs
        schedules += extra_schedules
        sensors += extra_sensors
    definitions = dg.Definitions(
        assets=[*assets, *_external_inputs(mesh, built)], jobs=jobs, schedules=schedules, sensors=sensors,
        resources={**resources(), **(resource_overrides or {})},
    )
    return definitions, failures
