"""The local instance's event log: Dagster's SQLite storage, writing a batch of events at once.

A run over a range of daily partitions records one materialization event per partition and
product: some 1,400 per product for four years of history. Dagster's SQLite storage writes each in
its own transactions (the run's shard, then the cross-run index, each opened and synced anew), about
a third of a second's work per product-day on this kind of machine, which made publishing the
whole history take most of an hour. Dagster hands the events of one output's partitions over as a
batch when ``DAGSTER_EVENT_BATCH_SIZE`` is set (``mesh`` sets it, and the tests); this storage
writes such a batch in one transaction per database, with the same rows Dagster would write one by one.
A step's check evaluations come as one batch too (``mesh.orchestration.compile`` sends them so to a
storage with ``batches_check_evaluations``): one at a time, each took three transactions, and
recording them was a fifth of a day's run of the whole mesh.
Everything else (reads, run status, the webserver's queries) is Dagster's own.

``deploy/local/dagster.yaml`` selects it through ``LocalInstance``, whose default storage is Dagster's
SQLite storage with this event log, in the instance's own directory; production runs on Postgres
(``deploy/dagster.yaml``).
"""

from __future__ import annotations

import fcntl
import os
import threading
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, nullcontext
from typing import Any

import yaml
from dagster import DagsterInstance
from dagster._core.events import ASSET_EVENTS, DagsterEventType, StepMaterializationData
from dagster._core.events.log import EventLogEntry
from dagster._core.instance.ref import InstanceRef
from dagster._core.storage.event_log.schema import AssetKeyTable, SqlEventLogStorageTable
from dagster._core.storage.event_log.sqlite.sqlite_event_log import SqliteEventLogStorage
from dagster._core.storage.sqlite_storage import DagsterSqliteStorage, _event_logs_directory
from dagster._serdes import ConfigurableClassData, serialize_value
from sqlalchemy import exc as db_exc

# Events of one batch written per transaction: a range of four years of days is one batch.
BATCH_SIZE = 10_000


def enable_batches() -> None:
    """Let Dagster hand partition events over in batches (read by Dagster at every event)."""
    os.environ.setdefault("DAGSTER_EVENT_BATCH_SIZE", str(BATCH_SIZE))


