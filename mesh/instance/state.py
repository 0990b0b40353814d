"""What the Dagster instance recorded of each product, for `mesh review` and `mesh show`.

Three things, per asset (a product's key is ``[domain, product]``): the newest completed evaluation
of each check, the newest materialization, and the newest freshness state. ``DagsterState`` asks
Dagster's instance API; ``LocalState`` reads the same rows from the project's local instance, Dagster's
SQLite storage under ``DAGSTER_HOME``, with the standard library's ``sqlite3``: importing Dagster
costs a command line seconds, and these are three small queries on the cross-run index that Dagster
itself queries for them (``history/runs/index.db``). ``open_state`` picks: the local reader when the
instance's ``dagster.yaml`` leaves storage to the default (as ``deploy/local/dagster.yaml`` does),
Dagster's API for any other storage (PostgreSQL in production). Both answer alike; a test holds them
to it on a real instance. Nothing here writes to the instance or knows about contracts.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from mesh.errors import MeshError

if TYPE_CHECKING:
    import dagster as dg

AssetPath = tuple[str, ...]  # an asset key's path: ("sales", "orders")
COMPLETED = ("SUCCEEDED", "FAILED")  # Dagster's COMPLETED_ASSET_CHECK_EXECUTION_RECORD_STATUSES
# instance classes on Dagster's default storage
LOCAL_INSTANCE_CLASSES = {None, ("mesh.instance.eventlog", "LocalInstance")}
STORAGE_KEYS = ("storage", "run_storage", "event_log_storage", "schedule_storage")


@dataclass(frozen=True)
class CheckRecord:
    """The newest completed evaluation of one check."""

    passed: bool
    severity: str  # "ERROR" or "WARN"
    description: str | None
    rows_failing: int | None
    evaluated_at: float  # when the execution was recorded (seconds since the epoch)


@dataclass(frozen=True)
class Materialization:
    timestamp: float
    partition: str | None


class InstanceState(Protocol):
    def checks(self, keys: Sequence[tuple[AssetPath, str]]) -> dict[tuple[AssetPath, str], CheckRecord]: ...

    def materializations(self, paths: Sequence[AssetPath]) -> dict[AssetPath, Materialization]: ...

    def freshness(self, paths: Sequence[AssetPath]) -> dict[AssetPath, str]: ...


def instance_home() -> Path:
    """The project's instance folder: ``DAGSTER_HOME``, else ``.mesh/dagster`` (as ``ensure_instance``)."""
    from mesh.contracts.project import work_dir

    return Path(os.environ.get("DAGSTER_HOME") or str(work_dir() / "dagster"))


def ensure_instance() -> dg.DagsterInstance:
    """The project's instance: ``DAGSTER_HOME`` or ``.mesh/dagster`` with the project's dagster.yaml."""
    import dagster as dg

    from mesh.contracts.project import project_dir
    from mesh.instance.eventlog import enable_batches

    home = instance_home()
    os.environ["DAGSTER_HOME"] = str(home)
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    template = project_dir() / "deploy" / "local" / "dagster.yaml"
    if not config.exists():
        if template.exists():
            shutil.copy(template, config)
        else:
            config.write_text("telemetry:\n  enabled: false\n")
    enable_batches()
    try:
        return dg.DagsterInstance.get()
    except Exception as err:  # its storage is unreachable (Postgres down, wrong host, bad credentials)
        raise MeshError(f"the Dagster instance configured in {config} cannot be opened: {root_cause(err)}") from err


def root_cause(err: BaseException) -> str:
    """The first line of an error's innermost cause (the driver's message names the host and port)."""
    while err.__cause__ is not None:
        err = err.__cause__
    return (str(err).strip().splitlines() or [type(err).__name__])[0]


def open_state() -> InstanceState:
    """The project's instance as ``InstanceState``: read directly when its storage is Dagster's local SQLite
    default, else opened through Dagster."""
    home = instance_home()
    if is_local(home):
        return LocalState(home)
    return DagsterState(ensure_instance())


