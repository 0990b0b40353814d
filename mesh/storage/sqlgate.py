"""The SQL port's statement gate: a query may read the product views and nothing else.

DuckDB parses the query (``json_serialize_sql``, which serializes reading statements only); the gate
walks the tree and refuses, with one line, anything that is not one statement that reads: writes,
settings, pragmas, ``ATTACH``/``COPY``/``LOAD``, table functions that read files or the catalog
(``read_parquet``, ``sqlite_scan``, ``duckdb_tables``, ``query``...), references to anything but a
product view or the query's own CTEs (the lake itself, ``information_schema``, hidden objects),
time travel written into the query (``AT (VERSION => ...)``: use ``--as-of``), and the mesh's own
masking functions. The session the query then runs in is sealed as well (``mesh.storage.ports``): the gate
is the first wall, not the only one. Holds no connection and knows nothing of products.
"""

from __future__ import annotations

import json
from typing import Any

import duckdb

from mesh.errors import MeshError
from mesh.storage.engine import literal

# Table functions that only compute: no files, no catalog, no other queries.
TABLE_FUNCTIONS = {"range", "generate_series", "unnest"}
# Scalar functions that read the session, the catalog or files rather than the data, or the mesh's own
# masking: by name, and by prefix for families (pg_get_viewdef, duckdb_*, has_table_privilege...).
REFUSED_FUNCTIONS = {"current_setting", "current_schemas", "current_user", "current_role", "current_database",
                     "current_catalog", "user", "session_user", "getvariable", "getenv", "query", "query_table",
                     "which_secret", "col_description", "obj_description", "shobj_description", "format_type",
                     "version", "glob"}
REFUSED_PREFIXES = ("_mesh", "pg_", "duckdb_", "has_", "txid_", "read_", "sqlite_", "ducklake_", "parquet_",
                    "postgres_", "icu_", "json_serialize")


class RefusedQuery(MeshError):
    """A statement the SQL port does not run: it writes, reads files or settings, or goes around the views."""


def check(query: str, views: set[tuple[str, str]], parser: duckdb.DuckDBPyConnection | None = None) -> None:
    """Refuse ``query`` unless it is one reading statement over ``views`` ((schema, name) pairs)."""
    check_tree(parse(query, parser), views)


def parse(query: str, parser: duckdb.DuckDBPyConnection | None = None) -> dict[str, Any]:
    """The parse tree of ``query``, refused unless it is one reading statement (DuckDB parses only)."""
    con = parser or duckdb.connect()
    try:
        statements = con.extract_statements(query)
    except duckdb.Error as err:
        raise RefusedQuery(f"the query does not parse: {_first_line(err)}") from None
    if len(statements) != 1:
        raise RefusedQuery(f"the SQL port runs one statement at a time; found {len(statements)}")
    kind = statements[0].type
    if kind.name != "SELECT":
        raise RefusedQuery(f"the SQL port runs reading statements only (SELECT, WITH, FROM); found {kind.name}")
    # the query as a literal, not a bound parameter: binding one makes DuckDB's Python client import pandas
    tree = json.loads(con.execute(f"SELECT json_serialize_sql({literal(query)})").fetchone()[0])
    if tree.get("error"):
        raise RefusedQuery(f"the SQL port runs reading statements only: {tree.get('error_message')}")
    return tree


def check_tree(tree: dict[str, Any], views: set[tuple[str, str]]) -> None:
    """Refuse a parsed query (``parse``) unless it reads ``views`` ((schema, name) pairs) only."""
    problem = _walk(tree, views, frozenset())
    if problem:
        raise RefusedQuery(problem)


def tables(tree: dict[str, Any]) -> set[tuple[str, str]]:
    """The (schema, name) of every table a parsed query names, lower case: the product views a session
    needs for it (``check_tree`` then judges each, and the CTEs, in its scope)."""
    found, stack = set(), [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, list):
            stack.extend(node)
        elif isinstance(node, dict):
            if node.get("type") == "BASE_TABLE" and "class" not in node:
                found.add((str(node.get("schema_name") or "").lower(), str(node.get("table_name") or "").lower()))
            stack.extend(node.values())
    return found


def _walk(item: Any, views: set[tuple[str, str]], ctes: frozenset[str]) -> str | None:
    """Check every node; a CTE's name is in scope only inside the query that declares it (a name
    declared in a subquery must not let the outer query reach a system view of the same name)."""
    stack = [(item, ctes)]
    while stack:
        node, scope = stack.pop()
        if isinstance(node, list):
            stack.extend((child, scope) for child in node)
            continue
        if not isinstance(node, dict):
            continue
        cte_map = node.get("cte_map")
        if isinstance(cte_map, dict):
            # A CTE's body sees the CTEs declared before it (and itself, when recursive), not later ones.
            entries = [e for e in cte_map.get("map") or [] if isinstance(e, dict)]
            seen = scope
            for entry in entries:
                name = str(entry.get("key", "")).lower()
                stack.append((entry.get("value"), seen | {name}))
                seen = seen | {name}
            node, scope = {k: v for k, v in node.items() if k != "cte_map"}, seen
        problem = _problem(node, views, scope)
        if problem:
            return problem
        stack.extend((child, scope) for child in node.values())
    return None


def _problem(node: dict[str, Any], views: set[tuple[str, str]], ctes: set[str]) -> str | None:
    kind = node.get("type")
    if node.get("class") == "FUNCTION":
        name = str(node.get("function_name", "")).lower()
        schema = node.get("schema") or ""
        if name in REFUSED_FUNCTIONS or name.startswith(REFUSED_PREFIXES) or schema not in ("", "main"):
            return f"the SQL port does not run the function {name}()"
        return None
    if not isinstance(kind, str) or "class" in node:
        return None
    if kind == "TABLE_FUNCTION":
        function = node.get("function") or {}
        name = str(function.get("function_name", "")).lower()
        if name not in TABLE_FUNCTIONS:
            return (f"the SQL port reads products only, not files, the catalog or other sources: "
                    f"{name}() is refused")
    elif kind == "SHOW_REF":
        if node.get("table_name"):
            return "SHOW lists the session's objects; list products with `mesh catalog` instead"
    elif kind == "BASE_TABLE":
        return _table_problem(node, views, ctes)
    return None


def _table_problem(node: dict[str, Any], views: set[tuple[str, str]], ctes: set[str]) -> str | None:
    catalog, schema, name = (str(node.get(k) or "").lower() for k in ("catalog_name", "schema_name", "table_name"))
    shown = ".".join(p for p in (catalog, schema, name) if p)
    if node.get("at_clause"):
        return f"{shown}: time travel is chosen for the whole query with --as-of (mesh sql --as-of <snapshot|time>)"
    if catalog not in ("", "memory"):
        return f"{shown}: the SQL port reads the product views <domain>.<product> only"
    if not schema and name in ctes:
        return None
    if (schema, name) in views:
        return None
    return f"the query names {shown!r}, which is no product view this reader can see"


def _first_line(err: BaseException) -> str:
    lines = str(err).strip().splitlines()
    return lines[0] if lines else type(err).__name__
