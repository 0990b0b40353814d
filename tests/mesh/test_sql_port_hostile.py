"""The SQL port against hostile statements: writes, files, the catalog, settings, extensions, masking
and reads around the product views are refused in one line and change nothing on disk; legitimate
analytics still run; time travel opens nothing the reader may not read; damaged data files fail only
the queries that touch them.

A legitimate statement the port refuses is kept as a strict xfail naming why, so that a fix shows up
as an unexpected pass.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from mesh.contracts.access import REDACTED, Principal, keyed_hash
from mesh.contracts.names import Address
from mesh.contracts.registry import Mesh, load_mesh
from mesh.errors import MeshError, StorageError
from mesh.storage import engine
from mesh.storage.lake import Lake
from mesh.storage.ports import Port, mask_function
from tests.conftest import MeshEnv

KEY = b"test-key"  # the masking key MeshEnv's ports use
ANALYST = Principal("person:analyst", frozenset({"marketing"}), False)
ORDER_DAYS = ("2026-11-02", "2026-11-03")
INTERNAL = "supply_chain.part_suppliers"  # access: internal; the analyst is not of domain supply_chain
INTERNAL_DAYS = ("2023-01-02", "2023-01-03")

WHY_STATEMENT = r"the SQL port runs reading statements only"
WHY_SOURCE = r"the SQL port reads products only, not files, the catalog or other sources: {}\(\) is refused"
WHY_VIEWS = r"the SQL port reads the product views <domain>\.<product> only"
WHY_NO_VIEW = r"which is no (published )?product( view)? this reader can see"
WHY_FUNCTION = r"the SQL port does not run the function {}\(\)"
WHY_TIME = r"time travel is chosen for the whole query with --as-of"
WHY_INTERNAL = (r"supply_chain\.part_suppliers: access denied for person:analyst: "
                r"supply_chain\.part_suppliers is internal to domain 'supply_chain'")
WHY_SHOW = r"SHOW lists the session's objects"

# Placeholders, filled per lake: {root} the products folder, {data} its data folder, {catalog} the SQLite
# catalog, {file} a Parquet file of sales.order_lines, {outside} an empty folder outside the lake, {alias}
# the attach alias a real sealed session gave the lake, {mask} / {MASK} the masking function's name,
# {unsigned} a file DuckDB takes for an extension built for it that no one signed.
HOSTILE = [
    # writes, into the views and into the lake
    pytest.param("INSERT INTO sales.orders SELECT * FROM sales.orders", WHY_STATEMENT + r".*found INSERT",
                 id="insert-into-view"),
    pytest.param("UPDATE sales.orders SET status = 'X'", r"found UPDATE", id="update-view"),
    pytest.param("DELETE FROM {alias}.customer.customers__v1", r"found DELETE", id="delete-from-lake-by-alias"),
    pytest.param("CREATE OR REPLACE VIEW customer.customers AS SELECT * FROM lake.customer.customers__v1",
                 r"found CREATE", id="replace-view-unmasked"),
    pytest.param("CREATE TABLE lake.sales.evil AS SELECT * FROM customer.customers", r"found CREATE",
                 id="create-table-in-lake"),
    pytest.param("DROP VIEW sales.orders", r"found DROP", id="drop-view"),
    pytest.param("DROP TABLE lake.sales.order_lines__v1", r"found DROP", id="drop-lake-table"),
    pytest.param("COPY sales.orders TO '{outside}/escape.csv'", r"found COPY", id="copy-to-file"),
    pytest.param("COPY (SELECT 1 AS x) TO '{data}/sales/order_lines__v1/evil.parquet' (FORMAT parquet)",
                 r"found COPY", id="copy-into-lake-data"),
    # files: the lake's own and the machine's
    pytest.param("SELECT * FROM read_parquet('{file}')", WHY_SOURCE.format("read_parquet"),
                 id="read-parquet-lake-file"),
    pytest.param("SELECT * FROM read_parquet('{data}/**/*.parquet')", WHY_SOURCE.format("read_parquet"),
                 id="read-parquet-lake-glob"),
    pytest.param("SELECT * FROM '{data}/sales/order_lines__v1/*/*.parquet'", WHY_NO_VIEW, id="lake-glob-as-table"),
    pytest.param("SELECT * FROM read_csv('/etc/passwd', sep = ':', header = false)", WHY_SOURCE.format("read_csv"),
                 id="read-csv-passwd"),
    pytest.param("SELECT content FROM read_text('/etc/passwd')", WHY_SOURCE.format("read_text"),
                 id="read-text-passwd"),
    pytest.param("SELECT content FROM read_blob('{catalog}')", WHY_SOURCE.format("read_blob"),
                 id="read-blob-catalog"),
    pytest.param("SELECT file FROM glob('{root}/**')", WHY_SOURCE.format("glob"), id="glob-lake"),
    # the catalog
    pytest.param("SELECT * FROM sqlite_scan('{catalog}', 'ducklake_data_file')", WHY_SOURCE.format("sqlite_scan"),
                 id="sqlite-scan-catalog"),
    pytest.param("CALL sqlite_attach('{catalog}')", r"found CALL", id="sqlite-attach-catalog"),
    pytest.param("ATTACH 'ducklake:sqlite:{catalog}' AS stolen (DATA_PATH '{data}/')", r"found ATTACH",
                 id="attach-ducklake-catalog"),
    pytest.param("ATTACH '{outside}/scratch.duckdb' AS scratch", r"found ATTACH", id="attach-new-file"),
    pytest.param("DETACH lake", r"found DETACH", id="detach"),
    pytest.param("USE lake", WHY_STATEMENT, id="use"),
    # settings and pragmas
    pytest.param("SET enable_external_access = true", r"found SET", id="set-external-access"),
    pytest.param("RESET lock_configuration", r"found SET", id="reset-lock"),
    pytest.param("PRAGMA database_list", WHY_STATEMENT, id="pragma-database-list"),
    pytest.param("SELECT current_setting('allowed_paths')", WHY_FUNCTION.format("current_setting"),
                 id="current-setting"),
    pytest.param("SELECT getvariable('x')", WHY_FUNCTION.format("getvariable"), id="getvariable"),
    # extensions and the lake's maintenance
    pytest.param("INSTALL httpfs", r"found LOAD", id="install"),
    pytest.param("LOAD sqlite_scanner", r"found LOAD", id="load"),
    pytest.param("LOAD '{unsigned}'", r"found LOAD", id="load-unsigned-file"),
    pytest.param("INSTALL '{unsigned}'", r"found LOAD", id="install-unsigned-file"),
    pytest.param("SET allow_unsigned_extensions = true", r"found SET", id="set-allow-unsigned"),
    pytest.param("CALL ducklake_expire_snapshots('lake', older_than => now())", r"found CALL",
                 id="call-ducklake-expire"),
    # introspection
    pytest.param("SELECT * FROM duckdb_tables()", WHY_SOURCE.format("duckdb_tables"), id="duckdb-tables"),
    pytest.param("SELECT database_name FROM duckdb_databases()", WHY_SOURCE.format("duckdb_databases"),
                 id="duckdb-databases"),
    pytest.param("SELECT * FROM duckdb_settings()", WHY_SOURCE.format("duckdb_settings"), id="duckdb-settings"),
    pytest.param("SELECT * FROM duckdb_secrets()", WHY_SOURCE.format("duckdb_secrets"), id="duckdb-secrets"),
    pytest.param("SELECT * FROM information_schema.tables", WHY_NO_VIEW, id="information-schema"),
    pytest.param("SHOW TABLES", WHY_SHOW, id="show-tables"),
    pytest.param("SHOW DATABASES", WHY_SHOW, id="show-databases"),
    pytest.param("SELECT * FROM query('SELECT * FROM lake.customer.customers__v1')", WHY_SOURCE.format("query"),
                 id="query-function"),
    pytest.param("SELECT * FROM query_table('customer.customers')", WHY_SOURCE.format("query_table"),
                 id="query-table-function"),
    # the masking function, by name
    pytest.param("SELECT {mask}(name) FROM customer.customers", WHY_FUNCTION.format("_mesh_mask_[0-9a-f]+"),
                 id="mask-function-by-name"),
    pytest.param("SELECT list_transform(['x'], v -> main.{MASK}(v))", WHY_FUNCTION.format("_mesh_mask_[0-9a-f]+"),
                 id="mask-function-in-lambda"),
    # around the views: the lake's own tables, versioned names, time travel inside the query
    pytest.param("SELECT name FROM lake.customer.customers__v1", WHY_VIEWS, id="lake-raw-table"),
    pytest.param("SELECT name FROM {alias}.customer.customers__v1", WHY_VIEWS, id="alias-raw-table"),
    pytest.param("SELECT * FROM customer.customers AT (VERSION => 1)", WHY_TIME, id="time-travel-version"),
    # more than one statement, exports
    pytest.param("SELECT 1; DROP VIEW sales.orders", r"one statement at a time; found 2", id="two-statements"),
    pytest.param("EXPORT DATABASE '{outside}/exported'", r"found EXPORT", id="export-database"),
    # a product the analyst may not read
    pytest.param("SELECT * FROM supply_chain.part_suppliers", WHY_INTERNAL, id="internal-product"),
    pytest.param("SELECT count(*) FROM sales.order_lines l JOIN supply_chain.part_suppliers p USING (part_id)",
                 WHY_INTERNAL, id="internal-product-in-join"),
    # known holes: system views reached through a CTE name declared in another scope, and a pg_catalog macro
    pytest.param("SELECT database_name, path FROM (WITH duckdb_databases AS (SELECT 1) SELECT 1), duckdb_databases",
                 WHY_NO_VIEW, id="cte-scope-duckdb-databases"),
    pytest.param("WITH t AS (SELECT table_name, estimated_size FROM duckdb_tables WHERE schema_name = 'supply_chain'), "
                 "duckdb_tables AS (SELECT 1) SELECT * FROM t", WHY_NO_VIEW,
                 id="cte-scope-duckdb-tables-internal-row-count"),
    pytest.param("SELECT name, setting FROM (WITH pg_settings AS (SELECT 1) SELECT 1), pg_settings", WHY_NO_VIEW,
                 id="cte-scope-pg-settings"),
    pytest.param("SELECT pg_get_viewdef(i) AS d FROM range(0, 100000) t(i) WHERE d LIKE '%_mesh_mask_%'",
                 WHY_FUNCTION.format("pg_get_viewdef"), id="pg-get-viewdef-macro"),
]


def disk_state(root: Path) -> dict[str, object]:
    files = {str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns)
             for p in sorted(root.rglob("*")) if p.is_file()}
    return {"files": files, "catalog": hashlib.sha256((root / "catalog.sqlite").read_bytes()).hexdigest()}


def one_line(message: str) -> bool:
    return bool(message.strip()) and "\n" not in message and "\r" not in message


@dataclass
class Lakehouse:
    env: MeshEnv
    mesh: Mesh
    lake: Lake
    outside: Path
    values: dict[str, str] = field(default_factory=dict)
    before: dict[str, object] = field(default_factory=dict)
    ran: set[str] = field(default_factory=set)

    def port(self, principal: Principal) -> Port:
        return Port(self.mesh, self.lake, principal, KEY)

    def fill(self, template: str) -> str:
        for name, value in self.values.items():
            template = template.replace("{" + name + "}", value)
        return template


def publish(root: Path, erp_root: Path, runs: dict[str, tuple[str, str]], customers: Path) -> MeshEnv:
    env = MeshEnv(root, erp_root).seed(customers)  # the customer master's history, which sales.orders reads
    mesh = load_mesh()
    for address, (first, last) in runs.items():
        report = env.run(address, first, last, mesh=mesh)
        assert all(verdict.published for verdict in report.verdicts.values()), (address, report.verdicts)
    return env


@pytest.fixture(scope="module")
def lakehouse(tmp_path_factory, erp_root, customer_history) -> Lakehouse:
    env = publish(tmp_path_factory.mktemp("products"), erp_root, {
        "sales.orders": ORDER_DAYS, "sales.order_lines": ORDER_DAYS, INTERNAL: INTERNAL_DAYS}, customer_history)
    house = Lakehouse(env, load_mesh(), env.lake(), tmp_path_factory.mktemp("outside"))
    con = house.port(Principal.platform()).connect()
    try:
        (alias,) = con.execute("SELECT database_name FROM duckdb_databases() WHERE type = 'ducklake'").fetchone()
    finally:
        con.close()
    root = env.products.resolve()
    files = sorted((root / "data" / "sales" / "order_lines__v1").rglob("*.parquet"))
    assert files, "sales.order_lines should be written to Parquet files"
    unsigned = tmp_path_factory.mktemp("extensions") / "unsigned.duckdb_extension"
    unsigned.write_bytes(b"\0" * 4096 + engine.extension_path("sqlite_scanner").read_bytes()[-512:])
    house.values = {"root": str(root), "data": str(root / "data"), "catalog": str(root / "catalog.sqlite"),
                    "file": str(files[0]), "outside": str(house.outside), "alias": alias,
                    "mask": mask_function(KEY), "MASK": mask_function(KEY).upper(), "unsigned": str(unsigned)}
    house.before = disk_state(root)
    return house


# -- 1. hostile statements ---------------------------------------------------------------------------------
@pytest.mark.parametrize(("template", "why"), HOSTILE)
def test_hostile_statement_is_refused_in_one_line(lakehouse, template, why):
    query = lakehouse.fill(template)
    lakehouse.ran.add(template)
    with pytest.raises(MeshError) as caught:
        lakehouse.port(ANALYST).sql(query)
    message = str(caught.value)
    assert one_line(message), message
    assert re.search(why, message), message


def test_hostile_statements_change_nothing_on_disk(lakehouse):
    for param in HOSTILE:  # those the parametrized test did not run (this test run alone, or deselected ones)
        template = param.values[0]
        if template not in lakehouse.ran:
            with contextlib.suppress(MeshError):
                lakehouse.port(ANALYST).sql(lakehouse.fill(template))
            lakehouse.ran.add(template)
    assert disk_state(Path(lakehouse.values["root"])) == lakehouse.before
    assert list(lakehouse.outside.iterdir()) == []


# Below the gate: the session itself, as ``mesh.connect()`` hands it to a notebook. Its extensions were
# loaded without a signature check (``mesh.storage.engine``); nothing run on it loads another, signed or not.
SEALED = [
    pytest.param("LOAD '{unsigned}'", duckdb.PermissionException, id="load-unsigned-file"),
    pytest.param("LOAD '{wheel}'", duckdb.PermissionException, id="load-wheel-file"),
    pytest.param("LOAD httpfs", duckdb.PermissionException, id="load-by-name"),
    pytest.param("INSTALL '{unsigned}'", duckdb.Error, id="install-unsigned-file"),
    pytest.param("INSTALL httpfs", duckdb.Error, id="install-by-name"),
    pytest.param("SET allow_unsigned_extensions = true", duckdb.InvalidInputException, id="allow-unsigned"),
    pytest.param("RESET allow_unsigned_extensions", duckdb.InvalidInputException, id="reset-allow-unsigned"),
    pytest.param("SET enable_external_access = true", duckdb.InvalidInputException, id="external-access"),
    pytest.param("SET autoload_known_extensions = true", duckdb.InvalidInputException, id="autoload"),
    pytest.param("SET autoinstall_known_extensions = true", duckdb.InvalidInputException, id="autoinstall"),
    pytest.param("SET extension_directory = '{outside}'", duckdb.InvalidInputException, id="extension-directory"),
    pytest.param("SET lock_configuration = false", duckdb.InvalidInputException, id="unlock"),
    pytest.param("SELECT * FROM read_csv('/etc/passwd')", duckdb.PermissionException, id="read-file"),
]


SETTINGS = ("allow_unsigned_extensions", "enable_external_access", "lock_configuration", "autoload_known_extensions",
            "autoinstall_known_extensions", "extension_directory")


@pytest.mark.parametrize(("statement", "error"), SEALED)
def test_the_sealed_session_loads_no_extension_and_changes_no_setting(lakehouse, statement, error):
    # a signed extension of the mesh's wheels that the local lake's sessions have not loaded (LOAD of one
    # already loaded is nothing to DuckDB, not even a check)
    values = {**lakehouse.values, "wheel": str(engine.extension_path("httpfs"))}
    for name, value in values.items():
        statement = statement.replace("{" + name + "}", value)
    listed = ", ".join(f"'{name}'" for name in SETTINGS)
    con = lakehouse.port(ANALYST).connect()
    try:
        def state() -> tuple[list, dict]:
            # an extension loaded brings functions (duckdb_extensions() lists a folder: no file access here)
            return (con.execute("SELECT count(*) FROM duckdb_functions()").fetchall(),
                    dict(con.execute(f"SELECT name, value FROM duckdb_settings() WHERE name IN ({listed})").fetchall()))

        before = state()
        assert before[1]["allow_unsigned_extensions"] == "false" and before[1]["lock_configuration"] == "true"
        with pytest.raises(error):
            con.execute(statement)
        assert state() == before
        assert con.execute("SELECT count(*) FROM sales.orders").fetchone()[0] > 0
    finally:
        con.close()
    assert list(lakehouse.outside.iterdir()) == []


def test_pii_columns_stay_masked_outside_sql(lakehouse):
    """The reference the SQL port must match: the Python port hashes and redacts for the analyst."""
    raw = lakehouse.port(Principal.platform()).table("customer.customers").sort_by("customer_id")
    masked = lakehouse.port(ANALYST).table("customer.customers").sort_by("customer_id")
    assert raw.num_rows > 100
    assert masked["name"].to_pylist() == keyed_hash(raw["name"].combine_chunks(), KEY).to_pylist()
    assert set(masked["address"].to_pylist()) == {REDACTED}


def test_pii_columns_stay_masked_in_sql(lakehouse):
    raw = lakehouse.port(Principal.platform()).table("customer.customers").sort_by("customer_id")
    seen = lakehouse.port(ANALYST).sql("SELECT customer_id, name, address, phone FROM customer.customers "
                                       "ORDER BY customer_id")
    assert seen["customer_id"].to_pylist() == raw["customer_id"].to_pylist()
    assert seen["name"].to_pylist() == keyed_hash(raw["name"].combine_chunks(), KEY).to_pylist()
    assert not set(seen["name"].to_pylist()) & set(raw["name"].to_pylist())
    assert set(seen["address"].to_pylist()) == set(seen["phone"].to_pylist()) == {REDACTED}
    # filtering on a raw value finds nothing: the filter sees the masked column
    first = raw["name"][0].as_py()
    found = lakehouse.port(ANALYST).sql(f"SELECT count(*) AS n FROM customer.customers WHERE name = '{first}' "
                                        f"OR address LIKE '%' || '{first}' || '%'")
    assert found.to_pylist() == [{"n": 0}]


# -- 2. legitimate analytics ------------------------------------------------------------------------------
LEGITIMATE = [
    pytest.param("WITH big AS (SELECT order_id, customer_id FROM sales.orders WHERE total_price_usd > 1000) "
                 "SELECT count(*) AS n, count(DISTINCT customer_id) AS customers FROM big", id="cte",),
    pytest.param("SELECT o.order_id, count(*) AS lines, sum(l.quantity)::BIGINT AS quantity FROM sales.orders o "
                 "JOIN sales.order_lines l USING (order_id) GROUP BY o.order_id", id="join-two-products",),
    pytest.param("SELECT c.market_segment, count(*) AS orders FROM sales.orders o "
                 "LEFT JOIN customer.customers c USING (customer_id) GROUP BY ALL", id="join-masked-product",),
    pytest.param("SELECT order_id, row_number() OVER (PARTITION BY order_date ORDER BY total_price_usd DESC, "
                 "order_id) AS rank, count(*) OVER (PARTITION BY order_date) AS per_day FROM sales.orders",
                 id="window"),
    pytest.param("SELECT sum(range) AS total FROM range(10)", id="range"),
    pytest.param("SELECT generate_series AS day FROM generate_series(DATE '2026-11-01', DATE '2026-11-03', "
                 "INTERVAL 1 DAY)", id="generate-series"),
    pytest.param("SELECT unnest([1, 2, 3]) AS x, u.* FROM unnest(['a', 'b']) u(letter)", id="unnest"),
    pytest.param("DESCRIBE customer.customers", id="describe"),
    pytest.param("FROM sales.orders ORDER BY order_id LIMIT 1", id="from-first"),
    pytest.param("SELECT order_id FROM sales.orders UNION SELECT order_id FROM sales.order_lines", id="union",),
    pytest.param("SELECT order_id, status FROM sales.orders WHERE order_id IN "
                 "(SELECT order_id FROM sales.order_lines WHERE quantity > 25)", id="subquery"),
    pytest.param("PIVOT (SELECT order_date, status FROM sales.orders) ON status IN ('F', 'O', 'P') "
                 "USING count(*) GROUP BY order_date", id="pivot-in-list"),
    pytest.param("PIVOT (SELECT order_date, status FROM sales.orders) ON status USING count(*) GROUP BY order_date",
                 id="pivot-dynamic", marks=pytest.mark.xfail(strict=True, reason=(
                     "a PIVOT without an IN list is two statements once DuckDB expands it: the gate refuses it "
                     "with 'the SQL port runs one statement at a time; found 2'"))),
    pytest.param("SELECT count(*) AS n FROM memory.sales.order_lines", id="count-from-catalog"),
    pytest.param("SELECT count(DISTINCT name) AS names, count(*) FILTER (WHERE address = '[redacted]') AS redacted "
                 "FROM customer.customers", id="masked-columns-aggregate"),
]
REFERENCE_PRODUCTS = ("customer.customers", "sales.orders", "sales.order_lines")


@pytest.fixture(scope="module")
def reference(lakehouse):
    """The analyst's products through the Python port, as plain tables of a DuckDB of their own."""
    con = duckdb.connect()
    port = lakehouse.port(ANALYST)
    for address in REFERENCE_PRODUCTS:
        parsed = Address.parse(address)
        table = port.table(address)
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {parsed.domain}")
        con.register("_incoming", table)
        con.execute(f"CREATE TABLE {parsed.domain}.{parsed.table} AS SELECT * FROM _incoming")
        con.unregister("_incoming")
    yield con
    con.close()