def is_local(home: Path) -> bool:
    """Whether the instance at ``home`` keeps Dagster's default SQLite storage in its own folder. A folder
    without ``dagster.yaml`` gets the project's local one when Dagster first opens it (``ensure_instance``)."""
    config = home / "dagster.yaml"
    if not config.exists():
        return True
    import yaml

    try:
        settings = yaml.safe_load(config.read_text()) or {}
    except yaml.YAMLError:
        return False  # Dagster will say what is wrong with it
    if not isinstance(settings, dict) or any(key in settings for key in STORAGE_KEYS):
        return False
    chosen = settings.get("instance_class")
    kind = (chosen.get("module"), chosen.get("class")) if isinstance(chosen, dict) else chosen
    return kind in LOCAL_INSTANCE_CLASSES


class LocalState:
    """Dagster's SQLite index of a local instance, read without Dagster (see the module's docstring)."""

    def __init__(self, home: Path):
        self.index = home / "history" / "runs" / "index.db"

    def _rows(self, query: str, params: Sequence[Any]) -> list[tuple]:
        if not self.index.exists():  # nothing has run on this instance yet
            return []
        try:
            con = sqlite3.connect(self.index, timeout=30)
        except sqlite3.Error as err:
            raise MeshError(f"the Dagster instance's index {self.index} cannot be opened: {err}") from None
        try:
            con.execute("PRAGMA query_only = ON")
            return con.execute(query, list(params)).fetchall()
        except sqlite3.Error as err:
            raise MeshError(f"reading the Dagster instance's index {self.index} failed: {err} (an instance of "
                            f"an older Dagster may need `dagster instance migrate`)") from None
        finally:
            con.close()

    def checks(self, keys: Sequence[tuple[AssetPath, str]]) -> dict[tuple[AssetPath, str], CheckRecord]:
        if not keys:
            return {}
        assets = sorted({_db_key(path) for path, _ in keys})
        names = sorted({name for _, name in keys})
        rows = self._rows(
            f"SELECT asset_key, check_name, evaluation_event, create_timestamp FROM asset_check_executions "
            f"WHERE id IN (SELECT max(id) FROM asset_check_executions WHERE asset_key IN ({_marks(assets)}) "
            f"AND check_name IN ({_marks(names)}) AND execution_status IN ({_marks(COMPLETED)}) "
            f"GROUP BY asset_key, check_name)", [*assets, *names, *COMPLETED])
        wanted = set(keys)
        found = {}
        for asset, name, event, created in rows:
            key = (tuple(json.loads(asset)), name)
            if key in wanted and event:
                found[key] = _check_record(json.loads(event), _timestamp(created))
        return found

    def materializations(self, paths: Sequence[AssetPath]) -> dict[AssetPath, Materialization]:
        """The newest materialization of each asset since it was last wiped (Dagster keeps the events)."""
        rows = self._newest(paths, "ASSET_MATERIALIZATION", "e.timestamp, e.partition", since_wipe=True)
        return {tuple(json.loads(asset)): Materialization(_timestamp(at), partition) for asset, at, partition in rows}

    def freshness(self, paths: Sequence[AssetPath]) -> dict[AssetPath, str]:
        """The state of each asset's newest freshness change ("PASS", "WARN", "FAIL" or "UNKNOWN")."""
        found = {}
        for asset, event in self._newest(paths, "FRESHNESS_STATE_CHANGE", "e.event"):
            data = (json.loads(event).get("dagster_event") or {}).get("event_specific_data") or {}
            found[tuple(json.loads(asset))] = _enum(data.get("new_state"))
        return found

    def _newest(self, paths: Sequence[AssetPath], event_type: str, columns: str, since_wipe: bool = False
                ) -> list[tuple]:
        """Per asset, its key and ``columns`` of its newest event of ``event_type`` (since the asset was
        last wiped, if asked)."""
        if not paths:
            return []
        assets = [_db_key(p) for p in paths]
        wiped = " AND (k.wipe_timestamp IS NULL OR l.timestamp > k.wipe_timestamp)" if since_wipe else ""
        return self._rows(
            f"SELECT e.asset_key, {columns} FROM event_logs e WHERE e.id IN ("
            f"SELECT max(l.id) FROM event_logs l LEFT JOIN asset_keys k ON k.asset_key = l.asset_key "
            f"WHERE l.asset_key IN ({_marks(assets)}) AND l.dagster_event_type = ?{wiped} GROUP BY l.asset_key)",
            [*assets, event_type])


