"""Relation rules: a product's rows judged against one of its inputs or sources, in DuckDB.

A contract's ``relations`` declare rules that no single row can decide: ``references`` (every row's
key exists in the input: referential integrity) and ``reconciles`` (a column equals an aggregate of
the input's rows with the same key, within a tolerance). They are rules like the pandera model's
named rules: an asset check each, ERROR rules quarantine failing rows with a reason naming the key,
the value found and the value expected. This module builds the rules, refuses declarations that
name unknown columns when definitions load, and evaluates them over Arrow tables in a DuckDB
session that reads nothing else. A rule judges each row against what a run of the row's partition
alone reads of the input (``Scoped``), so a run of many partitions finds what daily runs find.
Reading the inputs for a window, and scoping them, is ``mesh.quality.wap``'s.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

from mesh.contracts.contract import Contract, Relation
from mesh.contracts.registry import Mesh, Product
from mesh.errors import ContractError, MeshError
from mesh.quality.rules import STRUCTURE, Rule, RuleOutcome, Schema, Severity

_SQL_TYPES = {"string": "VARCHAR", "varchar": "VARCHAR"}  # logical and feed type names DuckDB does not share
PARTITION = "_mesh_partition"  # a row's partition key, in the rule's session only


@dataclass(frozen=True)
class Scoped:
    """An input read for a run of several partitions: its rows (``data``), each row's partition
    (``keys``), and for each partition of the run the first and last input partition a run of that
    partition alone reads (``ranges``; None: none). An output row is judged against those input rows
    only: a customer registered after an order's day does not validate the order in a backfill either."""

    data: pa.Table | pd.DataFrame
    keys: np.ndarray
    ranges: dict[str, tuple[str, str] | None]


def relation_rules(contract: Contract) -> list[Rule]:
    """The contract's relations as rules (after the model's): a check each, named as declared."""
    return [as_rule(name, relation) for name, relation in contract.relations.items()]


def as_rule(name: str, relation: Relation) -> Rule:
    """A relation as a rule: its first column is the one a quarantine entry shows (the value judged, or
    the key's first column)."""
    columns = (relation.column, *relation.key) if relation.reconciles else tuple(relation.key)
    severity: Severity = relation.severity
    return Rule(name, columns, severity, severity == "error", describe(relation), check=relation)


def is_relation(rule: Rule) -> bool:
    return isinstance(rule.check, Relation)


def describe(relation: Relation) -> str:
    if relation.description:
        return relation.description.strip()
    pairs = ", ".join(f"{mine} = {relation.input}.{theirs}" for mine, theirs in relation.key.items())
    if relation.references:
        return f"every row's key exists in input {relation.input} ({pairs})"
    within = f" within {relation.tolerance:g}" if relation.tolerance else ""
    return f"{relation.column} equals {relation.equals} over the {relation.input} rows where {pairs}{within}"


# -- refused when definitions load -----------------------------------------------------------------
def check(mesh: Mesh, product: Product, schema: Schema) -> None:
    """Every relation names columns that exist, and its expression binds: else a ContractError naming the
    contract, the rule and the field."""
    contract = product.contract
    taken = {r.name for r in schema.rules} | {STRUCTURE}
    mine = {c.name: _sql_type(c.type_name) for c in schema.columns}
    problems: list[tuple[str, str]] = []
    for name, relation in contract.relations.items():
        where = f"relations.{name}"
        if name in taken:
            problems.append((where, f"{schema.model_name} already has a rule named {name!r}"))
        theirs = input_columns(mesh, product, relation.input)
        unknown = [c for c in relation.key if c not in mine]
        if unknown:
            problems.append((f"{where}.key", f"expected columns of {schema.model_name}, found {unknown}"))
        if relation.column is not None and relation.column not in mine:
            problems.append((f"{where}.column", f"expected a column of {schema.model_name}, "
                                                f"found {relation.column!r}"))
        if theirs is None:
            continue  # an upstream whose code does not load: reported where it lives
        unknown = [c for c in relation.key.values() if c not in theirs]
        if unknown:
            problems.append((f"{where}.key", f"expected columns of input {relation.input}, found {unknown}"))
        elif not any(p[0].startswith(where) for p in problems):
            problem = _bind_problem(relation, mine, theirs)
            if problem:
                problems.append((f"{where}.{'equals' if relation.reconciles else 'key'}", problem))
    if problems:
        raise ContractError(product.file, problems)