def rows(table: pa.Table) -> tuple[list[str], list[str]]:
    return table.column_names, sorted(repr(row) for row in table.to_pylist())


@pytest.mark.parametrize("query", LEGITIMATE)
def test_legitimate_analytics_run_and_match_the_python_port(lakehouse, reference, query):
    answer = lakehouse.port(ANALYST).sql(query)
    expected = reference.sql(query).to_arrow_table()
    if query.startswith("DESCRIBE"):
        assert answer.select(["column_name", "column_type"]) == expected.select(["column_name", "column_type"])
    else:
        assert rows(answer) == rows(expected)
    assert answer.num_rows > 0


# -- 3. time travel ----------------------------------------------------------------------------------------
def test_time_travel_opens_no_product_the_reader_may_not_read(lakehouse):
    snapshot = lakehouse.lake.snapshots(Address.parse(INTERNAL))[0]
    platform, analyst = lakehouse.port(Principal.platform()), lakehouse.port(ANALYST)
    for as_of in (snapshot.id, snapshot.time.isoformat()):
        assert platform.table(INTERNAL, as_of=as_of).num_rows > 0  # the product is there at that snapshot
        with pytest.raises(MeshError, match=WHY_INTERNAL) as caught:
            analyst.sql(f"SELECT * FROM {INTERNAL}", as_of=as_of)
        assert one_line(str(caught.value))
    with pytest.raises(MeshError, match=WHY_VIEWS) as caught:
        analyst.sql("SELECT * FROM lake.supply_chain.part_suppliers__v1", as_of=snapshot.id)
    assert one_line(str(caught.value))


