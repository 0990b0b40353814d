"""The local instance's batched event log, and `mesh materialize` catching up on what is missing."""

from __future__ import annotations

import multiprocessing
import shutil

import dagster as dg
import pytest

from mesh.instance.eventlog import BATCH_SIZE, BatchedSqliteEventLogStorage
from mesh.orchestration.runs import catch_up_plan
from tests.conftest import DAY

PARTITIONS = dg.DailyPartitionsDefinition(start_date="2024-01-01", end_date="2024-03-01")
QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


@dg.asset(partitions_def=PARTITIONS)
def upstream(context) -> None:
    context.add_output_metadata({"rows": len(context.partition_keys)})


@dg.asset(partitions_def=PARTITIONS, deps=[upstream])
def downstream() -> None:
    return None


@dg.asset(deps=[downstream])
def summary() -> None:
    return None


JOB = dg.define_asset_job("all", selection=[upstream, downstream])
DEFS = dg.Definitions(assets=[upstream, downstream, summary], jobs=[JOB])


def sqlite_instance(home, batched: bool) -> dg.DagsterInstance:
    config = "telemetry:\n  enabled: false\n"
    if batched:
        config += "instance_class:\n  module: mesh.instance.eventlog\n  class: LocalInstance\n"  # as deploy/local
    (home / "dagster.yaml").write_text(config)
    return dg.DagsterInstance.from_config(str(home))


def run_range(instance: dg.DagsterInstance, first: str, last: str) -> None:
    tags = {"dagster/asset_partition_range_start": first, "dagster/asset_partition_range_end": last}
    result = DEFS.resolve_job_def("all").execute_in_process(instance=instance, tags=tags, run_config=QUIET)
    assert result.success


@pytest.fixture
def batches(monkeypatch):
    monkeypatch.setenv("DAGSTER_EVENT_BATCH_SIZE", str(BATCH_SIZE))
    monkeypatch.setenv("DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS", "true")


def test_a_batch_leaves_what_dagster_writes_one_event_at_a_time(tmp_path, batches):
    """Same partitions, same latest materialization (with its metadata), same run logs, by either storage."""
    seen = {}
    for batched in (False, True):
        home = tmp_path / str(batched)
        home.mkdir()
        instance = sqlite_instance(home, batched)
        assert isinstance(instance.event_log_storage, BatchedSqliteEventLogStorage) is batched
        run_range(instance, "2024-01-01", "2024-01-20")
        run_range(instance, "2024-01-15", "2024-01-25")
        latest = instance.get_latest_materialization_event(dg.AssetKey("upstream"))
        records = instance.fetch_materializations(dg.AssetKey("downstream"), limit=100).records
        seen[batched] = (
            sorted(instance.get_materialized_partitions(dg.AssetKey("downstream"))),
            latest.asset_materialization.partition,
            latest.asset_materialization.metadata["rows"].value,
            len(records), records[0].partition_key,
            {run.job_name for run in instance.get_runs()},
            instance.get_asset_records([dg.AssetKey("upstream")])[0].asset_entry.last_materialization.asset_materialization.partition,
        )
        instance.dispose()
    assert seen[True] == seen[False]
    # Each instance kept its events in its own folder (not in DAGSTER_HOME's).
    assert (tmp_path / "True" / "history" / "runs" / "index.db").exists()
    assert seen[True][0] == [f"2024-01-{d:02d}" for d in range(1, 26)]
    assert seen[True][1:5] == ("2024-01-25", 11, 31, "2024-01-25")


def test_a_products_check_evaluations_are_recorded_alike_in_one_batch(tmp_path, erp_root, batches):
    """A run that selects a product without its checks records their results itself: in one batch on
    the local instance, one at a time on Dagster's. Both leave the same execution records, events and
    targets; only the batch is handed over as such."""
    from mesh.orchestration.keys import asset_key
    from tests.conftest import MeshEnv

    seen, handed = {}, []
    store = BatchedSqliteEventLogStorage.store_event_batch

    def spy(storage, events):
        handed.append({e.dagster_event.event_type for e in events})
        store(storage, events)

    for batched in (False, True):
        home = tmp_path / str(batched)
        home.mkdir()
        instance = sqlite_instance(home, batched)
        env = MeshEnv(tmp_path / f"products-{batched}", erp_root)
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(BatchedSqliteEventLogStorage, "store_event_batch", spy)
            assert env.materialize("2026-11-02", domains=["customer"], instance=instance).success
        key = asset_key(env.port().mesh.product("customer.customers"))
        (latest,) = instance.fetch_materializations(key, limit=1).records
        logged = instance.all_logs(latest.run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION)
        checks = {e.dagster_event.asset_check_evaluation_data.asset_check_key for e in logged}
        records = {}
        for check_key in checks:
            (record,) = instance.event_log_storage.get_asset_check_execution_history(check_key, limit=5)
            evaluation = record.event.dagster_event.asset_check_evaluation_data
            records[check_key.name] = (record.status, record.run_id == latest.run_id, evaluation.passed,
                                       evaluation.severity, dict(evaluation.metadata), evaluation.description,
                                       evaluation.target_materialization_data.storage_id == latest.storage_id)
        seen[batched] = (records, sorted(e.message for e in logged))
        assert len(logged) == len(checks) >= 5
        instance.dispose()
    assert seen[True] == seen[False]
    assert {dg.DagsterEventType.ASSET_CHECK_EVALUATION} in handed  # handed over as one batch, and only then


