"""The local event log writes a ranged run's materializations with their shared metadata serialized once,
and stores exactly the rows Dagster would (mesh/instance/eventlog.py)."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import dagster as dg
from dagster._core.events import DagsterEvent, DagsterEventType, StepMaterializationData
from dagster._core.events.log import EventLogEntry
from dagster._serdes import serialize_value

from mesh.instance.eventlog import BatchedSqliteEventLogStorage

RUN = "0123456789ab-run"


def materialization(partition: str, metadata: dict, key: str = "product") -> EventLogEntry:
    event = DagsterEvent(
        event_type_value=DagsterEventType.ASSET_MATERIALIZATION.value, job_name="job", step_key="step",
        event_specific_data=StepMaterializationData(dg.AssetMaterialization(
            asset_key=dg.AssetKey(["domain", key]), partition=partition, metadata=metadata,
            tags={"dagster/data_version": f"v-{partition}"})),
    )
    return EventLogEntry(error_info=None, level=10, user_message="", run_id=RUN, timestamp=time.time(),
                         step_key="step", job_name="job", dagster_event=event)


def shared_metadata() -> dict:
    return dg.Output(None, metadata={
        "rows": 12, "seconds": 0.25, "tricky": 'a "quoted" [] "metadata_entries": [] text',
        "preview": dg.MetadataValue.md("| a | b |\n|---|---|\n| 1 | ü |"),
        "chart": dg.MetadataValue.json({"values": list(range(50)), "nested": {"metadata_entries": []}}),
        "table": dg.MetadataValue.table([dg.TableRecord({"x": 1, "y": "z"})]),
    }).metadata


def events() -> list[EventLogEntry]:
    metadata = shared_metadata()
    batch = [materialization(f"2026-01-{day:02d}", dict(metadata)) for day in range(1, 8)]
    batch.append(materialization("2026-01-08", {**metadata, "rows": 13}))  # other metadata from here on
    batch.append(materialization("2026-01-09", {"rows": 1}))
    batch.append(materialization("2026-01-10", {}))  # none at all
    batch.append(materialization("2026-01-11", dict(metadata), key="other"))
    return batch


def test_rows_are_what_dagster_would_write_one_by_one(tmp_path):
    storage = BatchedSqliteEventLogStorage(str(tmp_path))
    batch = events()
    assert storage._event_rows(batch) == [storage._event_to_row(e) for e in batch]


def test_the_metadata_is_serialized_once_per_run_of_events_sharing_it(tmp_path, monkeypatch):
    import mesh.instance.eventlog as eventlog

    storage = BatchedSqliteEventLogStorage(str(tmp_path))
    whole = []
    monkeypatch.setattr(eventlog, "serialize_value", lambda value: whole.append(value) or serialize_value(value))
    storage._event_rows(events())
    # the first event, the one with other metadata, the next and the other asset's
    assert [e.dagster_event.partition for e in whole] == ["2026-01-01", "2026-01-08", "2026-01-09", "2026-01-11"]


def test_a_stored_batch_holds_each_event_as_dagster_serializes_it(tmp_path):
    storage = BatchedSqliteEventLogStorage(str(tmp_path))
    batch = events()
    storage.store_event_batch(batch)
    expected = [serialize_value(e) for e in batch]
    for database in (Path(tmp_path) / f"{RUN}.db", Path(tmp_path) / "index.db"):
        with sqlite3.connect(database) as con:
            assert [r[0] for r in con.execute("SELECT event FROM event_logs ORDER BY id")] == expected
    records = storage.fetch_materializations(dg.AssetKey(["domain", "product"]), limit=20).records
    assert {r.partition_key for r in records} == {f"2026-01-{day:02d}" for day in range(1, 11)}