class BatchedSqliteEventLogStorage(SqliteEventLogStorage):
    """``SqliteEventLogStorage`` whose ``store_event_batch`` is one transaction per database."""

    # A step's check evaluations may come as one batch (mesh.orchestration.compile sends them so
    # only to a storage that says it takes them; Dagster's own storages refuse such a batch).
    batches_check_evaluations = True

    def __init__(self, base_dir: str, inst_data: ConfigurableClassData | None = None):
        self._batch = threading.local()  # the index connection a batch of this thread holds open
        super().__init__(base_dir, inst_data)  # which may already open the index (to migrate it)

    def index_connection(self):
        held = getattr(self._batch, "connection", None)
        return nullcontext(held) if held is not None else super().index_connection()

    def store_event_batch(self, events: Sequence[EventLogEntry]) -> None:
        if all(_check_evaluation(e) for e in events):
            self._store_check_evaluations(events)
        elif all(_asset_event(e) for e in events):
            self._store_asset_events(events)
        else:  # as Dagster does: one event at a time
            super().store_event_batch(events)

    def _store_check_evaluations(self, events: Sequence[EventLogEntry]) -> None:
        """What ``store_event`` writes for each evaluation (its row in the run's shard and the index,
        and the check's execution record), with one transaction per database instead of three per event."""
        rows = [self._event_to_row(event) for event in events]
        self._insert_in_runs(rows)
        with self.index_transaction() as conn:
            ids = self._insert_in_index(conn, rows)
            self._batch.connection = conn  # the execution records' updates join this transaction
            try:
                for event, event_id in zip(events, ids, strict=True):
                    self.store_asset_check_event(event, event_id)
            finally:
                self._batch.connection = None

    def _insert_in_runs(self, rows: list[dict[str, Any]]) -> None:
        by_run: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for row in rows:
            by_run[row["run_id"]].append(row)
        for run_id, batch in by_run.items():
            with self.run_connection(run_id) as conn:
                conn.execute(SqlEventLogStorageTable.insert(), batch)

    @staticmethod
    def _insert_in_index(conn, rows: list[dict[str, Any]]) -> list[int]:
        """The index's own ids, in the batch's order: its rows are what cross-run queries return."""
        inserted = conn.execute(SqlEventLogStorageTable.insert().returning(
            SqlEventLogStorageTable.c.id, sort_by_parameter_order=True), rows)
        return [row.id for row in inserted]

    def _store_asset_events(self, events: Sequence[EventLogEntry]) -> None:
        rows = self._event_rows(events)  # serialized once, for both databases
        self._insert_in_runs(rows)
        with self.index_transaction() as conn:
            ids = self._insert_in_index(conn, rows)
            self._store_asset_event_tags(conn, events, ids)
            self._upsert_asset_keys(conn, events, ids)

    def _event_rows(self, events: Sequence[EventLogEntry]) -> list[dict[str, Any]]:
        """``_event_to_row`` of each event, the metadata the events of a batch share serialized once.

        Every partition's materialization of a ranged run carries the run's metadata (a preview table,
        a chart: up to 30 kB), which made serializing most of a batch's cost. An event's JSON is that of
        the event without metadata with the metadata's JSON in its place: the place and the metadata's
        JSON are found on the first event of each run of events with the same metadata, by serializing
        it whole, and reused for the next ones. Anything unexpected serializes the event whole.
        """
        rows: list[dict[str, Any]] = []
        shared: tuple[Mapping[str, Any], str] | None = None  # (metadata, its JSON)
        for event in events:
            bare = _without_metadata(event)
            if bare is None:
                rows.append(self._event_to_row(event))
                continue
            row = self._event_to_row(bare)
            head, marker, tail = row["event"].partition(_NO_METADATA)
            if not marker or _NO_METADATA in tail:
                rows.append(self._event_to_row(event))
                continue
            metadata = event.get_dagster_event().step_materialization_data.materialization.metadata
            if shared is None or not _same(shared[0], metadata):
                whole = serialize_value(event)
                start, end = len(head) + len(_METADATA), len(whole) - len(tail)
                if not (whole.startswith(head + _METADATA) and whole.endswith(tail) and start <= end):
                    shared = None
                    rows.append({**row, "event": whole})
                    continue
                shared = (metadata, whole[start:end])
            row["event"] = head + _METADATA + shared[1] + tail
            rows.append(row)
        return rows

    def _upsert_asset_keys(self, conn, events: Sequence[EventLogEntry], ids: Sequence[int]) -> None:
        """What ``SqlEventLogStorage._store_asset_event`` leaves in each asset's row after the batch.

        Each event overwrites the columns its type sets (the last materialization, the last run, the
        last event's time), so the last event of each type per asset, applied in order, leaves the same
        row as applying every event; the schema is inspected once, not per event.
        """
        with_index_cols = self._has_asset_key_index_cols_on_connection(conn)
        last: dict[tuple[str, Any], tuple[int, EventLogEntry, int]] = {}
        for position, (event, event_id) in enumerate(zip(events, ids, strict=True)):
            dagster_event = event.get_dagster_event()
            last[(dagster_event.asset_key.to_string(), dagster_event.event_type)] = (position, event, event_id)
        values: dict[str, dict[str, Any]] = defaultdict(dict)
        for _, event, event_id in sorted(last.values(), key=lambda entry: entry[0]):
            values[event.get_dagster_event().asset_key.to_string()].update(
                self._get_asset_entry_values(event, event_id, with_index_cols))
        for key, row in values.items():
            if not row:
                continue
            try:
                conn.execute(AssetKeyTable.insert().values(asset_key=key, **row))
            except db_exc.IntegrityError:  # SQLite undoes the statement, not the transaction
                conn.execute(AssetKeyTable.update().values(**row).where(AssetKeyTable.c.asset_key == key))