def _killed_mid_batch(home: str, products: str, operational: str) -> None:
    """Materialize customer.customers for a day and die (SIGKILL) while the index transaction of its
    check evaluations' batch is open: after the run's shard took them, before the index commits."""
    import os
    import signal
    from pathlib import Path

    from tests.conftest import MeshEnv

    store = BatchedSqliteEventLogStorage.store_asset_check_event
    recorded = []

    def dying(storage, event, event_id):  # called per evaluation, inside the batch's index transaction
        recorded.append(event_id)
        if len(recorded) == 2:
            os.kill(os.getpid(), signal.SIGKILL)
        return store(storage, event, event_id)

    BatchedSqliteEventLogStorage.store_asset_check_event = dying
    MeshEnv(Path(products), Path(operational)).materialize(DAY, domains=["customer"],
                                                           instance=dg.DagsterInstance.from_config(home))


def test_a_process_killed_mid_batch_leaves_none_of_its_check_results_and_a_rerun_records_them(tmp_path, erp_root):
    """The batch of a step's check evaluations is one index transaction: a process killed in the middle
    of it leaves no check half recorded (the execution records and the index take all of it or none),
    the instance opens, and the rerun after the dead run is released records every check once."""
    from mesh.orchestration.keys import asset_key
    from tests.conftest import ROOT, MeshEnv

    home, products = tmp_path / "home", tmp_path / "products"
    home.mkdir()
    shutil.copy(ROOT / "deploy" / "local" / "dagster.yaml", home / "dagster.yaml")
    process = multiprocessing.get_context("spawn").Process(
        target=_killed_mid_batch, args=(str(home), str(products), str(erp_root)))
    process.start()
    process.join(300)
    if process.exitcode is None:  # hung (a batch waiting on its own lock, say): do not leave it behind
        process.kill()
        process.join()
        pytest.fail("the process did not reach the batch's second evaluation within 300 s")
    assert process.exitcode == -9
    env = MeshEnv(products, erp_root)
    key = asset_key(env.port().mesh.product("customer.customers"))
    checks = env.definitions(["customer"]).resolve_assets_def(key).check_keys
    assert len(checks) >= 5
    instance = dg.DagsterInstance.from_config(str(home))
    (dead,) = instance.get_runs()
    assert dead.status == dg.DagsterRunStatus.STARTED
    in_shard = instance.all_logs(dead.run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION)
    assert len(in_shard) == len(checks)  # the run's own log took the batch before the index's transaction
    for check in checks:  # the index took none of it: no check is half recorded
        assert instance.event_log_storage.get_asset_check_execution_history(check, limit=5) == []
    # what `mesh materialize` does with a run whose process is gone (release_dead_runs), then run again
    instance.report_run_failed(dead, "killed mid-batch")
    instance.event_log_storage.free_concurrency_slots_for_run(dead.run_id)
    rerun = env.materialize(DAY, domains=["customer"], instance=instance)
    assert rerun.success
    for check in checks:
        (record,) = instance.event_log_storage.get_asset_check_execution_history(check, limit=5)
        assert record.run_id == rerun.run_id and record.event is not None


def _open_together(homes: list[str], barrier) -> None:
    for home in homes:  # every process opens each new instance at the same moment
        barrier.wait(300)
        dg.DagsterInstance.from_config(home)


def test_processes_opening_a_new_local_instance_together_all_succeed(tmp_path):
    """``dg dev`` starts the webserver and the daemon at once on a new instance: Dagster's SQLite
    storages create their tables and stamp their schema version unlocked, and two processes doing it
    together left a database the instance refuses to open ("more than one head present")."""
    from tests.conftest import ROOT

    homes = []
    for attempt in range(5):
        home = tmp_path / f"home{attempt}"
        home.mkdir()
        shutil.copy(ROOT / "deploy" / "local" / "dagster.yaml", home / "dagster.yaml")
        homes.append(str(home))
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(4)
    processes = [context.Process(target=_open_together, args=(homes, barrier)) for _ in range(4)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(600)
    assert [process.exitcode for process in processes] == [0] * 4
    for home in homes:
        instance = dg.DagsterInstance.from_config(home)
        assert instance.get_runs() == []


def test_catch_up_runs_only_what_is_missing(tmp_path, batches):
    instance = sqlite_instance(tmp_path, batched=True)
    keys = PARTITIONS.get_partition_keys()
    partitioned, unpartitioned = [dg.AssetKey("upstream"), dg.AssetKey("downstream")], [dg.AssetKey("summary")]
    first = catch_up_plan(instance, partitioned, unpartitioned, [], keys)
    assert [(s.name, s.first, s.last, s.keys) for s in first] == [
        ("catch_up_0", "2024-01-01", keys[-1], partitioned), ("materialize_unpartitioned", None, None, unpartitioned)]
    run_range(instance, "2024-01-01", keys[-1])
    # Everything published but the unpartitioned product, which never ran: only it runs.
    assert [(s.name, s.keys) for s in catch_up_plan(instance, partitioned, unpartitioned, [], keys)] == [
        ("materialize_unpartitioned", unpartitioned)]
    instance.report_runless_asset_event(dg.AssetMaterialization("summary"))
    assert catch_up_plan(instance, partitioned, unpartitioned, [], keys) == []
    # A new day, and a product that never ran: the new product's whole history after the others' new day.
    newer = [*keys, "2024-03-01"]
    fresh = dg.AssetKey("added")
    plan = catch_up_plan(instance, [*partitioned, fresh], unpartitioned, [], newer)
    assert [(s.first, s.last, s.keys) for s in plan[:2]] == [
        ("2024-03-01", "2024-03-01", partitioned), ("2024-01-01", "2024-03-01", [fresh])]
    assert plan[2].keys == unpartitioned
    instance.dispose()