class DagsterState:
    """The same answers through Dagster's instance API: any storage Dagster supports."""

    def __init__(self, instance: dg.DagsterInstance):
        self.instance = instance

    def checks(self, keys: Sequence[tuple[AssetPath, str]]) -> dict[tuple[AssetPath, str], CheckRecord]:
        """One query for the newest execution of every check, then one per check whose newest execution
        is only planned (its run stopped, or is still going)."""
        import dagster as dg
        from dagster._core.storage.asset_check_execution_record import COMPLETED_ASSET_CHECK_EXECUTION_RECORD_STATUSES

        check_keys = {key: dg.AssetCheckKey(dg.AssetKey(list(key[0])), key[1]) for key in keys}
        latest = self.instance.event_log_storage.get_latest_asset_check_execution_by_key(list(check_keys.values()))
        found = {}
        for key, check_key in check_keys.items():
            record = latest.get(check_key)
            if record is not None and record.status not in COMPLETED_ASSET_CHECK_EXECUTION_RECORD_STATUSES:
                record = latest_check_result(self.instance, check_key)
            evaluation = record.evaluation if record is not None else None
            if evaluation is not None:
                failing = evaluation.metadata.get("rows_failing")
                found[key] = CheckRecord(evaluation.passed, evaluation.severity.value, evaluation.description,
                                         int(failing.value) if failing is not None else None,
                                         record.create_timestamp)
        return found

    def materializations(self, paths: Sequence[AssetPath]) -> dict[AssetPath, Materialization]:
        import dagster as dg

        events = self.instance.get_latest_materialization_events([dg.AssetKey(list(p)) for p in paths])
        found = {}
        for key, event in events.items():
            if event is not None:
                materialization = event.asset_materialization
                found[tuple(key.path)] = Materialization(
                    event.timestamp, materialization.partition if materialization else None)
        return found

    def freshness(self, paths: Sequence[AssetPath]) -> dict[AssetPath, str]:
        import dagster as dg

        try:
            records = self.instance.get_freshness_state_records([dg.AssetKey(list(p)) for p in paths])
        except NotImplementedError:  # storage without freshness support: unknown, not an error
            return {}
        except Exception as err:  # the instance is failing: unknown, and said so
            import logging

            logging.getLogger(__name__).warning("freshness states unavailable: %s", err)
            return {}
        return {tuple(key.path): record.freshness_state.value for key, record in records.items()}


def latest_check_result(instance: dg.DagsterInstance, check_key: dg.AssetCheckKey):
    """The newest completed evaluation of a check, through Dagster (planned ones of runs that stopped
    are skipped)."""
    from dagster._core.storage.asset_check_execution_record import COMPLETED_ASSET_CHECK_EXECUTION_RECORD_STATUSES

    records = instance.event_log_storage.get_asset_check_execution_history(
        check_key, limit=1, status=set(COMPLETED_ASSET_CHECK_EXECUTION_RECORD_STATUSES))
    return records[0] if records else None


def _check_record(entry: dict, created: float) -> CheckRecord:
    """A check evaluation event as Dagster serializes it: ``AssetCheckEvaluation`` stores ``passed`` as
    ``success``, its severity as an enum and each metadata value with its kind."""
    data = (entry.get("dagster_event") or {}).get("event_specific_data") or {}
    failing = (data.get("metadata") or {}).get("rows_failing")
    rows = failing.get("value") if isinstance(failing, dict) else None
    return CheckRecord(bool(data.get("success")), _enum(data.get("severity")), data.get("description"),
                       int(rows) if rows is not None else None, created)


def _enum(value: Any) -> str:
    """``{"__enum__": "AssetCheckSeverity.ERROR"}`` -> ``"ERROR"``."""
    text = value.get("__enum__", "") if isinstance(value, dict) else str(value or "")
    return text.rsplit(".", 1)[-1]


def _db_key(path: AssetPath) -> str:
    return json.dumps(list(path))  # Dagster's AssetKey.to_string()


def _marks(values: Sequence[Any]) -> str:
    return ", ".join("?" for _ in values)


def _timestamp(value: str | datetime) -> float:
    """A time SQLAlchemy stored in SQLite (naive, UTC) as seconds since the epoch."""
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(value)
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()
