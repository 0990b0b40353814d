"""Materializing the mesh from the command line, recorded in the project's Dagster instance.

``materialize_window`` builds the whole mesh as one ``Definitions`` and runs every product for a
window of partitions in one ranged run (unpartitioned products once, after their inputs), so the
Dagster UI shows the runs, materializations and check results exactly as scheduled runs would.
One materialization at a time per instance (``exclusive``): a second one started meanwhile says
so, waits, then plans against what the first published (a catch-up then has nothing left to do).
"""

from __future__ import annotations

import fcntl
import os
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
from dagster._core.storage.dagster_run import RunsFilter

from mesh.contracts.contract import Window
from mesh.contracts.names import Address
from mesh.contracts.registry import Mesh, Product
from mesh.errors import MeshError
from mesh.instance.launcher import HOST_TAG, PID_TAG, process_alive
from mesh.instance.state import ensure_instance, root_cause

LOCK_FILE = "materialize.lock"  # in the instance's folder: held by the `mesh materialize` running on it


@dataclass
class RunOutcome:
    success: bool
    summary: str
    run_id: str | None = None


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


@contextmanager
def exclusive(home: Path, echo: Callable[[str], None] = print) -> Iterator[None]:
    """Hold the instance's materialization lock (``home``/``LOCK_FILE``) for the block, waiting for it.

    Two catch-ups planned at once would both run every missing partition: the second publishes again
    what the first publishes, and records each partition twice. The lock is the operating system's
    (``flock``): a process that dies releases it, so it is never stale. A process that waits says
    which process holds it and what to do.
    """
    home.mkdir(parents=True, exist_ok=True)
    path = home / LOCK_FILE
    with open(path, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "a process that has not said which"
            echo(f"another `mesh materialize` is running on this instance ({holder}): waiting for it to finish, "
                 f"then materializing what it leaves to do (Ctrl-C stops waiting; nothing is changed)")
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            handle.seek(0)
            handle.truncate()
            handle.write(f"process {os.getpid()} on {socket.gethostname()}, since "
                         f"{datetime.now(UTC):%Y-%m-%d %H:%M:%S} UTC\n")
            handle.flush()
            yield
        finally:
            handle.seek(0)
            handle.truncate()
            handle.flush()
            fcntl.flock(handle, fcntl.LOCK_UN)


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


@dataclass
class Step:
    """One run of the plan: a selection of products, over partitions ``first..last`` when partitioned."""

    name: str
    keys: list[dg.AssetKey]
    first: str | None = None
    last: str | None = None
    what: str = ""


def catch_up_plan(instance: dg.DagsterInstance, partitioned: list[dg.AssetKey], unpartitioned: list[dg.AssetKey],
                  observers: list[dg.AssetKey], partition_keys: list[str]) -> list[Step]:
    """Every product from its first partition not yet published to the newest (``partition_keys[-1]``).

    Products missing the same partitions run together; runs that start later go first, so that a
    product added to a published mesh reads its inputs' newest partitions, published by then.
    Unpartitioned products, then the mesh's observers, run after, when anything ran or they never did.
    """
    first_missing: dict[str, list[dg.AssetKey]] = {}
    for key in partitioned:
        done = instance.get_materialized_partitions(key)
        first = next((k for k in partition_keys if k not in done), None)
        if first is not None:
            first_missing.setdefault(first, []).append(key)
    last = partition_keys[-1]
    steps = [Step(f"catch_up_{i}", keys, first, last) for i, (first, keys) in
             enumerate(sorted(first_missing.items(), reverse=True))]
    for name, keys in (("materialize_unpartitioned", unpartitioned), ("observe_mesh", observers)):
        keys = keys if steps else [k for k in keys if not instance.get_latest_materialization_event(k)]
        if keys:
            steps.append(Step(name, keys))
    return steps


def materialize_window(days: int | None = None, start: str | None = None, end: str | None = None,
                       domains: list[str] | None = None, echo: Callable[[str], None] = print,
                       instance: dg.DagsterInstance | None = None, bootstrap: bool = False) -> RunOutcome:
    """Materialize the mesh, recorded in the instance.

    Without ``days`` or ``start``, every product catches up: every partition not yet published,
    from its domain's start to ``end`` (default the newest complete partition), and nothing already
    published is computed again. With them, the window ``start..end`` or the newest ``days``
    partitions is computed for every product, published or not; ``bootstrap`` then first publishes
    the whole history of the products other products read over their history (``history_closure``).
    """
    from mesh.contracts.registry import load_mesh
    from mesh.orchestration.definitions import build_mesh
    from mesh.orchestration.keys import asset_key

    mesh = load_mesh()
    definitions, failures = build_mesh(mesh, domains=domains)
    for domain, error in failures.items():
        echo(f"warning: domain {domain} is not materialized: {error}")
    # The selected domains' products; their inputs from other domains are in the graph, not run.
    built = set(definitions.resolve_asset_graph().executable_asset_keys)
    in_scope = [p for p in mesh.products.values() if asset_key(p) in built]
    instance = instance or ensure_instance()
    with exclusive(Path(instance.root_directory), echo):  # the plan reads what the instance recorded
        return _materialize(mesh, definitions, failures, in_scope, instance, days, start, end, bootstrap, echo)


def _materialize(mesh: Mesh, definitions: dg.Definitions, failures: dict[str, Exception], in_scope: list[Product],
                 instance: dg.DagsterInstance, days: int | None, start: str | None, end: str | None,
                 bootstrap: bool, echo: Callable[[str], None]) -> RunOutcome:
    from mesh.orchestration.compile import observes_mesh
    from mesh.orchestration.keys import asset_key
    from mesh.orchestration.progress import Progress, progress_loggers, progress_run_config

    release_dead_runs(instance, echo)
    # Products that observe the mesh (the SLO scorecard) run last, so they see this run's results.
    observers = [asset_key(p) for p in in_scope if observes_mesh(p)]
    others = [p for p in in_scope if not observes_mesh(p)]
    partitions = next((definitions.resolve_assets_def(asset_key(p)).partitions_def for p in others
                       if p.partitioned), None)
    if days is None and start is None:
        keys = partitions.get_partition_keys() if partitions is not None else []
        if partitions is not None:
            _, newest = window_keys(1, None, end, partitions)
            keys = keys[:keys.index(newest) + 1]
        plan = catch_up_plan(instance, [asset_key(p) for p in others if p.partitioned],
                             [asset_key(p) for p in others if not p.partitioned], observers, keys)
        if not plan:
            echo("every product is up to date: nothing to materialize")
    else:
        first, last = window_keys(days or 30, start, end, partitions) if partitions is not None else (None, None)
        history = [asset_key(mesh.products[a]) for a in history_closure(mesh, in_scope)] if bootstrap else []
        history = [k for k in history if k in {asset_key(p) for p in in_scope}]
        plan = [Step("bootstrap_history", history, partitions.get_partition_keys()[0], last,
                     "the history of products read over history")] if history and partitions else []
        window = [asset_key(p) for p in others if asset_key(p) not in history]
        plan.append(Step("materialize_mesh", window, first, last))
        if observers:
            plan.append(Step("observe_mesh", observers))
    # Checks are not selected: each product's step still evaluates and records them, once per run,
    # without Dagster planning one execution per check and per partition of a long range.
    jobs = [dg.define_asset_job(step.name, selection=dg.AssetSelection.assets(*step.keys).without_checks())
            for step in plan]
    progress = Progress("materialize", unit="partitions")
    echo = progress.clearing(echo)
    definitions = dg.Definitions.merge(definitions, dg.Definitions(jobs=jobs, loggers=progress_loggers(progress)))
    outcomes = []
    with progress:
        for step in plan:
            job = definitions.resolve_job_def(step.name)
            tags = {"mesh/trigger": "cli", HOST_TAG: socket.gethostname(), PID_TAG: str(os.getpid())}
            if job.partitions_def is not None and step.first is not None:
                tags |= {"dagster/asset_partition_range_start": step.first,
                         "dagster/asset_partition_range_end": step.last}
                what = step.what or ", ".join(sorted({k.path[0] for k in step.keys}))
                echo(f"materializing {step.first}..{step.last} of {what} ({len(step.keys)} products)")
            else:
                echo(f"materializing {', '.join(k.to_user_string() for k in step.keys)}")
            outcomes.append(_execute(job, instance, tags, progress_run_config(step.first, step.last)))
    success = all(o.success for o in outcomes) and not failures
    summary = "\n".join(o.summary for o in outcomes)
    if failures:
        summary += f"\n  domains not loaded: {', '.join(sorted(failures))}"
    return RunOutcome(success, summary, outcomes[0].run_id if outcomes else None)


def _execute(job: dg.JobDefinition, instance: dg.DagsterInstance, tags: dict[str, str],
             progress: dict | None = None) -> RunOutcome:
    quiet = {"loggers": {"console": {"config": {"log_level": "WARNING"}}, **(progress or {}).get("loggers", {})}}
    try:
        result = job.execute_in_process(instance=instance, tags=tags, raise_on_error=False, run_config=quiet)
    except Exception as err:  # not the products' code (that fails a step): the instance failed mid-run
        raise MeshError(f"{job.name} stopped: the Dagster instance failed under it: {root_cause(err)}") from err
    failed = [e for e in result.all_events if e.is_step_failure]
    summary = f"run {result.run_id} ({job.name}): {'succeeded' if result.success else 'failed'}"
    for event in failed:
        error = event.event_specific_data.error
        while error.cause is not None and error.cls_name == "DagsterExecutionStepExecutionError":
            error = error.cause  # the step's own error (a StorageError naming the endpoint, say)
        message = error.message.strip().splitlines()[0]
        summary += f"\n  failed {event.step_key}: {message}"
    return RunOutcome(result.success, summary, result.run_id)