def test_time_travel_keeps_pii_masked(lakehouse):
    snapshot = lakehouse.lake.snapshots(Address.parse("customer.customers"))[0].id
    raw = lakehouse.port(Principal.platform()).table("customer.customers", as_of=snapshot).sort_by("customer_id")
    seen = lakehouse.port(ANALYST).sql("SELECT name, address FROM customer.customers ORDER BY customer_id",
                                       as_of=snapshot)
    assert seen["name"].to_pylist() == keyed_hash(raw["name"].combine_chunks(), KEY).to_pylist()
    assert set(seen["address"].to_pylist()) == {REDACTED}


# -- 4. damaged data files ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def damaged(tmp_path_factory, erp_root, customer_history) -> Lakehouse:
    """A lake of its own whose sales.order_lines files are broken: one overwritten, one deleted."""
    env = publish(tmp_path_factory.mktemp("damaged"), erp_root, {"sales.orders": ORDER_DAYS}, customer_history)
    mesh = load_mesh()
    for day in ORDER_DAYS:  # a run per day, so that each day's lines are a file of their own
        assert all(v.published for v in env.run("sales.order_lines", day, day, mesh=mesh).verdicts.values())
    folder = env.products / "data" / "sales" / "order_lines__v1"
    # the table is laid out by year and month: tell the days' files apart by what they hold
    holds = {path: set(map(str, pq.read_table(path, columns=["_partition"])["_partition"].to_pylist()))
             for path in folder.rglob("*.parquet")}
    files = {day: sorted(path for path, days in holds.items() if days == {day}) for day in ORDER_DAYS}
    assert all(files.values()), holds
    for path in files[ORDER_DAYS[0]]:
        path.write_bytes(b"not parquet at all " * 64)
    for path in files[ORDER_DAYS[1]]:
        path.unlink()
    return Lakehouse(env, load_mesh(), env.lake(), tmp_path_factory.mktemp("outside"))


