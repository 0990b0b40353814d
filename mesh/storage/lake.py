"""The storage of record: a DuckLake lakehouse, one transaction per publish.

The catalog is a SQL database (SQLite under ``.mesh/`` locally, PostgreSQL in production); data are
Parquet files on a local disk or S3. Layout in the lake::

    <domain>.<product>__v<major>               a product's major version, partitioned by the year and
                                               month of its partition column
    <domain>.<product>__quarantine__v<major>   its rejected rows (few: not partitioned)
    _mesh.partitions                           what is published per partition: rows in, published,
                                               quarantined, by which run, when
    _mesh.ledger                               every publish of every run, appended

Every row carries its partition key in the hidden column ``_partition``: deletes and reads of a
partition are exact on it, and files are pruned by its statistics. Files are laid out by month, not
by key: a key per file would write one small file per day of a backfill (measured: a year of daily
partitions publishes about 4x slower, and reads open hundreds of files).

Publishing a chunk replaces its partitions in the product and its quarantine, records them in
``_mesh.partitions`` and appends to ``_mesh.ledger`` in ONE transaction whose commit message carries
the run id, so rows in = rows published + rows quarantined holds in every committed snapshot, whatever
dies when. Conflicts with concurrent writers are retried with bounded backoff. Every snapshot stays
readable ("as of") until maintenance expires it. Does not validate data, mask PII or know Dagster:
readers with access rules are ``mesh.storage.ports``.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

import duckdb

from mesh.contracts.names import ALL, Address
from mesh.errors import InvalidName, NotFound, StorageError
from mesh.storage import engine
from mesh.storage.engine import literal, quoted

if TYPE_CHECKING:  # imported where used: `mesh show` and `mesh review` read the lake's state without Arrow
    import numpy as np
    import pyarrow as pa

PARTITION = "_partition"  # the hidden column holding each row's partition key
# A TIMESTAMPTZ column as the text ``datetime.isoformat(timespec="seconds")`` gives for it in UTC.
ISO_UTC = "strftime(make_timestamp(epoch_us({})), '%Y-%m-%dT%H:%M:%S') || '+00:00'"
META = "_mesh"  # schema of the mesh's own tables (domain names cannot start with '_')
PARTITION_KEY_RE = re.compile(r"^(all|\d{4}-\d{2}-\d{2}(-\d{2}:\d{2})?)$")
COMMIT_ATTEMPTS = 30
T = TypeVar("T")

META_TABLES = {
    "partitions": "product VARCHAR, major INTEGER, partition VARCHAR, rows BIGINT, rows_in BIGINT, "
                  "rows_quarantined BIGINT, run_id VARCHAR, published_at TIMESTAMPTZ",
    "ledger": "run_id VARCHAR, publish_id VARCHAR, product VARCHAR, major INTEGER, partition VARCHAR, "
              "rows_in BIGINT, rows_published BIGINT, rows_quarantined BIGINT, code_version VARCHAR, "
              "contract_version VARCHAR, published_at TIMESTAMPTZ",
}


class ConcurrentWrite(StorageError):
    """Another writer kept committing first; this publish gave up after bounded retries."""


def check_partition_key(key: str) -> str:
    if not isinstance(key, str) or not PARTITION_KEY_RE.match(key):
        raise InvalidName(f"invalid partition key {key!r}: expected 'YYYY-MM-DD', 'YYYY-MM-DD-HH:MM' or 'all'")
    return key


@dataclass(frozen=True)
class LakeConfig:
    """Where one environment's lake lives. ``catalog`` is DuckLake's metadata database
    (``sqlite:<path>`` or ``postgres:<libpq connection string>``); ``data_path`` a folder or
    ``s3://bucket/prefix/``; ``s3`` the parameters of the DuckDB S3 secret (key_id, secret, region,
    endpoint, url_style, use_ssl, session_token) when data are on S3."""

    catalog: str
    data_path: str
    metadata_schema: str | None = None
    s3: dict[str, Any] | None = None
    movable: bool = False  # data beside the catalog: a moved folder keeps working (the catalog stores paths)

    @property
    def extensions(self) -> tuple[str, ...]:
        backend = "postgres_scanner" if self.catalog.startswith("postgres:") else "sqlite_scanner"
        return ("ducklake", backend, *(("httpfs",) if self.data_path.startswith("s3://") else ()))

    @property
    def local_catalog(self) -> str | None:
        return self.catalog.removeprefix("sqlite:") if self.catalog.startswith("sqlite:") else None


@dataclass(frozen=True)
class PartitionState:
    rows: int
    rows_in: int
    rows_quarantined: int
    run_id: str
    published_at: str  # ISO 8601, UTC


@dataclass
class Published:
    """What is published of one product version (or its quarantine) at one snapshot."""

    address: Address
    major: int
    columns: list[tuple[str, str]]  # name, DuckDB type; without the hidden partition column
    partitions: dict[str, PartitionState] = field(default_factory=dict)
    snapshot: int | None = None

    def keys(self, start: str | None = None, end: str | None = None) -> list[str]:
        """Published partition keys, optionally within [start, end)."""
        return sorted(k for k in self.partitions if (start is None or k >= start) and (end is None or k < end))

    @property
    def rows(self) -> int:
        return sum(state.rows for state in self.partitions.values())

    @property
    def updated_at(self) -> str:
        """When the newest of its partitions was published (ISO 8601), or '' when none is."""
        return max((state.published_at for state in self.partitions.values()), default="")

    @property
    def names(self) -> list[str]:
        return [name for name, _ in self.columns]


@dataclass
class Publication:
    """One partition of a publish: the rows that passed, and what the run counted for it."""

    table: pa.Table
    rows_in: int
    rows_quarantined: int


@dataclass(frozen=True)
class RunInfo:
    run_id: str
    code_version: str = ""
    contract_version: str = ""


@dataclass(frozen=True)
class Snapshot:
    id: int
    time: datetime
    changes: dict[str, Any]
    message: str | None
    run_id: str | None


def table_name(address: Address, major: int) -> str:
    return f"{address.table}__v{int(major)}"


class Lake:
    """One environment's DuckLake: publishing, state, snapshots and maintenance."""

    def __init__(self, config: LakeConfig):
        self.config = config
        self._database: duckdb.DuckDBPyConnection | None = None
        self._pid = 0
        self._lock = threading.RLock()
        self._functions: set[str] = set()

    @property
    def uri(self) -> str:
        return self.config.data_path

    def __repr__(self) -> str:
        return f"Lake({self.config.catalog.split(' password=')[0]}, {self.config.data_path})"

    # -- connections ------------------------------------------------------------------------------
    def attach(self, con: duckdb.DuckDBPyConnection, alias: str = "lake", read_only: bool = False,
               snapshot: int | None = None) -> None:
        """Attach this lake to a connection that has its extensions loaded (``engine.connect``)."""
        config = self.config
        self._secret(con, alias)
        options = self._options(read_only, snapshot)
        try:
            con.execute(f"ATTACH {literal('ducklake:' + config.catalog)} AS {quoted(alias)} ({options})")
        except duckdb.Error as err:
            raise StorageError(f"the lake's catalog ({self!r}) cannot be attached: {_first_line(err)}") from None

    def _secret(self, con: duckdb.DuckDBPyConnection, alias: str) -> None:
        if self.config.s3:
            options = ", ".join(f"{k.upper()} {_secret_value(v)}" for k, v in self.config.s3.items()
                                if v not in (None, ""))
            con.execute(f"CREATE OR REPLACE SECRET {quoted(alias + '_s3')} (TYPE s3, {options})")

    def _options(self, read_only: bool = False, snapshot: int | None = None) -> str:
        config = self.config
        options = [f"DATA_PATH {literal(config.data_path)}"]
        if config.metadata_schema:
            options.append(f"METADATA_SCHEMA {literal(config.metadata_schema)}")
        if config.movable:
            options.append("OVERRIDE_DATA_PATH true")
        if read_only:
            options.append("READ_ONLY")
        if snapshot is not None:
            options.append(f"SNAPSHOT_VERSION {int(snapshot)}")
        return ", ".join(options)

    def connect(self, read_only: bool = True, snapshot: int | None = None, alias: str = "lake"
                ) -> duckdb.DuckDBPyConnection:
        """A new connection with the lake attached (read-only unless asked), optionally at a snapshot.

        A reader of a lake that exists attaches it and nothing more: creating it first (``ensure``)
        opened a second, writing connection, which loads the extensions again."""
        catalog = self.config.local_catalog
        if not read_only or (catalog is not None and not os.path.exists(catalog)):
            self.ensure()
        con = engine.connect(*self.config.extensions)
        try:
            self.attach(con, alias, read_only=read_only, snapshot=snapshot)
        except StorageError:
            if catalog is not None or not read_only:
                raise
            self.ensure()  # a catalog in a database server may not be created yet: create it, then attach
            self.attach(con, alias, read_only=read_only, snapshot=snapshot)
        return con

    def ensure(self) -> None:
        """Create the lake (catalog, data folder, the mesh's own tables) if it does not exist."""
        self._db()

    def _db(self) -> duckdb.DuckDBPyConnection:
        """This process's writing connection: one attach, a cursor per operation."""
        with self._lock:
            catalog = self.config.local_catalog
            gone = catalog is not None and self._database is not None and not os.path.exists(catalog)
            if self._database is None or self._pid != os.getpid() or gone:  # new, forked, or deleted under us
                if self.config.local_catalog:
                    os.makedirs(os.path.dirname(self.config.local_catalog) or ".", exist_ok=True)
                if not self.config.data_path.startswith("s3://"):
                    os.makedirs(self.config.data_path, exist_ok=True)
                con = engine.connect(*self.config.extensions)
                # Processes starting together on a new lake race to create its catalog: retried.
                self._retrying("attaching the lake", lambda: self._attach_new(con))
                self._database, self._pid, self._functions = con, os.getpid(), set()
                if not self._has_meta():
                    self._retrying("creating the mesh's tables", self._create_meta)
            return self._database

    def _attach_new(self, con: duckdb.DuckDBPyConnection) -> None:
        self._secret(con, "lake")
        try:
            con.execute(f"ATTACH {literal('ducklake:' + self.config.catalog)} AS lake ({self._options()})")
        except duckdb.Error:
            with contextlib.suppress(duckdb.Error):
                con.execute("DETACH lake")
            raise

    @contextmanager
    def cursor(self) -> Iterator[duckdb.DuckDBPyConnection]:
        cur = self._db().cursor()
        try:
            yield cur
        finally:
            cur.close()

    def _has_meta(self) -> bool:
        """Whether the mesh's own tables exist (a lake that has them is opened without writing to it).
        Binding a query that names them is cheap; listing tables (``duckdb_tables()``) costs DuckLake
        a tenth of a second or more."""
        tables = ", ".join(f"lake.{META}.{name}" for name in META_TABLES)
        with self.cursor() as cur:
            try:
                cur.execute(f"SELECT 1 FROM {tables} WHERE false").fetchall()
            except duckdb.CatalogException:
                return False
        return True

    def _create_meta(self) -> None:
        with self.cursor() as cur:
            cur.execute(f"CREATE SCHEMA IF NOT EXISTS lake.{META}")
            for name, columns in META_TABLES.items():
                cur.execute(f"CREATE TABLE IF NOT EXISTS lake.{META}.{name} ({columns})")

    # -- names --------------------------------------------------------------------------------
    @staticmethod
    def ref(address: Address, major: int, alias: str = "lake") -> str:
        return f"{quoted(alias)}.{quoted(address.domain)}.{quoted(table_name(address, major))}"

    # -- state ---------------------------------------------------------------------------------
    def columns(self, address: Address, major: int, cur: duckdb.DuckDBPyConnection | None = None
                ) -> list[tuple[str, str]] | None:
        """A product version's columns (name, DuckDB type), or None when its table does not exist."""
        if cur is None:
            with self.cursor() as own:
                return self._columns_of(own, [(address, major)]).get((address, major))
        return self._columns_of(cur, [(address, major)]).get((address, major))

    def published(self, address: Address, major: int, as_of: int | None = None,
                  cur: duckdb.DuckDBPyConnection | None = None) -> Published | None:
        """What is published of ``address`` v``major`` now (or at snapshot ``as_of``); None if nothing.
        ``cur``: read in that cursor's transaction (``read_transaction``) instead of one of its own."""
        return self.published_many([(address, major)], as_of, cur)[(address, major)]

    def published_many(self, versions: list[tuple[Address, int]], as_of: int | None = None,
                       cur: duckdb.DuckDBPyConnection | None = None) -> dict[tuple[Address, int], Published | None]:
        """``published`` of several product versions (or quarantines) at one snapshot, in two catalog
        queries however many they are: what the scorecard and the freshness monitor read of the mesh."""
        if cur is not None:
            return self._published_many(cur, versions, as_of)

        def attempt() -> dict[tuple[Address, int], Published | None]:
            with self.read_transaction() as own:
                return self._published_many(own, versions, as_of)

        return self._retrying(f"reading the state of {', '.join(f'{a} v{m}' for a, m in versions[:3])}"
                              f"{' and others' if len(versions) > 3 else ''}", attempt, raise_as=None)

    @contextmanager
    def read_transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A cursor in one transaction that only reads (rolled back at the end): what it reads agrees
        however publishes interleave, and DuckLake reads its catalog once rather than once per statement."""
        with self.cursor() as cur:
            cur.execute("BEGIN TRANSACTION")
            try:
                yield cur
            finally:
                _rollback(cur)

    def _published_many(self, cur: duckdb.DuckDBPyConnection, versions: list[tuple[Address, int]],
                        as_of: int | None) -> dict[tuple[Address, int], Published | None]:
        if as_of is None:
            columns = self._columns_of(cur, versions)
        else:
            columns = {(a, m): self._columns_at(cur, a, m, as_of) for a, m in versions}
        products = sorted({(str(a.base), int(m)) for a, m in versions if columns.get((a, m))})
        rows = []
        if products:
            at = f" AT (VERSION => {int(as_of)})" if as_of is not None else ""
            wanted = " OR ".join(f"(product = {literal(p)} AND major = {m})" for p, m in products)
            # The time as ISO 8601 text in UTC, written by DuckDB: a TIMESTAMPTZ fetched into Python
            # costs a pytz conversion per row (a third of the query on a product's whole history).
            rows = cur.execute(
                f"SELECT product, major, partition, rows, rows_in, rows_quarantined, run_id, "
                f"{ISO_UTC.format('published_at')} FROM lake.{META}.partitions{at} WHERE {wanted} "
                f"ORDER BY partition").fetchall()
        snapshot = as_of if as_of is not None else self._current(cur)
        states: dict[tuple[str, int], list[tuple]] = {}
        for product, major, *state in rows:
            states.setdefault((product, major), []).append(state)
        found: dict[tuple[Address, int], Published | None] = {}
        for address, major in versions:
            if not columns.get((address, major)):
                found[(address, major)] = None
                continue
            partitions = {}
            for key, published, rows_in, quarantined, run_id, when in states.get((str(address.base), major), []):
                shown = quarantined if address.quarantine else published
                partitions[key] = PartitionState(shown, rows_in, quarantined, run_id, when)
            found[(address, major)] = Published(address, major, columns[(address, major)], partitions, snapshot)
        return found

    def _columns_of(self, cur: duckdb.DuckDBPyConnection, versions: list[tuple[Address, int]]
                    ) -> dict[tuple[Address, int], list[tuple[str, str]]]:
        """The columns of several product versions' tables (absent: no table), in one catalog query.
        Values are written into the query, not bound: DuckDB's Python client imports pandas (half a
        second) to bind any parameter, and readers of the lake need no pandas."""
        tables = {(a.domain, table_name(a, m)): (a, m) for a, m in versions}
        if not tables:
            return {}
        wanted = " OR ".join(f"(schema_name = {literal(d)} AND table_name = {literal(t)})" for d, t in tables)
        found: dict[tuple[Address, int], list[tuple[str, str]]] = {}
        for schema, table, name, kind in cur.execute(
                f"SELECT schema_name, table_name, column_name, data_type FROM duckdb_columns() "
                f"WHERE database_name = 'lake' AND ({wanted}) ORDER BY column_index").fetchall():
            if name != PARTITION:
                found.setdefault(tables[(schema, table)], []).append((name, kind))
        return found

    def _columns_at(self, cur: duckdb.DuckDBPyConnection, address: Address, major: int, snapshot: int
                    ) -> list[tuple[str, str]] | None:
        """The columns a product version had at a snapshot (None when its table did not exist then)."""
        try:
            rows = cur.execute(f"DESCRIBE SELECT * FROM {self.ref(address, major)} AT (VERSION => {int(snapshot)})"
                               ).fetchall()
        except duckdb.CatalogException:
            return None
        return [(row[0], row[1]) for row in rows if row[0] != PARTITION] or None

    def majors(self, address: Address) -> list[int]:
        """Major versions of a product that have a table, newest first."""
        with self.cursor() as cur:
            names = cur.execute("SELECT table_name FROM duckdb_tables() WHERE database_name = 'lake' "
                                "AND schema_name = ?", [address.domain]).fetchall()
        found = [re.fullmatch(rf"{re.escape(address.table)}__v(\d+)", n) for (n,) in names]
        return sorted((int(m.group(1)) for m in found if m), reverse=True)

    @staticmethod
    def _current(cur: duckdb.DuckDBPyConnection) -> int:
        return int(cur.execute("SELECT id FROM lake.current_snapshot()").fetchone()[0])

    # -- reading ------------------------------------------------------------------------------------
    def scan_sql(self, address: Address, major: int, keys: list[str] | None, select: str = "*",
                 as_of: int | None = None, alias: str = "lake") -> str:
        """The query reading chosen partitions (all when ``keys`` is None) of a product version."""
        at = f" AT (VERSION => {int(as_of)})" if as_of is not None else ""
        where = ""
        if keys is not None:
            listed = ", ".join(literal(check_partition_key(k)) for k in keys)
            where = f" WHERE {PARTITION} IN ({listed})" if keys else " WHERE false"
        return f"SELECT {select} FROM {self.ref(address, major, alias)}{at}{where}"

    def function(self, name: str, register: Callable[[duckdb.DuckDBPyConnection], None]) -> None:
        """Register a function once on this process's connection, where every cursor finds it (one
        registered on a cursor would die with it, under the feet of the next cursor that calls it)."""
        with self._lock:
            db = self._db()
            if name not in self._functions:
                register(db)
                self._functions.add(name)

    def read(self, address: Address, major: int, keys: list[str] | None = None, select: str | None = None,
             as_of: int | None = None) -> pa.Table:
        """Chosen partitions of a product version as an Arrow table (without the partition column)."""
        query = self.scan_sql(address, major, keys, select or f"* EXCLUDE ({PARTITION})", as_of)

        def scan() -> pa.Table:
            with self.cursor() as cur:
                return cur.execute(query).to_arrow_table()

        return self._retrying(f"reading {address} v{major}", scan)

    def published_elsewhere(self, address: Address, major: int, keys: pa.Table, first: str, last: str
                            ) -> tuple[np.ndarray, np.ndarray]:
        """Which rows of ``keys`` (a table of key columns) are already published in a partition outside
        ``first``..``last``: their positions in ``keys`` and that partition, a key found twice once."""
        import numpy as np
        import pyarrow as pa

        if self.columns(address, major) is None or not keys.num_rows:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=object)
        incoming = keys.append_column("_mesh_row", pa.array(np.arange(keys.num_rows, dtype=np.int64)))
        on = " AND ".join(f"i.{quoted(c)} = t.{quoted(c)}" for c in keys.column_names)
        query = (f"SELECT i._mesh_row, min(t.{PARTITION}) FROM _mesh_incoming i JOIN {self.ref(address, major)} t "
                 f"ON {on} WHERE t.{PARTITION} < ? OR t.{PARTITION} > ? GROUP BY i._mesh_row ORDER BY 1")

        def find() -> list[tuple[int, str]]:
            with self.cursor() as cur:
                cur.register("_mesh_incoming", incoming)
                try:
                    return cur.execute(query, [first, last]).fetchall()
                finally:
                    cur.unregister("_mesh_incoming")

        found = self._retrying(f"looking up published keys of {address} v{major}", find)
        return (np.array([r for r, _ in found], dtype=np.int64), np.array([p for _, p in found], dtype=object))

    # -- publishing -----------------------------------------------------------------------------------
    def publish(self, address: Address, major: int, partitions: dict[str, Publication],
                quarantine: dict[str, pa.Table], run: RunInfo, keep_from: str | None = None,
                partitioned_by: str | None = None) -> int:
        """Replace ``partitions`` of the product and its quarantine, record them, in one transaction.

        Returns the lake snapshot that holds the publish. ``keep_from`` deletes partitions older than
        it (retention) in the same transaction. ``partitioned_by``: the product's date or timestamp
        partition column, whose year and month lay out a new table's files.
        """
        import pyarrow as pa

        keys = sorted(check_partition_key(k) for k in partitions)
        if not keys:
            raise StorageError(f"{address}: nothing to publish")
        data = _keyed({k: partitions[k].table for k in keys})
        rejected = _keyed({k: quarantine[k] for k in keys if k in quarantine})
        publish_id = uuid.uuid4().hex
        now = datetime.now(UTC)
        state = pa.table({
            "product": [str(address)] * len(keys), "major": [int(major)] * len(keys), "partition": keys,
            "rows": [partitions[k].table.num_rows for k in keys],
            "rows_in": [partitions[k].rows_in for k in keys],
            "rows_quarantined": [partitions[k].rows_quarantined for k in keys],
            "run_id": [run.run_id] * len(keys), "published_at": pa.array([now] * len(keys), pa.timestamp("us", "UTC")),
        })
        ledger = pa.table({
            "run_id": [run.run_id] * len(keys), "publish_id": [publish_id] * len(keys),
            "product": [str(address)] * len(keys), "major": [int(major)] * len(keys), "partition": keys,
            "rows_in": state["rows_in"], "rows_published": state["rows"], "rows_quarantined": state["rows_quarantined"],
            "code_version": [run.code_version] * len(keys), "contract_version": [run.contract_version] * len(keys),
            "published_at": state["published_at"],
        })
        quarantined = address.quarantined
        message = f"publish {address} v{major}: {_span(keys)}"
        extra = json.dumps({"run_id": run.run_id, "publish_id": publish_id, "product": str(address)})

        def transaction() -> None:
            with self.cursor() as cur:
                cur.execute("BEGIN TRANSACTION")
                try:  # tables and columns too are created in the transaction: all of it or nothing
                    self._ensure_table(cur, address, major, data, partitioned_by)
                    self._ensure_table(cur, quarantined, major, rejected)
                    for target, rows in ((address, data), (quarantined, rejected)):
                        self._replace(cur, target, major, keys, rows, keep_from)
                    where = f"product = {literal(str(address))} AND major = {int(major)}"
                    retired = f" OR partition < {literal(keep_from)}" if keep_from else ""
                    listed = ", ".join(literal(k) for k in keys)
                    cur.execute(f"DELETE FROM lake.{META}.partitions WHERE {where} AND "
                                f"(partition IN ({listed}){retired})")
                    cur.register("_mesh_state", state)
                    cur.execute(f"INSERT INTO lake.{META}.partitions BY NAME SELECT * FROM _mesh_state")
                    cur.register("_mesh_ledger", ledger)
                    cur.execute(f"INSERT INTO lake.{META}.ledger BY NAME SELECT * FROM _mesh_ledger")
                    cur.execute(f"CALL lake.set_commit_message('mesh', {literal(message)}, "
                                f"extra_info => {literal(extra)})")
                    cur.execute("COMMIT")
                except BaseException:
                    _rollback(cur)
                    raise

        self._retrying(f"publishing {address} v{major} ({_span(keys)})", transaction)
        return self.snapshot_of(publish_id)

    def _ensure_table(self, cur: duckdb.DuckDBPyConnection, address: Address, major: int, rows: pa.Table,
                      partitioned_by: str | None = None) -> None:
        """Create the table of a product version on first publish, or add the nullable columns a new
        compatible schema brings (conformance with what is published is judged before, in ``mesh.quality.wap``)."""
        existing = self.columns(address, major, cur)
        incoming = arrow_shape(rows)
        ref = self.ref(address, major)
        if existing is None:
            cur.execute(f"CREATE SCHEMA IF NOT EXISTS lake.{quoted(address.domain)}")
            listed = ", ".join(f"{quoted(n)} {t}" for n, t in incoming)
            cur.execute(f"CREATE TABLE IF NOT EXISTS {ref} ({listed})")
            kind = dict(incoming).get(partitioned_by or "", "")
            if kind == "DATE" or kind.startswith("TIMESTAMP"):
                column = quoted(partitioned_by or "")
                cur.execute(f"ALTER TABLE {ref} SET PARTITIONED BY (year({column}), month({column}))")
            return
        have = {n for n, _ in existing}
        for name, kind in incoming:
            if name not in have and name != PARTITION:
                cur.execute(f"ALTER TABLE {ref} ADD COLUMN {quoted(name)} {kind}")

    def _replace(self, cur: duckdb.DuckDBPyConnection, address: Address, major: int, keys: list[str],
                 rows: pa.Table, keep_from: str | None) -> None:
        ref = self.ref(address, major)
        listed = ", ".join(literal(k) for k in keys)
        retired = f" OR ({PARTITION} < {literal(keep_from)} AND {PARTITION} <> '{ALL}')" if keep_from else ""
        cur.execute(f"DELETE FROM {ref} WHERE {PARTITION} IN ({listed}){retired}")
        if rows.num_rows:
            cur.register("_mesh_rows", rows)
            cur.execute(f"INSERT INTO {ref} BY NAME SELECT * FROM _mesh_rows")
            cur.unregister("_mesh_rows")

    def _retrying(self, action: str, attempt: Callable[[], T], raise_as: type[Exception] | None = StorageError) -> T:
        """Run a transaction, retrying conflicts with other writers with bounded, jittered backoff.
        Other errors become a ``StorageError`` naming the action (or pass through, ``raise_as=None``)."""
        for tries in range(1, COMMIT_ATTEMPTS + 1):
            try:
                return attempt()
            except duckdb.Error as err:
                if not _is_conflict(err):
                    if raise_as is None:
                        raise
                    raise raise_as(f"{action} in {self.uri} failed: {_first_line(err)}") from None
                if tries == COMMIT_ATTEMPTS:
                    raise ConcurrentWrite(f"{action} in {self.uri}: other writers committed first "
                                          f"{COMMIT_ATTEMPTS} times; nothing was changed, run again "
                                          f"({_first_line(err)})") from None
                time.sleep(min(2.0, 0.02 * 1.5 ** tries) * (0.5 + random.random()))
        raise AssertionError("unreachable")

    # -- snapshots ------------------------------------------------------------------------------------
    def snapshot_of(self, publish_id: str) -> int:
        with self.cursor() as cur:
            found = cur.execute("SELECT snapshot_id FROM lake.snapshots() WHERE commit_extra_info LIKE ?",
                                [f'%"publish_id": "{publish_id}"%']).fetchone()
            return int(found[0]) if found else self._current(cur)

    def snapshots(self, address: Address | None = None, limit: int = 20) -> list[Snapshot]:
        """Newest first: every snapshot, or those that published ``address``."""
        pattern = '%"product": "' + str(address.base) + '"%' if address is not None else None
        where = f" WHERE commit_extra_info LIKE {literal(pattern)}" if pattern else ""
        with self.cursor() as cur:
            rows = cur.execute(f"SELECT snapshot_id, snapshot_time, changes, commit_message, commit_extra_info "
                               f"FROM lake.snapshots(){where} ORDER BY snapshot_id DESC LIMIT {int(limit)}"
                               ).fetchall()
        return [Snapshot(int(i), t, dict(c or {}), m, _run_of(extra)) for i, t, c, m, extra in rows]

    def snapshot_at(self, as_of: str | int | datetime) -> int:
        """The snapshot id for ``as_of``: a snapshot id, or the newest snapshot at a point in time."""
        with self.cursor() as cur:
            if isinstance(as_of, int) or (isinstance(as_of, str) and as_of.strip().isdigit()):
                found = cur.execute(f"SELECT snapshot_id FROM lake.snapshots() WHERE snapshot_id = {int(as_of)}"
                                    ).fetchone()
                if found is None:
                    raise NotFound(f"the lake has no snapshot {as_of} (it may have expired): see `mesh show`")
                return int(found[0])
            moment = as_of if isinstance(as_of, datetime) else _parse_time(as_of)
            found = cur.execute(f"SELECT max(snapshot_id) FROM lake.snapshots() WHERE snapshot_time <= "
                                f"{literal(moment.isoformat())}::TIMESTAMPTZ").fetchone()
        if found is None or found[0] is None:
            raise NotFound(f"the lake has no snapshot at or before {moment.isoformat()} (expired, or before the "
                           f"first publish)")
        return int(found[0])

    def ledger(self, address: Address | None = None) -> pa.Table:
        """Every publish recorded, with the snapshot that holds it."""
        where = f" WHERE l.product = {literal(str(address.base))}" if address is not None else ""
        with self.cursor() as cur:
            return cur.execute(
                f"SELECT l.*, s.snapshot_id FROM lake.{META}.ledger l LEFT JOIN lake.snapshots() s "
                f"ON s.commit_extra_info LIKE '%\"publish_id\": \"' || l.publish_id || '\"%'{where} "
                f"ORDER BY l.published_at, l.product, l.partition").to_arrow_table()

    # -- maintenance ----------------------------------------------------------------------------------
    def maintain(self, tables: list[tuple[Address, int]], keep_snapshots: timedelta) -> dict[str, int]:
        """Merge small files of ``tables``, write rows kept in the catalog (small inserts) to Parquet,
        expire snapshots older than ``keep_snapshots`` and delete the files no snapshot reads any more
        (never orphan sweeps: a file not yet committed by a live writer looks like an orphan). Readers
        of live snapshots are never affected."""
        done = {"tables_merged": 0, "inlined_rows_flushed": 0, "snapshots_expired": 0, "files_deleted": 0}
        with self.cursor() as cur:
            for address, major in tables:
                if self.columns(address, major, cur) is None:
                    continue
                self._retrying(f"merging files of {address} v{major}", lambda a=address, m=major: cur.execute(
                    f"CALL ducklake_merge_adjacent_files('lake', {literal(table_name(a, m))}, "
                    f"schema => {literal(a.domain)})").fetchall())
                done["tables_merged"] += 1
            flushed = self._retrying("flushing inlined rows to Parquet", lambda: cur.execute(
                "CALL ducklake_flush_inlined_data('lake')").fetchall())
            done["inlined_rows_flushed"] = sum(int(row[-1] or 0) for row in flushed)
            cutoff = datetime.now(UTC) - keep_snapshots
            expired = self._retrying("expiring snapshots", lambda: cur.execute(
                "CALL ducklake_expire_snapshots('lake', older_than => ?)", [cutoff]).fetchall())
            done["snapshots_expired"] = len(expired)
            deleted = self._retrying("deleting unread files", lambda: cur.execute(
                "CALL ducklake_cleanup_old_files('lake', cleanup_all => true)").fetchall())
            done["files_deleted"] = len(deleted)
        return done


def arrow_shape(table: pa.Table) -> list[tuple[str, str]]:
    """The columns (name, DuckDB type) a table of Arrow data becomes in the lake."""
    con = duckdb.connect()
    try:
        con.register("_mesh_shape", table.slice(0, 0))
        return [(n, t) for n, t in con.execute("SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM "
                                               "_mesh_shape)").fetchall()]
    finally:
        con.close()


def _keyed(tables: dict[str, pa.Table]) -> pa.Table:
    """One Arrow table of all partitions, each row carrying its partition key."""
    import pyarrow as pa

    parts = [t.append_column(PARTITION, pa.array([key] * t.num_rows, pa.string())) for key, t in tables.items()]
    if not parts:
        return pa.table({PARTITION: pa.array([], pa.string())})
    return pa.concat_tables(parts, promote_options="permissive")


def _is_conflict(err: duckdb.Error) -> bool:
    text = str(err).lower()
    return isinstance(err, duckdb.TransactionException) or any(
        marker in text for marker in ("conflict", "database is locked", "could not serialize", "busy",
                                      "already exists", "concurrent"))


def _rollback(cur: duckdb.DuckDBPyConnection) -> None:
    with contextlib.suppress(duckdb.Error):  # a failed COMMIT has ended the transaction already
        cur.execute("ROLLBACK")


def _secret_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return literal(str(value))


def _run_of(extra: str | None) -> str | None:
    try:
        return json.loads(extra).get("run_id") if extra else None
    except (ValueError, AttributeError):
        return None


def _parse_time(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise InvalidName(f"--as-of takes a snapshot id or a time like 2026-11-24T08:00:00+00:00, found {text!r}"
                          ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _span(keys: list[str]) -> str:
    return keys[0] if len(keys) == 1 else f"{len(keys)} partitions {keys[0]}..{keys[-1]}"


def _first_line(err: BaseException) -> str:
    lines = str(err).strip().splitlines()
    return lines[0] if lines else type(err).__name__
