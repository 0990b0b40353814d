"""The lake: publishing replaces partitions in one transaction, time travel, snapshots, maintenance,
and extensions that come from their wheels or fail with one clear error."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import duckdb
import pyarrow as pa
import pytest

from mesh.contracts.names import ALL, Address
from mesh.errors import InvalidName, NotFound
from mesh.orchestration.resources import LocalStorage
from mesh.storage import engine
from mesh.storage.lake import Publication, RunInfo

ORDERS = Address("sales", "orders")


@pytest.fixture
def lake(tmp_path):
    return LocalStorage(root=str(tmp_path / "products")).lake()


def publish(lake, partitions: dict[str, list[int]], run_id: str = "run-1", quarantined: int = 0,
            keep_from: str | None = None) -> int:
    tables = {k: Publication(pa.table({"order_id": pa.array(v, pa.int64())}), len(v) + quarantined, quarantined)
              for k, v in partitions.items()}
    rejects = {k: pa.table({"partition": [k] * quarantined, "reason": ["bad"] * quarantined}) for k in partitions}
    return lake.publish(ORDERS, 1, tables, rejects, RunInfo(run_id, "code-1", "1.0.0"), keep_from)


def ids(lake, **kwargs) -> list[int]:
    return sorted(lake.read(ORDERS, 1, **kwargs).column("order_id").to_pylist())


def test_republishing_a_partition_replaces_it_and_keeps_the_others(lake):
    publish(lake, {"2026-11-01": [1, 2], "2026-11-02": [3]}, quarantined=1)
    publish(lake, {"2026-11-01": [9]}, run_id="run-2")
    assert ids(lake) == [3, 9]
    state = lake.published(ORDERS, 1)
    assert state.keys() == ["2026-11-01", "2026-11-02"]
    assert (state.partitions["2026-11-01"].rows, state.partitions["2026-11-01"].run_id) == (1, "run-2")
    assert lake.published(ORDERS.quarantined, 1).rows == 1  # the first day's reject went with its partition
    assert lake.majors(ORDERS) == [1] and lake.published(Address("sales", "nothing"), 1) is None


def test_the_state_of_many_versions_is_read_at_once_as_one_at_a_time(lake):
    """``published_many`` (the scorecard's and the monitor's read of the whole mesh) gives what ``published``
    gives for each version: a product, its quarantine, a version and a product with no table."""
    before = datetime.now(UTC).replace(microsecond=0)
    first = publish(lake, {"2026-11-01": [1, 2], "2026-11-02": [3]}, quarantined=1)
    lake.publish(Address("sales", "lines"), 2, {"2026-11-01": Publication(pa.table({"n": [1]}), 1, 0)}, {},
                 RunInfo("run-2", "code-1", "2.0.0"))
    versions = [(ORDERS, 1), (ORDERS.quarantined, 1), (ORDERS, 2), (Address("sales", "lines"), 2),
                (Address("sales", "nothing"), 1)]
    many = lake.published_many(versions)
    assert many == {v: lake.published(*v) for v in versions}
    assert many[(ORDERS, 2)] is None and many[(Address("sales", "nothing"), 1)] is None
    assert [many[(ORDERS, 1)].rows, many[(ORDERS.quarantined, 1)].rows, many[(Address("sales", "lines"), 2)].rows] == [
        3, 2, 1]
    assert many[(ORDERS, 1)].names == ["order_id"] and many[(ORDERS.quarantined, 1)].names == ["partition", "reason"]
    published_at = datetime.fromisoformat(many[(ORDERS, 1)].updated_at)  # ISO 8601 in UTC, to the second
    assert published_at.utcoffset() == timedelta(0) and before <= published_at <= datetime.now(UTC)
    assert lake.published_many(versions[:2], as_of=first) == {v: lake.published(*v, as_of=first) for v in versions[:2]}
    assert lake.published_many([]) == {}


def test_every_publish_is_one_snapshot_readable_as_of_it(lake):
    first = publish(lake, {"2026-11-01": [1, 2]})
    second = publish(lake, {"2026-11-01": [5], "2026-11-02": [6]}, run_id="run-2")
    assert second > first
    assert ids(lake, as_of=first) == [1, 2] and ids(lake) == [5, 6]
    assert lake.published(ORDERS, 1, as_of=first).keys() == ["2026-11-01"]
    snapshots = lake.snapshots(ORDERS)
    assert [(s.id, s.run_id) for s in snapshots[:2]] == [(second, "run-2"), (first, "run-1")]
    assert snapshots[0].message == "publish sales.orders v1: 2 partitions 2026-11-01..2026-11-02"
    assert lake.snapshot_at(str(first)) == first
    assert lake.snapshot_at(snapshots[0].time.isoformat()) == second
    with pytest.raises(NotFound, match="no snapshot 999999"):
        lake.snapshot_at(999999)
    with pytest.raises(NotFound, match="no snapshot at or before"):
        lake.snapshot_at("2000-01-01T00:00:00+00:00")
    with pytest.raises(InvalidName, match="--as-of takes a snapshot id or a time"):
        lake.snapshot_at("last tuesday")


def test_the_ledger_records_each_publish_with_its_snapshot(lake):
    snapshot = publish(lake, {"2026-11-01": [1, 2], "2026-11-02": [3]}, quarantined=2)
    ledger = lake.ledger(ORDERS).to_pylist()
    assert [(r["partition"], r["rows_in"], r["rows_published"], r["rows_quarantined"]) for r in ledger] == [
        ("2026-11-01", 4, 2, 2), ("2026-11-02", 3, 1, 2)]
    assert {(r["run_id"], r["code_version"], r["contract_version"], r["snapshot_id"]) for r in ledger} == {
        ("run-1", "code-1", "1.0.0", snapshot)}


def test_retention_drops_old_partitions_in_the_same_transaction(lake):
    publish(lake, {"2026-01-01": [1], "2026-06-01": [2]})
    publish(lake, {"2026-11-01": [3]}, keep_from="2026-03-01")
    assert lake.published(ORDERS, 1).keys() == ["2026-06-01", "2026-11-01"] and ids(lake) == [2, 3]


def test_an_unpartitioned_snapshot_replaces_the_whole_table(lake):
    publish(lake, {ALL: [1, 2, 3]})
    publish(lake, {ALL: [4]})
    assert ids(lake) == [4]


def test_partition_keys_are_checked_before_they_reach_sql(lake):
    with pytest.raises(InvalidName, match="invalid partition key"):
        publish(lake, {"2026-11-01' OR '1'='1": [1]})
    with pytest.raises(InvalidName, match="invalid partition key"):
        lake.read(ORDERS, 1, ["x'); DROP TABLE y; --"])


def test_a_new_nullable_column_is_added_and_old_rows_read_it_as_null(lake):
    first = publish(lake, {"2026-11-01": [1]})
    wider = {"2026-11-02": Publication(pa.table({"order_id": pa.array([2], pa.int64()), "note": ["x"]}), 1, 0)}
    lake.publish(ORDERS, 1, wider, {}, RunInfo("run-2"))
    rows = sorted(lake.read(ORDERS, 1).to_pylist(), key=lambda r: r["order_id"])
    assert rows == [{"order_id": 1, "note": None}, {"order_id": 2, "note": "x"}]
    then = lake.published(ORDERS, 1, as_of=first)  # the columns it had then, not today's
    assert then.names == ["order_id"] and lake.read(ORDERS, 1, select="order_id", as_of=first).num_rows == 1
    assert lake.published(Address("sales", "later"), 1, as_of=first) is None


def test_maintenance_expires_snapshots_and_deletes_files_no_snapshot_reads(lake, tmp_path):
    data = tmp_path / "products" / "data" / "sales" / "orders__v1"
    for run in range(3):  # big enough to be written as Parquet, not kept in the catalog
        publish(lake, {"2026-11-01": list(range(run * 100, run * 100 + 50))}, run_id=f"run-{run}")
    before = sorted(data.rglob("*.parquet"))
    old = lake.snapshots(ORDERS)[-1].id
    done = lake.maintain([(ORDERS, 1), (ORDERS.quarantined, 1)], keep_snapshots=timedelta(0))
    after = sorted(data.rglob("*.parquet"))
    assert done["snapshots_expired"] >= 2 and done["files_deleted"] >= 2
    assert len(after) == 1 < len(before)  # the replaced partitions' files are gone
    assert ids(lake) == list(range(200, 250))  # the current snapshot is untouched
    with pytest.raises(NotFound, match=f"the lake has no snapshot {old} \\(it may have expired\\)"):
        lake.snapshot_at(old)


def test_a_missing_extension_names_the_package_to_install(monkeypatch):
    engine.extension_path.cache_clear()
    monkeypatch.setitem(engine.PACKAGES, "ducklake", "duckdb-extension-not-installed")
    try:
        with pytest.raises(engine.ExtensionMissing, match=rf"pip install 'duckdb-extension-not-installed=="
                                                          rf"{duckdb.__version__}'"):
            engine.connect("ducklake")
    finally:
        engine.extension_path.cache_clear()


def test_a_mismatched_extension_build_names_the_version_to_install(monkeypatch):
    engine.extension_path.cache_clear()
    monkeypatch.setattr(duckdb, "__version__", "0.0.1")
    try:
        with pytest.raises(engine.ExtensionMissing, match=r"built for DuckDB v\d.*but DuckDB is 0\.0\.1"):
            engine.extension_path("httpfs")
    finally:
        engine.extension_path.cache_clear()


def test_connections_never_download_extensions():
    con = engine.connect()
    with pytest.raises(duckdb.Error, match="requires the extension httpfs to be loaded"):  # and not fetched
        con.execute("SELECT * FROM read_json_auto('s3://bucket/x.json')").fetchall()
    assert con.execute("SELECT current_setting('autoinstall_known_extensions')").fetchone()[0] is False


def test_snapshot_times_are_utc(lake):
    publish(lake, {"2026-11-01": [1]})
    taken = lake.snapshots(ORDERS)[0].time
    assert taken.utcoffset() == timedelta(0) and abs(datetime.now(UTC) - taken) < timedelta(minutes=5)


def test_a_local_lake_moved_to_another_folder_keeps_working(tmp_path):
    import shutil

    publish(LocalStorage(root=str(tmp_path / "a")).lake(), {"2026-11-01": list(range(50))})
    shutil.move(tmp_path / "a", tmp_path / "b")  # e.g. a project checked out elsewhere
    moved = LocalStorage(root=str(tmp_path / "b")).lake()
    assert ids(moved) == list(range(50))
    publish(moved, {"2026-11-02": [99]})
    assert len(ids(moved)) == 51


def test_each_domain_has_a_scheduled_maintenance_job_that_expires_old_snapshots(mesh_env):
    import dagster as dg

    lake = mesh_env.lake()
    first = publish(lake, {"2026-11-01": list(range(50))})
    publish(lake, {"2026-11-01": list(range(50, 100))}, run_id="run-2")
    definitions = mesh_env.definitions(domains=["sales"])
    assert definitions.resolve_schedule_def("sales_maintenance_schedule").cron_schedule == "30 4 * * 0"
    job = definitions.resolve_job_def("sales_maintenance")
    result = job.execute_in_process(instance=dg.DagsterInstance.ephemeral(), run_config={
        "ops": {"sales_lake_maintenance": {"config": {"keep_snapshots_days": 0}}}})
    assert result.success
    with pytest.raises(NotFound, match=f"the lake has no snapshot {first} \\(it may have expired\\)"):
        lake.snapshot_at(first)
    assert ids(lake) == list(range(50, 100))


def test_files_are_laid_out_by_month_of_the_partition_column(lake):
    import datetime as dt

    days = [dt.date(2026, 1, 1) + dt.timedelta(days=i) for i in range(90)]
    tables = {d.isoformat(): Publication(pa.table({"order_id": [i], "order_date": [d]}), 1, 0)
              for i, d in enumerate(days)}
    lake.publish(ORDERS, 1, tables, {}, RunInfo("run-1"), partitioned_by="order_date")
    with lake.cursor() as cur:
        files = cur.execute("SELECT count(*) FROM ducklake_list_files('lake', ?, schema => 'sales')",
                            ["orders__v1"]).fetchone()[0]
        keys = cur.execute("SELECT partition_key_index, column_id, transform FROM "
                           "__ducklake_metadata_lake.ducklake_partition_column ORDER BY 1").fetchall()
    assert files == 3  # one per month, not one per day
    assert [t for _, _, t in keys] == ["year", "month"]
    assert len(ids(lake, keys=["2026-02-14"])) == 1 and len(ids(lake)) == 90