def input_columns(mesh: Mesh, product: Product, name: str) -> dict[str, str] | None:
    """Column -> DuckDB type of an input or source; None when the upstream's code does not load."""
    contract = product.contract
    if name in contract.sources:
        return {c: _sql_type(t) for c, t in contract.sources[name].columns.items()}
    from mesh.quality.code import resolve

    try:
        upstream = resolve(mesh.product(contract.inputs[name].address), mesh.root)
    except MeshError:
        return None
    return {c.name: _sql_type(c.type_name) for c in upstream.schema.columns}


def _sql_type(name: str) -> str:
    return _SQL_TYPES.get(name, name.upper())


def _bind_problem(relation: Relation, mine: dict[str, str], theirs: dict[str, str]) -> str | None:
    """Run the rule's query on empty tables of the declared types: what DuckDB says, or None."""
    con = _session()
    try:
        for table, columns in (("_output", {**mine, "_row": "BIGINT"}), ("_input", theirs)):
            listed = ", ".join(f'"{c}" {t}' for c, t in columns.items())
            con.execute(f"CREATE TEMP TABLE {table} ({listed})")
        sql = _query(relation)
        if len(con.extract_statements(sql)) != 1:
            return "expected one SQL expression, found several statements"
        con.execute(sql)
    except duckdb.Error as err:
        return f"does not evaluate over input {relation.input}: {str(err).splitlines()[0]}"
    finally:
        con.close()
    return None


