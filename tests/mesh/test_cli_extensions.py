"""DuckDB's extensions load from their wheels without a signature check, and nothing else can after.

``engine.connect`` opens its database allowing unsigned extensions, loads the mesh's own (the signature
check hashes each 35 MB file, most of what a `mesh sql` cost) and turns ``allow_unsigned_extensions``
off before anyone gets the connection: a file that is not signed by DuckDB then fails to load on it as
on any connection. The SQL port's sessions load nothing at all (``test_sql_port_hostile``).
"""

from __future__ import annotations

import re
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

import mesh.cli
from mesh.storage import engine
from tests.conftest import DAY, ROOT

UNSIGNED = r"signature is either missing or invalid and unsigned extensions are disabled"


@pytest.fixture(scope="module")
def unsigned(tmp_path_factory) -> Path:
    """A file DuckDB takes for an extension built for this DuckDB (the metadata footer of a real one)
    but that no one signed: loading it is refused for its signature, or, where unsigned extensions are
    allowed, fails later in the dynamic loader."""
    real = engine.extension_path("sqlite_scanner").read_bytes()
    path = tmp_path_factory.mktemp("extensions") / "unsigned.duckdb_extension"
    path.write_bytes(b"\0" * 4096 + real[-512:])
    return path


def test_an_unsigned_file_is_tried_only_where_unsigned_extensions_are_allowed(unsigned):
    """What the tests below tell apart: the signature error, not the loader's."""
    allowing = duckdb.connect(config={"allow_unsigned_extensions": True})
    with pytest.raises(duckdb.IOException) as caught:
        allowing.execute(f"LOAD '{unsigned}'")
    assert "could not be loaded" in str(caught.value) and "signature" not in str(caught.value)
    with pytest.raises(duckdb.IOException, match=UNSIGNED):
        duckdb.connect().execute(f"LOAD '{unsigned}'")


def test_connections_load_the_wheels_extensions_then_refuse_unsigned_ones(unsigned):
    con = engine.connect("ducklake", "sqlite_scanner")
    try:
        loaded = dict(con.execute("SELECT extension_name, loaded FROM duckdb_extensions() "
                                  "WHERE extension_name IN ('ducklake', 'sqlite_scanner')").fetchall())
        assert loaded == {"ducklake": True, "sqlite_scanner": True}
        assert con.execute("SELECT current_setting('allow_unsigned_extensions')").fetchone() == (False,)
        with pytest.raises(duckdb.IOException, match=UNSIGNED):
            con.execute(f"LOAD '{unsigned}'")
        for setting in ("SET allow_unsigned_extensions = true", "SET GLOBAL allow_unsigned_extensions = true"):
            with pytest.raises(duckdb.InvalidInputException, match="while database is running"):
                con.execute(setting)
        con.execute("RESET allow_unsigned_extensions")  # back to DuckDB's default, not to how it was opened
        with pytest.raises(duckdb.IOException, match=UNSIGNED):
            con.execute(f"LOAD '{unsigned}'")
        assert con.execute("SELECT current_setting('TimeZone')").fetchone() == ("UTC",)
    finally:
        con.close()


def test_a_cursor_of_a_connection_refuses_unsigned_extensions_too(unsigned):
    con = engine.connect("ducklake")
    try:
        with pytest.raises(duckdb.IOException, match=UNSIGNED):
            con.cursor().execute(f"LOAD '{unsigned}'")
    finally:
        con.close()


def test_connections_without_extensions_keep_duckdbs_default(unsigned):
    con = engine.connect()
    try:
        assert con.execute("SELECT current_setting('allow_unsigned_extensions')").fetchone() == (False,)
        with pytest.raises(duckdb.IOException, match=UNSIGNED):
            con.execute(f"LOAD '{unsigned}'")
    finally:
        con.close()


def test_an_unknown_extension_fails_before_a_database_is_opened():
    with pytest.raises(engine.ExtensionMissing, match="unknown DuckDB extension 'spatial'"):
        engine.connect("ducklake", "spatial")


@pytest.fixture
def person(sales_env, tmp_path, monkeypatch) -> int:
    """A person's environment over a lake where sales.orders has one day published; its row count."""
    report = sales_env.run("sales.orders", DAY)
    assert report.rows_published > 0
    for name, value in {"MESH_PROJECT_DIR": str(ROOT), "MESH_STORAGE_URI": str(sales_env.products),
                        "MESH_OPERATIONAL_ROOT": str(sales_env.operational), "MESH_WORK_DIR": str(tmp_path / "work"),
                        "MESH_MASKING_KEY": "test-key", "DAGSTER_HOME": str(tmp_path / "dagster")}.items():
        monkeypatch.setenv(name, value)
    return report.rows_published


@pytest.mark.parametrize(("statement", "why"), [
    ("LOAD '{unsigned}'", "found LOAD"),
    ("INSTALL '{unsigned}'", "found LOAD"),
    ("LOAD httpfs", "found LOAD"),
    ("SET allow_unsigned_extensions = true", "found SET"),
    ("RESET lock_configuration", "found SET"),
    ("SELECT * FROM read_text('{unsigned}')", r"read_text\(\) is refused"),
])
@pytest.mark.parametrize("output", ["table", "csv"])
def test_mesh_sql_loads_no_extension_and_changes_no_setting(person, unsigned, statement, why, output):
    """Through the command line, as a table (DuckDB's own result) or as Arrow (csv): refused in one line,
    and the next query of the same process still runs, sealed."""
    result = CliRunner().invoke(mesh.cli.main, ["sql", statement.replace("{unsigned}", str(unsigned)),
                                                "--format", output])
    assert result.exit_code == 1, result.output
    assert re.search(why, result.output) and len(result.output.strip().splitlines()) == 1, result.output
    again = CliRunner().invoke(mesh.cli.main, ["sql", "SELECT count(*) AS orders FROM sales.orders", "--format",
                                               "json"])
    assert again.exit_code == 0, again.output
    assert again.output.count(str(person)) == 1