def test_damaged_files_fail_only_their_product(damaged):
    port = damaged.port(ANALYST)
    assert port.sql("SELECT 1 AS one").to_pylist() == [{"one": 1}]
    assert port.sql("SELECT count(*) AS n FROM sales.orders").to_pylist()[0]["n"] > 0
    assert port.table("sales.orders").num_rows > 0
    for day in ORDER_DAYS:  # the overwritten file, then the deleted one
        with pytest.raises(StorageError) as caught:
            port.table("sales.order_lines", partition=day)
        message = str(caught.value)
        assert one_line(message) and "sales.order_lines" in message, message


def test_damaged_files_fail_only_their_sql_queries(damaged):
    port = damaged.port(ANALYST)
    assert port.sql("SELECT count(*) AS n, sum(total_price_usd) > 0 AS priced FROM sales.orders").to_pylist() == [
        {"n": port.table("sales.orders").num_rows, "priced": True}]
    for query in ("SELECT sum(quantity) FROM sales.order_lines",
                  "SELECT o.order_id FROM sales.orders o JOIN sales.order_lines l USING (order_id)"):
        with pytest.raises(MeshError) as caught:
            port.sql(query)
        message = str(caught.value)
        assert one_line(message) and "order_lines" in message, message
        assert "disabled by configuration" not in message, message