_METADATA = '"metadata_entries": '  # how Dagster's serializer writes an event's metadata (sorted keys)
_NO_METADATA = _METADATA + "[]"


def _without_metadata(event: EventLogEntry) -> EventLogEntry | None:
    """A materialization event with its metadata emptied; None for other events and those without metadata."""
    dagster_event = event.dagster_event
    if dagster_event is None or dagster_event.event_type_value != DagsterEventType.ASSET_MATERIALIZATION.value:
        return None
    data = dagster_event.event_specific_data
    if not isinstance(data, StepMaterializationData) or not data.materialization.metadata:
        return None
    bare = data._replace(materialization=data.materialization.with_metadata({}))
    return event._replace(dagster_event=dagster_event._replace(event_specific_data=bare))


def _same(one: Mapping[str, Any], other: Mapping[str, Any]) -> bool:
    """The same metadata: the same entries in the same order (Dagster builds each partition's mapping
    anew from the same values), compared by identity first."""
    return one is other or (list(one) == list(other) and all(one[k] is other[k] or one[k] == other[k] for k in one))


def _check_evaluation(event: EventLogEntry) -> bool:
    dagster_event = event.dagster_event
    return (dagster_event is not None and dagster_event.event_type == DagsterEventType.ASSET_CHECK_EVALUATION
            and bool(event.run_id))


def _asset_event(event: EventLogEntry) -> bool:
    dagster_event = event.dagster_event
    return (dagster_event is not None and dagster_event.event_type in ASSET_EVENTS
            and dagster_event.asset_key is not None)


@contextmanager
def _creating(base_dir: str) -> Iterator[None]:
    """One process at a time opens (and on first use creates) the SQLite databases in ``base_dir``.

    Dagster creates each database when it finds no schema, without a lock: two processes starting
    together on a new instance (``dg dev`` starts the webserver and the daemon at once; a run and
    the command that watches it) both create the tables and both stamp the schema version, and
    the instance then refuses to open ("more than one head present"). An exclusive lock on a file
    beside the databases serializes that moment; it is held only while the storages are opened.
    """
    os.makedirs(base_dir, exist_ok=True)
    with open(os.path.join(base_dir, ".storage.lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


class BatchedSqliteStorage(DagsterSqliteStorage):
    """Dagster's SQLite storage (runs, schedules, event log in ``base_dir``) with the batched event log."""

    def __init__(self, base_dir: str, inst_data: ConfigurableClassData | None = None):
        with _creating(base_dir):
            super().__init__(base_dir, inst_data)
            self._event_log_storage = BatchedSqliteEventLogStorage(_event_logs_directory(base_dir))

    @classmethod
    def from_config_value(cls, inst_data: ConfigurableClassData | None, config_value: Mapping[str, Any]):
        return cls.from_local(inst_data=inst_data, **config_value)

    @property
    def event_storage_data(self) -> ConfigurableClassData | None:
        return ConfigurableClassData("mesh.instance.eventlog", "BatchedSqliteEventLogStorage",
                                     yaml.dump({"base_dir": _event_logs_directory(self.base_dir)}))


class LocalInstance(DagsterInstance):
    """Dagster's instance whose default storage, in the instance's directory, is ``BatchedSqliteStorage``.

    A default rather than a ``storage:`` entry in dagster.yaml: the directory is the one the instance
    is opened at (``DAGSTER_HOME``, or the folder ``DagsterInstance.from_config`` names), which a
    configuration file cannot spell.
    """

    @classmethod
    def config_schema(cls) -> dict:
        return {}

    @classmethod
    def config_defaults(cls, base_dir: str) -> Mapping[str, ConfigurableClassData | None]:
        storage = ConfigurableClassData(__name__, "BatchedSqliteStorage", yaml.dump({"base_dir": base_dir}))
        return {**InstanceRef.config_defaults(base_dir), "storage": storage,
                "event_log_storage": ConfigurableClassData(
                    "mesh.instance.eventlog", "BatchedSqliteEventLogStorage",
                    yaml.dump({"base_dir": _event_logs_directory(base_dir)}))}
