"""The ports through which products are read by address: Python (pandas) and SQL (DuckDB).

Both go through ``Port``, bound to one reading principal: it resolves ``<domain>.<product>`` (or
``<domain>.<product>__quarantine``) to what the lake publishes, enforces access, masks the PII the
principal may not see, and selects partitions, now or as of a lake snapshot. Masking is one SELECT
list (``select_list``) used by both ports, computed inside DuckDB by a keyed-hash function.

The SQL port gives every readable product a view ``<domain>.<product>`` in a session that attached
the lake read-only and then sealed itself (no file access, no settings, no attach, no extensions);
``mesh.storage.sqlgate`` admits only reading statements over those views, so masked columns and private
products cannot be reached around them. A query (``sql``, ``query``) gets the views of the products it
names only (creating the mesh's sixty cost more than a tenth of a second). Publishing is
``mesh.storage.lake``; the rules are ``mesh.contracts.access``.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

import duckdb

from mesh.contracts.access import REDACTED, Principal, check_read, columns_to_mask, keyed_hash, read_denial
from mesh.contracts.contract import Masking
from mesh.contracts.names import Address
from mesh.contracts.registry import Mesh, Product
from mesh.errors import MeshError, NotFound, StorageError
from mesh.storage import engine, sqlgate
from mesh.storage.engine import literal, quoted
from mesh.storage.lake import PARTITION, Lake, Published, check_partition_key, table_name

if TYPE_CHECKING:  # pandas is imported by the Python port only: the SQL port answers in Arrow; pyarrow
    import pandas as pd  # when an answer is made Arrow (`mesh sql` prints DuckDB's own result)
    import pyarrow as pa

MASK_FUNCTION = "_mesh_mask"
RESULT = "_mesh_result"  # the table of a materialized query, in the session's own catalog


class DeprecatedVersionWarning(UserWarning):
    """Reading a previous major version of a product that is due to stop being readable."""


@dataclass(frozen=True)
class Resolved:
    address: Address
    product: Product
    published: Published


def to_pandas(table: pa.Table) -> pd.DataFrame:
    """Arrow -> pandas with the dtypes product schemas declare (dates stay dates)."""
    import pandas as pd
    import pyarrow as pa

    def mapper(arrow_type: pa.DataType):
        if pa.types.is_date32(arrow_type):
            return pd.ArrowDtype(pa.date32())
        return None

    return table.to_pandas(types_mapper=mapper)


def mask_function(key: bytes) -> str:
    """The name of the masking function for one key (connections of one database share functions)."""
    return f"{MASK_FUNCTION}_{hashlib.sha256(key).hexdigest()[:12]}"


def register_masking(con: duckdb.DuckDBPyConnection, key: bytes) -> str:
    """The keyed hash masking uses, as a DuckDB function of this connection (the key stays in Python)."""

    # Arrow arrays in and out; not annotated: DuckDB evaluates a function's annotations when it is
    # registered, and pyarrow (a fifth of a second) is imported only once DuckDB calls it with Arrow
    def mask(values):
        return keyed_hash(values.combine_chunks() if hasattr(values, "combine_chunks") else values, key)

    name = mask_function(key)
    con.create_function(name, mask, ["VARCHAR"], "VARCHAR", type="arrow", side_effects=False)
    return name


def select_list(resolved: Resolved, masks: dict[str, Masking], function: str = MASK_FUNCTION) -> str:
    """The columns of a product as this reader sees them: PII hashed or redacted per the contract."""
    names = resolved.published.names
    if not masks:
        return ", ".join(quoted(n) for n in names)
    if resolved.address.quarantine:  # the rejected record may hold anything: hidden; PII values masked
        pii = ", ".join(literal(c) for c in masks)
        # a feed's columns are named as the feed names them: a value rejected on reading may be PII too
        shown = {"value": f'CASE WHEN "column" IN ({pii}) OR stage = \'read\' THEN {function}("value") '
                          f'ELSE "value" END',
                 "record": f"CASE WHEN record IS NULL THEN NULL ELSE '{REDACTED}' END"}
    else:
        shown = {column: (f"{function}(CAST({quoted(column)} AS VARCHAR))" if how is Masking.hash
                          else f"CASE WHEN {quoted(column)} IS NULL THEN NULL ELSE '{REDACTED}' END")
                 for column, how in masks.items()}
    return ", ".join(f"{shown[n]} AS {quoted(n)}" if n in shown else quoted(n) for n in names)


class Port:
    def __init__(self, mesh: Mesh, lake: Lake, principal: Principal, masking_key: bytes):
        self.mesh = mesh
        self.lake = lake
        self.principal = principal
        self.masking_key = masking_key
        self.denied: dict[str, str] = {}
        self.views: set[tuple[str, str]] = set()

    # -- resolution -------------------------------------------------------------------------
    def resolve(self, address: Address | str, version: int | None = None, as_of: int | None = None,
                cur: duckdb.DuckDBPyConnection | None = None) -> Resolved:
        """A readable product version and what is published of it (read in ``cur``'s transaction if given)."""
        parsed = Address.parse(address) if isinstance(address, str) else address
        product = self.mesh.product(parsed)
        check_read(self.principal, product)
        major = product.contract.major if version is None else int(version)
        if major != product.contract.major:
            self._check_previous_major(product, major)
        published = self.lake.published(parsed, major, as_of, cur)
        if published is None:
            raise NotFound(f"{parsed} has no published data in v{major} yet (lake {self.lake.uri})")
        return Resolved(parsed, product, published)

    def _check_previous_major(self, product: Product, major: int) -> None:
        deprecation = next((d for d in product.contract.deprecations if d.major == major), None)
        if deprecation is None or major > product.contract.major:
            raise NotFound(f"{product.address} v{major} is not a readable version "
                           f"(current v{product.contract.major})")
        if date.today() > deprecation.readable_until:
            raise NotFound(f"{product.address} v{major} stopped being readable on {deprecation.readable_until}")
        warnings.warn(
            f"{product.address} v{major} is deprecated and readable until {deprecation.readable_until}; "
            f"move to v{product.contract.major}",
            DeprecatedVersionWarning,
            stacklevel=3,
        )

    def as_of(self, as_of: str | int | None) -> int | None:
        """The lake snapshot for a user's ``--as-of`` (a snapshot id or a time), or None for now."""
        return None if as_of is None or as_of == "" else self.lake.snapshot_at(as_of)

    # -- the Python port ------------------------------------------------------------------------
    def table(self, address: Address | str, partition: str | None = None, start: str | None = None,
              end: str | None = None, version: int | None = None, as_of: str | int | None = None) -> pa.Table:
        """A product (or a partition, or partitions in [start, end)) as an Arrow table."""
        resolved = self.resolve(address, version, self.as_of(as_of))
        return self.scan(resolved, self._keys(resolved.published, partition, start, end))

    def read(self, address: Address | str, partition: str | None = None, start: str | None = None,
             end: str | None = None, version: int | None = None, as_of: str | int | None = None) -> pd.DataFrame:
        """Read a product by address as a pandas DataFrame: ``port.read("sales.orders")``."""
        return to_pandas(self.table(address, partition, start, end, version, as_of))

    def scan(self, resolved: Resolved, keys: list[str] | None) -> pa.Table:
        """Chosen partitions (all when None) of a resolved product, masked for this reader."""
        return self.lake.read(resolved.address, resolved.published.major, keys, self._select(resolved),
                              as_of=resolved.published.snapshot)

    @contextmanager
    def reading(self, address: Address | str, partition: str | None = None, start: str | None = None,
                end: str | None = None, version: int | None = None, as_of: str | int | None = None,
                materialized: bool = False) -> Iterator[duckdb.DuckDBPyRelation]:
        """``table`` as a DuckDB relation, read inside the ``with`` block: the command line prints it
        without Arrow (pyarrow and numpy take a fifth of a second to import). ``materialized``: the
        product is read once, into a temporary table of the block's cursor (to count its rows, then show them)."""
        snapshot = self.as_of(as_of)
        self._masks(self.mesh.product(address))
        with self.lake.read_transaction() as cur:  # the state and the rows: DuckLake reads its catalog once
            resolved = self.resolve(address, version, snapshot, cur)
            keys = self._keys(resolved.published, partition, start, end)
            query = self.lake.scan_sql(resolved.address, resolved.published.major, keys, self._select(resolved),
                                       as_of=resolved.published.snapshot)
            if not materialized:
                yield cur.sql(query)
                return
            cur.execute(f"CREATE TEMP TABLE {RESULT} AS {query}")  # gone with the cursor
            yield cur.table(RESULT)

    def _select(self, resolved: Resolved) -> str:
        """The select list of a product's columns for this reader, its masking function registered."""
        return select_list(resolved, self._masks(resolved.product), mask_function(self.masking_key))

    def _masks(self, product: Product) -> dict[str, Masking]:
        """The columns of ``product`` masked for this reader; the masking function registered when any is,
        on the lake's connection (before a cursor's transaction starts: one started earlier does not see it)."""
        masks = columns_to_mask(self.principal, product)
        if masks:
            self.lake.function(mask_function(self.masking_key), lambda con: register_masking(con, self.masking_key))
        return masks

    @staticmethod
    def _keys(published: Published, partition: str | None, start: str | None, end: str | None) -> list[str]:
        if partition is not None:
            check_partition_key(partition)
            if partition not in published.partitions:
                raise NotFound(f"{published.address} has no published partition {partition!r}")
            return [partition]
        for bound in (start, end):
            if bound is not None:
                check_partition_key(bound)
        return published.keys(start, end)

    def relation(self, con: duckdb.DuckDBPyConnection, resolved: Resolved, keys: list[str] | None,
                 alias: str = "lake") -> duckdb.DuckDBPyRelation:
        """The product (masked for this reader) as a lazy relation of a connection that attached the lake
        as ``alias`` and registered the masking function (``attach``): DuckDB pushes filters down."""
        masks = columns_to_mask(self.principal, resolved.product)
        return con.sql(self.lake.scan_sql(resolved.address, resolved.published.major, keys,
                                          select_list(resolved, masks, mask_function(self.masking_key)),
                                          as_of=resolved.published.snapshot, alias=alias))

    def attach(self, con: duckdb.DuckDBPyConnection | None = None, alias: str = "lake") -> duckdb.DuckDBPyConnection:
        """A connection (new, or ``con`` with the lake's extensions loaded) that reads the lake."""
        if con is None:
            con = self.lake.connect(read_only=True, alias=alias)
        else:
            for name in self.lake.config.extensions:
                engine.load(con, name)
            self.lake.attach(con, alias, read_only=True)
        register_masking(con, self.masking_key)
        return con

    # -- the SQL port ---------------------------------------------------------------------------
    def connect(self, as_of: str | int | None = None) -> duckdb.DuckDBPyConnection:
        """A sealed DuckDB session with a view per readable product (as of a snapshot, if given)."""
        con, alias, snapshot = self._session(as_of)
        try:
            self._views(con, alias, snapshot, None)
        except BaseException:
            con.close()
            raise
        return con

    def _session(self, as_of: str | int | None) -> tuple[duckdb.DuckDBPyConnection, str, int | None]:
        """A session that attached the lake (as of a snapshot) and sealed itself, with no view yet."""
        snapshot = self.as_of(as_of)
        alias = f"_lake_{secrets.token_hex(8)}"  # not guessable, and the gate refuses it anyway
        con = self.lake.connect(read_only=True, snapshot=snapshot, alias=alias)
        try:
            # The lake's own data files stay readable for the views (DuckLake opens them through the file
            # system); the gate refuses every statement that would name a file, and the session cannot
            # change any of this once the configuration is locked. Views are created after: they are
            # no setting, and bind to the lake already attached.
            con.execute(f"SET allowed_directories = [{literal(self.lake.uri)}]")
            con.execute("SET enable_external_access = false")
            con.execute("SET lock_configuration = true")
        except BaseException:
            con.close()
            raise
        return con, alias, snapshot

    def _views(self, con: duckdb.DuckDBPyConnection, alias: str, snapshot: int | None,
               wanted: set[tuple[str, str]] | None) -> None:
        """A view ``<domain>.<product>`` (and ``<product>__v<major>`` for readable deprecated majors) of every
        published product this principal may read, or of those among ``wanted`` ((schema, view) pairs)."""
        function = mask_function(self.masking_key)
        self.denied, self.views = {}, set()
        candidates: list[tuple[Address, Product, int, str]] = []
        for address, product in sorted(self.mesh.products.items()):
            denial = read_denial(self.principal, product)
            for target in (address, address.quarantined):
                if denial:
                    self.denied[str(target)] = denial
                    continue
                candidates.extend((target, product, major, view) for major, view in self._versions(product, target)
                                  if wanted is None or (target.domain, view) in wanted)
        if not candidates:
            return
        # One transaction for the lake's tables and every view: DuckLake reads its catalog once per
        # transaction, and a statement of its own each cost that read again.
        con.execute("BEGIN TRANSACTION")
        # Every table's columns in one query for all views; for a query's few, each of its own tables
        # (listing the whole lake's columns costs DuckLake a tenth of a second more than binding one)
        tables = self._columns(con, alias) if wanted is None else {
            (target.domain, table_name(target, major)): self._describe(con, self.lake.ref(target, major, alias))
            for target, _, major, _ in candidates}
        registered = False
        for target, product, major, view in candidates:
            columns = tables.get((target.domain, table_name(target, major)))
            if columns is None:
                continue
            resolved = Resolved(target, product, Published(target, major, columns, {}, snapshot))
            masks = columns_to_mask(self.principal, product)
            if masks and not registered:  # registering it imports numpy: only for views that mask
                register_masking(con, self.masking_key)
                registered = True
            con.execute(f"CREATE SCHEMA IF NOT EXISTS {quoted(target.domain)}")
            con.execute(f"CREATE OR REPLACE VIEW {quoted(target.domain)}.{quoted(view)} AS SELECT "
                        f"{select_list(resolved, masks, function)} FROM {self.lake.ref(target, major, alias)}")
            self.views.add((target.domain, view))
        con.execute("COMMIT")

    @staticmethod
    def _columns(con: duckdb.DuckDBPyConnection, alias: str) -> dict[tuple[str, str], list[tuple[str, str]]]:
        """Every table of the attached lake (schema, table) with its columns (name, type), in one query:
        a query per product version cost a tenth of a second each on a busy machine."""
        rows = con.execute(f"SELECT schema_name, table_name, column_name, data_type FROM duckdb_columns() "
                           f"WHERE database_name = {literal(alias)} ORDER BY schema_name, table_name, column_index"
                           ).fetchall()  # no bound parameter: binding one imports pandas
        tables: dict[tuple[str, str], list[tuple[str, str]]] = {}
        for schema, table, name, kind in rows:
            columns = tables.setdefault((schema, table), [])
            if name != PARTITION:
                columns.append((name, kind))
        return tables

    @staticmethod
    def _describe(con: duckdb.DuckDBPyConnection, ref: str) -> list[tuple[str, str]] | None:
        """A lake table's columns (name, type), or None when it does not exist (which leaves the
        transaction open: a catalog error is the binder's, not the transaction's)."""
        try:
            rows = con.execute(f"DESCRIBE SELECT * FROM {ref}").fetchall()
        except duckdb.CatalogException:
            return None
        return [(row[0], row[1]) for row in rows if row[0] != PARTITION]

    @staticmethod
    def _versions(product: Product, target: Address) -> list[tuple[int, str]]:
        """The current major as ``<product>``, and deprecated majors still readable as ``<product>__v<major>``."""
        today = date.today()
        older = [(d.major, f"{target.table}__v{d.major}") for d in product.contract.deprecations
                 if d.readable_until >= today and d.major < product.contract.major]
        return [(product.contract.major, target.table), *older]

    def sql(self, query: str, as_of: str | int | None = None) -> pa.Table:
        """Run one reading query over the products this principal may read (now, or as of a snapshot)."""
        with self.query(query, as_of) as relation:
            return relation.to_arrow_table()

    @contextmanager
    def query(self, query: str, as_of: str | int | None = None, materialized: bool = False
              ) -> Iterator[duckdb.DuckDBPyRelation]:
        """``sql`` as a DuckDB relation, read inside the ``with`` block (the command line prints it without
        Arrow): a session with the views the query names only, errors as in ``sql``. ``materialized``: the
        query runs once, into a table of the session the relation reads (to count its rows, then show them)."""
        self._warn_deprecated(query)
        con, alias, snapshot = self._session(as_of)
        try:
            try:
                tree = sqlgate.parse(query, con)
                self._views(con, alias, snapshot, sqlgate.tables(tree))
                sqlgate.check_tree(tree, self.views)
            except sqlgate.RefusedQuery as err:
                raise MeshError(self._explain_refusal(str(err), query)) from None
            relation = con.sql(query)
            if relation is None:
                raise MeshError("the SQL port answers queries; the statement returned no rows to show")
            if materialized:
                relation.to_table(RESULT)
                relation = con.table(RESULT)
            yield relation
        except duckdb.CatalogException as err:
            raise MeshError(self._explain_missing(str(err), query)) from None
        except duckdb.PermissionException as err:
            raise MeshError(f"the SQL port reads products only, not files or settings: {_first_line(err)}") from None
        except duckdb.IOException as err:
            raise StorageError(f"reading a product failed: {_first_line(err)}") from None
        except duckdb.Error as err:
            raise MeshError(f"query failed: {_first_line(err)}") from None
        finally:
            con.close()

    def _warn_deprecated(self, query: str) -> None:
        for domain, product, major in re.findall(r'"?(\w+)"?\s*\.\s*"?(\w+?)__v(\d+)\b', query):
            found = self.mesh.products.get(Address(domain, product))
            deprecation = next((d for d in (found.contract.deprecations if found else []) if d.major == int(major)),
                               None)
            if deprecation is not None:
                warnings.warn(f"{domain}.{product} v{major} is deprecated and readable until "
                              f"{deprecation.readable_until}; move to v{found.contract.major}",
                              DeprecatedVersionWarning, stacklevel=3)

    def _explain_refusal(self, message: str, query: str) -> str:
        match = re.search(r"names '([\w.]+)', which is no product view", message)
        return self._explain_missing(f"with name {match.group(1)} does not exist", query) if match else message

    def _explain_missing(self, message: str, query: str) -> str:
        match = re.search(r"with name ([\w\".]+) does not exist", message)
        name = match.group(1).replace('"', "") if match else None
        if name and "." not in name:  # DuckDB names the table only; find how the query addressed it
            qualified = re.search(rf'([\w"]+)\s*\.\s*"?{re.escape(name)}\b', query)
            name = f"{qualified.group(1).strip(chr(34))}.{name}" if qualified else name
        for address, denial in self.denied.items():
            if name and address.endswith(name):
                return f"{address}: access denied for {self.principal.name}: {denial}"
        if name and name in {str(a) for a in self.mesh.products}:
            return f"{name} has no published data yet: materialize it first (`mesh materialize`)"
        known = ", ".join(str(a) for a in sorted(self.mesh.products))
        shown = f"{name!r}" if name else "a table"
        return (f"the query names {shown}, which is no published product this reader can see; "
                f"products are addressed as <domain>.<product>: {known}")


def _first_line(err: Exception) -> str:
    return str(err).strip().splitlines()[0]
