"""Materializing the mesh from the command line, recorded in the project's Dagster instance.

``materialize_window`` builds the whole mesh as one ``Definitions`` and runs every product for a
window of partitions in one ranged run (unpartitioned products once, after their inputs), so the
Dagster UI shows the runs, materializations and check results exactly as scheduled runs would.
"""

from __future__ import annotations

import os
import shutil
import socket
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import dagster as dg
from dagster._core.storage.dagster_run import RunsFilter

from mesh.contract import Window
from mesh.errors import MeshError
from mesh.launcher import HOST_TAG, PID_TAG, process_alive
from mesh.names import Address
from mesh.project import project_dir, work_dir
from mesh.registry import Mesh, Product


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
    try:
        return dg.DagsterInstance.get()
    except Exception as err:  # its storage is unreachable (Postgres down, wrong host, bad credentials)
        raise MeshError(f"the Dagster instance configured in {config} cannot be opened: {_root(err)}") from err


def _root(err: BaseException) -> str:
    """The first line of an error's innermost cause (the driver's message names the host and port)."""
    while err.__cause__ is not None:
        err = err.__cause__
    return (str(err).strip().splitlines() or [type(err).__name__])[0]


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


def release_dead_runs(instance: dg.DagsterInstance, echo: Callable[[str], None] = print) -> list[str]:
    """Fail command-line runs whose process died on this host, and free their concurrency slots.

    Such a run keeps its products' pool slots (one writer per product), so the next run of those
    products would wait forever; the deployed daemon cleans up runs it launched, not these.
    """
    released = []
    host = socket.gethostname()
    for run in instance.get_runs(RunsFilter(statuses=[dg.DagsterRunStatus.STARTED], tags={"mesh/trigger": "cli"})):
        pid = run.tags.get(PID_TAG, "")
        if run.tags.get(HOST_TAG) != host or not pid.isdigit() or process_alive(int(pid)):
            continue
        instance.report_run_failed(run, f"process {pid} that ran it on {host} is gone")
        instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
        released.append(run.run_id)
        echo(f"released run {run.run_id}: its process {pid} is gone")
    return released


def history_closure(mesh: Mesh, products: list[Product]) -> set[Address]:
    """Partitioned products some product reads with a ``history`` window, and what they in turn need.

    A window of recent partitions would leave them incomplete (a customer master of 30 days misses
    most customers), so a bootstrap publishes them from their domain's start.
    """
    need: set[Address] = set()
    todo = [(p, name) for p in products for name in p.contract.inputs]
    while todo:
        product, name = todo.pop()
        upstream = mesh.products.get(product.contract.inputs[name].address)
        if upstream is None or not upstream.partitioned or upstream.address in need:
            continue
        if product.address in need or product.window_of(name, upstream) is not Window.partition:
            need.add(upstream.address)
            todo += [(upstream, n) for n in upstream.contract.inputs]
            todo += [(p, n) for p in products if p.address in need for n in p.contract.inputs]
    return need


def materialize_window(days: int = 30, start: str | None = None, end: str | None = None,
                       domains: list[str] | None = None, echo: Callable[[str], None] = print,
                       instance: dg.DagsterInstance | None = None, bootstrap: bool = False) -> RunOutcome:
    """Materialize a window of partitions; with ``bootstrap``, first the whole history of the products
    that other products read with a ``history`` window (see ``history_closure``)."""
    from mesh.compile import asset_key, observes_mesh
    from mesh.definitions import build_mesh
    from mesh.registry import load_mesh

    mesh = load_mesh()
    definitions, failures = build_mesh(mesh, domains=domains)
    for domain, error in failures.items():
        echo(f"warning: domain {domain} is not materialized: {error}")
    built = set(definitions.resolve_all_asset_keys())
    in_scope = [p for p in mesh.products.values() if asset_key(p) in built]
    # Products that observe the mesh (the SLO scorecard) run last, so they see this run's results.
    observers = [asset_key(p) for p in in_scope if observes_mesh(p)]
    history = [asset_key(mesh.products[a]) for a in history_closure(mesh, in_scope)] if bootstrap else []
    history = [k for k in history if k in built]
    window = dg.AssetSelection.all() - dg.AssetSelection.assets(*observers, *history)
    plan = [("bootstrap_history", dg.AssetSelection.assets(*history), True)] if history else []
    plan.append(("materialize_mesh", window, False))
    if observers:
        plan.append(("observe_mesh", dg.AssetSelection.assets(*observers), False))
    # Checks are not selected: each product's step still evaluates and records them, once per run,
    # without Dagster planning one execution per check and per partition of a long range.
    jobs = [dg.define_asset_job(name, selection=selection.without_checks()) for name, selection, _ in plan]
    definitions = dg.Definitions.merge(definitions, dg.Definitions(jobs=jobs))
    instance = instance or ensure_instance()
    release_dead_runs(instance, echo)
    outcomes = []
    for name, _, from_start in plan:
        job = definitions.resolve_job_def(name)
        tags = {"mesh/trigger": "cli", HOST_TAG: socket.gethostname(), PID_TAG: str(os.getpid())}
        if job.partitions_def is not None:
            first, last = window_keys(days, start, end, job.partitions_def)
            if from_start:
                first = job.partitions_def.get_partition_keys()[0]
            tags |= {"dagster/asset_partition_range_start": first, "dagster/asset_partition_range_end": last}
            what = "the history of products read over history" if from_start else \
                ", ".join(sorted(domains or _names(definitions)))
            echo(f"materializing {first}..{last} of {what}")
        outcomes.append(_execute(job, instance, tags))
    success = all(o.success for o in outcomes) and not failures
    summary = "\n".join(o.summary for o in outcomes)
    if failures:
        summary += f"\n  domains not loaded: {', '.join(sorted(failures))}"
    return RunOutcome(success, summary, outcomes[0].run_id if outcomes else None)


def _execute(job: dg.JobDefinition, instance: dg.DagsterInstance, tags: dict[str, str]) -> RunOutcome:
    quiet = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
    try:
        result = job.execute_in_process(instance=instance, tags=tags, raise_on_error=False, run_config=quiet)
    except Exception as err:  # not the products' code (that fails a step): the instance failed mid-run
        raise MeshError(f"{job.name} stopped: the Dagster instance failed under it: {_root(err)}") from err
    failed = [e for e in result.all_events if e.is_step_failure]
    summary = f"run {result.run_id} ({job.name}): {'succeeded' if result.success else 'failed'}"
    for event in failed:
        error = event.event_specific_data.error
        while error.cause is not None and error.cls_name == "DagsterExecutionStepExecutionError":
            error = error.cause  # the step's own error (a StorageError naming the endpoint, say)
        message = error.message.strip().splitlines()[0]
        summary += f"\n  failed {event.step_key}: {message}"
    return RunOutcome(result.success, summary, result.run_id)


def _names(definitions: dg.Definitions) -> set[str]:
    return {key.path[0] for key in definitions.resolve_all_asset_keys()}
