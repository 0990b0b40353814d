"""DuckDB, the mesh's embedded engine: connections with the extensions loaded from their wheels.

DuckDB's extensions (``ducklake``, ``sqlite_scanner``, ``postgres_scanner``, ``httpfs``) are Python
packages on the package index (``duckdb-extension-<name>``, declared in ``pyproject.toml``) and are
loaded by path: a connection never installs or downloads anything, whatever it is asked. A missing
or mismatched extension is one error naming the package to install. What the lake keeps and how
readers are sealed is ``mesh.storage.lake`` and ``mesh.storage.ports``; nothing here knows about products.

A connection of ``connect`` loads its extensions without DuckDB checking their signatures, then turns
the check back on for good: checking one hashes the whole 35 MB file, about 0.35 s of CPU per extension
and connection, most of what a `mesh sql` costs. The files are those of the installed wheels, as trusted
as DuckDB's own library, which nothing verifies; DuckDB lets ``allow_unsigned_extensions`` go from true
to false on a running database, never back, so whatever runs on the connection afterwards (a reader's
SQL included) loads only signed extensions, as on any connection, and the SQL port's sessions load
none at all (``enable_external_access`` off and the configuration locked, ``mesh.storage.ports``).
"""

from __future__ import annotations

import importlib.util
from functools import cache
from pathlib import Path

import duckdb

from mesh.errors import MeshError

PACKAGES = {
    "ducklake": "duckdb-extension-ducklake",
    "sqlite_scanner": "duckdb-extension-sqlite-scanner",
    "postgres_scanner": "duckdb-extension-postgres-scanner",
    "httpfs": "duckdb-extension-httpfs",
}
# Never fetch an extension at run time: a query naming one that is not loaded fails instead.
CONFIG = {"autoinstall_known_extensions": False, "autoload_known_extensions": False}


class ExtensionMissing(MeshError):
    """A DuckDB extension the mesh needs is not installed, or was built for another DuckDB."""


def _requirement(name: str) -> str:
    return f"{PACKAGES[name]}=={duckdb.__version__}"


@cache
def extension_path(name: str) -> Path:
    """The ``.duckdb_extension`` file of an installed extension wheel, built for this DuckDB."""
    if name not in PACKAGES:
        raise ExtensionMissing(f"unknown DuckDB extension {name!r}: the mesh loads {', '.join(PACKAGES)}")
    module = PACKAGES[name].replace("-", "_")
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise ExtensionMissing(f"the DuckDB extension {name} is not installed: pip install '{_requirement(name)}'")
    found = sorted(Path(next(iter(spec.submodule_search_locations))).rglob("*.duckdb_extension"))
    wanted = [f for f in found if f.parent.name == f"v{duckdb.__version__}"]
    if not wanted:
        built = ", ".join(sorted({f.parent.name for f in found})) or "no build"
        raise ExtensionMissing(f"the installed {PACKAGES[name]} is built for DuckDB {built}, but DuckDB is "
                               f"{duckdb.__version__}: pip install '{_requirement(name)}'")
    return wanted[0]


def load(con: duckdb.DuckDBPyConnection, name: str) -> None:
    """Load an extension into a connection; DuckDB checks its signature unless the connection was
    opened allowing unsigned extensions (``connect`` only, while it loads its own)."""
    path = extension_path(name)
    try:
        con.execute(f"LOAD '{path}'")
    except duckdb.Error as err:
        raise ExtensionMissing(f"DuckDB {duckdb.__version__} could not load {path.name} from {PACKAGES[name]}: "
                               f"{str(err).splitlines()[0]}; reinstall it: pip install '{_requirement(name)}'"
                               ) from None


def connect(*extensions: str, threads: int | None = None) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection with ``extensions`` loaded, in UTC, that never downloads."""
    config: dict[str, object] = dict(CONFIG)
    if threads:
        config["threads"] = threads
    paths = [extension_path(name) for name in extensions]  # an unknown or missing one fails before connecting
    if paths:
        config["allow_unsigned_extensions"] = True  # for the wheels' files only, and off again below
    con = duckdb.connect(config=config)
    try:
        for name in extensions:
            load(con, name)
        if paths:  # on a running database this can be set to false, never back to true
            con.execute("SET allow_unsigned_extensions = false")
        con.execute("SET TimeZone = 'UTC'")
    except BaseException:
        con.close()  # never handed out with unsigned extensions allowed
        raise
    return con


def literal(text: str) -> str:
    """A SQL string literal."""
    return "'" + str(text).replace("'", "''") + "'"


def quoted(name: str) -> str:
    """A SQL identifier."""
    return '"' + str(name).replace('"', '""') + '"'