# -- evaluation -------------------------------------------------------------------------------------
def _session() -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB that reads only the tables registered in it: no files, no lake, no settings."""
    con = duckdb.connect(config={"enable_external_access": False})
    con.execute("SET lock_configuration = true")
    return con


def _query(relation: Relation, scoped: bool = False) -> str:
    """Failing rows of ``_output`` (with its ``_row``) against ``_input``: key, found and expected values.
    ``scoped``: both carry their partition, and ``_visible`` says which input partitions each output
    partition sees (``Scoped``)."""
    keys = list(relation.key.items())
    own = ", ".join(f'o."{mine}" AS "_k{i}"' for i, (mine, _) in enumerate(keys))
    if relation.references:
        present = " AND ".join(f'o."{mine}" IS NOT NULL' for mine, _ in keys)
        match = " AND ".join(f'r."{theirs}" = o."{mine}"' for mine, theirs in keys)
        seen = "_input r"
        if scoped:
            seen += ", _visible v"
            match += f" AND v.{PARTITION} = o.{PARTITION} AND r.{PARTITION} BETWEEN v._lo AND v._hi"
        return (f"SELECT o._row, {own}, NULL AS _found, NULL AS _expected FROM _output o "
                f"WHERE {present} AND NOT EXISTS (SELECT 1 FROM {seen} WHERE {match}) ORDER BY o._row")
    grouped = ", ".join(f'r."{theirs}"' for _, theirs in keys)
    named = ", ".join(f'r."{theirs}" AS "_g{i}"' for i, (_, theirs) in enumerate(keys))
    match = " AND ".join(f'e."_g{i}" = o."{mine}"' for i, (mine, _) in enumerate(keys))
    rows = "_input r"
    if scoped:  # the input's rows each output partition sees, for the keys it holds, tagged with that partition
        pairs = ", ".join(f'"{mine}" AS "_k{i}"' for i, (mine, _) in enumerate(keys))
        on = " AND ".join(f'r."{theirs}" = s."_k{i}"' for i, (_, theirs) in enumerate(keys))
        rows = (f"(SELECT r.*, s.{PARTITION} AS _scope FROM _input r JOIN (SELECT DISTINCT {PARTITION}, {pairs} "
                f"FROM _output) s ON {on} JOIN _visible v ON v.{PARTITION} = s.{PARTITION} "
                f"AND r.{PARTITION} BETWEEN v._lo AND v._hi) r")
        grouped, named = f"r._scope, {grouped}", f"r._scope, {named}"
        match += f" AND e._scope = o.{PARTITION}"
    found, tolerance = f'o."{relation.column}"', relation.tolerance
    differs = (f"NOT coalesce(abs({found} - e._expected) <= {tolerance!r} + 1e-9, {found} IS NOT DISTINCT FROM "
               f"e._expected)" if tolerance else f"{found} IS DISTINCT FROM e._expected")
    return (f"WITH e AS (SELECT {named}, ({relation.equals}) AS _expected FROM {rows} GROUP BY {grouped}) "
            f"SELECT o._row, {own}, {found} AS _found, e._expected FROM _output o JOIN e ON {match} "
            f"WHERE {differs} ORDER BY o._row")


def evaluate(frame: pd.DataFrame, rules: list[Rule], inputs: dict[str, Any], skip: np.ndarray,
             severity: Severity, partitions: np.ndarray | None = None) -> list[RuleOutcome]:
    """Each relation rule of a severity over the rows not in ``skip``; ``inputs`` holds each named input
    as an Arrow table or a DataFrame, or ``Scoped`` with ``partitions`` (each row's partition key).
    Failing rows carry their reason (key, found, expected)."""
    outcomes = []
    for rule in rules:
        if rule.severity != severity:
            continue
        relation: Relation = rule.check
        columns = list(dict.fromkeys([*relation.key, *([relation.column] if relation.column else [])]))
        positions = np.flatnonzero(~skip)
        output = pa.Table.from_pandas(frame.iloc[positions][columns], preserve_index=False).append_column(
            "_row", pa.array(positions, pa.int64()))
        data = inputs[relation.input]
        scoped = isinstance(data, Scoped) and partitions is not None
        con = _session()
        try:
            if scoped:
                output = output.append_column(PARTITION, pa.array(np.asarray(partitions, dtype=object)[positions],
                                                                  pa.string()))
                _register_scoped(con, data)
            else:
                con.register("_input", data.data if isinstance(data, Scoped) else data)
            con.register("_output", output)
            found = con.execute(_query(relation, scoped)).fetchall()
        except duckdb.Error as err:
            outcomes.append(RuleOutcome(rule, error=f"{type(err).__name__}: {str(err).splitlines()[0]}"))
            continue
        finally:
            con.close()
        failing = np.zeros(len(frame), dtype=bool)
        reasons = {}
        for row, *values in found:
            failing[row] = True
            reasons[int(row)] = _reason(relation, values[:-2], values[-2], values[-1])
        outcomes.append(RuleOutcome(rule, failing=failing, reasons=reasons))
    return outcomes


def _register_scoped(con: duckdb.DuckDBPyConnection, scoped: Scoped) -> None:
    """``_input`` with each row's partition, and ``_visible``: the input partitions each output partition sees."""
    keys = np.asarray(scoped.keys, dtype=object)
    data = scoped.data
    con.register("_input", data.append_column(PARTITION, pa.array(keys, pa.string())) if isinstance(data, pa.Table)
                 else data.assign(**{PARTITION: keys}))
    seen = {k: r for k, r in scoped.ranges.items() if r is not None}
    con.register("_visible", pa.table({PARTITION: pa.array(list(seen), pa.string()),
                                       "_lo": pa.array([r[0] for r in seen.values()], pa.string()),
                                       "_hi": pa.array([r[1] for r in seen.values()], pa.string())}))


def _reason(relation: Relation, key: list[Any], found: Any, expected: Any) -> str:
    shown = ", ".join(f"{mine}={_value(v)}" for mine, v in zip(relation.key, key, strict=True))
    if relation.references:
        theirs = ", ".join(relation.key.values())
        return f"{shown}: no row of input {relation.input} has this {theirs}"
    within = f" (tolerance {relation.tolerance:g})" if relation.tolerance else ""
    return (f"{shown}: {relation.column} is {_value(found)}, expected {_value(expected)} = {relation.equals} "
            f"over input {relation.input}{within}")


def _value(value: Any) -> str:
    return f"{value:.12g}" if isinstance(value, float) else str(value)
